"""tasks/hosts/validate.py: each rule, and that every task meets them before any host."""

from __future__ import annotations

import dataclasses

import pytest

import tasks
from tasks import shell
from tasks.apps.frontend import manual as frontend
from tasks.engine.session import preflight_secrets, session
from tasks.errors import ConfigError
from tasks.hosts import inventory, validate, values
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import LOGIN_DIRS, ROOT_PATHS, SPECS, Settings
from tasks.strategies import deploy

from .conftest import make_host, make_view


def refused(name: str, value, match: str = "") -> ConfigError:
    """Settings.from_vars refuses ``name=value`` with an error naming the setting."""
    with pytest.raises(ConfigError) as err:
        Settings.from_vars({name: value}, where="hosts.ini:3")
    assert f"설정 {name}" in err.value.problem and "hosts.ini:3" in err.value.problem
    assert err.value.fix, "every refusal says what to do"
    if match:
        assert match in err.value.problem, err.value.problem
    return err.value


def accepted(name: str, value) -> Settings:
    return Settings.from_vars({name: value}, where="hosts.ini:3")


def test_the_defaults_pass_every_rule():
    validate.settings(Settings())


# --- paths -------------------------------------------------------------------------------
ROOTS = ["web_root", "frontend_dir", "backend_dir", "ai_dir", "state_dir", "backup_dir",
         "frontend_backup_dir"]  # fmt: skip


@pytest.mark.parametrize("name", ROOTS)
@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "비어 있습니다"), ("var/www", "절대 경로가 아닙니다"), ("./x", "절대 경로가 아닙니다"),
     ("/", "시스템 디렉터리"), ("//", "시스템 디렉터리"), ("/etc", "시스템 디렉터리"),
     ("/usr/", "시스템 디렉터리"), ("/var", "시스템 디렉터리"), ("/var/lib", "시스템 디렉터리"),
     ("/home", "시스템 디렉터리"), ("/root", "시스템 디렉터리"), ("/boot/x", "시스템 디렉터리"),
     ("/proc/1", "시스템 디렉터리"), ("/app/../etc", "경로에 . 이나 .. 가 있습니다"),
     ("/a/./b", "경로에 . 이나 .. 가 있습니다"), ("/app/x\ny", "줄바꿈")],
)  # fmt: skip
def test_roots_refuse_empty_relative_and_system_dirs(name, value, problem):
    refused(name, value, problem)


@pytest.mark.parametrize("value", ["/var/www/dojangkok", "/srv/www/my site", "/var/www/html/",
                                   "/opt/dojangkok/state", "/data/$weird'name"])  # fmt: skip
def test_roots_take_ordinary_paths_however_named(value):
    assert accepted("web_root", value).web_root == value


@pytest.mark.parametrize("name", ["backend_artifact", "backend_env_file", "backend_env_example",
                                  "ai_venv", "ai_requirements", "ai_env_file",
                                  "frontend_build_dir"])  # fmt: skip
@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "비어 있습니다"), ("/etc/passwd", "체크아웃 기준 상대 경로여야"),
     ("../x", "체크아웃 밖을 가리킵니다"), ("a/../../x", "체크아웃 밖을 가리킵니다"),
     ("-x", "-로 시작합니다")],
)  # fmt: skip
def test_paths_inside_a_checkout_stay_inside(name, value, problem):
    refused(name, value, problem)


def test_the_build_dir_is_not_the_checkout_itself():
    refused("frontend_build_dir", ".", "체크아웃 디렉터리 자체입니다")
    refused("frontend_build_dir", "./", "체크아웃 디렉터리 자체입니다")
    assert accepted("frontend_build_dir", "dist").frontend_build_dir == "dist"
    assert accepted("ai_venv", ".venv").ai_venv == ".venv"


