"""The release strategy on the lab's real hosts: no failed request, rollback in a switch.

One lab for the module: the hosts are reset, set up the manual way (`fab setup` with
strategy=manual, as a host deployed before the release strategy existed), then every test
deploys with the release strategy (the default) and checks the hosts itself: what nginx
serves (an outside prober asks every 20 ms), systemd's units, the releases on disk, the lock
and the records. Tests run in order: each starts from the state the previous one left.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tasks.onhost.roothelper import switch_ruleset, upstream_text
from tests.lab import faults
from tests.lab.fabrun import FAB, RELEASE_VARS, ROOT, fab_env, numbered_inventory, on
from tests.lab.faults import locks_held
from tests.lab.probe import KeepAliveUsers, Prober
from tests.lab.site import site
from tests.test_deploy_lab import wait_ready

pytestmark = pytest.mark.lab

BASE = "/app/releases"
UPSTREAM = "/etc/nginx/dojangkok-upstream.conf"
SWITCH = "/etc/dojangkok-deploy/switch/backend.nft"
TABLE = "ip dojangkok_switch_backend"

VARS = RELEASE_VARS


class Ctx:
    def __init__(self, lab, work: Path, ca: Path):
        self.lab, self.work, self.ca = lab, work, ca
        self.cpu, self.gpu = lab.addresses["cpu"], lab.addresses["gpu"]

    def inventory(self, **cpu_vars: str) -> Path:
        return numbered_inventory(self.lab, self.work, VARS, **cpu_vars)

    def env(self, inv: Path | None) -> dict[str, str]:
        return fab_env(self.lab, self.work, inv or self.inventory(), PYTHONUNBUFFERED="1")

    def fab(self, *args: str, inv: Path | None = None) -> subprocess.CompletedProcess:
        t0 = time.monotonic()
        res = subprocess.run([str(FAB), *args], cwd=ROOT, env=self.env(inv), capture_output=True,
                             text=True, timeout=900)  # fmt: skip
        res.seconds = time.monotonic() - t0
        print(
            f"$ fab {' '.join(args)}  ({res.seconds:.1f}s)\n",
            res.stdout[-6000:],
            res.stderr[-3000:],
        )
        return res

    def on(self, host: str, command: str) -> str:
        return on(self.lab, host, command)

    def backend_prober(self, expect: str = "") -> Prober:
        return Prober(site(self.lab, "/api/version").url, verify=str(self.ca), expect=expect)

    def live(self) -> str:
        """The port the switch table sends nginx's new connections to, as the kernel has it."""
        return re.search(r"redirect to :(\d+)", self.on("cpu", f"nft list table {TABLE}")).group(1)

    def nginx_pids(self) -> str:
        """nginx's master and workers (a reload replaces the workers)."""
        return self.on("cpu", "ps -C nginx -o pid= | sort -n | tr -s ' \n' ' '")

    def version(self, component: str) -> str:
        if component == "backend":
            r = requests.get(site(self.lab, "/api/version").url, verify=str(self.ca), timeout=10)
            return r.json()["version"]
        if component == "frontend":
            page = requests.get(site(self.lab).url, verify=str(self.ca), timeout=10).text
            return page.split('name="dojangkok-version" content="')[1].split('"')[0]
        with self.lab.tunnel("cpu", "gpu", 8000) as ai:  # open to the CPU host only
            return requests.get(f"http://{ai}/health", timeout=10).json()["version"]

    def releases(self, component: str) -> list[dict]:
        res = self.fab("-H", "cpu" if component != "ai" else "gpu", "releases",
                       f"--component={component}")  # fmt: skip
        assert res.returncode == 0, res.stderr
        rows = []
        for line in res.stdout.splitlines():
            m = re.match(r"\s*(\d{8}_\S+)\s+(\w+)\s+(\w+)\s*(\w*)", line)
            if m:
                rows.append(dict(zip(("release", "revision", "status", "role"), m.groups(),
                                     strict=True)))  # fmt: skip
        return rows

    def records(self) -> list[dict]:
        return faults.records(self.work / "history.jsonl")

    def in_flight(self, url: str, **kw) -> tuple[threading.Thread, list]:
        """A slow request started now, in a thread; its (status, JSON body) lands in the list."""
        got: list = []

        def ask():
            r = requests.get(url, timeout=120, **kw)
            got.append((r.status_code, r.json() if r.ok else r.text))

        thread = threading.Thread(target=ask, daemon=True)
        thread.start()
        time.sleep(1)  # the request has reached the instance
        return thread, got

    def since(self, host: str) -> str:
        """The host's clock now, for journalctl --since."""
        return self.on(host, "date '+%Y-%m-%d %H:%M:%S'")


