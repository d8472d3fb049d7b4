"""Host-dependent defaults: the manual's target (Ubuntu 24.04, ARM64, MySQL) rendered without
a host, the lab's (Debian 12, MariaDB) too, and the facts command on this machine."""

from __future__ import annotations

import subprocess

import pytest

from tasks.config import commands, render
from tasks.config.plan import push_plan
from tasks.config.state import Change
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import validate
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.setup import detect, setup

UBUNTU = detect.Facts("ubuntu", "24.04", "arm64", "mysql", "3.12")
DEBIAN = detect.Facts("debian", "12", "amd64", "mariadb", "3.11")


def host(group: str, facts: detect.Facts, **settings) -> Host:
    settings.setdefault("server_name", "dojangkok.example.com")  # setup needs the site's name
    h = Host(group, "10.0.0.2", "ubuntu", 22, None, (group,), Settings(**settings))
    return detect.with_facts(h, facts)[0]


def test_the_facts_command_on_this_machine():
    res = subprocess.run(["bash", "-c", detect.FACTS], capture_output=True, text=True)
    facts = detect.parse(res.stdout)
    assert res.returncode == 0
    assert (
        facts.os == "debian" and facts.arch in ("amd64", "arm64") and facts.python.startswith("3.")
    )


def test_ubuntu_with_mysql():
    h = host("cpu", UBUNTU)
    s = h.settings
    assert (s.db_server, s.db_service) == ("mysql", "mysql")
    assert s.mysql_conf == "/etc/mysql/mysql.conf.d/zz-dojangkok.cnf"  # after mysqld.cnf
    assert {"mysql-server", "mysql-client", "nginx", "openjdk-17-jdk-headless"} <= set(
        s.host_packages
    )
    assert "mariadb-server" not in s.host_packages
    files = render.render(h)
    by_key = {f.key: (f, text) for f, text in files.items()}
    assert by_key["mysql"][0].dest == s.mysql_conf and by_key["mysql"][0].service == "mysql"
    assert "After=network-online.target mysql.service" in by_key["backend"][1]
    found = [Change(f, text, None) for f, text in files.items()]
    plan, _ = push_plan(found)
    view = RunView("config", "config", h, "RUN")
    shown = "\n".join(line for step in plan.steps for line in step.shown(view))
    assert "systemctl restart mysql" in shown and "restart mariadb" not in shown
    assert commands.validate_mysql(by_key["mysql"][0], s).count("mysqld") >= 1


def test_ubuntu_setup_commands():
    h = host("cpu", UBUNTU)
    view = RunView("setup", "setup", h, "RUN", dry_run=True)
    plan = setup.plan(view)
    packages = plan.step("1").render(view)
    assert "mysql-server" in packages and "apt-get install" in packages
    uploads = {u.path: u for u in plan.step("5").uploads(view)}
    admin = uploads[setup._file(view, "admin.sql")].content(
        Secrets({"MYSQL_ROOT_PASSWORD": "root-pass-123", "DB_PASSWORD": "app-pass-456"})
    )
    assert "IDENTIFIED WITH caching_sha2_password BY 'root-pass-123'" in admin
    assert "cannot log in to mysql as root" in plan.step("5").render(view)
    gpu = host("gpu", UBUNTU)
    gview = RunView("setup", "setup", gpu, "RUN", dry_run=True)
    assert "python3-venv" in setup.plan(gview).step("1").render(gview)


def test_debian_with_mariadb():
    h = host("cpu", DEBIAN)
    s = h.settings
    assert (s.db_server, s.db_service) == ("mariadb", "mariadb")
    assert s.mysql_conf == "/etc/mysql/mariadb.conf.d/60-dojangkok.cnf"  # after 50-server.cnf
    assert "mariadb-server" in s.host_packages
    admin = setup.admin_password_sql("mariadb", "root", "pw")
    assert "VIA unix_socket OR mysql_native_password USING PASSWORD('pw')" in admin


def test_no_database_server_yet_takes_the_distributions_usual():
    s = host("cpu", detect.Facts("debian", "12", "amd64", "", "3.11")).settings
    assert s.db_server == "mariadb"
    s = host("cpu", detect.Facts("ubuntu", "24.04", "arm64", "", "3.12")).settings
    assert s.db_server == "mysql"


