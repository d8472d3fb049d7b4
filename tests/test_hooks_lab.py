"""The deploy hooks and the Discord notices on the lab's real hosts (tasks/strategies/hooks.py,
tasks/engine/notify.py), checked on the host with testinfra and at a local webhook receiver.

One setup for the module: the hosts as `fab setup` left them, the backend deployed with the
release strategy (the default) twice: first with a before-switch hook that fails, then with
hooks that pass. The notices go from this machine (where `fab` runs) to an HTTP receiver here.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from pathlib import Path

import pytest

from tests.lab.fabrun import FAB, ROOT, SERVED_CONFIG, SMOKE_VERSION, fab_env, polling
from tests.test_deploy_lab import wait_ready

pytestmark = pytest.mark.lab

BASE = "/app/releases/backend"
TABLE = "ip dojangkok_switch_backend"
HOME = "/home/deploy"
OPERATOR = "hook-tester"
#: the hook writes what it sees: its variables, its directory, its login
SEES = "env | grep ^DOJANGKOK_ | sort > {out}; pwd >> {out}; id -un >> {out}"


class Receiver:
    """A local HTTP server standing in for Discord's webhook: what it was sent."""

    def __init__(self):
        self.posts: list[str] = []
        posts = self.posts

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append(json.loads(body)["content"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/webhooks/42/hook-secret-token"

    def take(self) -> list[str]:
        got, self.posts[:] = list(self.posts), []
        return got


@pytest.fixture(scope="module")
def hooks_lab(lab, tmp_path_factory):
    lab.reset(setup=True)  # `fab setup` (strategy=manual, cached): the first deploy converts
    wait_ready(lab)
    receiver = Receiver()
    work = tmp_path_factory.mktemp("hooks-lab")
    env = work / "test.env"
    env.write_text("".join(f"{k}={v}\n" for k, v in
                           {**lab.env(), "DISCORD_WEBHOOK_URL": receiver.url}.items()))  # fmt: skip
    env.chmod(0o600)
    yield lab, work, env, receiver
    receiver.server.shutdown()


def fab(lab, work: Path, env: Path, hooks: dict[str, str], *args: str):
    extra = SERVED_CONFIG + polling(30) + SMOKE_VERSION + "\n[cpu:vars]\n" + "".join(
        f"backend_{k}={v}\n" for k, v in hooks.items())  # fmt: skip
    inv = lab.write_inventory(work / f"hosts-{len(list(work.glob('hosts-*')))}.ini", extra)
    res = subprocess.run([str(FAB), *args], cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env=fab_env(lab, work, inv, env, DOJANGKOK_OPERATOR=OPERATOR))  # fmt: skip
    print(f"$ fab {' '.join(args)}\n", res.stdout[-6000:], res.stderr[-3000:])
    return res


def served_backend(lab) -> str:
    return wait_ready(lab, timeout=30)["backend"]


def test_hooks_around_the_switch_and_the_notices(hooks_lab, cpu_host):
    lab, work, env, receiver = hooks_lab
    before_version = served_backend(lab)
    lab.push_app("backend", {"VERSION": "1.7.0\n"}, "hooks: 새 버전 1.7.0")
    to_rev = lab.push_app("backend", {"HOOKS.md": "x\n"}, "hooks: 문서 추가")

    # --- a before-switch hook that fails: nothing switches, on-failure runs -------------------
    failing = {"before_switch": "echo migration refused >&2; exit 3",
               "on_failure": SEES.format(out=f"{HOME}/hook-failure.txt")}  # fmt: skip
    res = fab(lab, work, env, failing, "-H", "cpu", "deploy-backend", "--yes",
              "--message=훅 실패 확인")  # fmt: skip
    assert res.returncode != 0
    assert "BX1 전환 전 훅 (backend_before_switch) 실패" in res.stdout + res.stderr
    assert served_backend(lab) == before_version  # the old version keeps serving
    current = cpu_host.check_output(f"readlink -- {BASE}/current")
    failed = cpu_host.check_output(f"ls -1 -- {BASE}/releases | tail -1")
    assert failed.endswith(to_rev[:7]) and not current.endswith(failed)
    assert cpu_host.file(f"{BASE}/releases/{failed}/.status").content_string == "failed\n"
    live = cpu_host.check_output(f"nft list table {TABLE}")
    seen = cpu_host.file(f"{HOME}/hook-failure.txt")
    assert seen.user == "deploy"
    assert seen.content_string.splitlines() == [
        "DOJANGKOK_APP=backend", "DOJANGKOK_ENVIRONMENT=", f"DOJANGKOK_OPERATOR={OPERATOR}",
        f"DOJANGKOK_RELEASE={failed}", f"DOJANGKOK_REVISION={to_rev}",
        f"{BASE}/releases/{failed}", "deploy",
    ]  # fmt: skip
    start, failure = receiver.take()
    assert start.splitlines()[0].startswith("배포 시작합니다")
    assert f"- 운영자: {OPERATOR}" in start and "- 메시지: 훅 실패 확인" in start
    assert "  · " in start and "hooks: 새 버전 1.7.0" in start and "hooks: 문서 추가" in start
    assert (
        failure.startswith("❌ ")
        and "- 실패 단계: BX1 전환 전 훅 (backend_before_switch)" in failure
    )
    assert "- 되돌리기: 필요 없음: 바뀐 것이 없습니다" in failure and "- 소요: " in failure

    # --- hooks that pass: both see the run's facts, in the release, as the deploy login ------
    passing = {"before_switch": SEES.format(out=f"{HOME}/hook-before.txt"),
               "after_switch": SEES.format(out=f"{HOME}/hook-after.txt")}  # fmt: skip
    res = fab(lab, work, env, passing, "-H", "cpu", "deploy-backend", "--yes",
              "--message=훅 통과")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert served_backend(lab) == "1.7.0"
    assert cpu_host.check_output(f"nft list table {TABLE}") != live  # switched this time
    release = cpu_host.check_output(f"readlink -- {BASE}/current").rsplit("/", 1)[-1]
    for name in ("hook-before.txt", "hook-after.txt"):
        seen = cpu_host.file(f"{HOME}/{name}")
        assert seen.user == "deploy", name
        assert seen.content_string.splitlines() == [
            "DOJANGKOK_APP=backend", "DOJANGKOK_ENVIRONMENT=", f"DOJANGKOK_OPERATOR={OPERATOR}",
            f"DOJANGKOK_RELEASE={release}", f"DOJANGKOK_REVISION={to_rev}",
            f"{BASE}/releases/{release}", "deploy",
        ], name  # fmt: skip
    start, done = receiver.take()
    assert start.splitlines()[0].startswith("배포 시작합니다")
    lines = done.splitlines()
    assert lines[0] == "배포 완료"  # manual B12, from the release strategy's backend too
    assert (
        "- 대상: cpu" in lines and f"- 운영자: {OPERATOR}" in lines and "- 메시지: 훅 통과" in lines
    )
    assert any(line.startswith("- 리비전: ") and line.endswith(f"{to_rev[:7]} (커밋 2개)")
               for line in lines), done  # fmt: skip
    assert "  · " + to_rev[:7] + " hooks: 문서 추가" in lines
    assert any(
        re.fullmatch(r"- 소요: (\d+분 )?\d+(\.\d)?초|- 소요: \d+분", line) for line in lines
    ), done
    # the webhook's URL is a secret: in no output and no record
    history = (work / "history.jsonl").read_text()
    assert "hook-secret-token" not in res.stdout + res.stderr + history
