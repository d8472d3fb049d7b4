"""`fab run -- CMD` on a real host (after setup): the inventory's connection and login, the
deploy lock respected unless --read-only, the run recorded on the host (the command masked),
--read-only recording nothing, and Fabric's own `fab -H cpu -- CMD` going the same way."""

from __future__ import annotations

import json

import pytest

from tasks.hosts.settings import Settings
from tests.lab import fabrun

pytestmark = pytest.mark.lab

STATE = Settings().state_dir
HISTORY = f"{STATE}/history.jsonl"
LOCK = f"{STATE}/deploy.lock"
RAN = "/tmp/ran-by-fab-run"


def host_history(lab) -> list[dict]:
    text = fabrun.on(lab, "cpu", f"cat {HISTORY} 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_run_through_the_inventory_with_the_lock_s_rules(lab, tmp_path):
    lab.reset(setup=True)
    inv = fabrun.numbered_inventory(lab, tmp_path, "")
    local = tmp_path / "history.jsonl"
    name = fabrun.on(lab, "cpu", "hostname")
    secret = lab.env()["DB_PASSWORD"]
    fabrun.on(lab, "cpu", f"rm -f {RAN}")
    before = len(host_history(lab))

    # --read-only: the host's output, as the deploy login; no lock, no record anywhere
    res = fabrun.fab(lab, tmp_path, "-H", "cpu", "run", "--read-only", "--", "hostname; id -un",
                     inv=inv)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.split() == [name, "deploy"]
    assert len(host_history(lab)) == before and not local.exists()

    # another operator holds the lock: refused in Korean naming them, nothing runs
    holder = {"run_id": "other-run", "operator": "kim-oncall", "machine": "kims-laptop",
              "pid": 1, "task": "deploy", "component": "backend", "revision": "abc1234",
              "message": "hotfix", "since": 1700000000.0}  # fmt: skip
    fabrun.on(lab, "cpu", f"install -d -m 700 -o deploy {LOCK} && printf '%s\\n' "
                          f"'{json.dumps(holder)}' > {LOCK}/info.json && chown deploy {LOCK}/info.json")  # fmt: skip
    res = fabrun.fab(lab, tmp_path, "-H", "cpu", "run", "--", f"touch {RAN}", inv=inv)
    assert res.returncode == 255, res.stdout + res.stderr
    assert "배포 잠금을 다른 작업이 쥐고 있어 명령을 실행하지 않았습니다" in res.stdout
    assert "kim-oncall" in res.stdout and "Traceback" not in res.stdout + res.stderr
    assert fabrun.on(lab, "cpu", f"test -e {RAN} && echo ran || echo no") == "no"
    # ... while a read-only command still runs
    res = fabrun.fab(lab, tmp_path, "-H", "cpu", "run", "--read-only", "--", "true", inv=inv)
    assert res.returncode == 0, res.stdout + res.stderr
    fabrun.on(lab, "cpu", f"rm -rf {LOCK}")

    # free: it runs under the lock, its exit status is fab's, it is recorded (masked)
    command = f"touch {RAN}; echo {secret} >/dev/null; exit 7"
    res = fabrun.fab(lab, tmp_path, "-H", "cpu", "run", "--", command, inv=inv)
    assert res.returncode == 7, res.stdout + res.stderr
    assert fabrun.on(lab, "cpu", f"test -e {RAN} && echo ran || echo no") == "ran"
    records = host_history(lab)
    assert len(records) == before + 1
    record = records[-1]
    assert record["kind"] == "run" and record["result"] == "failed"
    assert record["steps"][0]["title"] == f"$ touch {RAN}; echo ****** >/dev/null; exit 7"
    assert record["steps"][0]["detail"] == "exit 7"
    assert secret not in fabrun.on(lab, "cpu", f"cat {HISTORY}") and secret not in local.read_text()
    assert fabrun.on(lab, "cpu", f"test -e {LOCK} && echo held || echo free") == "free"

    # Fabric's own remainder: the inventory's address and login, under the lock, recorded
    res = fabrun.fab(lab, tmp_path, "-H", "cpu", "--", "hostname", inv=inv)
    assert res.returncode == 0, res.stdout + res.stderr
    assert name in res.stdout.split() and "Traceback" not in res.stderr
    assert host_history(lab)[-1]["steps"][0]["title"] == "$ hostname"
