"""The lab itself: two real hosts as a cloud image gives them (bare), and the sample apps on
them once `fab setup` made them serve (the cached setup layer, tests/lab/served.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tasks.setup import detect
from tests.conftest import served
from tests.lab import HOSTS, Lab, LabError, acme, config, gitrepos, machines, network
from tests.lab.site import site

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module", autouse=True)
def bare_lab(lab: Lab) -> Lab:
    """Other test modules deploy onto the same hosts: start this module from bare hosts."""
    lab.reset()
    return lab


@pytest.fixture(scope="module")
def apps_lab(lab: Lab) -> Lab:
    """The hosts as `fab setup` left them (cached), every app answering."""
    lab.reset(setup=True)
    served(lab)
    return lab


def sh(lab: Lab, host: str, cmd: str, user: str = "deploy", timeout: float = 300) -> str:
    """Run cmd on host and insist it succeeds; returns stdout."""
    res = lab.run(host, cmd, user=user, timeout=timeout)
    assert res.returncode == 0, f"{host}$ {cmd}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def http(url: str, data: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_http(url: str, want: int = 200, timeout: float = 60) -> tuple[int, str]:
    end, last = time.monotonic() + timeout, (0, "")
    while time.monotonic() < end:
        try:
            last = http(url)
            if last[0] == want:
                return last
        except OSError:
            pass
        time.sleep(0.5)
    return last


def version(lab: Lab, app: str) -> str:
    return (lab.root / "tests" / "apps" / app / "VERSION").read_text().strip()


# Run an app "by hand" on a spare port, print "<http code> <body>" of its health, stop it.
RUN_BY_HAND = """
{start} > /tmp/by-hand.log 2>&1 &
pid=$!
code=000
for _ in $(seq 120); do
  code=$(curl -s -o /tmp/by-hand.out -w '%{{http_code}}' http://127.0.0.1:{port}/health || true)
  [ "$code" != 000 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.5
done
echo "$code $(cat /tmp/by-hand.out 2>/dev/null)"
kill $pid 2>/dev/null || true
"""
BACKEND = (
    "cd /app/backend && set -a && . ./.env && set +a && "
    "SERVER_PORT={port} STARTUP_DELAY_SECONDS=0 java -jar build/libs/dojangkok.jar"
)
# by hand as deploy: the service's log dir and vector store are the service user's
AI = (
    "cd /app/ai-server && STARTUP_DELAY_SECONDS=0 LOG_DIR= VECTOR_STORE_DIR= "
    "venv/bin/uvicorn app.main:app --host 127.0.0.1 --port {port}"
)


# -- the hosts -------------------------------------------------------------------------
@pytest.mark.parametrize("host", HOSTS)
def test_host_boots_systemd_with_sshd(lab: Lab, host: str) -> None:
    assert sh(lab, host, "ps -o comm= -p 1").strip() == "systemd"
    assert sh(lab, host, "systemctl is-system-running").strip() == "running"
    assert sh(lab, host, "hostname").strip() == host
    assert sh(lab, host, "systemctl is-active ssh").strip() == "active"


def test_cpu_is_bare(lab: Lab, cpu_host) -> None:
    """What a cloud image gives: the distribution's packages (their services as installed),
    a TLS certificate; nothing of the application."""
    for svc in ("nginx", "mariadb"):
        assert cpu_host.service(svc).is_running, svc
    assert not cpu_host.file("/app").exists
    assert not cpu_host.user("dojangkok").exists
    assert not cpu_host.file("/etc/systemd/system/dojangkok.service").exists
    assert cpu_host.file("/etc/nginx/sites-enabled/default").exists  # Debian's own site
    assert not cpu_host.file("/etc/nginx/sites-available/dojangkok").exists
    assert cpu_host.check_output("mysql -N -e 'SHOW DATABASES'").split().count("dojangkok") == 0
    assert cpu_host.file("/etc/ssl/dojangkok/fullchain.pem").exists
    assert cpu_host.file("/etc/ssl/dojangkok/privkey.pem").mode == 0o600
    # the JDK setup asks for on this suite (bookworm: 17; trixie has only 21)
    jdk = detect.jdk_package(detect.Facts("debian", lab.settings.debian_version, "", "", ""))
    for pkg in (jdk, "nodejs", "npm", "mariadb-server", "git"):
        assert cpu_host.package(pkg).is_installed, pkg


def test_gpu_is_bare(gpu_host) -> None:
    assert "no-index = true" in gpu_host.file("/etc/pip.conf").content_string
    assert gpu_host.file("/srv/wheelhouse").is_directory
    assert not gpu_host.file("/app").exists
    assert not gpu_host.user("dojangkok-ai").exists
    assert not gpu_host.file("/etc/systemd/system/fastapi.service").exists
    assert gpu_host.package("python3-venv").is_installed


def test_operator_files(lab: Lab) -> None:
    ini = lab.inventory.read_text()
    for host, ip in lab.addresses.items():
        assert f"{host} ansible_host={ip} ansible_user=deploy ansible_port=22" in ini
    assert "known_hosts_file=known_hosts" in ini and "admin_user=admin" in ini
    assert lab.env_file.stat().st_mode & 0o777 == 0o600
    assert set(lab.env()) >= {"MYSQL_ROOT_PASSWORD", "DB_PASSWORD", "LAB_SUDO_PASSWORD"}
    known = lab.known_hosts.read_text()
    for host, ip in lab.addresses.items():
        assert f"{host},{ip} ssh-ed25519 " in known


def test_ssh_config_from_the_shell(lab: Lab) -> None:
    res = subprocess.run(
        ["ssh", "-F", str(lab.ssh_config), "cpu", "systemctl", "is-system-running"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=lab.root,
    )
    assert res.stdout.strip() == "running", res.stderr


@pytest.mark.parametrize("known_hosts", ["empty", "other host's key"])
def test_host_key_checking_refuses_wrong_key(lab: Lab, tmp_path, known_hosts: str) -> None:
    kh = tmp_path / "known_hosts"
    if known_hosts == "empty":
        kh.write_text("")
    else:  # gpu's real key, claimed for cpu
        gpu_line = next(
            ln for ln in lab.known_hosts.read_text().splitlines() if ln.startswith("gpu")
        )
        kh.write_text(f"cpu,{lab.addresses['cpu']} {' '.join(gpu_line.split()[1:])}\n")
    res = subprocess.run(
        ["ssh", "-F", str(lab.ssh_config), "-o", f"UserKnownHostsFile={kh}", "cpu", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 255
    assert "Host key verification failed" in res.stderr


def test_hosts_reach_nothing_outside(lab: Lab) -> None:
    for host in HOSTS:
        assert "default" not in sh(lab, host, "ip route")
        res = lab.run(host, "curl -sS -m 3 -o /dev/null http://151.101.2.132/", user="deploy")
        assert res.returncode != 0  # deb.debian.org's CDN, by address: unreachable
        # but the lab's git daemon on the operator's side, yes
        assert "refs/heads/main" in sh(lab, host, f"git ls-remote git://{lab.operator_ip}/ai.git")
    # as root: trixie's ping has no file capability; a login's ping needs
    # net.ipv4.ping_group_range (linux-sysctl-defaults, a Recommends of Debian 13 cloud
    # images), which nothing can set in the container (/proc/sys is read-only there)
    ping = f"ping -c1 -W3 {lab.addresses['gpu']} >/dev/null && echo up"
    assert sh(lab, "cpu", ping, user="root").strip() == "up"


# -- accounts --------------------------------------------------------------------------
@pytest.mark.parametrize("host", HOSTS)
def test_admin_has_passwordless_sudo_and_deploy_none_before_setup(lab: Lab, host: str) -> None:
    assert lab.run(host, "id -u && sudo -n whoami", login="admin").stdout.split() == [
        "1002",
        "root",
    ]
    res = lab.run(host, "sudo -n true", user="deploy")
    assert res.returncode != 0 and "password is required" in res.stderr


@pytest.mark.parametrize("host", HOSTS)
def test_deploypw_sudo_needs_the_password(lab: Lab, host: str) -> None:
    pw = lab.env()["LAB_SUDO_PASSWORD"]
    no_pw = lab.run(host, "sudo -n -k whoami", login="deploypw")
    assert no_pw.returncode != 0 and "password is required" in no_pw.stderr
    wrong = lab.run(host, "sudo -S -k -p '' whoami", login="deploypw", input="wrong\n")
    assert wrong.returncode != 0
    right = lab.run(host, "sudo -S -k -p '' whoami", login="deploypw", input=f"{pw}\n")
    assert right.returncode == 0 and right.stdout.strip() == "root", right.stderr


# -- the sample apps, as `fab setup` made them serve ---------------------------------------
def https(lab: Lab, path: str, data: dict | None = None) -> tuple[int, str]:
    import ssl

    url, ca = site(lab, path)
    ctx = ssl.create_default_context(cafile=ca)
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_frontend_served_by_nginx(apps_lab: Lab) -> None:
    lab = apps_lab
    code, body = https(lab, "/")
    assert code == 200 and f"dojangkok frontend {version(lab, 'frontend')}" in body
    code, body = https(lab, "/some/client/route")
    assert code == 200 and "dojangkok frontend" in body  # try_files ... /index.html


def test_backend_health_and_note_round_trip(apps_lab: Lab) -> None:
    lab = apps_lab
    assert json.loads(sh(lab, "cpu", "curl -fsS localhost:8080/health"))["status"] == "UP"
    assert version(lab, "backend") in https(lab, "/api/version")[1]  # nginx's /api/ proxy
    text = f"lab note {time.time()}"
    code, body = https(lab, "/api/notes", {"text": text})
    assert code == 201, body
    code, body = https(lab, "/api/notes")
    assert code == 200 and text in body
    db = sh(
        lab,
        "cpu",
        f"mysql -N -uroot dojangkok -e \"SELECT COUNT(*) FROM notes WHERE text='{text}'\"",
        user="root",
    )
    assert db.strip() == "1"


def test_mariadb_accounts(apps_lab: Lab) -> None:
    lab = apps_lab
    env = lab.env()
    out = sh(
        lab, "cpu", f"mysql -N -h 127.0.0.1 -uroot -p{env['MYSQL_ROOT_PASSWORD']} -e 'SELECT 1'"
    )
    assert out.strip() == "1"
    out = sh(lab, "cpu", f"mysql -N -udojangkok -p{env['DB_PASSWORD']} dojangkok -e 'SELECT 2'")
    assert out.strip() == "2"
    assert sh(lab, "cpu", "mysql -N -e 'SELECT 3'", user="root").strip() == "3"  # unix_socket


def test_ai_health_and_analyze(apps_lab: Lab) -> None:
    lab = apps_lab
    with lab.tunnel("cpu", "gpu", 8000) as ai:  # open to the CPU host only (the firewall)
        code, body = wait_http(f"http://{ai}/health")
        assert code == 200 and json.loads(body) == {"status": "ok", "version": version(lab, "ai")}
        code, body = http(f"http://{ai}/api/v1/analyze", {"text": "The deposit is 10M."})
    assert code == 200 and json.loads(body)["risks"], body


# -- building and running the apps by hand, and each BREAK mode -------------------------
def test_frontend_new_version_by_hand(served_lab: Lab) -> None:
    lab = served_lab
    lab.push_app("frontend", {"VERSION": "9.9.9\n"}, "v9.9.9")
    sh(
        lab,
        "cpu",
        "cd /app/frontend && git pull -q --ff-only && npm ci --no-audit --no-fund "
        "&& npm run build && cp -r build/. /var/www/dojangkok/ "
        "&& sudo -n /usr/local/sbin/dojangkok-root nginx-reload",  # the deploy login's root
    )
    assert "dojangkok frontend 9.9.9" in https(lab, "/")[1]


def test_backend_builds_and_runs_by_hand(served_lab: Lab) -> None:
    lab = served_lab
    out = sh(
        lab, "cpu", "cd /app/backend && git pull -q --ff-only && ./gradlew clean build -x test"
    )
    assert "BUILD SUCCESSFUL" in out
    out = sh(lab, "cpu", RUN_BY_HAND.format(start=BACKEND.format(port=18080), port=18080))
    assert out.startswith("200 ") and '"UP"' in out


def test_ai_runs_by_hand(served_lab: Lab) -> None:
    lab = served_lab
    sh(
        lab,
        "gpu",
        "cd /app/ai-server && git pull -q --ff-only && venv/bin/pip install -q -r requirements.txt",
    )
    out = sh(lab, "gpu", RUN_BY_HAND.format(start=AI.format(port=18000), port=18000))
    assert out.startswith("200 ") and '"ok"' in out


@pytest.mark.parametrize(
    ("app", "mode"),
    [
        ("frontend", "build"),
        ("frontend", "health"),
        ("backend", "build"),
        ("backend", "start"),
        ("backend", "health"),
        ("ai", "start"),
        ("ai", "health"),
    ],
)
def test_break_modes(served_lab: Lab, app: str, mode: str) -> None:
    lab = served_lab
    lab.push_app(app, {"BREAK": f"{mode}\n"}, f"break {mode}")
    host, path = {
        "frontend": ("cpu", "/app/frontend"),
        "backend": ("cpu", "/app/backend"),
        "ai": ("gpu", "/app/ai-server"),
    }[app]
    sh(lab, host, f"cd {path} && git pull -q --ff-only && test -f BREAK")
    if app == "frontend":
        res = lab.run(host, "cd /app/frontend && rm -rf build && npm run build", user="deploy")
        if mode == "build":
            assert res.returncode != 0
            assert sh(lab, host, "ls /app/frontend/build 2>/dev/null | wc -l").strip() == "0"
        else:
            assert res.returncode == 0
            assert (
                sh(
                    lab, host, "test -e /app/frontend/build/index.html && echo yes || echo no"
                ).strip()
                == "no"
            )
        return
    if app == "backend":
        res = lab.run(host, "cd /app/backend && ./gradlew clean build -x test", user="deploy")
        if mode == "build":
            assert res.returncode != 0 and "BUILD FAILED" in res.stdout
            assert sh(lab, host, "test -e build/libs/dojangkok.jar; echo $?").strip() != "0"
            return
        assert res.returncode == 0, res.stdout + res.stderr
        start, port = BACKEND.format(port=18081), 18081
    else:
        start, port = AI.format(port=18001), 18001
    if mode == "start":
        res = lab.run(host, f"timeout 60 bash -c '{start}'", user="deploy")
        assert res.returncode not in (0, 124), "the app should exit on its own, with an error"
    else:
        out = sh(lab, host, RUN_BY_HAND.format(start=start, port=port))
        assert out.startswith("503 ") and ('"DOWN"' in out or '"error"' in out), out


# -- life cycle ------------------------------------------------------------------------
def test_push_app_and_reset_git(lab: Lab) -> None:
    before = lab.reset_git()
    sha = lab.push_app("ai", {"NOTE.txt": "hello\n", "README.md": None}, "note")
    assert sha != before["ai"] and len(sha) == 40
    files = gitrepos.git("ls-tree", "-r", "--name-only", "main", cwd=lab.git_dir / "ai.git")
    assert "NOTE.txt" in files.split() and "README.md" not in files.split()
    assert lab.reset_git() == before


def test_up_twice_is_a_no_op(lab: Lab) -> None:
    t0 = time.monotonic()
    st = lab.up()
    assert time.monotonic() - t0 < 10 and all(st[h]["running"] for h in HOSTS)


def test_clear_errors(monkeypatch) -> None:
    monkeypatch.setattr(config.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        config.check_prereqs()
    monkeypatch.setattr(config.os, "geteuid", lambda: 0)
    real = shutil.which
    monkeypatch.setattr(config.shutil, "which", lambda t: None if t == "debootstrap" else real(t))
    with pytest.raises(LabError, match="apt-get install debootstrap"):
        config.check_prereqs()
    eth = json.loads(
        subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True).stdout
    )
    used = next(
        a
        for link in eth
        if link["ifname"] != "lo" and link["ifname"] != "dklab0"
        for a in link["addr_info"]
    )
    monkeypatch.setenv("DOJANGKOK_LAB_SUBNET", f"{used['local'].rsplit('.', 1)[0]}.0/24")
    with pytest.raises(LabError, match="already in use"):
        network.check_free(config.Settings(Lab.from_repo().root))


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    """Last on purpose: takes the lab down, checks the machine, brings it back up."""
    s = lab.settings
    try:
        lab.down()
        assert not network.bridge_exists()
        links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
        assert "vb-dk-" not in links and "dklab0" not in links
        assert machines.mounts_under(s.rundir, s.cache) == []
        assert machines.nspawn_pids() == [] and gitrepos.daemon_pids(s) == []
        assert acme.pids(s) == []  # pebble and its DNS
        assert acme.SITE_NAME not in Path("/etc/hosts").read_text()
        assert not any(cg.parent.exists() for cg in machines.cgroups("cpu"))
        assert not lab.is_up()
        lab.down()  # idempotent
    finally:
        lab.up()
    assert lab.is_up()
