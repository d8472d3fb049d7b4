"""`fab status` and `fab logs` on the lab's real hosts, as an operator uses them.

One module, one served lab (`reset(setup=True)`: `fab setup` with strategy=manual, cached),
then, in order (each test starts from what the previous one left):

1. a release deploy of the backend (it converts the host: blue/green, the old instance kept
   warm): `fab status` against the host itself (the nftables switch, systemd, the release
   link and its record, the version over HTTPS, the checkouts' HEADs); `fab logs` reads both
   instances, each line labelled;
2. `fab logs --follow` started, a second deploy switches to the other instance: the follow
   shows the new instance's start and a request it served after the switch, labelled with
   it; `fab status` after that warm switch;
3. a rollback (a switch back to the warm instance): `fab status` again, its last record;
   a lock someone holds is shown;
4. the gpu machine stopped: `fab status` says so in a row and still shows cpu's truth;
   `fab logs` of every host names gpu and shows cpu's lines prefixed; nginx's error log is
   read as the deploy login; nothing is recorded.
"""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.lab.fabrun import FAB, RELEASE_VARS, ROOT, fab_env, numbered_inventory, on
from tests.lab.site import site
from tests.test_deploy_lab import wait_ready

pytestmark = pytest.mark.lab

TABLE = "ip dojangkok_switch_backend"
BASE = "/app/releases/backend"
HOST_HISTORY = "/var/lib/dojangkok-deploy/history.jsonl"
LOCK = "/var/lib/dojangkok-deploy/deploy.lock"


class Ctx:
    def __init__(self, lab, work: Path):
        self.lab, self.work = lab, work
        self.inv = numbered_inventory(lab, work, RELEASE_VARS)
        self.revs: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        return fab_env(self.lab, self.work, self.inv, PYTHONUNBUFFERED="1",
                       DOJANGKOK_OPERATOR="kim")  # fmt: skip

    def fab(self, *args: str) -> subprocess.CompletedProcess:
        res = subprocess.run([str(FAB), *args], cwd=ROOT, env=self.env(), capture_output=True,
                             text=True, timeout=900)  # fmt: skip
        print(f"$ fab {' '.join(args)}\n{res.stdout[-6000:]}\n{res.stderr[-3000:]}")
        return res

    def status(self, *args: str) -> dict[tuple[str, str], dict]:
        res = self.fab(*args, "status", "--json")
        assert "Traceback" not in res.stderr
        return {(r["host"], r["app"]): r for r in json.loads(res.stdout)}

    def deploy(self, version: str) -> None:
        self.revs[version] = self.lab.push_app("backend", {"VERSION": f"{version}\n"}, version)
        res = self.fab("-H", "cpu", "deploy-backend", "--yes")
        assert res.returncode == 0, res.stderr

    # --- the host itself, read as root, without the tool -----------------------------------
    def truth(self) -> dict:
        """What serves the backend, read on cpu: the port the kernel's switch table sends
        nginx to, each instance's state, the release `current` names and its revision, the
        version over HTTPS."""
        live = int(
            on(self.lab, "cpu", f"nft list table {TABLE}").split("redirect to :")[1].split()[0]
        )
        states = dict(zip((8081, 8082), on(self.lab, "cpu", "systemctl is-active dojangkok@8081 "
                          "dojangkok@8082 || true").split(), strict=True))  # fmt: skip
        current = on(self.lab, "cpu", f"basename $(readlink {BASE}/current)")
        record = json.loads(on(self.lab, "cpu", f"cat {BASE}/current/.release.json"))
        version = requests.get(site(self.lab, "/api/version").url, verify=site(self.lab).ca,
                               timeout=10).json()["version"]  # fmt: skip
        return {"live": live, "states": states, "current": current,
                "revision": record["revision"], "version": version}  # fmt: skip

    def check_backend(self, row: dict, want_version: str) -> None:
        """The status row says what the host says, and what we deployed."""
        t = self.truth()
        other = 8081 if t["live"] == 8082 else 8082
        assert t["version"] == want_version and t["revision"] == self.revs[want_version]
        assert (row["units"], row["port"]) == ([f"dojangkok@{t['live']}"], t["live"])
        assert row["states"] == ["active"] and t["states"][t["live"]] == "active"
        warm = t["states"][other] == "active"
        assert row["warm_unit"] == (f"dojangkok@{other}" if warm else ""), (row, t)
        assert (row["release"], row["revision"], row["version"]) == (
            t["current"], t["revision"], t["version"])  # fmt: skip
        switched = on(self.lab, "cpu", f"tail -n 1 {BASE}/switches").split()
        assert switched[1] == t["current"] and row["since"][:19] == switched[0][:19]
        assert row["healthy"] and row["reachable"]


