"""Config as code without a host: templates, validation with the local nginx and systemd,
the diff, the push plan and its failure paths (a scripted connection), setup's commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.config import commands, push, render, state
from tasks.config.plan import push_plan
from tasks.engine import staging
from tasks.engine.console import Console
from tasks.engine.session import Session
from tasks.engine.view import RunView
from tasks.errors import ConfigError, StepFailed
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.setup import detect, setup
from tasks.shell import q

from .fakes import FakeRemote

MOZILLA_INTERMEDIATE = {  # ssl-config.mozilla.org 5.7, the openssl names
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
}  # fmt: skip


def host(group: str = "cpu", **settings) -> Host:
    """A host as detected on the lab's Debian 12 with MariaDB (tests/unit/test_detect.py
    covers Ubuntu with MySQL); the manual strategy unless set."""
    settings.setdefault("strategy", "manual")
    settings.setdefault("server_name", "dojangkok.example.com")  # setup needs the site's name
    h = Host(group, "10.0.0.2", "deploy", 22, None, (group,), Settings(**settings))
    return detect.with_facts(h, detect.Facts("debian", "12", "amd64", "mariadb", "3.11"))[0]


def rendered(group: str = "cpu", **settings) -> dict[str, str]:
    return {f.key: text for f, text in render.render(host(group, **settings)).items()}


# --- templates -----------------------------------------------------------------------------
def test_each_group_gets_its_files():
    assert [f.key for f in render.config_files(host("cpu"))] == ["mysql", "backend", "nginx"]
    assert [f.key for f in render.config_files(host("gpu"))] == ["ai"]
    with pytest.raises(
        ConfigError, match="\\[cpu\\]와 \\[gpu\\] 어느 그룹에도 없어 올릴 설정이 없습니다"
    ):
        render.config_files(Host("x", "a", None, 22, None, ("db",), Settings()))


def test_templates_use_the_settings():
    r = rendered("cpu", server_name="dojangkok.kr", client_max_body_size="80m")
    site = r["nginx"]
    assert "server_name dojangkok.kr;" in site
    assert "client_max_body_size 80m;" in site
    assert "try_files $uri $uri/ /index.html;" in site
    assert "return 301 https://$host$request_uri;" in site
    assert "proxy_pass http://127.0.0.1:8080;" in site
    assert 'add_header Cache-Control "no-cache" always;' in site
    assert "immutable" in site and "gzip on;" in site
    assert "ssl_certificate /etc/letsencrypt/live/dojangkok/fullchain.pem;" in site
    assert "innodb_buffer_pool_size = 1G" in r["mysql"]
    unit = r["backend"]
    assert (
        "ExecStart=/usr/bin/java -Xms256m -Xmx512m -jar /app/backend/build/libs/dojangkok.jar "
        in unit
    )
    # in a directory only root writes, so the deploy login cannot point it elsewhere
    assert "EnvironmentFile=/etc/dojangkok/env/backend.env" in unit
    assert "User=dojangkok" in unit and "Restart=on-failure" in unit
    assert "SuccessExitStatus=143" in unit and "StandardOutput=journal" in unit
    assert "MemoryDenyWriteExecute=no" in unit  # the JIT
    ai = rendered("gpu")["ai"]
    assert (
        "ExecStart=/app/ai-server/venv/bin/uvicorn app.main:app --host 0.0.0.0 --port 8000 " in ai
    )
    assert "User=dojangkok-ai" in ai and "DeviceAllow=char-nvidia-uvm rw" in ai
    assert "PrivateDevices=no" in ai
    assert "PrivateDevices=yes" in rendered("gpu", ai_device_allow=[])["ai"]


def test_every_app_unit_drains_before_it_stops():
    """A stop (a switch's old instance, a restart, the manual's B7) lets the requests in
    flight finish: Spring Boot's graceful shutdown and uvicorn's, bounded by the drain
    settings; systemd waits for that and a margin before it kills."""
    for strategy in ("manual", "release"):
        backend = rendered("cpu", strategy=strategy)["backend"]
        ai = rendered("gpu", strategy=strategy, ai_switch="blue-green")["ai"]
        graceful = "--server.shutdown=graceful --spring.lifecycle.timeout-per-shutdown-phase=120s\n"
        assert graceful in backend and "TimeoutStopSec=135\n" in backend
        assert "--timeout-graceful-shutdown 300\n" in ai and "TimeoutStopSec=315\n" in ai
    unit = rendered("cpu", backend_drain_timeout=30)["backend"]
    assert "timeout-per-shutdown-phase=30s" in unit and "TimeoutStopSec=45\n" in unit
    ai = rendered("gpu", ai_drain_timeout=60)["ai"]
    assert "--timeout-graceful-shutdown 60\n" in ai and "TimeoutStopSec=75\n" in ai


def test_proxied_requests_reuse_pooled_upstream_connections():
    """`keepalive` in the upstream pools connections only with HTTP/1.1 and no `Connection:
    close` sent upstream; without the header a backend closes after each answer and a POST
    on a reused pooled connection fails with 502 (issue 19)."""
    api = rendered("cpu", strategy="release")["nginx"].split("location /api/ {")[1].split("}")[0]
    ai = rendered("gpu", strategy="release", ai_switch="blue-green")["ai-proxy"]
    for block in (api, ai):
        assert "proxy_http_version 1.1;" in block
        assert 'proxy_set_header Connection "";' in block


def test_security_headers_repeat_where_locations_add_headers():
    # nginx drops the server's add_header lines in a location that has its own
    site = rendered()["nginx"]
    assert site.count("Strict-Transport-Security") == site.count("add_header Cache-Control") + 1
    assert 'max-age=63072000"' in site


def test_tls_is_mozilla_intermediate():
    site = rendered()["nginx"]
    assert re.search(r"ssl_protocols TLSv1\.2 TLSv1\.3;", site)
    ciphers = re.search(r"ssl_ciphers ([^;]+);", site).group(1).split(":")
    assert set(ciphers) <= MOZILLA_INTERMEDIATE
    assert "ssl_session_tickets off;" in site and "ssl_prefer_server_ciphers off;" in site


def test_a_missing_variable_is_an_error_naming_it(tmp_path):
    (tmp_path / "t.j2").write_text("x {{ no_such_setting }}\n")
    f = render.ConfigFile("t", "t.j2", "/etc/t", "unit", "t")
    with pytest.raises(ConfigError, match="'no_such_setting' is undefined"):
        render.render_file(f, Settings(), render.environment(tmp_path))


def test_a_template_syntax_error_names_the_line(tmp_path):
    (tmp_path / "t.j2").write_text("a\n{% if %}\n")
    f = render.ConfigFile("t", "t.j2", "/etc/t", "unit", "t")
    with pytest.raises(ConfigError, match=r"t\.j2:2"):
        render.render_file(f, Settings(), render.environment(tmp_path))


def test_a_line_break_in_a_setting_is_refused():
    with pytest.raises(ConfigError, match="backend_java_opts"):
        rendered(backend_java_opts="-Xmx1g\nExecStartPre=/bin/evil")


def test_systemd_quoting():
    assert render._sdq("/app/my app/x.jar") == '"/app/my app/x.jar"'
    assert render._sdq("50%") == "50%%"


def test_render_config_writes_live_paths(tmp_path):
    paths = render.write_rendered(render.render(host()), tmp_path)
    assert tmp_path / "etc/nginx/sites-available/dojangkok" in paths
    assert (tmp_path / "etc/systemd/system/dojangkok.service").read_text().startswith("# Managed")


# --- validation with the real tools on this machine ----------------------------------------
@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[str, str]:
    if not shutil.which("openssl"):
        pytest.skip("openssl missing")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "30", "-subj", "/CN=cpu", "-keyout", d / "key.pem", "-out", d / "cert.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(d / "cert.pem"), str(d / "key.pem")


def nginx_t(tmp_path: Path, site: str) -> subprocess.CompletedProcess:
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed here")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"error_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{ access_log off; include /etc/nginx/mime.types; include {tmp_path}/site.conf; }}\n"
    )
    return subprocess.run(
        ["nginx", "-t", "-c", f"{tmp_path}/nginx.conf", "-p", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip


def test_nginx_accepts_the_rendered_site(tmp_path, cert):
    res = nginx_t(tmp_path, rendered(tls_cert=cert[0], tls_key=cert[1])["nginx"])
    assert res.returncode == 0, res.stderr


def test_nginx_rejects_a_broken_setting(tmp_path, cert):
    res = nginx_t(
        tmp_path, rendered(tls_cert=cert[0], tls_key=cert[1], client_max_body_size="5 0m")["nginx"]
    )
    assert res.returncode != 0 and "client_max_body_size" in res.stderr


def units(tmp_path: Path) -> dict[str, Path]:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed here")
    uvicorn = tmp_path / "ai/venv/bin/uvicorn"
    uvicorn.parent.mkdir(parents=True)
    uvicorn.write_text("#!/bin/sh\n")
    uvicorn.chmod(0o755)
    s = dict(backend_java=shutil.which("true"), ai_dir=str(tmp_path / "ai"))
    out = {}
    for group, key, name in (("cpu", "backend", "dojangkok"), ("gpu", "ai", "fastapi")):
        path = tmp_path / f"{name}.service"
        path.write_text(rendered(group, **s)[key])
        out[key] = path
    return out


def test_systemd_analyze_verify_passes_for_the_units(tmp_path):
    for path in units(tmp_path).values():
        res = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True
        )
        assert res.returncode == 0 and path.name not in res.stderr, res.stderr


def test_the_validator_rejects_an_unknown_key(tmp_path):
    path = units(tmp_path)["backend"]
    path.write_text(path.read_text().replace("Restart=", "Restrat="))
    f = render.ConfigFile("backend", "", str(path), "unit", "dojangkok")
    script = commands.validate_unit(f, Settings()).replace(q(commands.staged(f)), str(path))
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert res.returncode == 1 and "Restrat" in res.stderr


@pytest.mark.parametrize("key", ["backend", "ai"])
def test_exposure_is_2_or_lower(tmp_path, key):
    path = units(tmp_path)[key]
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(path)], capture_output=True, text=True
    )
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", res.stdout).group(1))
    assert score <= 2.0, res.stdout


# --- the diff --------------------------------------------------------------------------------
def state_output(files: dict[str, str | None], link: str | None = None, disabled=()) -> str:
    """What state_command prints on a host with these files (cat FILE; echo)."""
    out = ""
    for key, text in files.items():
        out += f"{state.STATE_MARK} {key}\n" + ("absent\n" if text is None else f"644\n{text}\n")
    if link is not None:
        out += f"{state.STATE_MARK} link\n{link}\n{state.STATE_MARK} disabled\n"
        out += "".join(f"{p}\n" for p in disabled)
    return out + f"{state.STATE_MARK} end\n"


def test_state_round_trip_and_changes():
    h = host()
    r = render.render(h)
    texts = {f.key: t for f, t in r.items()}
    same = state_output(texts, link="/etc/nginx/sites-available/dojangkok")
    assert state.changes(r, state.parse_state(same), h.settings) == []
    old = dict(
        texts, mysql=None, backend=texts["backend"].replace("Restart=on-failure", "Restart=no")
    )
    found = state.changes(
        r,
        state.parse_state(
            state_output(old, link="", disabled=["/etc/nginx/sites-enabled/default"])
        ),
        h.settings,
    )
    assert [c.file.key for c in found] == ["mysql", "backend", "nginx"]
    diff = found[1].diff("cpu")
    assert "-Restart=no" in diff and "+Restart=on-failure" in diff
    assert "(cpu, 없음)" in found[0].diff("cpu")
    assert not found[2].content_changed
    assert "삭제 /etc/nginx/sites-enabled/default" in found[2].diff("cpu")


def test_a_mode_only_change_does_not_restart():
    h = host()
    r = render.render(h)
    texts = {f.key: t for f, t in r.items()}
    raw = state_output(texts, link="/etc/nginx/sites-available/dojangkok").replace(
        f"{state.STATE_MARK} backend\n644", f"{state.STATE_MARK} backend\n664"
    )
    found = state.changes(r, state.parse_state(raw), h.settings)
    assert [c.file.key for c in found] == ["backend"]
    assert commands.apply_actions(found) == []


# --- the push, on a scripted connection ------------------------------------------------------
def fake_host(conn: FakeRemote, group: str = "cpu", host_state: str | None = None, **settings):
    h = host(group, **settings)
    if host_state is None:
        host_state = state_output(
            {f.key: None for f in render.config_files(h)},
            link="",
            disabled=["/etc/nginx/sites-enabled/default"],
        )
    conn.rules.insert(0, (re.compile(re.escape(state.STATE_MARK)), 0, host_state))
    out: list[str] = []
    return h, out


def push_host(conn: FakeRemote, h: Host, out: list[str], dry_run: bool = False):
    """push-config's flow on a session with the scripted host."""
    secrets = Secrets({})
    s = Session(RunView("config", "config", h, "20260101_120000_000000_abcd", dry_run=dry_run),
                secrets, yes=True, console=Console(secrets, write=out.append), remote=conn,
                title="test")  # fmt: skip
    return push.push_on(s, h)


