"""Setup's pieces without a host: the .env builder run by bash on this machine, origins,
preconditions, the release record's logic, the served-version reader, the error-log count,
and the install script's refusals. (tests/test_setup_lab.py runs setup on real hosts.)"""

from __future__ import annotations

import getpass
import http.server
import json
import os
import pwd
import subprocess
import threading
from pathlib import Path

import pytest

from tasks import hostfacts
from tasks.apps import common, preconditions, registry
from tasks.apps import env as appenv
from tasks.apps.ai import AI
from tasks.apps.backend import BACKEND
from tasks.engine.console import Console
from tasks.engine.session import Session
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.setup import setup_apps
from tasks.strategies import drift

from .fakes import FakeRemote

ROOT = Path(__file__).resolve().parents[2]


def bash(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={**os.environ, **env})  # fmt: skip


# --- .env -----------------------------------------------------------------------------------
def test_encode_keeps_both_readers_in_step():
    assert appenv.encode("A", "jdbc:mariadb://localhost:3306/x", "backend") == (
        "A=jdbc:mariadb://localhost:3306/x"
    )
    assert appenv.encode("A", "p@ss word$HOME#x", "backend") == "A='p@ss word$HOME#x'"
    with pytest.raises(ConfigError, match="작은따옴표나 줄바꿈이 들어 있습니다") as err:
        appenv.encode("A", "it's", "backend")
    assert "it's" not in str(err.value)  # a value is never shown
    with pytest.raises(ConfigError, match="'1A'는 .env 키로 쓸 수 없습니다"):
        appenv.encode("1A", "x", "backend")


def test_candidates_read_secrets_by_reference_and_name_a_missing_one():
    app = appenv.of("backend", Settings(backend_env={"DB_USER": "app", "DB_PASSWORD": "${DB_PW}"}))
    text = appenv.candidates(app, Secrets({"DB_PW": "s3cret-value"}))
    assert text == "DB_USER=app\nDB_PASSWORD=s3cret-value\n"
    assert appenv.secret_keys(app) == ["DB_PW"]
    with pytest.raises(ConfigError, match="DB_PW가 없습니다"):
        appenv.candidates(app, Secrets({}))


def env_run(tmp_path: Path, component: str = "backend"):
    """A checkout with a .env.example and the env-writing command as it runs on a host, as
    the deploy login (this machine's user here). A service's file is made first, as setup's
    root step makes it (<env_dir>/<component>.env, 0640); the frontend's is the checkout's."""
    d = tmp_path / "app"
    d.mkdir()
    (d / ".env.example").write_text("# comment\nDB_USER=\nexport DB_PASSWORD=x\nPORT=\n")
    s = Settings(state_dir=str(tmp_path), backend_dir=str(d), frontend_dir=str(d),
                 env_dir=str(tmp_path / "env"), releases_root=str(tmp_path / "releases"))  # fmt: skip
    view = RunView("setup", "setup", Host("cpu", "x", "deploy", 22, None, ("cpu",), s), "RUN")
    group = pwd.getpwuid(os.getuid()).pw_name
    app = appenv.of(component, s)
    if app.service:
        app = appenv.AppEnv(component, str(d), ".env", ".env.example", {}, group, app.system)
        (tmp_path / "env").mkdir()
        Path(app.path).touch(mode=0o640)

    def run(candidates: str) -> subprocess.CompletedProcess:
        Path(appenv.candidates_file(view, component)).write_text(candidates)
        return bash(appenv.write_command(view, app, str(tmp_path / "releases" / "shared")))

    return d, app, run


@pytest.fixture
def checkout(tmp_path: Path):
    d, _, run = env_run(tmp_path)
    return d, run


