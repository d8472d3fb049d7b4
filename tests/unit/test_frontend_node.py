"""frontend_kind=node (tasks/apps/frontend_node/, picked by tasks/apps/kinds.py): which kind
answers, what push-config renders for it, and its plans' steps with the commands they show."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest

from tasks.apps import preconditions, registry
from tasks.apps.frontend import FRONTEND as STATIC
from tasks.apps.frontend_node import FRONTEND_NODE, UPSTREAM
from tasks.apps.frontend_node import release as release_node
from tasks.config import commands
from tasks.config.render import config_files, render_file
from tasks.engine.view import TO_PLACEHOLDER
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.setup import privilege, setup_apps
from tasks.strategies.release import convert
from tasks.strategies.release.strategy import RELEASE

from .conftest import SITE, TO, make_host, make_view
from .test_strategies import _Converting as Converting

NODE = Settings(server_name=SITE).replace(frontend_kind="node")
STATIC_SETTINGS = Settings(server_name=SITE)
FRONTEND = registry.FRONTEND


def rendered(settings: Settings) -> dict[str, str]:
    host = make_host(settings.replace(db_service="mariadb", mysql_conf="/etc/mysql/x.cnf",
                                      db_server="mariadb"))  # fmt: skip
    return {f.key: render_file(f, host.settings) for f in config_files(host)}


def test_the_setting_picks_the_kind_and_every_answer_is_that_kinds():
    assert FRONTEND.of(STATIC_SETTINGS) is STATIC and FRONTEND.of(NODE) is FRONTEND_NODE
    assert registry.get("frontend") is FRONTEND and FRONTEND.task == "deploy-frontend"
    assert FRONTEND.health(NODE).url == "http://localhost:3090/healthz"  # the switch port
    assert FRONTEND.health(NODE, 3002).url == "http://localhost:3002/healthz"
    assert FRONTEND.health(STATIC_SETTINGS).page
    release = FRONTEND.plans("release")
    assert release.pair(NODE) is not None and release.pair(STATIC_SETTINGS) is None
    assert release.pair(NODE).instance(NODE, 3001) == "dojangkok-frontend@3001"
    # before a host runs blue/green (setup's manual phase) the static site is what serves
    manual = NODE.replace(strategy="manual")
    assert FRONTEND.health(manual).page and FRONTEND.service(manual) == "nginx"
    # ... where one serves: a new host has none, and no static build of a Next app is made
    # (the conversion builds the first release); setup's health check waits for it
    assert "npm" not in FRONTEND.first_build_command(manual)
    assert FRONTEND.serves_yet(manual) == "[ -f /var/www/dojangkok/index.html ]"
    assert FRONTEND.serves_yet(NODE) == "" and STATIC.serves_yet(STATIC_SETTINGS) == ""
    health = setup_apps.health_command(manual, [FRONTEND])
    assert health.startswith("echo frontend: && ( if [ -f /var/www/dojangkok/index.html ]; then ")
    assert "아직 서빙하는 것이 없습니다" in health
    # push-config's check of nginx's reload, likewise: nginx runs, until a site serves
    nginx = next(f for f in config_files(make_host(manual)) if f.key == "nginx")
    check = commands.check_command(nginx, manual)
    assert check.startswith("if [ -f /var/www/dojangkok/index.html ]; then ")
    otherwise = check.split("; else ", 1)[1]
    assert "systemctl is-active --quiet nginx;" in otherwise and "curl" not in otherwise
    static_nginx = next(f for f in config_files(make_host(STATIC_SETTINGS)) if f.key == "nginx")
    assert not commands.check_command(static_nginx, STATIC_SETTINGS).startswith("if [ -f ")
    assert FRONTEND.pair_ports(manual) == [3001, 3002]  # the root helper knows it already


def test_a_manual_deploy_of_the_node_kind_is_refused_in_korean_before_anything_runs():
    with pytest.raises(ConfigError, match="release 전략으로만") as err:
        FRONTEND.plans("manual").plan(make_view("frontend", NODE, dry_run=True))
    assert "frontend_kind=static" in err.value.fix
    # the static kind's manual plan is the manual's A, as before
    assert FRONTEND.plans("manual").plan(make_view("frontend", STATIC_SETTINGS)).section == "A"


def test_push_config_renders_the_unit_and_a_site_that_proxies_to_the_switch_port():
    node, static = rendered(NODE), rendered(STATIC_SETTINGS)
    unit = node["frontend"]
    assert (
        "ExecStart=/usr/bin/node /app/releases/frontend/slots/%i/.next/standalone/server.js" in unit
    )
    assert "Environment=NODE_ENV=production PORT=%i HOSTNAME=127.0.0.1" in unit
    # one transient user for both instances, Next's cache their CacheDirectory; no address
    # filter unless frontend_ip_allow (server-side fetches are connections out)
    assert "DynamicUser=yes\nUser=dojangkok-frontend\nCacheDirectory=dojangkok-frontend\n" in unit
    assert "IPAddress" not in unit
    limited = rendered(NODE.replace(frontend_ip_allow="10.0.0.0/8"))["frontend"]
    assert "IPAddressDeny=any\nIPAddressAllow=localhost 10.0.0.0/8\n" in limited
    site = node["nginx"]
    assert "include /etc/nginx/dojangkok-frontend-upstream.conf;" in site
    assert f"proxy_pass http://{UPSTREAM};" in site and "root /var/www/dojangkok;" not in site
    assert "proxy_pass http://dojangkok_backend;" in site  # /api/ as before
    # the static kind (the default) and the node kind under the manual strategy: no change
    assert "frontend" not in static and "dojangkok-frontend-upstream" not in static["nginx"]
    assert "root /var/www/dojangkok;" in static["nginx"]
    manual = rendered(NODE.replace(strategy="manual"))
    assert "frontend" not in manual and manual["nginx"] == rendered(
        STATIC_SETTINGS.replace(strategy="manual"))["nginx"]  # fmt: skip


def test_push_config_asks_for_the_web_root_only_where_the_site_serves_it():
    assert preconditions.for_unit(NODE, "nginx") == []  # nginx proxies to the Node server
    (web_root,) = preconditions.for_unit(STATIC_SETTINGS, "nginx")
    assert web_root.what == "웹 루트 /var/www/dojangkok"


def test_the_root_helper_gets_the_pair_only_for_the_node_kind():
    pairs = json.loads(privilege.config_text(make_host(NODE), "deploy"))["pairs"]
    assert pairs["frontend"] == {
        "service": "dojangkok-frontend", "ports": [3001, 3002],
        "upstream_file": "/etc/nginx/dojangkok-frontend-upstream.conf",
        "upstream": UPSTREAM, "switch_port": 3090}  # fmt: skip
    assert "frontend" not in json.loads(
        privilege.config_text(make_host(STATIC_SETTINGS), "deploy"))["pairs"]  # fmt: skip


SMOKE = NODE.replace(frontend_smoke=[{"method": "GET", "path": "/bff/version"}])


def _shown(plan) -> dict[str, str]:
    view = make_view("frontend", SMOKE, dry_run=True, strategy="release")
    return {st.number: "\n".join(st.shown(view)) for st in plan.steps}


def test_a_deploy_builds_the_standalone_server_then_switches_blue_green():
    view = make_view("frontend", SMOKE, dry_run=True, strategy="release")
    build, switch, back, warm, cold = RELEASE.plans(FRONTEND, view)
    assert [st.number for st in build.steps] == [
        "0",
        "1",
        "1a",
        "2",
        "3",
        "3a",
        "3b",
        "X1",
    ]  # X1: hook
    three = _shown(build)["3"]
    # Next's run-time cache: the release's a link to the instances' CacheDirectory
    assert _shown(build)["3a"].endswith(
        "&& rm -rf -- .next/standalone/.next/cache && "
        "ln -s -- /var/cache/dojangkok-frontend .next/standalone/.next/cache"
    )
    assert three.startswith("$ cd -- ") and "&& npm run build && " in three
    assert "cp -a -- .next/static .next/standalone/.next/static" in three
    assert "cp -a -- public .next/standalone/public" in three
    assert "test -f .next/standalone/server.js ||" in three
    assert [st.number for st in switch.steps] == ["4", "5", "5a", "6", "6a", "6b", "X2"]
    shown = _shown(switch)
    assert "systemctl start dojangkok-frontend@3002" in shown["4"]
    assert "curl -fsS --max-time 10 http://localhost:3002/healthz" in shown["5"]
    assert (
        "curl -sS --max-time 30 -w '\\n%{http_code}' -X GET http://localhost:3002/bff/version"
        in shown["5a"]
    )
    assert shown["6"] == "$ sudo -n /usr/local/sbin/dojangkok-root switch frontend 3002"
    assert shown["6b"].startswith(
        "$ sudo -n /usr/local/sbin/dojangkok-root retire frontend 3001 600"
    )
    assert _shown(back)["R1"] == "$ sudo -n /usr/local/sbin/dojangkok-root switch frontend 3001"
    # a rollback to the warm instance is the switch alone; a cold one starts it first
    assert [st.number for st in warm.steps][:2] == ["R2", "R3"]
    assert [st.number for st in cold.steps][:2] == ["R1", "R2"]


def test_a_local_build_ships_the_standalone_tree_into_the_release():
    view = make_view("frontend", NODE, dry_run=True, build_on="local", strategy="release")
    build = RELEASE.plans(FRONTEND, view)[0]
    # the link is the host's: made after the shipped tree lands (links are not shipped)
    assert [st.number for st in build.steps] == ["0", "1", "1a", "2", "3", "3a", "3b", "X1"]
    shown = {st.number: "\n".join(st.shown(view)) for st in build.steps}
    assert shown["2"].startswith("» rsync ") and "/.next/standalone/ " in shown["2"]
    assert "--link-dest=/app/releases/frontend/current/.next/standalone" in shown["2"]
    assert "sha256sum" in shown["3"] or "SHA256SUMS" in shown["3"]
    out = FRONTEND.build_output(NODE)
    assert (out.path, out.entry) == (".next/standalone", "server.js")
    assert STATIC.build_output(STATIC_SETTINGS).entry == "index.html"


class _Converting(Converting):
    """As test_strategies', recording the run id and the build place each plan ran with;
    ``served_releases``: the host's other pairs are laid out (its sh answers ok)."""

    def __init__(self, view, served_releases=True):
        super().__init__(view, served_releases)
        self.console = types.SimpleNamespace(out=lambda text: self.said.append(text))
        self.said: list[str] = []

    def execute(self, plan, rollback=None):
        self.done.append((plan.title, self.view.run_id, self.view.to_rev, self.view.build_on))