def test_nothing_to_change_says_so_and_reloads_nothing():
    conn = FakeRemote()
    h = host()
    texts = {f.key: t for f, t in render.render(h).items()}
    h, out = fake_host(
        conn, host_state=state_output(texts, link="/etc/nginx/sites-available/dojangkok")
    )
    assert push_host(conn, h, out) == []
    assert any("변경 없음: cpu의 설정이 이미 최신입니다" in line for line in out)
    assert not re.search(r"systemctl|nginx -s|install -m", conn.commands())


def test_dry_run_shows_the_diff_and_changes_nothing():
    conn = FakeRemote()
    h, out = fake_host(conn)
    found = push_host(conn, h, out, dry_run=True)
    assert len(found) == 3
    assert any("+innodb_buffer_pool_size = 1G" in line for line in out)
    # one read-only check of what the units rely on, one read of the files: nothing else
    assert not conn.uploads and len(conn.calls) == 2
    assert "missing: 사용자 dojangkok" in conn.calls[0][1]


def test_the_push_validates_before_it_installs_and_restarts_only_what_changed():
    conn = FakeRemote()
    h, out = fake_host(conn)
    push_host(conn, h, out)
    cmds = conn.commands()
    # sent on the root command's standard input, then moved into root's own staging
    # directory, where validation, backup and install read them (never the deploy login's)
    assert set(conn.uploads) == {
        "$STAGE/mysql.60-dojangkok.cnf",
        "$STAGE/backend.dojangkok.service",
        "$STAGE/nginx.dojangkok",
    }
    ((paths, stage),) = conn.writes
    assert stage.startswith("STAGE=$(mktemp -d /run/dojangkok-stage.") and (
        'install -m 644 -- "$STAGE/nginx.dojangkok" '
        "/var/lib/dojangkok-deploy-root/config-staging/nginx/dojangkok" in stage
    )
    assert "/var/lib/dojangkok-deploy/" not in cmds  # the state_dir: the deploy login's
    order = [cmds.index(s) for s in ("nginx -t -c", "systemd-analyze verify", "--help --verbose",
                                      "mv -fT", "daemon-reload", "restart mariadb",
                                      "restart dojangkok", "nginx -s reload")]  # fmt: skip
    assert order.index(max(order[:3])) < 3 and order[3] > max(order[:3])
    assert order[4:] == sorted(order[4:])
    assert "restart nginx" not in cmds