def test_release_refuses_relative_writable_paths():
    """A relative path is inside the checkout (manual) but would be inside each new release
    (release): what the service wrote there would be left behind at the next deploy."""
    manual = Settings(strategy="manual", ai_writable_paths=["vector_store"])
    validate.settings(manual, "gpu")
    validate.settings(Settings(ai_writable_paths=["/app/ai-server/vector_store"]), "gpu")
    for name in ("backend_writable_paths", "ai_writable_paths"):
        with pytest.raises(ConfigError, match=f"{name} has relative paths") as err:
            validate.settings(Settings(**{name: ["/abs", "data/store"]}), "gpu")
        assert "(gpu)" in err.value.problem and "이전 릴리스와 함께 남겨집니다" in err.value.problem
        checkout = "/app/ai-server" if name == "ai_writable_paths" else "/app/backend"
        assert f'{name}=["{checkout}/data/store"]' in err.value.fix
    # --strategy=release on a host whose setting is manual: the same refusal
    host = make_host(manual, "gpu", "gpu")
    assert deploy.Options().strategy_for(host) == "manual"
    with pytest.raises(ConfigError, match="ai_writable_paths has relative paths"):
        deploy.Options(strategy="release").strategy_for(host)


def test_web_root_holds_nothing_the_tool_keeps():
    validate.settings(Settings(web_root="/var/www/site", frontend_backup_dir="/var/www/backup"))
    for bad in ({"web_root": "/app"}, {"web_root": "/var/www"},
                {"frontend_backup_dir": "/var/www/dojangkok/backups"},
                {"web_root": "/app/frontend/build"},
                {"web_root": "/var/lib/dojangkok-deploy/www"}):  # fmt: skip
        with pytest.raises(ConfigError, match="web_root .* overlap") as err:
            validate.settings(Settings(**bad), "cpu")
        assert "A4가 web_root를 비우므로" in err.value.problem and "cpu" in err.value.problem


def test_the_services_env_files_are_outside_everything_the_deploy_login_owns():
    """systemd reads them as root and follows links: in a directory the deploy login owns,
    it could point one at any root-only file (tasks/apps/env.py)."""
    validate.settings(Settings(env_dir="/etc/myapp/env"))
    for bad in ("/app/backend/env", "/var/lib/dojangkok-deploy", "/app/releases/env", "/app"):
        with pytest.raises(ConfigError, match="env_dir .* overlap") as err:
            validate.settings(Settings(env_dir=bad), "cpu")
        assert "배포 로그인의 것이라" in err.value.problem
    refused("env_dir", "/etc", "시스템 디렉터리")


def test_what_root_writes_or_reads_is_outside_everything_the_deploy_login_owns():
    """A swap file, a certificate, a unit or nginx file there: the deploy login could put a
    link to any file in its place (root would mkswap, read or install through it)."""
    validate.settings(Settings(swap_file="/var/swap.img", tls_cert="/etc/ssl/site.pem"))
    for name, bad in (("swap_file", "/app/backend/swapfile"), ("tls_key", "/app/releases/k.pem"),
                      ("tls_cert", "/var/lib/dojangkok-deploy/cert.pem"),
                      ("systemd_dir", "/app/ai-server"), ("acme_webroot", "/var/www/dojangkok/acme"),
                      ("nginx_upstream_file", "/app/backups/up.conf")):  # fmt: skip
        with pytest.raises(ConfigError, match=f"setting {name} .* is inside") as err:
            validate.settings(Settings(**{name: bad}), "cpu")
        assert "배포 로그인이 아무 파일로 가는 링크" in err.value.problem, name
        assert f"{name}에 배포 로그인의 디렉터리 밖의 경로를 주십시오" in err.value.fix, name
    with pytest.raises(ConfigError) as err:
        validate.settings(Settings(swap_file="/app/frontend/swap"))
    assert "예: 기본값 /swapfile" in err.value.fix


@pytest.mark.parametrize("name", [n for n in ROOT_PATHS if n != "env_dir"])  # env_dir: above
def test_every_root_path_is_refused_inside_every_login_dir(name):
    """Declared once beside the setting (``owner=ROOT``/``owner=LOGIN``), so an app's new
    setting is kept out of the deploy login's directories by being declared so."""
    for owned in LOGIN_DIRS:
        inside = f"{getattr(Settings(), owned)}/planted"
        # refused (by its own rule where that is stricter: a swap file under /var/lib)
        with pytest.raises(ConfigError, match=rf"\b{name}\b"):
            validate.settings(Settings(**{name: inside}), "cpu")


