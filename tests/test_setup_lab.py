"""Zero to serving on the lab's real hosts: `fab setup` from bare, its second run, the
preconditions of push-config and the deploys on a host setup never prepared, and the
services as real apps need them (their own .env, a log directory, /proc/cpuinfo).

The module starts from bare hosts (a cloud image: packages and a login user, nothing of the
application) and runs the real `fab setup` on both; every check looks at the hosts
themselves (HTTPS from this machine, systemd, files, the journal).
"""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import served
from tests.lab import acme, fabrun
from tests.lab.fabrun import MANUAL, exposure, numbered_inventory, on, polling, strategy
from tests.lab.faults import Fault
from tests.lab.site import site

pytestmark = pytest.mark.lab

# The manual strategy's layout (the release strategy's setup: the module's last test)
FAST = MANUAL + polling(30)
#: the GPU host has no package index at all (its pip.conf is removed before setup): the AI
#: is built here and sent, by setup itself (tasks/localbuild/first.py), and by every later run
LOCAL_AI = "\n[gpu:vars]\nai_build_on=local\n"


def inventory(lab, tmp: Path, extra: str = FAST, **cpu_vars: str) -> Path:
    return numbered_inventory(lab, tmp, extra, **cpu_vars)


def fab(lab, tmp: Path, *args: str, inv: Path | None = None) -> subprocess.CompletedProcess:
    return fabrun.fab(lab, tmp, *args, inv=inv or inventory(lab, tmp))


def invocations(lab) -> dict[str, str]:
    ids = {}
    for host, units in (("cpu", ("nginx", "mariadb", "dojangkok")), ("gpu", ("fastapi",))):
        for u in units:
            ids[u] = on(lab, host, f"systemctl show -p InvocationID --value {u}")
    return ids


CONFIG = "/etc/systemd/system /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/mysql"


def config_listing(lab, host: str) -> str:
    return on(lab, host, f"ls -la {CONFIG} 2>&1; sha256sum /etc/nginx/sites-enabled/* 2>&1")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("setup-lab")


@pytest.fixture(scope="module")
def bare(lab):
    lab.reset()
    return lab


# --- on bare hosts: nothing may change ----------------------------------------------------------
def test_push_config_on_a_bare_host_stops_at_once_and_changes_nothing(bare, work):
    before = config_listing(bare, "cpu")
    # a bare host: no database, nothing served (serving and rows: not applicable)
    with Fault(bare, 14, "push-config on a bare host", work / "history.jsonl",
               db=False, probe=False) as check:  # fmt: skip
        t0 = time.monotonic()
        res = fab(bare, work, "-H", "cpu", "push-config", "--yes")
        took = time.monotonic() - t0
        check.check(res.returncode, res.stderr, cause=r"push-config을\(를\) 할 준비가 되어 있지 않습니다",
                    next_step="fab -H cpu setup", serving=False)  # fmt: skip
    assert res.returncode != 0 and took < 10, took
    assert (
        "fab -H cpu setup" in res.stderr
        and "push-config을(를) 할 준비가 되어 있지 않습니다" in res.stderr
    )
    assert "사용자 dojangkok" in res.stderr and "jar " in res.stderr
    assert config_listing(bare, "cpu") == before
    assert bare.run("cpu", "test -e /etc/systemd/system/dojangkok.service").returncode != 0


def test_a_deploy_on_a_bare_host_stops_naming_setup(bare, work):
    """The deploy login has no sudo on a bare host (only setup gives it the root helper): the
    deploy stops at its first step, the lock in the state directory setup makes."""
    res = fab(bare, work, "-H", "gpu", "deploy-ai", "--yes")
    assert res.returncode == 1 and "fab -H gpu setup" in res.stderr
    assert "gpu에 배포 로그인이 쓸 수 있는 /var/lib/dojangkok-deploy이(가) 없고" in res.stderr
    assert "이 도구로 setup하지 않은 호스트입니다" in res.stderr
    assert (
        bare.run("gpu", "test -e /app/ai-server || test -e /var/lib/dojangkok-deploy").returncode
        != 0
    )