def test_a_setting_in_the_inventory_wins_and_the_report_says_where_each_comes_from():
    h = Host("cpu", "x", "u", 22, None, ("cpu",), Settings(db_service="mysqld", backend_port=9090))
    rows = {name: (value, origin) for name, value, origin in detect.report(h, UBUNTU)}
    assert rows["db_service"] == ("mysqld", "inventory")
    assert rows["backend_port"] == ("9090", "inventory")
    assert rows["db_server"][0] == "mysql" and rows["db_server"][1].startswith("detected: mysqld")
    assert rows["mysql_conf"][1].startswith("detected:")
    assert rows["backend_dir"] == ("/app/backend", "default")


def test_without_a_host_the_manuals_target_is_assumed():
    h = Host("cpu", "x", "u", 22, None, ("cpu",), Settings(server_name="dojangkok.example.com"))
    assert detect.offline(h).settings.db_service == "mysql"
    files = render.render(h)  # render-config: no host to ask
    assert any(f.dest.endswith("zz-dojangkok.cnf") for f in files)


def test_an_unknown_database_server_is_refused():
    with pytest.raises(ConfigError, match="mariadb와 mysql뿐입니다"):
        host("cpu", UBUNTU, db_server="postgres")


def test_the_jdk_is_the_distributions_own_17_or_on_debian_13_its_21():
    """Debian 13 (trixie) ships no OpenJDK 17: asking apt for it there fails setup's first
    step ("Unable to locate package"), so the package follows the release."""
    trixie = detect.Facts("debian", "13", "amd64", "mariadb", "3.13")
    jdks = {
        facts: [p for p in host("cpu", facts).settings.host_packages if p.startswith("openjdk")]
        for facts in (UBUNTU, DEBIAN, trixie, detect.Facts("ubuntu", "22.04", "amd64", "", ""))
    }
    assert jdks[trixie] == ["openjdk-21-jdk-headless"]
    assert jdks[UBUNTU] == jdks[DEBIAN] == ["openjdk-17-jdk-headless"]
    assert list(jdks.values())[-1] == ["openjdk-17-jdk-headless"]
    assert detect.jdk_package(detect.Facts("debian", "", "amd64", "", "")) == (
        "openjdk-17-jdk-headless"  # sid/testing say no VERSION_ID: the manual's 17
    )
    bare = Host("cpu", "x", "u", 22, None, ("cpu",), Settings())
    rows = {name: origin for name, _, origin in detect.report(bare, trixie)}
    assert rows["host_packages"] == "detected: debian 13 amd64의 cpu 역할, mariadb 기준"


def _site(facts: detect.Facts) -> str:
    h = host("cpu", facts)
    return next(text for f, text in render.render(h).items() if f.key == "nginx")


def test_http2_is_turned_on_the_way_the_hosts_nginx_takes_it():
    """nginx ≥ 1.25.1 (Debian 13: 1.26) warns at every `nginx -t` about `listen ... http2`;
    older ones (Ubuntu 24.04: 1.24) refuse `http2 on;`. Before nginx is installed, the
    distribution's release decides."""
    trixie = detect.Facts("debian", "13", "amd64", "mariadb", "3.13", nginx="1.26.3")
    noble = detect.Facts("ubuntu", "24.04", "arm64", "mysql", "3.12", nginx="1.24.0 (Ubuntu)")
    assert detect.nginx_http2(trixie) == ("directive", "nginx 1.26.3 ≥ 1.25.1")
    assert detect.nginx_http2(noble) == ("listen", "nginx 1.24.0 (Ubuntu) < 1.25.1")
    bare = {f: detect.nginx_http2(f)[0] for f in (
        detect.Facts("debian", "13", "amd64", "", ""), detect.Facts("debian", "12", "amd64", "", ""),
        detect.Facts("ubuntu", "24.10", "arm64", "", ""), UBUNTU, detect.assumed(),
    )}  # fmt: skip
    assert list(bare.values()) == ["directive", "listen", "directive", "listen", "listen"]
    new, old = _site(trixie), _site(noble)
    assert "    listen 443 ssl default_server;\n" in new and "    http2 on;\n" in new
    assert "http2 default_server" not in new
    assert "    listen 443 ssl http2 default_server;\n" in old and "http2 on" not in old
    assert detect.parse("nginx=1.26.3\n").nginx == "1.26.3"
    with pytest.raises(ConfigError, match="nginx_http2"):
        validate.settings(Settings(nginx_http2="on"))