def test_what_root_reads_under_etc_is_declared_root_owned():
    """A config file root writes (a default under /etc/) declared without ``owner=ROOT``
    would be let into a deploy-owned directory: frontend_upstream_file was, until this."""
    under_etc = [s.name for s in SPECS if str(s.default).startswith("/etc/")]
    assert "frontend_upstream_file" in under_etc and "ai_proxy_conf" in under_etc
    assert [n for n in under_etc if n not in ROOT_PATHS] == []
    assert {"frontend_dir", "releases_root", "state_dir", "backup_dir"} <= set(LOGIN_DIRS)


def test_the_nginx_tree_is_never_a_system_dir():
    refused("nginx_site", "/sites-available/site", "시스템 디렉터리")
    refused("nginx_site", "/etc/conf.d/x.conf", "시스템 디렉터리")
    accepted("nginx_site", "/etc/nginx/conf.d/dojangkok.conf")
    accepted("nginx_site", "/opt/nginx/sites-available/dojangkok")


def test_swap_file():
    for value in ("/etc/fstab", "/usr/swap", "/var/lib/mysql/ibdata1", "/my swap", "/", "swap"):
        refused("swap_file", value)
    assert accepted("swap_file", "/swapfile").swap_file == "/swapfile"
    assert accepted("swap_file", "/var/swap.img").swap_file == "/var/swap.img"
    refused("swap_size", "4 G")
    refused("swap_size", "$(id)")
    assert accepted("swap_size", "").swap_size == ""


@pytest.mark.parametrize("value", ["", "a/b", ".", "..", "x\ny"])
def test_disabled_sites_are_plain_names(value):
    refused(
        "nginx_sites_disabled", [value], "파일 이름만 쓸 수 있습니다" if "\n" not in value else ""
    )


# --- counts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "low"),
    [("backup_keep", 1), ("frontend_backup_keep", 2), ("frontend_page_tries", 1),
     ("backend_health_tries", 1), ("ai_health_tries", 1), ("frontend_page_interval", 1),
     ("backend_health_interval", 1), ("ai_health_interval", 1), ("lock_stale_after", 1),
     ("db_max_connections", 1)],
)  # fmt: skip
def test_counts_and_intervals(name, low):
    for bad in (low - 1, -1):
        err = refused(name, bad, f"{low} 이상이어야 합니다")
        assert f"{name}을(를) {low} 이상으로 설정하십시오" in err.fix
    assert getattr(accepted(name, low), name) == low


def test_the_frontend_keeps_the_backup_a_rollback_needs():
    assert "그 전 백업" in refused("frontend_backup_keep", 1).problem


@pytest.mark.parametrize("name", ["backend_port", "ai_listen_port"])
def test_ports(name):
    for bad in (0, -1, 65536):
        refused(name, bad, "포트 번호가 아닙니다")


# --- names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    ["main", "release/2.1", "feature/한글", "fix-#12", "v1.0", "a;b", "x$y"],
)
def test_branch_names_git_accepts(value):
    assert accepted("git_branch", value).git_branch == value