def head(lab, host: str, checkout: str) -> str:
    """The checkout's HEAD, read as the deploy login (its owner: root's git refuses it)."""
    res = lab.run(host, f"git -C {checkout} rev-parse HEAD", user="deploy")
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.fixture(scope="module")
def ctx(lab, tmp_path_factory):
    lab.reset(setup=True)
    wait_ready(lab)
    return Ctx(lab, tmp_path_factory.mktemp("status-lab"))


def test_status_after_a_deploy_and_logs_of_both_warm_instances(ctx):
    ctx.revs["1.0.0"] = head(ctx.lab, "cpu", "/app/backend")
    ctx.deploy("1.1.0")
    rows = ctx.status()
    assert set(rows) == {("cpu", "frontend"), ("cpu", "backend"), ("gpu", "ai")}
    back = rows["cpu", "backend"]
    ctx.check_backend(back, "1.1.0")
    assert back["warm_unit"] and back["warm_release"].endswith(ctx.revs["1.0.0"][:7])  # kept warm
    last = back["last"]
    assert (last["operator"], last["kind"], last["result"]) == ("kim", "deploy", "ok")
    assert last["revision"] == ctx.revs["1.1.0"]
    # the apps not converted yet: the manual strategy's unit and checkout, still true
    front, ai = rows["cpu", "frontend"], rows["gpu", "ai"]
    assert front["units"] == ["nginx"] and front["release"] == ""
    assert front["revision"] == head(ctx.lab, "cpu", "/app/frontend")
    assert front["version"] == wait_ready(ctx.lab)["frontend"] and front["healthy"]
    assert ai["units"] == ["fastapi"] and ai["healthy"]
    assert ai["revision"] == head(ctx.lab, "gpu", "/app/ai-server")
    # the table, as the operator reads it
    table = ctx.fab("status")
    assert table.returncode == 0, table.stderr
    (line,) = [
        ln for ln in table.stdout.splitlines() if ln.startswith("cpu ") and " backend " in ln
    ]
    assert f"dojangkok@{back['port']} :{back['port']} + 대기 {back['warm_unit']}" in line
    assert " 정상 " in line and " kim " in line and "배포 성공" in line

    # fab logs: both instances, each line labelled with its own
    res = ctx.fab("-H", "cpu", "logs", "backend", "-n", "300")
    assert res.returncode == 0, res.stderr
    started = [ln for ln in res.stdout.splitlines() if "Started DojangkokApplication v" in ln]
    assert any(f"[{back['units'][0]}] " in ln and " v1.1.0 " in ln for ln in started), started
    assert any(f"[{back['warm_unit']}] " in ln and " v1.0.0 " in ln for ln in started), started
    assert f"{back['units'][0]}, {back['warm_unit']}의 저널" in res.stderr


def test_logs_follow_the_serving_instance_across_a_switch_and_status_after_it(ctx):
    before = ctx.truth()
    out = (ctx.work / "follow.out").open("w")
    follow = subprocess.Popen([str(FAB), "-H", "cpu", "logs", "backend", "--follow", "-n", "1"],
                              cwd=ROOT, env=ctx.env(), stdout=out, stderr=subprocess.STDOUT,
                              text=True)  # fmt: skip
    try:
        time.sleep(3)  # following
        ctx.deploy("1.2.0")
        marker = f"note-{uuid.uuid4().hex[:8]}"
        created = requests.post(site(ctx.lab, "/api/notes").url, json={"text": marker},
                                verify=site(ctx.lab).ca, timeout=10)  # fmt: skip
        assert created.ok, created.text
        note = created.json()["id"]
        deadline = time.monotonic() + 20
        while f"created note {note}" not in (ctx.work / "follow.out").read_text():
            assert time.monotonic() < deadline, (ctx.work / "follow.out").read_text()
            time.sleep(0.5)
    finally:
        follow.send_signal(signal.SIGINT)  # as Ctrl-C: the end of a follow
        code = follow.wait(30)
        out.close()
    text = (ctx.work / "follow.out").read_text()
    print(text[-5000:])
    after = ctx.truth()
    new = f"dojangkok@{after['live']}"
    assert after["live"] != before["live"] and after["version"] == "1.2.0"
    assert code == 0 and "Traceback" not in text
    lines = text.splitlines()
    mine = [ln.split(f"[{new}] ", 1)[1] for ln in lines if f" [{new}] " in ln]
    assert any("Started DojangkokApplication v1.2.0 " in ln for ln in mine), text
    assert any(ln.endswith(f"created note {note}") for ln in mine), text
    # fab status after that warm switch: the new instance serves, the one it left is warm
    ctx.check_backend(ctx.status()["cpu", "backend"], "1.2.0")