def test_env_has_exactly_the_example_keys_in_its_order(checkout):
    d, run = checkout
    res = run("PORT=8080\nEXTRA=no\nDB_USER=app\nDB_PASSWORD='p w'\n")
    assert res.returncode == 0, res.stderr
    assert (d / ".env").read_text() == "DB_USER=app\nDB_PASSWORD='p w'\nPORT=8080\n"
    assert oct((d / ".env").stat().st_mode)[-3:] == "640"
    assert pwd.getpwuid((d / ".env").stat().st_uid).pw_name == getpass.getuser()
    assert res.stdout.strip().splitlines()[-1].startswith(hostfacts.CHANGED_MARK)
    again = run("PORT=8080\nDB_USER=app\nDB_PASSWORD='p w'\n")
    assert again.stdout.strip().splitlines()[-1].startswith(hostfacts.UNCHANGED)
    assert not list(d.glob(".env.bak.*"))  # nothing replaced, nothing kept


def test_a_key_without_a_value_is_named_and_nothing_is_written(checkout):
    d, run = checkout
    (d / ".env").write_text("OLD=1\n")
    res = run("DB_USER=app\n")
    assert res.returncode == 1
    assert "다음 키에 값이 없습니다 (needs a value for): DB_PASSWORD PORT" in res.stderr
    assert (d / ".env").read_text() == "OLD=1\n"


def test_a_changed_env_is_replaced_and_the_old_one_kept_private(checkout):
    d, run = checkout
    (d / ".env").write_text("OLD=1\n")
    (d / ".env").chmod(0o644)
    res = run("DB_USER=app\nDB_PASSWORD=x\nPORT=1\n")
    assert res.returncode == 0, res.stderr
    (bak,) = d.glob(".env.bak.RUN")
    assert bak.read_text() == "OLD=1\n" and oct(bak.stat().st_mode)[-3:] == "600"


def test_a_service_s_env_is_the_file_its_unit_reads_and_the_checkout_links_to_it(tmp_path):
    """The unit reads <env_dir>/backend.env (root's directory); the checkout's .env and the
    release strategy's shared/.env link to it. A link the deploy login planted at the
    checkout's .env is replaced, never read."""
    d, app, run = env_run(tmp_path)
    shared = tmp_path / "releases" / "shared"
    shared.mkdir(parents=True)
    (shared / ".env").write_text("SHARED=old\n")  # an earlier conversion's copy
    secret = tmp_path / "root-only"
    secret.write_text("CANARY=1\n")
    (d / ".env").symlink_to(secret)
    res = run("DB_USER=app\nDB_PASSWORD=x\nPORT=1\n")
    assert res.returncode == 0, res.stderr
    assert Path(app.path).read_text() == "DB_USER=app\nDB_PASSWORD=x\nPORT=1\n"
    assert os.readlink(d / ".env") == app.path and os.readlink(shared / ".env") == app.path
    assert (shared / ".env.bak.RUN").read_text() == "SHARED=old\n"
    assert secret.read_text() == "CANARY=1\n"
    assert not any("CANARY" in f.read_text() for f in d.glob(".env.bak*"))


def test_the_frontend_s_env_is_a_file_in_its_checkout_and_a_planted_link_is_not_read(tmp_path):
    d, app, run = env_run(tmp_path, "frontend")
    assert not app.service and app.path == str(d / ".env")
    secret = tmp_path / "root-only"
    secret.write_text("CANARY=1\n")
    (d / ".env").symlink_to(secret)
    res = run("DB_USER=a\nDB_PASSWORD=b\nPORT=1\n")
    assert res.returncode == 0, res.stderr
    assert not (d / ".env").is_symlink() and "CANARY" not in (d / ".env").read_text()
    assert secret.read_text() == "CANARY=1\n" and not list(d.glob(".env.bak*"))


# --- origins, preconditions --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "norm"),
    [
        ("git@github.com:Org/App.git", "github.com/org/app"),
        ("https://github.com/org/app", "github.com/org/app"),
        ("ssh://git@github.com:22/org/app.git/", "github.com/org/app"),
        ("git://10.77.0.1/frontend.git", "10.77.0.1/frontend"),
    ],
)
def test_origins_compare_the_same_in_python_and_on_the_host(url, norm):
    assert hostfacts.norm_origin(url) == norm
    res = bash(f'{hostfacts.NORM_FN}; norm "$U"', U=url)
    assert res.stdout == norm