@pytest.mark.parametrize(
    "value",
    ["", "-x", "--upload-pack=touch", "a b", "a..b", "a~1", "a^", "a:b", "a?", "a*", "a[",
     "a\\b", "/a", "a/", "a//b", "a.", ".a", "a/.b", "a.lock", "a/b.lock/c", "@", "a@{1}",
     "HEAD", "a\tb", "a\nb"],
)  # fmt: skip
def test_branch_names_git_refuses(value):
    refused("git_branch", value)
    refused("git_remote", value)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [("backend_service", "dojangkok-server", ["-x", "a b", "a;b", "a/b", "$(id)", ""]),
     ("ai_service", "ai-server@1.service", ["--now", "a'b"]),
     ("db_service", "mariadb", ["mariadb;reboot"]),
     ("backend_user", "dojangkok", ["-r", "root:x", "a b", "1abc", ""]),
     ("db_name", "dojangkok_prod", ["a`b", "a b", "-x", "a.b", ""]),
     ("db_user", "app.user", ["a\"b", "a b", "-x"]),
     ("db_app_user", "dojangkok", ["x'@'%"]),
     ("db_password_env", "MYSQL_ROOT_PASSWORD", ["A-B", "1A", ""]),
     ("sudo_password_env", "", ["A B"])],
)  # fmt: skip
def test_names(name, good, bad):
    assert getattr(accepted(name, good), name) == good
    for value in bad:
        refused(name, value)


def test_urls_and_health_paths():
    refused("frontend_url", "-o/etc/passwd", "http:// 또는 https:// URL")
    refused("frontend_url", "http://a b")
    refused("frontend_url", "file:///etc/passwd")
    accepted("frontend_url", "https://dojangkok.example/?a=$b")
    refused("backend_health_path", "/a b", "URL 경로가 아닙니다")
    accepted("backend_health_path", "/actuator/health")


def test_settings_are_one_line_raw_shell_included():
    refused("frontend_expect", "a\nb", "줄바꿈")
    refused("backend_build_cmd", "./gradlew build\nrm -rf /", "줄바꿈")
    refused("content_security_policy", "a\rb", "제어 문자")
    assert accepted("backend_build_cmd", "./gradlew bootJar && cp x y").backend_build_cmd


# --- smoke requests ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "part", "problem"),
    [({"method": "GET"}, "", "url이나 path가 있어야 합니다"),
     ({"path": "/x", "status": "abc"}, " status", "HTTP 상태 코드가 아닙니다: 'abc'"),
     ({"path": "/x", "status": 99}, " status", "HTTP 상태 코드가 아닙니다"),
     ({"path": "/x", "status": True}, " status", "HTTP 상태 코드가 아닙니다"),
     ({"path": "/x", "method": "GET /"}, " method", "HTTP 메서드 형식이 아닙니다"),
     ({"url": "-K/etc/passwd"}, " url", "http:// 또는 https:// URL 형식이 아닙니다"),
     ({"path": "/a b"}, " path", "URL 경로가 아닙니다"),
     ({"path": "/x", "ecpect": "typo"}, "", "모르는 키가 있습니다: ['ecpect']"),
     ("GET /x", "", "JSON 객체가 아닙니다")],
)  # fmt: skip
def test_smoke_requests(spec, part, problem):
    err = refused("backend_smoke", [spec], problem)
    assert f"hosts.ini:3의 설정 backend_smoke 요청 #1{part}:" in err.problem
    refused("ai_smoke", [{"path": "/x", "expect": "a\nb"}], "줄바꿈")


def test_a_bad_status_is_an_error_not_a_traceback():
    with pytest.raises(ConfigError, match="status: HTTP 상태 코드가 아닙니다: 'abc'"):
        shell.smoke([{"url": "http://localhost/x", "status": "abc"}])
    assert "= 201 ]" in shell.smoke([{"url": "http://localhost/x", "status": "201"}])
    body = accepted("ai_smoke", [{"path": "/x", "body": {"text": "줄\n바꿈 $(id)"}}])
    assert "줄" in shell.smoke(body.ai_smoke, 8000)


def test_the_inventory_names_the_line(inventory_file):
    with pytest.raises(
        ConfigError, match=r"hosts.ini:4 .*의 설정 backup_keep: 1 이상이어야 합니다"
    ):
        inventory.load(inventory_file("[cpu]\ncpu\n[cpu:vars]\nbackup_keep=-1\n"))
    with pytest.raises(ConfigError, match=r"hosts.ini:2 .*의 설정 web_root: 비어 있습니다"):
        inventory.load(inventory_file("[cpu]\ncpu web_root=''\n"))
    with pytest.raises(
        ConfigError,
        match=r"hosts.ini:2 .*의 설정 git_branch: 올바른 git 이름이 아닙니다 \(-로 시작함",
    ):
        inventory.load(inventory_file("[cpu]\ncpu git_branch=--upload-pack=x\n"))


