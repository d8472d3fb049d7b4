"""Environments, no-op deploys and --lock-wait on the lab's real hosts, as an operator runs
them: `dojangkok` (the installed command) from the operator's own directory.

One test, one served lab (`reset(setup=True)`): the directory holds a decoy hosts.ini (a
host that does not exist: reading it would fail) and the staging environment's
hosts.staging.ini (the lab) and .env.staging. Every deploy is the frontend's (the cheapest
build), with the release strategy (the default):

1. `--env stagnig` (a typo) is refused, naming the missing files; the host is not touched;
2. `--env staging` deploys (the first release deploy converts the host); the banner and both
   records (this machine's, the host's) name the environment;
3. the same deploy again is skipped ("이미 배포된 리비전입니다", exit 0, recorded as skipped),
   changing nothing on the host; `--force` deploys a new release;
4. the served page edited by hand on the host (drift): the deploy is not skipped;
5. `--lock-wait` waits for a lock another operator holds and takes it once it is released;
   with a lock that stays, it gives up after its seconds with the usual message.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.lab.fabrun import fab_env, on, polling
from tests.lab.faults import LOCK, records

pytestmark = pytest.mark.lab

DOJANGKOK = Path(sys.executable).parent / "dojangkok"
BASE = "/app/releases/frontend"
HOST_HISTORY = "/var/lib/dojangkok-deploy/history.jsonl"
PAGE = f"{BASE}/current/build/index.html"
HOLDER = {"run_id": "20260101_000000_000000_beef", "operator": "alice", "machine": "laptop",
          "pid": 4242, "task": "deploy", "component": "backend", "revision": "c" * 40,
          "message": "마이그레이션", "since": 0}  # fmt: skip


class Operator:
    """`dojangkok` run from the operator's directory (no DOJANGKOK_HOSTS / DOJANGKOK_ENV)."""

    def __init__(self, lab, ops: Path, work: Path):
        self.lab, self.ops, self.work = lab, ops, work
        env = fab_env(lab, work, ops / "unused.ini")
        self.environ = {k: v for k, v in env.items() if k not in ("DOJANGKOK_HOSTS", "DOJANGKOK_ENV",
                        "DOJANGKOK_ENVIRONMENT")}  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(DOJANGKOK), *args], cwd=self.ops, env=self.environ,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess:
        proc = self.start(*args)
        out, err = proc.communicate(timeout=900)
        print(f"$ dojangkok {' '.join(args)}\n{out[-6000:]}\n{err[-3000:]}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def records(self) -> list[dict]:
        return records(self.work / "history.jsonl")


def host_records(lab) -> list[dict]:
    text = on(lab, "cpu", f"cat {HOST_HISTORY} 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def releases(lab) -> list[str]:
    return on(lab, "cpu", f"ls -1 {BASE}/releases").split()


def hold_lock(lab) -> None:
    """Another operator's deploy holds cpu's lock (as the tool leaves it: the deploy login's)."""
    info = json.dumps({**HOLDER, "since": time.time()}, ensure_ascii=False)
    on(lab, "cpu", f"mkdir {LOCK} && printf '%s\\n' '{info}' > {LOCK}/info.json && "
                   f"chown -R deploy: {LOCK} && chmod 700 {LOCK}")  # fmt: skip


def test_staging_deploys_skips_what_serves_and_waits_for_the_lock(served_lab, tmp_path):
    lab = served_lab
    ops, work = tmp_path / "ops", tmp_path / "work"
    ops.mkdir()
    work.mkdir()
    (ops / "hosts.ini").write_text("[cpu]\ncpu ansible_host=192.0.2.1 ansible_user=deploy\n")
    lab.write_inventory(ops / "hosts.staging.ini", polling(20))
    (ops / ".env.staging").write_text(Path(lab.env_file).read_text())
    (ops / ".env.staging").chmod(0o600)
    op = Operator(lab, ops, work)
    before = host_records(lab)

    # 1. a mistyped environment: its files named, nothing run anywhere
    res = op.run("--env", "stagnig", "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 1
    assert "환경 stagnig의 파일이 없습니다: hosts.stagnig.ini, .env.stagnig" in res.stderr
    assert "Traceback" not in res.stderr and host_records(lab) == before and not op.records()

    # 2. staging: the lab's inventory (hosts.ini's host does not exist), named everywhere
    res = op.run("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 0, res.stderr
    assert re.search(r"=== 도장콕 \[staging\] \S+ 배포 \(release\): cpu ", res.stdout), res.stdout
    assert "환경: staging" in res.stdout
    (mine,) = op.records()
    assert (mine["environment"], mine["result"], mine["kind"]) == ("staging", "ok", "deploy")
    theirs = host_records(lab)[-1]
    assert (theirs["run_id"], theirs["environment"]) == (mine["run_id"], "staging")
    served, current = releases(lab), on(lab, "cpu", f"readlink {BASE}/current")

    # 3. the same revision again: skipped, nothing changed; --force deploys it anyway
    res = op.run("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 0, res.stderr
    assert f"이미 배포된 리비전입니다 ({mine['to'][:12]}, 릴리스 " in res.stdout, res.stdout
    assert releases(lab) == served and on(lab, "cpu", f"readlink {BASE}/current") == current
    skipped = op.records()[-1]
    assert (skipped["result"], skipped["environment"]) == ("skipped", "staging")
    assert host_records(lab)[-1]["run_id"] == skipped["run_id"]
    res = op.run("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes", "--force")
    assert res.returncode == 0, res.stderr
    assert len(releases(lab)) == len(served) + 1 and op.records()[-1]["result"] == "ok"
    assert on(lab, "cpu", f"readlink {BASE}/current") != current

    # 4. the page edited by hand on the host: what serves is not what was deployed
    on(lab, "cpu", f"sed -i 's/name=\"dojangkok-version\" content=\"[^\"]*\"/"
                   f"name=\"dojangkok-version\" content=\"9.9.9-hand\"/' \"$(readlink -f {PAGE})\"")  # fmt: skip
    count = len(releases(lab))
    res = op.run("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 0, res.stderr
    assert "이미 서비스 중이지만 다시 배포합니다: 제공 버전 9.9.9-hand" in res.stdout, res.stdout
    assert len(releases(lab)) == count + 1 and op.records()[-1]["result"] == "ok"

    # 5. --lock-wait: a lock released while waiting is taken (then the deploy is a no-op) ...
    hold_lock(lab)
    try:
        waiting = op.start("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes",
                           "--lock-wait=90")  # fmt: skip
        time.sleep(10)
        assert waiting.poll() is None, waiting.communicate()
        on(lab, "cpu", f"rm -rf {LOCK}")
        out, err = waiting.communicate(timeout=300)
        print(out, err)
        assert waiting.returncode == 0, err
        assert "alice" in out and "최대 90초 기다립니다" in out
        took = re.search(r"cpu의 배포 잠금을 잡았습니다 \((\d+)초 기다림", out)
        assert took and 3 <= int(took.group(1)) < 90, out
        assert "이미 배포된 리비전입니다" in out and op.records()[-1]["result"] == "skipped"
        # ... one that stays is given up on after its seconds, with the usual message
        hold_lock(lab)
        t0 = time.monotonic()
        res = op.run("--env", "staging", "-H", "cpu", "deploy-frontend", "--yes", "--lock-wait=4")
        assert res.returncode == 1 and time.monotonic() - t0 >= 4
        assert "locked by another deploy" in res.stderr and "alice" in res.stderr
        assert re.search(r"--lock-wait: [45]초 기다렸습니다", res.stderr), res.stderr
        assert on(lab, "cpu", f"cat {LOCK}/info.json").count("alice") == 1  # never broken
    finally:
        on(lab, "cpu", f"rm -rf {LOCK}")
    assert os.environ.get("DOJANGKOK_ENVIRONMENT") is None  # nothing leaked into pytest's own