def test_a_failed_validation_changes_nothing():
    conn = FakeRemote([(r"nginx -t -c", 1, "nginx: [emerg] invalid value")])
    h, out = fake_host(conn)
    with pytest.raises(StepFailed) as err:
        push_host(conn, h, out)
    assert err.value.rolled_back is None
    cmds = conn.commands()
    assert "mv -fT" not in cmds and "systemctl" not in cmds and "nginx -s reload" not in cmds
    assert any("invalid value" in line for line in out)


def test_a_failed_restart_puts_the_old_files_back():
    conn = FakeRemote([(r"systemctl restart dojangkok", [1, 0], "Job failed")])
    h = host(backend_health_tries=1)
    old = {f.key: None for f in render.config_files(h)}
    old["backend"] = "[Service]\nExecStart=/usr/bin/java -jar old.jar\n"  # a unit was there
    h, out = fake_host(conn, host_state=state_output(old, link="", disabled=[]),
                       backend_health_tries=1)  # fmt: skip
    with pytest.raises(StepFailed) as err:
        push_host(conn, h, out)
    assert err.value.rolled_back is True
    cmds = conn.commands()
    restore = cmds.index("복원했습니다:")
    assert restore > cmds.index("restart dojangkok")
    assert "daemon-reload" in cmds[restore:] and "restart dojangkok" in cmds[restore:]
    assert "disable --now" not in cmds  # it was not new: it is restarted with its old file