# --- the task options ----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["$(id)", "-x", "HEAD~1", "main", "abc", "a" * 41, "g" * 7,
                                   "12345678;id"])  # fmt: skip
def test_to_is_a_commit_id(value):
    with pytest.raises(
        ConfigError, match=r"--to: 커밋 ID\(16진수 7~40자리\) 형식이 아닙니다"
    ) as err:
        values.rollback_target(value)
    assert "fab history" in err.value.fix
    assert "설정" not in err.value.problem


def test_to_accepts_commit_ids():
    assert values.rollback_target("3F2A9C1") == "3f2a9c1"
    assert values.rollback_target("a" * 40) == "a" * 40


def test_rollback_tasks_refuse_a_bad_to_before_anything(monkeypatch):
    def untouched(*a, **k):
        raise AssertionError("nothing may be read or touched")

    monkeypatch.setattr(tasks.cli, "component_hosts", untouched)
    monkeypatch.setattr(deploy, "session", untouched)
    with pytest.raises(ConfigError, match="--to"):
        tasks._rollback(None, "backend", "$(id)", False, True, "", None)
    with pytest.raises(ConfigError, match="--to"):
        deploy.rollback_host(deploy_component(), make_host(), Secrets({}), deploy.Options(),
                             to="-x")  # fmt: skip


def deploy_component():
    from tasks.apps.backend import BACKEND

    return BACKEND


def test_restore_db_backup_is_an_absolute_path():
    for bad in ("backup.sql.gz", "-x", "", "/a/../b", "/a\nb"):
        with pytest.raises(ConfigError, match="--backup"):
            values.restore_source(bad)
    assert values.restore_source("/app/backups/my backup.sql.gz")


def test_every_task_checks_the_settings_before_the_host(monkeypatch):
    bad = dataclasses.replace(Settings(), web_root="/app")  # built past from_vars
    host = make_host(bad)
    with pytest.raises(ConfigError, match="overlap"):
        preflight_secrets(host, Secrets({}), [])

    def connect(*a, **k):
        raise AssertionError("no connection with bad settings")

    with (
        pytest.raises(ConfigError, match="overlap"),
        session("deploy", "frontend", host, Secrets({}), title="t", connect=connect),
    ):
        pass


def test_builders_refuse_what_they_cannot_quote_away():
    v = make_view("frontend", Settings().replace(web_root=""))
    with pytest.raises(ConfigError, match="web_root"):
        frontend.replace_web_root(v)
    with pytest.raises(ConfigError, match="web_root"):
        frontend.restore_web_root(make_view("frontend", Settings().replace(web_root="/")))
    with pytest.raises(ConfigError, match="git_branch"):
        shell.git_pull("/app", "origin", "-x")
    with pytest.raises(ConfigError, match="git_remote"):
        shell.git_remote_head("/app", "--upload-pack=x", "main")
    with pytest.raises(ConfigError, match="유닛 이름"):
        shell.service_status("-H host")
    with pytest.raises(ConfigError, match="URL"):
        shell.health("-o/tmp/x", "UP")
    with pytest.raises(ConfigError, match="1 이상이어야 합니다"):
        shell.keep_newest("/app/backups", "backup_", 0)


def test_fab_settings_marks_the_raw_shell_settings(capsys):
    tasks.settings.body(None)
    lines = capsys.readouterr().out.splitlines()
    raw = [line for line in lines if "RAW SHELL" in line and " = " in line]
    assert {line.split(" = ")[0].strip() for line in raw} == set(validate.RAW_SHELL)
    hooks = ("_before_switch", "_after_switch", "_on_failure")  # tasks/strategies/hooks.py
    assert set(validate.RAW_SHELL) == {n for n in Settings.names() if n.endswith(("_cmd", *hooks))}