@pytest.fixture(scope="module")
def ctx(lab, tmp_path_factory):
    lab.reset(setup=True)  # `fab setup` with strategy=manual, cached (tests/lab/served.py)
    wait_ready(lab)
    work = tmp_path_factory.mktemp("release-lab")
    return Ctx(lab, work, Path(site(lab).ca))


def test_the_first_release_deploy_converts_the_host_without_a_failed_request(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.1.0\n"}, "v1.1.0")
    with ctx.backend_prober() as probe:
        res = ctx.fab("-H", "cpu", "deploy-backend", "--yes")
    assert res.returncode == 0, res.stderr
    assert "방식으로 전환합니다" in res.stdout  # said, once
    assert not probe.failures, probe.summary()
    assert ctx.version("backend") == "1.1.0"
    # nginx names the switch port; the switch table (its file and the kernel's) the instance
    assert ctx.on("cpu", f"cat {UPSTREAM}") + "\n" == upstream_text("dojangkok_backend", 8090)
    assert ctx.on("cpu", f"cat {SWITCH}") + "\n" == switch_ruleset("backend", 8090, 8082)
    assert ctx.live() == "8082"
    assert ctx.on("cpu", "systemctl is-enabled dojangkok-switch@backend") == "enabled"
    # root's alone: the deploy login can plant nothing the helper or the boot unit loads
    assert ctx.on("cpu", f"stat -c '%U %a' -- /etc/dojangkok-deploy/switch {SWITCH}").split(
        "\n") == ["root 755", "root 644"]  # fmt: skip
    assert ctx.on("cpu", "systemctl is-active dojangkok@8082") == "active"
    assert ctx.lab.run("cpu", "systemctl is-enabled dojangkok").stdout.strip() == "disabled"
    rels = ctx.releases("backend")
    assert [r["status"] for r in rels] == ["준비됨", "준비됨"] and rels[-1]["role"] == "현재"
    assert rels[0]["role"] == "이전"  # the adopted (legacy) release
    # the record says how long the new instance took to start against its window
    (rec,) = [r for r in ctx.records() if r["kind"] == "deploy"][-1:]
    (health,) = [st for st in rec["steps"] if (st["section"], st["number"]) == ("B", "10")]
    assert re.fullmatch(r"ok: \d+\.\d초 만에 정상 \(한도 30초, 0\.2초 간격 \d+번째 확인\)",
                        health["detail"]), health  # fmt: skip


def test_a_warm_rollback_is_a_switch_no_user_notices_and_it_checks_what_it_promises(ctx):
    """Users who keep their connections alive and never resend (GETs and POSTs, every 20 ms
    each) lose no request: nginx is not reloaded (its workers are the same), the switch only
    sends new connections elsewhere, and once it returns nginx sends the old instance
    nothing (every GET started after the rollback ended got the version rolled back to).
    A request in flight on the instance it leaves is answered in full: that instance drains
    before it stops (its retire, 10 s after the switch, is a graceful shutdown). The
    rollback's smoke test and version check run and say so."""
    since = ctx.since("cpu")
    pids = ctx.nginx_pids()
    slow, got = ctx.in_flight(site(ctx.lab, "/api/slow?seconds=25").url, verify=str(ctx.ca))
    users = KeepAliveUsers(site(ctx.lab, "/api/").url, verify=str(ctx.ca))
    with ctx.backend_prober() as probe, users:
        assert users.versions() == {"1.1.0"}
        res = ctx.fab("-H", "cpu", "rollback-backend", "--yes")
        done = time.monotonic()
        time.sleep(1.5)
    assert res.returncode == 0, res.stderr
    seen = {  # each checked, all reported
        "no keep-alive user's request failed": not users.failures,
        "no probe failed": not probe.failures,
        "nginx was not reloaded (the same pids)": ctx.nginx_pids() == pids,
        "once it ended, only 1.0.0 answered": users.versions(since=done) == {"1.0.0"},
    }
    failed = [what for what, ok in seen.items() if not ok]
    assert not failed, (
        f"{failed}: users {users.summary()}, after the end "
        f"{users.versions(since=done)}, prober {probe.summary()}"
    )
    assert len(users.samples) > 200 and "전환만 (이전 인스턴스가 켜져 있음)" in res.stdout
    assert ctx.live() == "8081" and ctx.version("backend") == "1.0.0"
    assert (
        "(BR7) 기능 테스트 (롤백 후)" in res.stdout
        and "ok GET http://localhost:8081/api/" in res.stdout
    )
    assert re.search(r"제공 버전 1\.0\.0: \S+이\(가\) 기록될 때와 같음", res.stdout), res.stdout
    assert ctx.releases("backend")[-1]["status"] == "롤백됨"  # bad
    slow.join(60)
    assert got == [(200, {"slept": 25.0, "version": "1.1.0"})]  # after the switch, in full
    journal = ctx.on("cpu", f"journalctl -u dojangkok@8082 --since '{since}' --no-pager")
    assert "Waiting for active requests to complete (1 in flight" in journal, journal[-2000:]
    assert "Graceful shutdown complete" in journal


def test_a_failed_build_changes_nothing(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.2.0\n", "BREAK": "build"}, "broken build")
    upstream = ctx.on("cpu", f"cat {SWITCH}")
    with ctx.backend_prober() as probe:
        res = ctx.fab("-H", "cpu", "deploy-backend", "--yes")
    assert res.returncode == 1 and "B8 Gradle 빌드" in res.stderr
    assert not probe.failures, probe.summary()
    assert ctx.on("cpu", f"cat {SWITCH}") == upstream
    assert ctx.version("backend") == "1.0.0"
    assert ctx.releases("backend")[-1]["status"] == "실패"
    assert not locks_held(ctx.lab, ("cpu",))


def test_an_unhealthy_release_never_gets_a_request(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.3.0\n", "BREAK": "health"}, "never healthy")
    inv = ctx.inventory(backend_health_tries="5")
    with ctx.backend_prober() as probe:
        res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", inv=inv)
    assert res.returncode == 1, res.stdout
    assert "롤백 시작 (호스트에서)" in res.stdout
    assert not probe.failures, probe.summary()
    assert ctx.version("backend") == "1.0.0"
    (rec,) = [r for r in ctx.records() if r["kind"] == "deploy"][-1:]
    assert rec["result"] == "rolled-back" and rec["strategy"] == "release"


def test_a_cold_rollback_starts_the_old_release_first(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.4.0\n", "BREAK": None}, "v1.4.0")
    inv = ctx.inventory(backend_keep_warm="1")
    assert ctx.fab("-H", "cpu", "deploy-backend", "--yes", inv=inv).returncode == 0
    assert ctx.version("backend") == "1.4.0"
    time.sleep(4)  # the old instance's grace period is over
    assert (
        ctx.lab.run("cpu", "systemctl is-active dojangkok@8081 dojangkok@8082")
        .stdout.split()
        .count("active")
        == 1
    )
    with ctx.backend_prober() as probe:
        res = ctx.fab("-H", "cpu", "rollback-backend", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert "시작 후 전환" in res.stdout
    assert not probe.failures, probe.summary()
    assert ctx.version("backend") == "1.0.0"


def test_a_killed_fab_leaves_the_host_to_finish_on_its_own(ctx):
    ctx.lab.push_app("backend", {"VERSION": "1.5.0\n"}, "v1.5.0")
    inv = ctx.inventory()
    proc = subprocess.Popen([str(FAB), "-H", "cpu", "deploy-backend", "--yes"], cwd=ROOT,
                            env=ctx.env(inv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "(B10) 헬스체크" in line and "[호스트]" in line:
            break
    proc.kill()  # SIGKILL: the operator's side is gone, mid-critical-section
    proc.wait()
    print("".join(seen)[-3000:])
    deadline = time.monotonic() + 90
    while locks_held(ctx.lab, ("cpu",)) and time.monotonic() < deadline:
        time.sleep(1)
    # checked on the host alone: the lock is released and the host wrote the record
    assert not locks_held(ctx.lab, ("cpu",))
    host = ctx.on("cpu", "tail -n 1 /var/lib/dojangkok-deploy/history.jsonl")
    rec = json.loads(host)
    assert "operator's side was gone" in rec["recorded_by"] and rec["result"] == "ok"
    assert ctx.version("backend") == "1.5.0"
    status = ctx.fab("-H", "cpu", "deploy-status")
    assert status.returncode == 0 and "결과: 성공" in status.stdout


def test_the_manual_strategy_refuses_a_converted_host(ctx):
    res = ctx.fab("-H", "cpu", "deploy-backend", "--yes", "--strategy=manual")
    assert res.returncode == 1 and "release 전략으로 돌고 있습니다" in res.stderr


def test_cleanup_keeps_the_current_and_the_previous_release(ctx):
    inv = ctx.inventory(releases_keep="2")
    ctx.lab.push_app("backend", {"VERSION": "1.6.0\n"}, "v1.6.0")
    assert ctx.fab("-H", "cpu", "deploy-backend", "--yes", inv=inv).returncode == 0
    rels = ctx.releases("backend")
    assert len(rels) <= 3, rels
    assert rels[-1]["role"] == "현재" and any(r["role"] == "이전" for r in rels)


def test_frontend_release_deploy_and_rollback_without_a_failed_request(ctx):
    ctx.lab.push_app("frontend", {"VERSION": "1.1.0\n"}, "v1.1.0")
    page = Prober(site(ctx.lab).url, verify=str(ctx.ca), expect="dojangkok")
    with page:
        res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes")
    assert res.returncode == 0, res.stderr
    assert not page.failures, page.summary()
    assert ctx.version("frontend") == "1.1.0"
    assert ctx.on("cpu", "readlink /var/www/dojangkok") == f"{BASE}/frontend/current/build"
    with Prober(site(ctx.lab).url, verify=str(ctx.ca), expect="dojangkok") as page:
        res = ctx.fab("-H", "cpu", "rollback-frontend", "--yes")
    assert res.returncode == 0 and not page.failures, page.summary()
    assert ctx.version("frontend") == "1.0.0"
    assert re.search(r"제공 버전 1\.0\.0: \S+이\(가\) 기록될 때와 같음", res.stdout), res.stdout


def test_a_failed_frontend_rollback_says_what_serves_now(ctx):
    """A rollback whose page check fails after its switch stops there (no switch back: the
    release it left was rolled back from), and says what serves, read on the host: not
    "the service is unchanged", which it is not."""
    bad = next(r for r in ctx.releases("frontend") if r["status"] == "롤백됨")
    page = f"{BASE}/frontend/releases/{bad['release']}/build/index.html"
    ctx.on("cpu", f"mv {page} {page}.gone")
    try:
        res = ctx.fab("-H", "cpu", "rollback-frontend", "--yes", f"--to={bad['revision']}")
        assert res.returncode == 1, res.stdout
        assert "AR3 메인 페이지 확인 실패" in res.stderr
        assert f"지금 서비스 중: current → 릴리스 {bad['release']} (롤백 대상)" in res.stderr
        assert "전환 전에 멈췄습니다" not in res.stderr
    finally:
        ctx.on("cpu", f"mv {page}.gone {page}")
    assert ctx.version("frontend") == "1.1.0"  # what it said: the target serves


def test_setup_gives_a_host_of_an_earlier_version_its_switch_table(ctx):
    """A host converted before the switch table (nginx's upstream named the instance; every
    component on releases): setup makes the table from that port, then points the upstream
    at the switch port (one reload, no failed request); a restart of nftables.service (whose
    config flushes every table) loads the table again, as a boot does."""
    live, version = ctx.live(), ctx.version("backend")
    workers = set(ctx.nginx_pids().split()) - {ctx.on("cpu", "cat /run/nginx.pid")}
    ctx.on("cpu", f"systemctl disable -q --now dojangkok-switch@backend; rm -f -- {SWITCH} "
                  "/etc/systemd/system/dojangkok-switch@.service; systemctl daemon-reload; "
                  f"printf 'upstream dojangkok_backend {{\\n    server 127.0.0.1:{live};\\n    "
                  f"keepalive 16;\\n}}\\n' > {UPSTREAM}; nginx -s reload")  # fmt: skip
    deadline = time.monotonic() + 20  # the reload is done when no old worker is left
    while workers & set(ctx.nginx_pids().split()) and time.monotonic() < deadline:
        time.sleep(0.1)
    ctx.on("cpu", f"nft delete table {TABLE}")
    with ctx.backend_prober(expect=version) as probe:
        res = ctx.fab("-H", "cpu", "setup", "--yes")
    assert res.returncode == 0, res.stderr
    assert not probe.failures, probe.summary()
    said = rf"변경: [^\n]*table ip dojangkok_switch_backend: → {live}, [^\n]*\(nginx 리로드\)"
    assert re.search(said, res.stdout), "\n".join(
        re.findall(r"✓ (?:[\d.]+초|\d+분(?: \d+초)?|\d+시간(?: \d+분)?)  변경:[^\n]*", res.stdout)
    )
    assert ctx.live() == live
    assert ctx.on("cpu", f"cat {UPSTREAM}") + "\n" == upstream_text("dojangkok_backend", 8090)
    ctx.on("cpu", "systemctl restart nftables")
    assert ctx.live() == live and ctx.version("backend") == version


def test_ai_release_deploy_is_gated_on_health_and_rolls_back(ctx):
    """ai_switch=restart (the GPU cannot hold two instances): health-gated restarts; the
    rollback's restart drains (a request in flight is answered first) and is checked."""
    inv = ctx.inventory()
    inv.write_text(inv.read_text() + "\n[gpu:vars]\nai_switch=restart\n")
    ctx.lab.push_app("ai", {"VERSION": "1.1.0\n"}, "v1.1.0")
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert ctx.version("ai") == "1.1.0"
    assert (
        ctx.on("gpu", "systemctl show -p WorkingDirectory --value fastapi") == f"{BASE}/ai/current"
    )
    ctx.lab.push_app("ai", {"VERSION": "1.2.0\n", "BREAK": "start"}, "crashes")
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", inv=inv)
    assert res.returncode == 1 and "롤백 시작 (호스트에서)" in res.stdout
    assert ctx.version("ai") == "1.1.0"
    since = ctx.since("gpu")
    with ctx.lab.tunnel("cpu", "gpu", 8000) as ai:
        slow, got = ctx.in_flight(f"http://{ai}/slow?seconds=8")
        res = ctx.fab("-H", "gpu", "rollback-ai", "--yes", inv=inv)
        slow.join(60)
    assert res.returncode == 0, res.stderr
    assert ctx.version("ai") == "1.0.0"
    assert got == [(200, {"slept": 8.0, "version": "1.1.0"})]  # answered before the restart
    assert "Waiting for connections to close" in ctx.on(
        "gpu", f"journalctl -u fastapi --since '{since}' --no-pager")  # fmt: skip
    assert "(CR5) 기능 테스트 (롤백 후)" in res.stdout
    assert re.search(r"제공 버전 1\.0\.0: \S+이\(가\) 기록될 때와 같음", res.stdout), res.stdout


def test_exposure_of_the_template_unit(ctx):
    out = ctx.on("cpu", "systemd-analyze security --no-pager dojangkok@8081")
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    assert score <= 2.0, out[-500:]


def test_ai_blue_green_switches_without_a_failed_request(ctx):
    """ai_switch=auto (the default) on a host without a GPU: blue/green, said with the
    reason; a request in flight on the instance a rollback leaves is answered (it drains)."""
    inv = ctx.inventory()
    inv.write_text(inv.read_text() + "\n[gpu:vars]\nai_keep_warm=30\n")
    # the first blue/green deploy converts: one short outage while nginx takes the port
    ctx.lab.push_app("ai", {"VERSION": "1.3.0\n", "BREAK": None}, "v1.3.0")
    res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert "AI 전환 방식 (ai_switch=auto): blue/green" in res.stdout and "GPU 없음" in res.stdout
    assert ctx.version("ai") == "1.3.0"
    assert "listen 8000" in ctx.on("gpu", "cat /etc/nginx/conf.d/dojangkok-ai.conf")
    ctx.lab.push_app("ai", {"VERSION": "1.4.0\n"}, "v1.4.0")
    # the AI server is open to the CPU host only (setup's firewall): probed through it
    with ctx.lab.tunnel("cpu", "gpu", 8000) as ai, Prober(f"http://{ai}/health") as probe:
        res = ctx.fab("-H", "gpu", "deploy-ai", "--yes", inv=inv)
    assert res.returncode == 0, res.stderr
    assert not probe.failures, probe.summary()
    assert ctx.version("ai") == "1.4.0"
    table = ctx.on("gpu", "nft list table ip dojangkok_switch_ai")
    live = re.search(r"redirect to :(\d+)", table)[1]
    since = ctx.since("gpu")
    with ctx.lab.tunnel("cpu", "gpu", 8000) as ai, Prober(f"http://{ai}/health") as probe:
        slow, got = ctx.in_flight(f"http://{ai}/slow?seconds=25")
        res = ctx.fab("-H", "gpu", "rollback-ai", "--yes", inv=inv)
        slow.join(60)
    assert res.returncode == 0 and "전환만 (이전 인스턴스가 켜져 있음)" in res.stdout, res.stderr
    assert not probe.failures, probe.summary()
    assert ctx.version("ai") == "1.3.0"
    assert re.search(r"제공 버전 1\.3\.0: \S+이\(가\) 기록될 때와 같음", res.stdout), res.stdout
    assert got == [(200, {"slept": 25.0, "version": "1.4.0"})]  # after the switch, in full
    journal = ctx.on("gpu", f"journalctl -u fastapi@{live} --since '{since}' --no-pager")
    assert "Waiting for connections to close" in journal, journal[-2000:]
