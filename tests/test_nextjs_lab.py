"""frontend_kind=node on the lab: the team's Next.js frontend (``output: 'standalone'``) behind
nginx with the backend's blue/green, as an operator switches to it.

One lab for the module, the tests in order: the hosts as `fab setup` left them (manual), the
frontend repository's next commit is the Next app (tests/apps/frontend-next replaces the
React one), `fab setup` puts the CPU host on releases (the default strategy), then the
operator sets ``frontend_kind=node`` and deploys: the first deploy converts (the helper's
config, the switch table, the template unit, the first release on the first port, the site
proxying to it), `fab setup` afterwards changes nothing of it. Every check is made on the
host or from outside (the site by its name, systemd, nftables, the files). The lab is reset
to its default afterwards (the static frontend, the repos as they were).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tasks.apps.frontend_node import UPSTREAM
from tasks.onhost.roothelper import upstream_text
from tests.lab.config import APP_IGNORE
from tests.lab.fabrun import FAB, ROOT, SERVED_CONFIG, fab_env, numbered_inventory, on, polling
from tests.lab.probe import KeepAliveUsers, Prober
from tests.lab.site import site
from tests.test_deploy_lab import wait_ready

pytestmark = pytest.mark.lab

APPS = Path(__file__).resolve().parent / "apps"
TABLE = "ip dojangkok_switch_frontend"
UPSTREAM_FILE = "/etc/nginx/dojangkok-frontend-upstream.conf"
NODE = """
[cpu:vars]
frontend_kind=node
frontend_health_interval=1
frontend_health_tries=30
frontend_smoke=[{"method": "GET", "path": "/bff/version"}]
"""


def app_files(name: str) -> dict[str, str]:
    root = APPS / name
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and not APP_IGNORE & set(p.relative_to(root).parts)
    }


def next_commit() -> dict[str, str | None]:
    """The frontend repository's change to the Next app: its files, the React app's gone."""
    new = app_files("frontend-next")
    return {**{path: None for path in app_files("frontend") if path not in new}, **new}


class Ctx:
    def __init__(self, lab, work: Path, ca: str):
        self.lab, self.work, self.ca = lab, work, ca

    def inventory(self, extra: str = "") -> Path:
        return numbered_inventory(self.lab, self.work, SERVED_CONFIG + polling(30) + extra)

    def fab(self, *args: str, inv: Path) -> subprocess.CompletedProcess:
        env = fab_env(self.lab, self.work, inv, PYTHONUNBUFFERED="1")
        res = subprocess.run([str(FAB), *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=900)  # fmt: skip
        print(f"$ fab {' '.join(args)}\n{res.stdout[-6000:]}\n{res.stderr[-3000:]}")
        return res

    def on(self, command: str) -> str:
        return on(self.lab, "cpu", command)

    def page(self) -> Prober:
        return Prober(site(self.lab).url, verify=self.ca, expect="dojangkok frontend")

    def version(self) -> str:
        r = requests.get(site(self.lab, "/bff/version").url, verify=self.ca, timeout=10)
        return r.json()["version"]

    def live(self) -> str:
        """The port the switch table sends nginx's new connections to, as the kernel has it."""
        return re.search(r"redirect to :(\d+)", self.on(f"nft list table {TABLE}")).group(1)

    def invocation(self, port: str) -> str:
        return self.on(f"systemctl show -p InvocationID --value dojangkok-frontend@{port}")

    def nginx_pids(self) -> str:
        return self.on("ps -C nginx -o pid= | sort -n | tr -s ' \n' ' '")


@pytest.fixture(scope="module")
def ctx(lab, tmp_path_factory):
    lab.reset(setup=True)  # `fab setup` with strategy=manual, cached (tests/lab/served.py)
    wait_ready(lab)
    lab.push_app("frontend", next_commit(), "Move to Next.js (output: standalone)")
    yield Ctx(lab, tmp_path_factory.mktemp("nextjs-lab"), site(lab).ca)
    lab.reset(setup=True)  # the lab's default again: the static frontend, the repos reset