def test_preconditions_name_what_is_missing_and_fab_setup():
    s = Settings(backend_repo="git@github.com:org/backend.git")
    checks = preconditions.for_unit(s, "backend")
    assert [c.what.split()[0] for c in checks][:2] == ["사용자", "java"]
    missing = "missing: 사용자 dojangkok (dojangkok.service의 User=)\nmissing: jar /x\n"
    conn = FakeRemote([(r"missing: ", 0, missing)])
    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), s)
    secrets = Secrets({})
    session = Session(RunView("config", "config", host, "RUN"), secrets, yes=True,
                      console=Console(secrets, write=lambda t: None), remote=conn, title="t")  # fmt: skip
    with pytest.raises(ConfigError) as err:
        preconditions.verify(session, checks, "push-config")
    assert "사용자 dojangkok" in str(err.value) and "jar /x" in str(err.value)
    assert "fab -H cpu setup" in err.value.fix and "아무것도 바꾸지 않았습니다" in err.value.fix
    assert len(conn.calls) == 1  # one read-only command


def test_release_preconditions_are_the_user_and_the_checkout():
    """The release strategy's units run releases: no jar or venv in the checkout is needed."""
    s = Settings(strategy="release", backend_repo="git@github.com:org/backend.git")
    unit = [c.what for c in preconditions.for_unit(s, "backend")]
    assert unit[0].startswith("사용자 dojangkok ") and not any("jar" in w for w in unit)
    assert any("git@github.com:org/backend.git(backend_repo)에서 받은 체크아웃" in w for w in unit)
    deploy = [c.what for c in preconditions.for_deploy(s, "ai")]
    assert not any("venv" in w or "유닛" in w for w in deploy)
    assert any(w.startswith("사용자 dojangkok-ai") for w in deploy)
    manual = [c.what for c in preconditions.for_deploy(s.replace(strategy="manual"), "ai")]
    assert any("venv" in w for w in manual)


def test_setup_of_a_converted_host_checks_the_live_instance_not_the_manual_unit():
    """strategy=release: the backend serves from a blue/green pair behind nginx; setup must
    not start the manual unit again, and its health check asks the live instance."""
    comps = list(registry.ORDER)
    release, manual = Settings(strategy="release"), Settings(strategy="manual")
    assert setup_apps.units(manual, comps) == ["nginx", "mysql", "dojangkok", "fastapi"]
    assert setup_apps.units(release, comps) == ["nginx", "mysql", "fastapi"]
    health = setup_apps.health_command(release, comps)
    assert "/etc/nginx/dojangkok-upstream.conf" in health and "localhost:8080" not in health
    assert "localhost:8080" in setup_apps.health_command(manual, comps)
    assert "'dojangkok@*'" in setup_apps.journals(release, comps)
    pairs = setup_apps.live_instances(release, comps)
    services = setup_apps.services_command(setup_apps.units(release, comps), release, pairs)
    assert 'u=dojangkok@"$p"; systemctl is-enabled -q -- "$u" || { systemctl enable' in services
    blue_green = release.replace(ai_switch="blue-green")
    assert setup_apps.units(blue_green, comps) == ["nginx", "mysql"]


def test_the_precondition_command_runs_and_reports(tmp_path):
    s = Settings(
        ai_dir=str(tmp_path / "ai"),
        ai_user="root",
        ai_repo="https://x.org/ai.git",
        strategy="manual",
    )
    res = bash(preconditions.command(preconditions.for_unit(s, "ai")))
    assert res.returncode == 0
    gone = preconditions.missing(res.stdout)
    assert gone == [
        f"venv의 uvicorn {tmp_path}/ai/venv/bin/uvicorn",
        f"git 체크아웃 {tmp_path}/ai",
        f"https://x.org/ai.git(ai_repo)에서 받은 체크아웃 {tmp_path}/ai",
    ]
    subprocess.run(["git", "init", "-q", str(tmp_path / "ai")], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "ai"), "remote", "add", "origin",
                    "https://x.org/ai"], check=True)  # fmt: skip
    gone = preconditions.missing(
        bash(preconditions.command(preconditions.for_unit(s, "ai"))).stdout
    )
    assert gone == [f"venv의 uvicorn {tmp_path}/ai/venv/bin/uvicorn"]