def test_a_new_unit_that_fails_is_removed_and_said_so():
    """A unit that did not exist before the push is stopped, disabled and removed by the
    rollback (not restarted from a file that is gone), and the error says so."""
    conn = FakeRemote([(r"localhost:8080/health", 1, "connection refused")])
    h, out = fake_host(conn, backend_health_tries=1)
    with pytest.raises(StepFailed) as err:
        push_host(conn, h, out)
    assert err.value.rolled_back is True and err.value.report.result == "rolled-back"
    assert "새로 만든 유닛 dojangkok은(는) 지웠고" in err.value.fix
    cmds = conn.commands()
    after = cmds[cmds.index("systemctl disable --now -q -- dojangkok") :]
    assert "복원했습니다:" in after and "daemon-reload" in after
    assert "systemctl restart dojangkok" not in after
    assert (
        any("새 유닛 dojangkok.service를 지웠습니다" in line for line in out)
        or "새 유닛 dojangkok.service를 지웠습니다" in after
    )
    # the failed check showed the service's journal
    assert any("journalctl -u dojangkok -n 30" in line for line in out)


def test_a_host_without_nginx_is_a_clear_error():
    conn = FakeRemote([(r"nginx -t -c", 1, "nginx is not installed")])
    h, out = fake_host(conn)
    with pytest.raises(StepFailed):
        push_host(conn, h, out)
    assert any("nginx is not installed" in line for line in out)