def test_setup_dry_run_shows_the_whole_plan_and_changes_nothing(bare, work):
    res = fab(bare, work, "-H", "gpu", "setup", "--dry-run")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for shown in ("git clone", ".env.example", "-m venv -- venv", "pip install", "설정 적용",
                  "systemctl is-enabled", "/health", "fastapi.service (templates/",
                  "방화벽 (nftables)", 'nft -c -f "$new"', "policy drop",
                  "ip saddr @ai_v4 tcp dport { 8000, 8001, 8002 } accept"):  # fmt: skip
        assert shown in out, shown
    assert "DRY RUN" in out and "ai_python=python3" in out
    assert f"elements = {{ {bare.addresses['cpu']} }}" in out  # the AI port: from cpu only
    assert bare.run("gpu", "nft list table inet dojangkok").returncode != 0
    assert bare.run("gpu", "test -e /app/ai-server || id dojangkok-ai").returncode != 0


def test_settings_show_what_was_detected_on_the_host(bare, work):
    res = fab(bare, work, "settings", "-H", "cpu")
    assert res.returncode == 0, res.stderr
    rows = {line.split(" = ")[0].strip(): line for line in res.stdout.splitlines() if " = " in line}
    assert (
        "mariadb" in rows["db_server"]
        and f"호스트에서 감지: mariadbd가 설치되어 있음 (debian {bare.settings.debian_version}"
        in rows["db_server"]
    )
    assert "/etc/mysql/mariadb.conf.d/60-dojangkok.cnf" in rows["mysql_conf"]
    assert "호스트에서 감지" in rows["host_packages"] and "인벤토리" in rows["backend_repo"]


# --- setup from bare ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def set_up(bare, work):
    """`fab setup` on both bare hosts at once, as an operator would; the GPU host without a
    package index (the lab's pip.conf, pointing at a wheelhouse, removed)."""
    on(bare, "gpu", "rm -f /etc/pip.conf")
    inv = inventory(bare, work, FAST + LOCAL_AI)
    with ThreadPoolExecutor(2) as pool:
        runs = dict(zip(("cpu", "gpu"), pool.map(
            lambda h: fab(bare, work, "-H", h, "setup", "--yes", inv=inv), ("cpu", "gpu")),
            strict=True))  # fmt: skip
    return bare, runs


def test_setup_takes_bare_hosts_to_serving(set_up):
    lab, runs = set_up
    for host, res in runs.items():
        assert res.returncode == 0, (host, res.stdout[-4000:], res.stderr)
    assert served(lab, timeout=30) == {"frontend": "1.0.0", "backend": "1.0.0", "ai": "1.0.0"}
    notes, ca = site(lab, "/api/notes")
    r = requests.get(site(lab, "/notes/1", "http").url, allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"] == site(lab, "/notes/1").url
    note = requests.post(notes, json={"text": "setup"}, verify=ca, timeout=10)
    assert note.status_code == 201  # the backend reached its database with .env's password
    for host, unit in (("cpu", "dojangkok"), ("gpu", "fastapi")):
        assert "Managed by dojangkok-deploy" in on(lab, host, f"systemctl cat {unit}")
        assert on(lab, host, f"systemctl is-enabled {unit}") == "enabled"
    assert on(lab, "cpu", "ps -o user= -C java") == "dojangkok"
    assert on(lab, "gpu", "ps -o user= -p $(systemctl show -p MainPID --value fastapi)") == (
        "dojangkok-ai"
    )
    # no package index on the GPU host: setup built the AI here and installed the wheels alone
    gpu = runs["gpu"].stdout
    assert "AI 서버 첫 빌드 (로컬 빌드 후 전송)" in gpu and "--no-index --find-links" in gpu
    assert "변경: 로컬 빌드" in gpu
    assert on(lab, "gpu", "test ! -e /etc/pip.conf && pip3 config list 2>/dev/null; true") == ""
    # the health check says how long the start took against its window (30 × 1 s here)
    assert re.search(r"ok: \d+\.\d초 만에 정상 \(한도 30초", gpu), gpu[-3000:]


def served_serial(lab) -> str:
    """The serial of the certificate nginx serves for the site's name, verified."""
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=site(lab).ca)
    with (
        socket.create_connection((acme.SITE_NAME, 443), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=acme.SITE_NAME) as tls,
    ):
        return tls.getpeercert()["serialNumber"]