# --- what serves: the release record ---------------------------------------------------------
A, B, C = "a" * 40, "b" * 40, "c" * 40
RECORD = {"current": A, "revisions": {A: {"artifact": "sha-a", "version": "1.1.0"}}}


def test_nothing_changed_outside_the_tool():
    assert drift.serving(BACKEND, drift.Seen(A, "sha-a", "1.1.0"), RECORD, [A]) == (A, [])


def test_a_deploy_by_hand_is_said_and_what_serves_is_the_checkout():
    rev, diffs = drift.serving(BACKEND, drift.Seen(B, "sha-b", "1.2.0"), RECORD, [A])
    assert rev == B
    assert any("sha256" in d for d in diffs) and any("1.2.0 ≠ 기록 1.1.0" in d for d in diffs)


def test_a_pull_without_a_deploy_keeps_what_serves():
    rev, diffs = drift.serving(BACKEND, drift.Seen(B, "sha-a", "1.1.0"), RECORD, [A])
    assert rev == A and len(diffs) == 1 and "코드(checkout)" in diffs[0]
    # the AI server runs from its checkout: a moved checkout is what serves
    assert drift.serving(AI, drift.Seen(B, "", ""), RECORD, [A])[0] == B


def test_without_a_record_the_stack_then_the_checkout():
    assert drift.serving(BACKEND, drift.Seen(B, "x", ""), {}, [A]) == (A, [])
    assert drift.serving(BACKEND, drift.Seen(B, "x", ""), {}, []) == (B, [])


def test_the_record_keeps_what_each_revision_was():
    rec = drift.updated(RECORD, B, drift.Seen(B, "sha-b", "1.2.0"), "found", "t")
    assert rec["current"] == B and rec["revisions"][A]["version"] == "1.1.0"
    assert rec["revisions"][B] == {"artifact": "sha-b", "version": "1.2.0", "how": "found",
                                   "time": "t"}  # fmt: skip
    # a probe that could not read the version keeps the one recorded
    again = drift.updated(rec, B, drift.Seen(B, "sha-b", ""), "deployed", "t2")
    assert again["revisions"][B]["version"] == "1.2.0"
    assert list(again["revisions"]) == [A, B]


def test_the_record_lookup_on_the_host(tmp_path):
    path = tmp_path / "backend.json"
    path.write_text(json.dumps(RECORD))
    res = bash(hostfacts.record_lookup(str(path), A, "version"))
    assert res.stdout.strip() == "1.1.0"
    assert bash(hostfacts.record_lookup(str(path), C, "version")).stdout.strip() == ""
    assert bash(hostfacts.record_lookup(str(tmp_path / "none"), A, "x")).returncode == 0


@pytest.fixture
def web():
    pages = {}

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages[self.path].encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", pages
    srv.shutdown()


def test_the_served_version_from_json_or_a_page(web):
    base, pages = web
    pages["/api/version"] = '{"version": "1.2.0"}'
    pages["/health"] = '{"status": "ok", "build": {"version": "2.0"}}'
    pages["/"] = '<meta name="dojangkok-version" content="3.1.4">'
    read = lambda url, how: bash(hostfacts.served_version(url, how)).stdout.strip()  # noqa: E731
    assert read(f"{base}/api/version", "json:version") == "1.2.0"
    assert read(f"{base}/health", "json:build.version") == "2.0"
    assert read(f"{base}/", 'regex:name="dojangkok-version" content="([^"]+)"') == "3.1.4"
    assert bash(hostfacts.served_version(f"{base}/health", "json:version")).returncode != 0