def test_the_plan_policies():
    conn = FakeRemote()
    h, _ = fake_host(conn)
    r = render.render(h)
    found = state.changes(r, state.parse_state(conn.rules[0][2]), h.settings)
    plan, _ = push_plan(found)
    by_title = {s.title: s for s in plan.steps}
    assert by_title["설정 검증 (적용 전)"].policy is Policy.ABORT
    assert by_title["새 설정 적용"].policy is Policy.ROLLBACK
    assert all(s.policy is Policy.ROLLBACK for s in plan.steps[5:])


# --- setup ------------------------------------------------------------------------------------
def test_database_sql_escapes_and_never_reaches_argv():
    sql = setup.database_sql("dojangkok", "dojangkok", "pa'ss\\word")
    assert "IDENTIFIED BY 'pa\\'ss\\\\word'" in sql
    assert "CREATE DATABASE IF NOT EXISTS `dojangkok`" in sql
    conn = FakeRemote()
    h = host()
    secrets = Secrets(
        {
            "DB_PASSWORD": "app-secret-123",
            "MYSQL_ROOT_PASSWORD": "root-secret-456",
            "DB_BACKUP_PASSWORD": "backup-secret-789",
        }
    )
    view = RunView("setup", "setup", h, "20260101_120000_000000_abcd")
    s = Session(view, secrets, yes=True, console=Console(secrets, write=lambda t: None),
                remote=conn, title="test")  # fmt: skip
    s.execute(setup.plan(view))
    assert "app-secret-123" not in conn.commands() and "root-secret-456" not in conn.commands()
    assert "app-secret-123" in conn.uploads[setup._file(view, "sql")]
    assert "root-secret-456" in conn.uploads[setup._file(view, "cnf")]
    assert "root-secret-456" in conn.uploads[setup._file(view, "admin.sql")]
    # one root command: the files on its standard input into a root-only directory, then
    # the step's own command, which reads them there
    assert ("sudo", staging.script(setup.database_uploads(view), setup.database_command(view))) in (
        conn.calls
    )
    # the backup account: its own password, in its own SQL and option file
    assert "backup-secret-789" not in conn.commands()
    assert "backup-secret-789" in conn.uploads[setup._file(view, "backup.sql")]
    assert 'user="dojangkok_backup"' in conn.uploads[setup._file(view, "backup.cnf")]
    assert "--defaults-extra-file" in conn.commands() and "trap " in conn.commands()