#: certbot's timer unit, told to renew now (`certbot renew --force-renewal`), for one run
#: (without the random delay of up to 8 minutes it takes when no one is watching)
FORCE = "/run/systemd/system/certbot.service.d/zz-test-force.conf"


def test_a_renewal_goes_through_port_80_and_reloads_nginx(set_up, work):
    """certbot's timer unit (with setup's drop-in trusting the ACME server) renews through
    the site's port 80: pebble asks cpu's nginx for the challenge, the deploy hook reloads
    nginx, and the site serves the new certificate. Then `fab health`, with only
    server_name set, asks the site from this machine and shows the days left."""
    lab, _ = set_up
    before = served_serial(lab)
    log = "/var/log/nginx/access.log"
    asked = f"grep -c '^{lab.operator_ip} .*GET /.well-known/acme-challenge/[^ ]* HTTP/1.1\" 200' {log} || true"
    challenges = int(on(lab, "cpu", asked))
    lab.run("cpu", f"mkdir -p {FORCE.rsplit('/', 1)[0]} && cat > {FORCE} && systemctl daemon-reload",
            input="[Service]\nExecStart=\nExecStart=/usr/bin/certbot -q renew --force-renewal "
                  "--no-random-sleep-on-renew\n")  # fmt: skip
    try:
        res = lab.run("cpu", "systemctl start certbot.service", timeout=120)
        assert res.returncode == 0, on(lab, "cpu", "journalctl -u certbot -n 40 --no-pager")
    finally:
        on(lab, "cpu", f"rm -f {FORCE} && systemctl daemon-reload")
    assert int(on(lab, "cpu", asked)) > challenges  # validated again, on port 80, by pebble
    after = served_serial(lab)
    assert after != before, "nginx serves the renewed certificate (the deploy hook reloaded it)"
    res = fab(lab, work, "health")
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(rf"https://{acme.SITE_NAME}/\s+인증서 \d+일 남음", res.stdout), res.stdout


def test_a_provided_certificate_must_name_the_site_and_match_its_key(set_up, work):
    """tls=provided: the certificate the cloud gave cpu (/etc/ssl/dojangkok/, named
    cpu.dojangkok.test) for another server_name is refused naming both; a key that is not
    the certificate's is refused naming both files. Before the site changes."""
    lab, _ = set_up
    site_file = on(lab, "cpu", "sha256sum /etc/nginx/sites-available/dojangkok")
    provided = {"tls": "provided", "tls_cert": "/etc/ssl/dojangkok/fullchain.pem",
                "tls_key": "/etc/ssl/dojangkok/privkey.pem"}  # fmt: skip
    res = fab(lab, work, "-H", "cpu", "setup", "--yes",
              inv=inventory(lab, work, server_name="www.dojangkok.test", **provided))  # fmt: skip
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "server_name www.dojangkok.test" in out and "DNS:cpu.dojangkok.test" in out, out
    res = fab(lab, work, "-H", "cpu", "setup", "--yes", inv=inventory(
        lab, work, **{**provided, "tls_key": "/etc/letsencrypt/live/dojangkok/privkey.pem"}))  # fmt: skip
    assert res.returncode == 1
    assert ("tls_key /etc/letsencrypt/live/dojangkok/privkey.pem는 tls_cert "
            "/etc/ssl/dojangkok/fullchain.pem의 키가 아닙니다") in res.stdout + res.stderr  # fmt: skip
    assert on(lab, "cpu", "sha256sum /etc/nginx/sites-available/dojangkok") == site_file


def assert_the_backend_reaches_the_ai(lab) -> None:
    """What the team's backend does for each analysis: a connection from the backend's unit
    to the AI server on the GPU host (through nginx, as a user's request). A unit that
    filtered where it connects (IPAddressAllow=localhost) answered 502."""
    url, ca = site(lab, "/api/ai/health")
    r = requests.get(url, verify=ca, timeout=15)
    assert r.status_code == 200 and '"ok"' in r.text, (r.status_code, r.text)


def test_the_backend_calls_the_ai_server_and_no_unit_filters_where_it_connects(set_up):
    """OAuth providers, the AI host, an LLM API: connections out that a unit's address
    filter (systemd's IPAddressAllow= filters both ways) would drop; only an operator's
    <app>_ip_allow sets one. Who reaches the ports is the firewall's. The lab's hosts run
    on cgroup v1, where systemd applies no address filter (a real Ubuntu host's cgroup v2
    does): so the unit's own setting is what is checked, beside the call itself."""
    lab, _ = set_up
    assert_the_backend_reaches_the_ai(lab)
    for host, unit in (("cpu", "dojangkok"), ("gpu", "fastapi")):
        assert on(lab, host, f"systemctl show -p IPAddressDeny --value {unit}") == "", unit


