"""One flow for every task, on the lab's real hosts: the deploy lock, Ctrl-C, a cut connection.

Each test runs `fab` as an operator would (a subprocess) and checks the result on the hosts
themselves: what is served, the lock directory, the record.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab import fabrun, faults
from tests.lab.fabrun import FAB, ROOT
from tests.lab.faults import Fault, locks_held
from tests.test_deploy_lab import FAST, inventory, served, wait_ready

pytestmark = pytest.mark.lab


def fab_env(lab, tmp_path: Path, inv: Path, operator: str = "lab-test") -> dict[str, str]:
    return fabrun.fab_env(lab, tmp_path, inv, DOJANGKOK_OPERATOR=operator, PYTHONUNBUFFERED="1")


def start(lab, tmp_path, *args, inv, operator="lab-test") -> subprocess.Popen:
    return subprocess.Popen(
        [str(FAB), *args], cwd=ROOT, env=fab_env(lab, tmp_path, inv, operator),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def read_until(proc: subprocess.Popen, pattern: str, timeout: float = 120) -> str:
    """fab's output up to the first line matching ``pattern``."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)[-4000:]}")


def finish(proc: subprocess.Popen, before: str = "", timeout: float = 300) -> str:
    out, _ = proc.communicate(timeout=timeout)
    text = before + out
    print(text[-6000:])
    return text


def run(lab, tmp_path, *args, inv) -> subprocess.CompletedProcess:
    return fabrun.fab(lab, tmp_path, *args, inv=inv)


def lock_held(lab) -> bool:
    return locks_held(lab, ("cpu",)) == ["cpu"]


def records(tmp_path) -> list[dict]:
    return faults.records(tmp_path / "history.jsonl")


@pytest.fixture
def ready(served_lab):
    wait_ready(served_lab)
    return served_lab


def test_a_second_deploy_is_refused_at_once_naming_the_holder(ready, tmp_path):
    lab = ready
    lab.push_app("backend", {"VERSION": "1.1.0\n"}, "v1.1.0")
    inv = inventory(lab, tmp_path)
    first = start(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes",
                  "--message=release 1.1", inv=inv, operator="first-operator")  # fmt: skip
    before = read_until(first, r"\(B2\)")
    other = tmp_path / "second"  # the second operator's own history
    other.mkdir()
    with Fault(lab, 7, "a second deploy while the first runs", other / "history.jsonl") as check:
        t0 = time.monotonic()
        second = run(lab, other, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
        took = time.monotonic() - t0
        out = finish(first, before)
        # the first deploy goes on (the manual strategy: down for its build and start-up)
        check.check(second.returncode, second.stderr, cause="locked by another deploy",
                    next_step="fab -H cpu (unlock|lock-status)", max_down=120,
                    did="refused at once, naming the holder; the first deploy finished")  # fmt: skip
    assert second.returncode == 1 and took < 5, took
    assert "locked by another deploy" in second.stderr
    assert "first-operator" in second.stderr and "release 1.1" in second.stderr
    assert "fab -H cpu unlock" in second.stderr
    assert first.returncode == 0, out
    assert served(lab)["backend"] == "1.1.0"
    assert not lock_held(lab)


def test_unlock_frees_the_lock_of_a_killed_deploy(ready, tmp_path):
    lab = ready
    inv = inventory(lab, tmp_path)
    proc = start(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
    read_until(proc, r"\(B1\)")
    proc.kill()  # SIGKILL: no cleanup at all
    proc.wait()
    assert lock_held(lab)
    status = run(lab, tmp_path, "-H", "cpu", "lock-status", inv=inv)
    assert status.returncode == 3 and "잠김" in status.stdout
    assert f"이 컴퓨터의 그 프로세스 {proc.pid}는 더 이상 실행 중이 아닙니다" in status.stdout
    refused = run(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
    assert refused.returncode == 1 and "no longer running" in refused.stderr
    res = run(lab, tmp_path, "-H", "cpu", "unlock", "--yes", inv=inv)
    assert res.returncode == 0 and "잠금을 풀었습니다" in res.stdout
    assert not lock_held(lab)
    assert run(lab, tmp_path, "-H", "cpu", "lock-status", inv=inv).returncode == 0
    assert run(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv).returncode == 0


def test_sigint_during_the_build_rolls_back(ready, tmp_path):
    lab = ready
    lab.push_app("backend", {"VERSION": "2.0.0\n"}, "v2")
    inv = inventory(
        lab, tmp_path, FAST, backend_build_cmd="'sleep 4 && ./gradlew clean build -x test'"
    )
    with Fault(lab, 13, "Ctrl-C during the build (B8)", tmp_path / "history.jsonl") as check:
        proc = start(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
        before = read_until(proc, r"\(B8\) Gradle 빌드")
        time.sleep(1)
        assert lab.run("cpu", "systemctl is-active dojangkok").stdout.strip() != "active"
        proc.send_signal(signal.SIGINT)
        out = finish(proc, before)
        check.check(proc.returncode, out, cause="Ctrl-C", max_down=120)
    assert proc.returncode == 130, out
    assert "Ctrl-C" in out and "롤백 시작" in out
    assert served(lab)["backend"] == "1.0.0"
    assert lab.run("cpu", "pgrep -f 'sleep [4]'").returncode != 0  # the build was stopped
    (rec,) = records(tmp_path)
    assert rec["result"] == "interrupted" and rec["interrupted"] and rec["rolled_back"]
    assert [s["number"] for s in rec["steps"] if s["phase"] == "rollback"] == [
        "R1", "R2", "R3", "R4", "R5", "R6"]  # fmt: skip
    assert not lock_held(lab)


def fab_connection_port(pid: int, host_ip: str) -> int:
    """The local port of fab's SSH connection to the host (seen from this machine)."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"dst {host_ip}:22"],
                         capture_output=True, text=True).stdout  # fmt: skip
    ports = [int(line.split()[2].rsplit(":", 1)[1]) for line in out.splitlines()
             if f"pid={pid}," in line]  # fmt: skip
    assert ports, out
    return ports[0]


def test_a_cut_connection_during_health_rolls_back(ready, tmp_path):
    lab = ready
    lab.push_app("backend", {"VERSION": "3.0.0\n"}, "v3")
    inv = inventory(lab, tmp_path)
    check = Fault(lab, 6, "sshd killed on the host during B10", tmp_path / "history.jsonl")
    with check:
        proc = start(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
        before = read_until(proc, r"\(B10\) 헬스체크")
        port = fab_connection_port(proc.pid, lab.addresses["cpu"])
        # on the host: the sshd processes serving exactly that connection
        kill = (
            f"pids=$(ss -tnpH state established '( sport = :22 )' dst {lab.operator_ip}:{port} "
            "| grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); test -n \"$pids\" && kill -9 $pids"
        )
        assert lab.run("cpu", kill).returncode == 0
        out = finish(proc, before)
        check.check(proc.returncode, out, cause="연결이 끊겼습니다", max_down=120)
    assert proc.returncode == 1, out
    assert "연결이 끊겼습니다" in out and "다시 연결했습니다" in out and "롤백 시작" in out
    assert served(lab)["backend"] == "1.0.0"
    (rec,) = records(tmp_path)
    assert rec["result"] == "interrupted" and rec["rolled_back"] is True
    assert any("연결 끊김" in s["detail"] for s in rec["steps"])
    assert not lock_held(lab)
    host_records = lab.run("cpu", "cat /var/lib/dojangkok-deploy/history.jsonl").stdout
    assert rec["run_id"] in host_records