def test_the_conversion_starts_the_deploys_revision_before_nginx_proxies_to_it(monkeypatch):
    pushed = []
    monkeypatch.setattr(convert, "push_on", lambda s, host, only: pushed.append(
        (s.done[-1][0], host.settings.strategy, sorted(only))))  # fmt: skip
    view = make_view("frontend", dataclasses.replace(NODE, strategy="manual"), build_on="local")
    s = _Converting(view)
    convert.convert(s, FRONTEND)
    first = [(title, rev) for title, run, rev, _ in s.done]
    assert first == [
        ("Frontend Node blue/green 전환 준비", TO),
        (
            "Frontend 배포 (release, Node blue/green)",
            TO,
        ),  # the revision deployed, not the static one
        ("Frontend Node 첫 인스턴스", TO),
        ("Frontend Node blue/green 전환", TO),
    ]
    (first_run,) = {run for _, run, _, _ in s.done[1:]}
    assert first_run < view.run_id  # the first release sorts before the deploy's own
    assert s.done[1][3] == "host"
    # current stays: nginx's workers from before the reload serve the static site from it
    last = release_node.convert_current_plan(view)
    assert not [st for st in last.steps if "/current" in "\n".join(st.shown(view))]
    assert pushed == [("Frontend Node blue/green 전환 준비", "release", ["frontend"]),
                      ("Frontend Node 첫 인스턴스", "release", ["nginx"])]  # fmt: skip

    # setup on a new host: the backend still runs the manual way (its pair's upstream file
    # is not there), so the site waits for its conversion; only the unit is pushed now
    pushed.clear()
    s = _Converting(view, served_releases=False)
    convert.convert(s, FRONTEND)
    assert pushed == [("Frontend Node blue/green 전환 준비", "release", ["frontend"])]
    assert s.said == ["사이트(nginx)는 백엔드의 전환 뒤에 바꿉니다 (upstream 파일이 아직 없음)"]
    # setup converts with no revision to deploy: the first release is the one it read as
    # deployed (the checkout's HEAD), never the placeholder
    setup_view = view.but(to_rev=TO_PLACEHOLDER)
    s = _Converting(setup_view)
    convert.convert(s, FRONTEND)
    assert {rev for _, _, rev, _ in s.done[1:]} == {setup_view.from_rev}  # build, start, current
    assert setup_view.from_rev != TO_PLACEHOLDER
