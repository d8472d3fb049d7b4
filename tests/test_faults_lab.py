"""The fault suite's faults that no other lab test puts in (issue 9; tests/lab/faults.py).

Each test puts one fault into the lab's real hosts, runs `fab` as an operator would and
checks the five invariants with ``Fault.check`` (a non-zero exit naming the cause and the
next step, the apps serving, the rows written before still there, no lock left unreported,
a record). The other faults are checked where the lab tests already had them; the map is
``tests/lab/reliability.py``'s ``WHERE``. The module resets the hosts once; each test puts
back what it changed.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.lab.faults import BOUNDARIES, Fault
from tests.test_deploy_lab import FAST, env_file, fab, inventory, served, wait_ready

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent
FAB = Path(sys.executable).parent / "fab"
#: the manual strategy stops the backend for its build (B7..B10): an outage of the build
#: plus one start-up is that strategy's design, not a fault's doing
MANUAL_DOWN = 120.0
FASTER = FAST + "\n[cpu:vars]\nbackend_health_tries=15\n"  # a later section wins


@pytest.fixture(scope="module")
def hosts(lab):
    lab.reset(setup=True)
    wait_ready(lab)
    return lab


def history(tmp_path: Path) -> Path:
    return tmp_path / "history.jsonl"


def out(res) -> str:
    return res.stdout + res.stderr


_versions = iter(range(1, 1000))


def push_backend(lab, **files) -> str:
    version = f"6.{next(_versions)}.0"
    lab.push_app("backend", {"VERSION": f"{version}\n", **files}, f"v{version}")
    return version


# --- refused before anything runs -----------------------------------------------------------
@pytest.mark.parametrize(
    "to",
    ["$(touch /tmp/dojangkok-pwned)", "--upload-pack=touch /tmp/dojangkok-pwned", "HEAD; id"],
)
def test_a_hostile_to_is_refused_before_anything_runs(hosts, tmp_path, to):
    lab = hosts
    with Fault(lab, 15, f"--to={to}", history(tmp_path)) as fault:
        res = fab(lab, tmp_path, "-H", "cpu", "rollback-backend", f"--to={to}", "--yes")
        fault.check(res.returncode, out(res), cause=r"--to", did="refused before connecting")
    assert lab.run("cpu", "test -e /tmp/dojangkok-pwned").returncode != 0


def test_an_unreachable_host_is_named(hosts, tmp_path):
    lab = hosts
    inv = inventory(lab, tmp_path)
    gone = lab.addresses["cpu"].rsplit(".", 1)[0] + ".250"  # nothing answers there
    inv.write_text(inv.read_text().replace(f"ansible_host={lab.addresses['cpu']}",
                                           f"ansible_host={gone}", 1))  # fmt: skip
    with Fault(lab, 11, "host unreachable", history(tmp_path)) as fault:
        t0 = time.monotonic()
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", inv=inv)
        fault.check(res.returncode, out(res), cause=gone, did="refused: could not connect")
    assert time.monotonic() - t0 < 120


# --- the backup -------------------------------------------------------------------------------
def test_a_full_backup_filesystem_stops_before_the_service_is_touched(hosts, tmp_path):
    lab = hosts
    push_backend(lab)
    uid, gid, mode = lab.run("cpu", "stat -c '%u %g %a' /app/backups").stdout.split()
    fill = (
        f"mount -t tmpfs -o size=256k,uid={uid},gid={gid},mode={mode} dojangkok-full /app/backups"
        " && { head -c 1M /dev/zero > /app/backups/.filler 2>/dev/null; true; }"
    )
    assert lab.run("cpu", fill).returncode == 0
    try:
        with Fault(lab, 4, "backup filesystem full", history(tmp_path)) as fault:
            res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes",
                      inv=inventory(lab, tmp_path, FASTER))  # fmt: skip
            fault.check(res.returncode, out(res), cause=r"B[34] .*실패")
    finally:
        lab.run("cpu", "umount /app/backups")


# --- the checkout -----------------------------------------------------------------------------
def test_local_edits_in_the_host_checkout(hosts, tmp_path):
    lab = hosts
    owner = lab.run("cpu", "stat -c %U /app/backend").stdout.strip()
    edit = "cd /app/backend && echo '// edited on the host' >> build.gradle"
    assert lab.run("cpu", edit, user=owner).returncode == 0
    push_backend(lab)
    try:
        with Fault(lab, 9, "a tracked file edited on the host", history(tmp_path)) as fault:
            res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes",
                      inv=inventory(lab, tmp_path, FASTER))  # fmt: skip
            fault.check(res.returncode, out(res), cause=r"changed on the host",
                        max_down=MANUAL_DOWN)  # fmt: skip
        edited = lab.run("cpu", "cd /app/backend && git status --porcelain", user=owner).stdout
        assert "build.gradle" in edited  # the operator's edit is not thrown away
    finally:
        lab.run("cpu", "cd /app/backend && git checkout -- build.gradle", user=owner)


# --- the notices ------------------------------------------------------------------------------
@pytest.fixture
def slow_webhook():
    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(8)  # longer than the notice's 5 s timeout
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}/api/webhooks/42/slow-secret-token"
    srv.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens


@pytest.mark.parametrize("how", ["down", "slow"])
def test_a_webhook_down_or_slow_never_fails_the_deploy(hosts, tmp_path, slow_webhook, how):
    lab = hosts
    url = (
        slow_webhook if how == "slow"
        else f"http://127.0.0.1:{closed_port()}/api/webhooks/42/down-secret-token"
    )  # fmt: skip
    version = push_backend(lab)
    env = env_file(lab, tmp_path, DISCORD_WEBHOOK_URL=url)
    with Fault(lab, 12, f"webhook {how}", history(tmp_path)) as fault:
        t0 = time.monotonic()
        res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes", env=env,
                  inv=inventory(lab, tmp_path, FASTER))  # fmt: skip
        took = time.monotonic() - t0
        fault.check(res.returncode, out(res), cause=r"디스코드 공지 실패", next_step="팀에 직접 알리고",
                    exit_zero_ok=True, max_down=MANUAL_DOWN,
                    did=f"deployed {version}; each notice warned after its timeout "
                        "(a notice never fails a deploy)")  # fmt: skip
    assert res.returncode == 0
    assert served(lab)["backend"] == version
    assert "secret-token" not in out(res) + history(tmp_path).read_text()
    assert took < 300


# --- the disk ---------------------------------------------------------------------------------
def test_disk_full_during_the_build_rolls_back(hosts, tmp_path):
    """The checkout's filesystem has room for the new commit but not for what it builds
    (a 6 MB resource, in build/resources and in the jar)."""
    lab = hosts
    push_backend(lab, **{"src/main/resources/blob.txt": os.urandom(3 * 1024 * 1024).hex()})
    setup = (
        "set -e; st=$(stat -c '%u %g %a' /app/backend); set -- $st; "
        "rm -rf /var/tmp/backend-copy; cp -a /app/backend /var/tmp/backend-copy; "
        "used=$(du -sk /app/backend | cut -f1); "
        "mount -t tmpfs -o size=$((used + 16384))k,uid=$1,gid=$2,mode=$3 dojangkok-full /app/backend; "
        "cp -a /var/tmp/backend-copy/. /app/backend/"
    )
    res = lab.run("cpu", setup)
    assert res.returncode == 0, res.stderr
    try:
        with Fault(lab, 5, "the checkout's filesystem fills during B8", history(tmp_path)) as fault:
            res = fab(lab, tmp_path, "-H", "cpu", "deploy-backend", "--yes",
                      inv=inventory(lab, tmp_path, FASTER))  # fmt: skip
            fault.check(res.returncode, out(res), cause=r"B8 Gradle 빌드 실패|No space left",
                        max_down=MANUAL_DOWN)  # fmt: skip
    finally:
        lab.run("cpu", "umount -l /app/backend; rm -rf /var/tmp/backend-copy; "
                       "systemctl restart dojangkok")  # fmt: skip
        lab.push_app("backend", {"src/main/resources/blob.txt": None}, "without the blob")
        wait_ready(lab)


# --- the connection ---------------------------------------------------------------------------
@pytest.mark.parametrize("step", BOUNDARIES)
def test_ssh_cut_at_each_step_boundary(hosts, tmp_path, step):
    lab = hosts
    before = served(lab)["backend"]
    version = push_backend(lab)
    environ = {
        **os.environ,
        "DOJANGKOK_HOSTS": str(inventory(lab, tmp_path, FASTER)),
        "DOJANGKOK_ENV": str(lab.env_file),
        "DOJANGKOK_HISTORY": str(history(tmp_path)),
        "DOJANGKOK_TEST_CUT_BEFORE": step,
    }
    with Fault(lab, 6, f"cut before {step}", history(tmp_path)) as fault:
        res = subprocess.run(
            [sys.executable, str(ROOT / "tests/build_faults.py"), "ssh-cut",
             "-H", "cpu", "deploy-backend", "--yes"],
            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        print(res.stdout[-6000:], res.stderr[-3000:])
        assert f"SSH connection cut before {step}" in res.stdout
        fault.check(
            res.returncode, out(res), cause=r"연결이 끊겼|연결 끊김|SSH", max_down=MANUAL_DOWN
        )
    assert served(lab)["backend"] in (before, version)