def test_an_operator_switches_the_frontend_to_node_without_a_failed_request(ctx):
    """On a host on releases, the settings and one deploy: it converts (said), no page
    request fails (the static site serves until the first Node instance is healthy, then
    one nginx reload), and the new release is deployed blue/green beside it. Then `fab
    setup` finds the host as it wants it."""
    res = ctx.fab("-H", "cpu", "setup", "--yes", inv=ctx.inventory())
    assert res.returncode == 0, res.stderr  # on releases (the default), the static frontend
    node = ctx.inventory(NODE)
    with ctx.page() as page:
        res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes", inv=node)
    assert res.returncode == 0, res.stderr
    assert "방식으로 전환합니다" in res.stdout
    assert not page.failures, page.summary()
    assert ctx.version() == "2.0.0"
    # the conversion's first release on 3001, this deploy's on 3002: live, the other warm
    assert ctx.live() == "3002"
    assert ctx.on("systemctl is-active dojangkok-frontend@3001 dojangkok-frontend@3002").split() == [
        "active", "active"]  # fmt: skip
    assert ctx.on(f"cat {UPSTREAM_FILE}") + "\n" == upstream_text(UPSTREAM, 3090)
    assert ctx.on(f"stat -c '%U %a' -- {UPSTREAM_FILE} /etc/systemd/system/dojangkok-frontend@.service"
                  ).split("\n") == ["root 644", "root 644"]  # fmt: skip
    helper = json.loads(ctx.on("cat /etc/dojangkok/sudo.json"))
    assert helper["pairs"]["frontend"]["ports"] == [3001, 3002]
    assert f"proxy_pass http://{UPSTREAM};" in ctx.on("cat /etc/nginx/sites-available/dojangkok")
    # the instances run as systemd's transient user, the server on 127.0.0.1 only
    assert ctx.on("systemctl show -p DynamicUser --value dojangkok-frontend@3002") == "yes"
    # Next's cache: both instances (one transient user by name) rendered the page under the
    # prober and wrote it through the release's link into their shared CacheDirectory
    cache = "/var/cache/dojangkok-frontend/fetch-cache/index.json"
    assert json.loads(ctx.on(f"cat {cache}"))["version"] == "2.0.0"
    assert ctx.on("readlink /app/releases/frontend/current/.next/standalone/.next/cache") == (
        "/var/cache/dojangkok-frontend"
    )
    journal = ctx.on("journalctl -u 'dojangkok-frontend@*' --no-pager -o cat")
    assert "ready on" in journal and "Failed to update prerender cache" not in journal, journal
    assert "127.0.0.1:3002" in ctx.on("ss -ltnH 'sport = :3002'")
    # the static releases no Node server can run: bad, so no rollback picks one
    statuses = ctx.on("cat /app/releases/frontend/releases/*/.status").split()
    assert statuses.count("bad") == 1 and statuses.count("ready") == 2, statuses
    pids = ctx.nginx_pids()
    res = ctx.fab("-H", "cpu", "setup", "--yes", inv=node)
    assert res.returncode == 0, res.stderr
    assert (
        "전환합니다" not in res.stdout and "변경 없음: cpu는 이미 setup된 상태입니다" in res.stdout
    )
    assert ctx.live() == "3002" and ctx.nginx_pids() == pids


def test_keep_alive_users_lose_no_request_and_a_rollback_is_a_switch_to_the_warm_instance(ctx):
    """Users who keep their connections alive (GETs and POSTs every 20 ms each, never a
    resend) lose none during a deploy, nginx is not reloaded, and once it ended only the
    new version answers. The rollback then switches back to the instance that still runs
    (its systemd invocation unchanged: nothing restarted)."""
    ctx.lab.push_app("frontend", {"VERSION": "2.1.0\n"}, "v2.1.0")
    node = ctx.inventory(NODE)
    pids = ctx.nginx_pids()
    users = KeepAliveUsers(site(ctx.lab, "/bff/").url, verify=ctx.ca)
    with users:
        res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes", inv=node)
        done = time.monotonic()
        time.sleep(1.5)
    assert res.returncode == 0, res.stderr
    assert not users.failures and len(users.samples) > 200, users.summary()
    assert users.versions(since=done) == {"2.1.0"}
    assert ctx.nginx_pids() == pids and ctx.live() == "3001"
    warm = ctx.invocation("3002")
    with ctx.page() as page:
        res = ctx.fab("-H", "cpu", "rollback-frontend", "--yes", inv=node)
    assert res.returncode == 0, res.stderr
    assert "전환만 (이전 인스턴스가 켜져 있음)" in res.stdout
    assert not page.failures, page.summary()
    assert ctx.live() == "3002" and ctx.invocation("3002") == warm
    assert ctx.version() == "2.0.0"


def test_a_failed_build_leaves_the_live_instance_serving(ctx):
    """The build fails in the new release: nothing that serves changes (the live instance
    is the same run, the switch table the same), the release is marked failed."""
    live, before = ctx.live(), ctx.invocation(ctx.live())
    ctx.lab.push_app("frontend", {"BREAK": "build\n", "VERSION": "2.2.0\n"}, "broken build")
    with ctx.page() as page:
        res = ctx.fab("-H", "cpu", "deploy-frontend", "--yes", inv=ctx.inventory(NODE))
    assert res.returncode == 1 and "A3 프로덕션 빌드 (standalone 서버)" in res.stderr
    assert not page.failures, page.summary()
    assert ctx.live() == live and ctx.invocation(live) == before
    assert ctx.version() == "2.0.0"
    newest = ctx.on("ls -1 /app/releases/frontend/releases | tail -n 1")
    assert ctx.on(f"cat /app/releases/frontend/releases/{newest}/.status") == "failed"


def test_setup_takes_a_new_host_straight_to_the_node_frontend(ctx):
    """The team's case: a new server and a repository that is a Next app. `fab setup`
    with ``frontend_kind=node`` makes no static build of it (there is none to make) and
    waits for nothing in its first phase; the conversion builds the first release, starts
    it and points the site at it. A second setup changes nothing."""
    ctx.lab.reset()  # bare hosts, the repositories as they were
    ctx.lab.push_app("frontend", next_commit(), "Move to Next.js (output: standalone)")
    node = ctx.inventory(NODE)
    res = ctx.fab("-H", "cpu", "setup", "--yes", inv=node)
    assert res.returncode == 0, res.stderr
    assert "아직 서빙하는 것이 없습니다" in res.stdout  # the first phase's health check
    assert "방식으로 전환합니다" in res.stdout
    assert ctx.version() == "2.0.0" and ctx.live() == "3001"
    assert ctx.on("ls -A /var/www/dojangkok") == ""  # no static build was made
    with ctx.page() as page:
        time.sleep(1.5)
    assert not page.failures, page.summary()
    res = ctx.fab("-H", "cpu", "setup", "--yes", inv=node)
    assert res.returncode == 0, res.stderr
    assert "변경 없음: cpu는 이미 setup된 상태입니다" in res.stdout