def test_status_after_a_rollback_and_with_a_lock_held(ctx):
    res = ctx.fab("-H", "cpu", "rollback-backend", "--yes", "--message=status-lab 롤백")
    assert res.returncode == 0, res.stderr
    left = 8081 if ctx.truth()["live"] == 8082 else 8082
    deadline = time.monotonic() + 60  # the instance it left retires (a graceful stop)
    while ctx.lab.run("cpu", f"systemctl is-active dojangkok@{left}").returncode == 0:
        assert time.monotonic() < deadline, "the instance left by the rollback still runs"
        time.sleep(1)
    back = ctx.status()["cpu", "backend"]
    ctx.check_backend(back, "1.1.0")
    assert back["warm_unit"] == "" and back["units"] == [f"dojangkok@{ctx.truth()['live']}"]
    assert (back["last"]["kind"], back["last"]["result"]) == ("rollback", "ok")
    assert back["last"]["message"] == "status-lab 롤백"
    # someone's deploy holds the lock (as the tool writes it, as the deploy login)
    info = {"run_id": "r", "operator": "park", "machine": "m", "pid": 1, "task": "deploy",
            "component": "ai", "revision": "abc", "message": "", "since": time.time()}  # fmt: skip
    ctx.lab.run("cpu", f"mkdir {LOCK} && printf '%s' '{json.dumps(info)}' > {LOCK}/info.json",
                user="deploy")  # fmt: skip
    try:
        table = ctx.fab("-H", "cpu", "status").stdout
        rows = [ln for ln in table.splitlines() if ln.startswith("cpu ")]
        assert len(rows) == 2 and all("잠김: park " in ln and "(deploy ai)" in ln for ln in rows)
    finally:
        on(ctx.lab, "cpu", f"rm -rf {LOCK}")
    assert ctx.status("-H", "gpu")["gpu", "ai"]["lock"] is None


def test_status_and_logs_go_past_a_stopped_host_and_record_nothing(ctx):
    local = ctx.work / "history.jsonl"
    kept, cpu_history = local.read_text(), on(ctx.lab, "cpu", f"cat {HOST_HISTORY}")
    # an nginx error (a body over client_max_body_size), with a marker of its own
    marker = uuid.uuid4().hex[:12]
    url = urlsplit(site(ctx.lab).url)
    conn = http.client.HTTPSConnection(url.hostname, 443, timeout=10,
                                       context=ssl.create_default_context(cafile=site(ctx.lab).ca))  # fmt: skip
    conn.putrequest("POST", f"/api/notes?m={marker}")
    conn.putheader("Content-Length", str(10**10))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    with ctx.lab.host_stopped("gpu"):
        res = ctx.fab("status")
        assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
        (gpu,) = [ln for ln in res.stdout.splitlines() if ln.startswith("gpu ")]
        assert gpu.split()[:5] == ["gpu", "ai", "연결", "안", "됨"], res.stdout
        assert "호스트에 접속하지 못해 확인하지 못했습니다 (gpu에 연결하지 못했습니다" in gpu
        rows = ctx.status()
        assert not rows["gpu", "ai"]["reachable"]
        ctx.check_backend(rows["cpu", "backend"], "1.1.0")  # the others: still the truth
        assert rows["cpu", "frontend"]["healthy"]
        # every host's logs: gpu named, cpu's shown, each line prefixed host/app
        res = ctx.fab("logs", "-n", "50", f"--grep={marker}|Started")
        assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
        assert "! gpu: 호스트에 접속하지 못해 로그를 읽지 못했습니다" in res.stderr
        lines = res.stdout.splitlines()
        assert any(" cpu/backend [dojangkok@" in ln and "Started Dojangkok" in ln for ln in lines)
        (error,) = [ln for ln in lines if marker in ln]
        assert (
            " cpu/frontend [nginx] " in error and "client intended to send too large body" in error
        )
    # read only: no record anywhere, no lock left
    assert local.read_text() == kept
    assert on(ctx.lab, "cpu", f"cat {HOST_HISTORY}") == cpu_history
    assert ctx.lab.run("cpu", f"test -e {LOCK}").returncode != 0