# --- the error-log check ------------------------------------------------------------------------
JOURNAL = """Nov 27 10:00:01 cpu dojangkok[12]: 2026-11-27T10:00:01 INFO 12 --- [main] Started
Nov 27 10:00:02 cpu dojangkok[12]: 2026-11-27T10:00:02 ERROR 12 --- [http-1] request failed: boom
Nov 27 10:00:03 cpu dojangkok[12]: 2026-11-27T10:00:03 INFO 12 --- [http-2] no errors here
"""


def check(stdout: str, code: int = 0):
    conn = FakeRemote([(r"journalctl", code, stdout)])
    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings())
    secrets = Secrets({})
    s = Session(RunView("deploy", "backend", host, "RUN"), secrets, yes=True,
                console=Console(secrets, write=lambda t: None), remote=conn, title="t")  # fmt: skip
    result = common.check_log(lambda v: "journalctl -u dojangkok -n 100 --no-pager")(s)
    return result, conn


def test_the_error_log_check_reads_as_the_deploy_login_and_counts_error_lines():
    (ok, shown), conn = check(JOURNAL)
    # no sudo: setup put the deploy login in systemd-journal and the service's group
    assert conn.calls == [("run", "journalctl -u dojangkok -n 100 --no-pager")]
    assert shown.startswith("최근 3줄 중 ERROR 1건") and "request failed: boom" in shown


def test_the_error_log_check_never_counts_no_entries_as_a_clean_log():
    (ok, shown), _ = check("-- No entries --\n")
    assert shown == "로그 없음 (-- No entries --)"


# --- the install script -------------------------------------------------------------------------
SCRIPT = str(ROOT / "scripts" / "install-system-packages")


def test_install_script_refuses_another_system_with_the_command(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    res = subprocess.run([SCRIPT], capture_output=True, text=True,
                         env={**os.environ, "DOJANGKOK_OS_RELEASE": str(release)})  # fmt: skip
    assert res.returncode == 2
    assert (
        "not Debian (ubuntu 24.04)" in res.stderr and "apt-get install -y debootstrap" in res.stderr
    )


def test_install_script_without_root_names_the_exact_command(tmp_path):
    env = {**os.environ, "DOJANGKOK_SYSTEM_PACKAGES": "debootstrap dojangkok-no-such-package"}
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          SCRIPT], capture_output=True, text=True, env=env)  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert "as root run: apt-get install -y dojangkok-no-such-package" in res.stderr


def test_install_script_installs_nothing_when_all_is_there():
    env = {**os.environ, "DOJANGKOK_SYSTEM_PACKAGES": "bash coreutils"}
    res = subprocess.run([SCRIPT, "--check"], capture_output=True, text=True, env=env)
    assert res.returncode == 0 and res.stdout.strip() == "system packages: all installed"


# --- names --------------------------------------------------------------------------------------
def test_every_label_and_command_follows_the_configured_names():
    """Service names, branch and paths in every plan a host sees (deploys, rollbacks, setup,
    the checklists): the configured ones, never the manual's defaults."""
    from tasks.apps import registry
    from tasks.engine.session import plan_text
    from tasks.setup import detect, setup

    s = Settings(backend_service="be-svc", ai_service="ai-svc", git_branch="release",
                 backend_dir="/srv/be", ai_dir="/srv/ai", frontend_dir="/srv/fe",
                 web_root="/srv/www", frontend_backup_dir="/srv/bk", db_service="db-svc",
                 db_server="mariadb", mysql_conf="/etc/mysql/x.cnf", backend_user="be-user",
                 ai_user="ai-user", server_name="dojangkok.example.com")  # fmt: skip
    texts = []
    for group, comps in (("cpu", ("frontend", "backend")), ("gpu", ("ai",))):
        host = detect.with_facts(Host(group, "x", "u", 22, None, (group,), s),
                                 detect.Facts("debian", "12", "amd64", "mariadb", "3.11"))[0]  # fmt: skip
        view = RunView("deploy", "x", host, "RUN", dry_run=True)
        for comp in comps:
            texts += [plan_text(registry.get(comp).plans("manual").plan(view), view),
                      plan_text(registry.get(comp).plans("manual").rollback_plan(view), view)]  # fmt: skip
        texts.append(plan_text(setup.plan(view), view))
    text = "\n".join(texts)
    for default in ("fastapi", "systemctl stop dojangkok", "journalctl -u dojangkok", "/app/backend",
                    "/app/ai-server", "/app/frontend", "/var/www/dojangkok", "/var/www/backup",
                    "main 브랜치", " main"):  # fmt: skip
        assert default not in text, default
    for configured in ("be-svc", "ai-svc", "release", "/srv/be", "db-svc"):
        assert configured in text, configured