def test_users_and_directories():
    s = Settings()
    assert "useradd --system" in setup.users_command(setup.service_users(s, {"cpu"}))
    assert setup.service_users(s, {"gpu"}) == ["dojangkok-ai"]
    dirs = setup.directories_command(s, {"cpu"})
    assert "r=$(own dir /app/backups 700 \"$SUDO_USER\" '')" in dirs  # never through a link
    # the env file the backend's unit reads: made in root's directory, written by the
    # deploy login (its content is the .env step's, appenv.py)
    assert 'own file /etc/dojangkok/env/backend.env 640 "$SUDO_USER" dojangkok' in dirs
    assert "/etc/dojangkok/env/ai.env" not in dirs


def stubs(tmp_path: Path, swapon_fails: str | None, virt: str | None) -> dict[str, str]:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    scripts = {
        "swapon": (
            f"echo 'swapon: {swapon_fails}' >&2; exit 255" if swapon_fails else 'echo on >> "$LOG"'
        ),
        "mkswap": 'echo "mkswap $1" >> "$LOG"',
        "systemd-detect-virt": f"echo {virt}; exit 0" if virt else "echo none; exit 1",
    }
    scripts["swapon"] = (
        'if [ "$1" = --show=NAME ]; then cat "$ACTIVE" 2>/dev/null; exit 0; fi; '
        + scripts["swapon"]
    )
    for name, body in scripts.items():
        (bin_ / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_ / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "LOG": str(tmp_path / "log"),
            "ACTIVE": str(tmp_path / "active")}  # fmt: skip


def run_swap(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    s = Settings(swap_file=str(tmp_path / "swapfile"), swap_size="1M")
    script = setup.swap_command(s).replace("/etc/fstab", str(tmp_path / "fstab"))
    (tmp_path / "fstab").touch()
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)


def test_swap_in_a_container_is_skipped_with_a_message(tmp_path):
    env = stubs(tmp_path, "/swapfile: swapon failed: Operation not permitted", "systemd-nspawn")
    res = run_swap(tmp_path, env)
    assert res.returncode == 0, res.stderr
    assert (
        "컨테이너에서는 swapon을 쓸 수 없습니다 (swapon not permitted) (systemd-nspawn): 건너뜀"
        in res.stdout
    )
    assert (tmp_path / "swapfile").stat().st_size == 1024 * 1024
    assert oct((tmp_path / "swapfile").stat().st_mode)[-3:] == "600"
    assert (tmp_path / "fstab").read_text() == ""  # a container must not try it at boot


def test_swap_fails_loudly_outside_a_container(tmp_path):
    res = run_swap(tmp_path, stubs(tmp_path, "swapon failed: Invalid argument", None))
    assert res.returncode == 1 and "Invalid argument" in res.stderr


def test_swap_is_idempotent(tmp_path):
    env = stubs(tmp_path, None, None)
    assert run_swap(tmp_path, env).returncode == 0
    fstab = (tmp_path / "fstab").read_text()
    assert fstab.count("swap sw 0 0") == 1
    (tmp_path / "active").write_text(str(tmp_path / "swapfile") + "\n")
    res = run_swap(tmp_path, env)
    assert "이미 켜져 있습니다" in res.stdout
    assert (tmp_path / "fstab").read_text() == fstab
    assert (tmp_path / "log").read_text().count("mkswap") == 1


def test_the_release_template_units_get_the_same_writable_paths_and_proc_subset():
    """backend@ / ai@ (release strategy) open what the manual units open, no more."""
    backend = rendered("cpu", strategy="release")["backend"]
    assert "LogsDirectory=dojangkok\n" in backend and "ProcSubset=pid\n" in backend
    ai = rendered("gpu", strategy="release", ai_switch="blue-green", ai_logs_directory="x",
                  ai_writable_paths=["store"])["ai"]  # fmt: skip
    assert "LogsDirectory=x\n" in ai and "ProcSubset=all\n" in ai
    assert "ReadWritePaths=/app/ai-server/store\n" in ai