def test_the_units_are_hardened(set_up):
    lab, _ = set_up
    scores = {
        "dojangkok": exposure(lab, "cpu", "dojangkok"),
        "fastapi": exposure(lab, "gpu", "fastapi"),
    }
    print("exposure:", scores)
    assert all(v <= 2.0 for v in scores.values()), scores


def test_every_env_follows_one_ownership_scheme(set_up):
    lab, _ = set_up
    # a service's: in a directory only root writes (its unit's EnvironmentFile=), the
    # checkout's .env a link to it; the frontend's: a file in its checkout
    assert on(lab, "cpu", "stat -c '%U:%G %a' /etc/dojangkok/env /etc/dojangkok/env/backend.env "
                          "/app/frontend/.env") == (
        "root:root 755\ndeploy:dojangkok 640\ndeploy:deploy 640")  # fmt: skip
    assert on(lab, "cpu", "readlink /app/backend/.env") == "/etc/dojangkok/env/backend.env"
    assert (
        on(lab, "gpu", "stat -c '%U:%G %a' /etc/dojangkok/env/ai.env") == "deploy:dojangkok-ai 640"
    )
    assert on(lab, "gpu", "readlink /app/ai-server/.env") == "/etc/dojangkok/env/ai.env"
    # keys exactly those of .env.example, values from the inventory and the operator's .env
    env = on(lab, "cpu", "cat /app/backend/.env")
    assert [line.split("=")[0] for line in env.splitlines()] == [
        "DB_URL", "DB_USER", "DB_PASSWORD", "SERVER_PORT", "AI_SERVER_URL"]  # fmt: skip
    assert f"DB_PASSWORD={lab.env()['DB_PASSWORD']}" in env


def test_the_ai_app_reads_its_own_env_and_writes_its_log_and_store(set_up):
    """The real FastAPI service's needs: it reads .env itself (python-dotenv), logs under
    /var/log/<app>/, keeps a vector store in its checkout, reads /proc/cpuinfo."""
    lab, _ = set_up
    journal = on(lab, "gpu", "journalctl -u fastapi --no-pager -n 50")
    assert "model lab-stub" in journal and "CPU:" in journal
    assert on(lab, "gpu", "stat -c '%U' /var/log/dojangkok-ai/app.log") == "dojangkok-ai"
    assert "Model loaded" in on(lab, "gpu", "cat /var/log/dojangkok-ai/app.log")
    assert on(lab, "gpu", "stat -c '%U' /app/ai-server/vector_store/index.json") == "dojangkok-ai"
    # the same app with a .env only its owner may read (the old scheme) does not start
    on(lab, "gpu", "chmod 600 /app/ai-server/.env && systemctl restart fastapi; sleep 4")
    try:
        assert "Permission denied" in on(lab, "gpu", "journalctl -u fastapi --no-pager -n 20")
        assert lab.run("gpu", "curl -fsS localhost:8000/health").returncode != 0
    finally:
        on(lab, "gpu", "chmod 640 /app/ai-server/.env && systemctl restart fastapi")


def test_a_second_setup_changes_nothing_and_says_so(set_up, work):
    lab, _ = set_up
    served(lab, timeout=60)
    before = invocations(lab)
    inv = inventory(lab, work, FAST + LOCAL_AI)
    for host in ("cpu", "gpu"):
        t0 = time.monotonic()
        res = fab(lab, work, "-H", host, "setup", "--yes", inv=inv)
        took = time.monotonic() - t0
        print(f"second setup of {host}: {took:.1f}s")
        assert res.returncode == 0, res.stderr
        assert f"변경 없음: {host}는 이미 setup된 상태입니다" in res.stdout
        assert not re.search(
            r"✓ (?:[\d.]+초|\d+분(?: \d+초)?|\d+시간(?: \d+분)?)  변경:", res.stdout
        )  # no step reports a change
        assert took < 20, took
    assert invocations(lab) == before