def test_deploys_keep_the_backup_directory_private_as_setup_makes_it():
    from tasks.apps.backend import manual as backend
    from tasks.apps.database import backup
    from tasks.setup import detect, setup

    host = Host("cpu", "x", "u", 22, None, ("cpu",), Settings())
    view = RunView("deploy", "backend", detect.offline(host), "RUN", dry_run=True)
    # a deploy makes it as the deploy login itself (no sudo, so no -o)
    want = "install -d -m 700 -- /app/backups"
    for step in (backend.plan(view).step("0"), backup.backup_plan(view).step("0")):
        assert want in step.render(view) and not step.sudo
        assert "-o " not in step.render(view)
    # setup makes it the deploy login's: ansible_user by name, else whoever ran sudo
    assert ("/app/backups", "700", "u") in setup.directories(view.s, {"cpu"}, view.login)
    assert ("/app/backups", "700", setup.LOGIN) in setup.directories(view.s, {"cpu"})
    (dirs,) = [st for st in setup.plan(view).steps if st.title.startswith("디렉터리와")]
    assert dirs.sudo and "r=$(own dir /app/backups 700 u '')" in dirs.render(view)


def test_a_converted_backend_starts_at_boot_on_its_port():
    """The conversion stops the manual unit for good: the instance that now serves must be
    the one enabled at boot (a reboot before the first release deploy would leave no API)."""
    from tasks.apps.backend import release as backend_release
    from tasks.engine.view import RunView

    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings())
    v = RunView("deploy", "backend", host, "20260101_120000_000000_abcd", "release")
    k7 = backend_release.convert_switch_plan(v).step("K7").render(v)
    boot = "systemctl enable -q --no-reload dojangkok@8081 && "
    assert boot + "systemctl disable -q --no-reload dojangkok@8082" in k7


def test_setup_leaves_the_release_strategy_s_web_root_link_alone(tmp_path):
    """After the conversion the web root is a symlink to the current release: setup must
    neither report it as a change on every run nor chmod/chown through it."""
    from tasks.setup import setup

    d = {k: str(tmp_path / k)
         for k in ("state", "front", "back", "web", "fbak", "dbak", "ai", "releases")}  # fmt: skip
    me = pwd.getpwuid(os.getuid()).pw_name
    s = Settings(state_dir=d["state"], frontend_dir=d["front"], backend_dir=d["back"],
                 web_root=d["web"], frontend_backup_dir=d["fbak"], backup_dir=d["dbak"],
                 ai_dir=d["ai"], releases_root=d["releases"], env_dir=str(tmp_path / "env"),
                 backend_user=me, ai_user=me)  # fmt: skip
    command = setup.directories_command(s, {"cpu", "gpu"})
    assert bash(command, SUDO_USER="root").stdout.startswith("변경:")
    assert os.path.isdir(d["releases"])  # strategy=release: the release root is the login's
    release = tmp_path / "release"
    release.mkdir(mode=0o700)
    os.rmdir(d["web"])
    os.symlink(release, d["web"])
    res = bash(command, SUDO_USER="root")
    assert res.returncode == 0 and res.stdout.startswith("변경 없음"), res.stdout
    assert oct(release.stat().st_mode)[-3:] == "700"