def test_setup_after_deploys_and_a_backup_changes_nothing(set_up, work):
    """Deploys and setup agree on every directory, file, owner and mode: after a full
    deploy and a DB backup, setup still has nothing to change."""
    lab, _ = set_up
    inv = inventory(lab, work, FAST + LOCAL_AI)
    assert fab(lab, work, "full-deploy", "--yes", inv=inv).returncode == 0
    assert fab(lab, work, "-H", "cpu", "backup-db", inv=inv).returncode == 0
    for host in ("cpu", "gpu"):
        res = fab(lab, work, "-H", host, "setup", "--yes", inv=inv)
        assert res.returncode == 0, res.stderr
        assert f"변경 없음: {host}는 이미 setup된 상태입니다" in res.stdout, re.findall(
            r"✓ (?:[\d.]+초|\d+분(?: \d+초)?|\d+시간(?: \d+분)?)  변경:.*", res.stdout
        )


def test_a_value_missing_for_a_key_is_named_and_nothing_is_written(set_up, work):
    lab, _ = set_up
    before = on(lab, "cpu", "sha256sum /app/backend/.env")
    inv = inventory(lab, work, backend_env='{"DB_URL": "x", "DB_PASSWORD": "${DB_PASSWORD}"}')
    res = fab(lab, work, "-H", "cpu", "setup", "--yes", inv=inv)
    assert res.returncode == 1
    assert (
        "다음 키에 값이 없습니다 (needs a value for): DB_USER SERVER_PORT AI_SERVER_URL"
        in res.stdout
    )
    assert on(lab, "cpu", "sha256sum /app/backend/.env") == before


def test_no_secret_reached_the_output(set_up, work):
    _, runs = set_up
    history = (work / "history.jsonl").read_text()
    for value in (v for v in set_up[0].env().values() if len(v) >= 8):
        for res in runs.values():
            assert value not in res.stdout + res.stderr
        assert value not in history


def test_a_release_setup_converts_the_host_and_its_second_run_changes_nothing(set_up, work):
    """strategy=release (the default): setup takes a host serving the manual way to the
    release layout (the conversion a first release deploy does) while it keeps serving, and
    a second run changes nothing. (`make demo` runs it from bare hosts.) The GPU host has no
    GPU: ai_switch=auto makes it blue/green, and says why; it has no package index either,
    so its first release is installed from wheels built here."""
    lab, _ = set_up
    inv = inventory(lab, work, extra=strategy("release") + polling(30) + LOCAL_AI)
    for host in ("cpu", "gpu"):
        res = fab(lab, work, "-H", host, "setup", "--yes", inv=inv)
        assert res.returncode == 0, res.stderr
        assert "release 방식으로 전환" in res.stdout
    assert "AI 전환 방식 (ai_switch=auto): blue/green" in res.stdout and "GPU 없음" in res.stdout
    assert set(served(lab, timeout=60)) == {"frontend", "backend", "ai"}
    assert "redirect to :8081" in on(lab, "cpu", "nft list table ip dojangkok_switch_backend")
    assert on(lab, "cpu", "systemctl is-active dojangkok@8081") == "active"
    assert on(lab, "cpu", "systemctl is-enabled dojangkok@8081") == "enabled"
    assert on(lab, "cpu", "readlink /var/www/dojangkok").startswith("/app/releases/frontend/")
    assert on(lab, "gpu", "systemctl is-active fastapi@8001") == "active"
    assert on(lab, "gpu", "systemctl is-enabled fastapi@8001") == "enabled"
    assert "redirect to :8001" in on(lab, "gpu", "nft list table ip dojangkok_switch_ai")
    assert exposure(lab, "cpu", "dojangkok@8081") <= 2.0
    assert exposure(lab, "gpu", "fastapi@8001") <= 2.0
    assert_the_backend_reaches_the_ai(lab)  # from the blue/green instances
    for host in ("cpu", "gpu"):
        res = fab(lab, work, "-H", host, "setup", "--yes", inv=inv)
        assert res.returncode == 0, res.stderr
        assert f"변경 없음: {host}는 이미 setup된 상태입니다" in res.stdout, re.findall(
            r"✓ (?:[\d.]+초|\d+분(?: \d+초)?|\d+시간(?: \d+분)?)  변경:.*", res.stdout
        )
