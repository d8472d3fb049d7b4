"""Config as code on the lab's real hosts: push-config, its refusals, the targets.

One reset for the module, to the hosts as `fab setup` left them (the cached setup layer;
tests/test_setup_lab.py runs setup itself from bare hosts), then the deploy tasks run on
the pushed config alone, then push-config is tried twice, with broken settings, without
nginx, and with a unit that did not exist before. Every check looks at the host itself
(files, systemd, HTTPS from this machine).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import served
from tests.lab import acme, fabrun
from tests.lab.fabrun import (
    MANUAL,
    SERVED_CONFIG,
    SMOKE_NOTES_URL,
    exposure,
    invocation,
    numbered_inventory,
    on,
    polling,
)
from tests.lab.faults import Fault
from tests.lab.site import site as lab_site

pytestmark = pytest.mark.lab


# What the lab inventory needs for config as code (see ensure_tls for the certificate).
LAB_VARS = MANUAL + SERVED_CONFIG + polling(20) + SMOKE_NOTES_URL


def inventory(lab, tmp_path: Path, **cpu_vars: str) -> Path:
    return numbered_inventory(lab, tmp_path, LAB_VARS, **cpu_vars)


def fab(lab, tmp_path: Path, *args: str, inv: Path | None = None) -> subprocess.CompletedProcess:
    return fabrun.fab(lab, tmp_path, *args, inv=inv or inventory(lab, tmp_path))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("config-lab")


@pytest.fixture(scope="module")
def set_up(lab, work):
    """The hosts as `fab setup` left them; the CA bundle cpu's certificate (tls=acme, from the
    lab's pebble) is checked against; setup's own output, kept when the setup layer was made
    (tests/lab/served.py)."""
    lab.reset(setup=True)
    served(lab)
    results = {h: (lab.state_dir / f"setup-{h}.log").read_text() for h in ("cpu", "gpu")}
    return lab, lab_site(lab).ca, results


def sha(lab, host: str, path: str) -> str:
    return on(lab, host, f"sha256sum {path}").split()[0]


def nginx_workers(lab) -> str:
    """The pids of nginx's workers: a reload replaces them."""
    return on(lab, "cpu", "ps --ppid $(cat /run/nginx.pid) -o pid= | sort | tr -d ' ' | tr '\\n' ,")


def test_setup_prepares_the_hosts(set_up):
    lab, _, results = set_up
    for output in results.values():
        # swapon is refused in the container: said clearly, not an error
        assert (
            "컨테이너에서는 swapon을 쓸 수 없습니다 (swapon not permitted) (systemd-nspawn): 건너뜀"
            in output
        )
    assert on(lab, "cpu", "ps -o user= -C java") == "dojangkok"
    assert on(lab, "gpu", "systemctl show -p User --value fastapi") == "dojangkok-ai"
    assert (
        on(lab, "gpu", "ps -o user= -p $(systemctl show -p MainPID --value fastapi)")
        == "dojangkok-ai"
    )
    assert on(lab, "cpu", "stat -c '%a %U' /app/backups /etc/dojangkok/env/backend.env "
                          "/swapfile") == "700 deploy\n640 deploy\n600 root"  # fmt: skip
    assert on(lab, "cpu", "getent passwd dojangkok | cut -d: -f7") == "/usr/sbin/nologin"
    # the database account works with the password from .env (sent by file, not argv)
    pw = lab.env()["DB_PASSWORD"]
    opt = "/tmp/dbcheck.cnf"
    lab.run("cpu", f"umask 077; cat > {opt}", input=f'[client]\nuser=dojangkok\npassword="{pw}"\n')
    out = on(lab, "cpu", f"mysql --defaults-extra-file={opt} -N -e "
                         "'SELECT @@innodb_buffer_pool_size, DATABASE()' dojangkok; rm -f " + opt)  # fmt: skip
    assert out.split() == ["1073741824", "dojangkok"]
    # nginx: HTTP → HTTPS, TLS verified against the ACME server's roots, headers, the SPA
    r = requests.get(lab_site(lab, "/contracts/1", "http").url, allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"] == lab_site(lab, "/contracts/1").url
    page = requests.get(lab_site(lab, "/contracts/1").url, verify=set_up[1], timeout=10)
    assert page.status_code == 200 and "dojangkok" in page.text
    assert page.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    asset = re.search(r'src="(/static/[^"]+)"', page.text).group(1)
    cached = requests.get(lab_site(lab, asset).url, verify=set_up[1], timeout=10,
                          headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert "immutable" in cached.headers["Cache-Control"]
    api = requests.get(lab_site(lab, "/api/notes").url, verify=set_up[1], timeout=10)
    assert api.status_code == 200
    # TLS: setup obtained the site's certificate from the lab's ACME server (pebble) over
    # HTTP-01: its name only (no localhost, no address), certbot's timer renews it through
    # the root-owned webroot and reloads nginx
    cert = "/etc/letsencrypt/live/dojangkok/cert.pem"
    assert (
        on(lab, "cpu", f"openssl x509 -in {cert} -noout -ext subjectAltName | tail -1").strip()
        == "DNS:cpu.dojangkok.test"
    )
    assert "Pebble" in on(lab, "cpu", f"openssl x509 -in {cert} -noout -issuer")
    renewal = on(lab, "cpu", "cat /etc/letsencrypt/renewal/dojangkok.conf")
    for line in ("authenticator = webroot", "renew_hook = systemctl reload nginx",
                 f"server = {acme.server_url(lab.settings)}"):  # fmt: skip
        assert line in renewal.splitlines(), renewal
    assert on(lab, "cpu", "stat -c '%U %a' /var/lib/dojangkok-acme") == "root 755"
    assert on(lab, "cpu", "systemctl is-enabled certbot.timer") == "enabled"
    assert on(lab, "cpu", "ls /etc/nginx/conf.d") == ""  # the bootstrap server is gone


def test_the_deploy_tasks_work_on_the_pushed_config(set_up, work):
    lab = set_up[0]
    for h, task in (("cpu", "deploy-backend"), ("cpu", "deploy-frontend"), ("gpu", "deploy-ai")):
        res = fab(lab, work, "-H", h, task, "--yes")
        assert res.returncode == 0, (task, res.stdout[-3000:], res.stderr)
    assert on(lab, "cpu", "ps -o user= -C java") == "dojangkok"
    assert "Managed by dojangkok-deploy" in on(
        lab, "cpu", "cat /etc/systemd/system/dojangkok.service"
    )


def test_a_second_push_changes_nothing(set_up, work):
    lab = set_up[0]
    before = (
        invocation(lab, "cpu", "dojangkok"),
        invocation(lab, "cpu", "mariadb"),
        nginx_workers(lab),
    )
    res = fab(lab, work, "-H", "cpu", "push-config", "--yes")
    assert res.returncode == 0 and "변경 없음: cpu의 설정이 이미 최신입니다" in res.stdout
    assert (
        invocation(lab, "cpu", "dojangkok"),
        invocation(lab, "cpu", "mariadb"),
        nginx_workers(lab),
    ) == before
    res = fab(lab, work, "-H", "gpu", "push-config", "--yes")
    assert res.returncode == 0 and "변경 없음: gpu의 설정이 이미 최신입니다" in res.stdout


def test_dry_run_shows_the_diff_and_changes_nothing(set_up, work):
    lab = set_up[0]
    site = sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok")
    res = fab(lab, work, "-H", "cpu", "push-config", "--dry-run",
              inv=inventory(lab, work, client_max_body_size="80m"))  # fmt: skip
    assert res.returncode == 0
    assert (
        "-    client_max_body_size 50m;" in res.stdout
        and "+    client_max_body_size 80m;" in res.stdout
    )
    assert sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok") == site


def test_a_broken_nginx_setting_is_rejected_and_the_site_keeps_serving(set_up, work):
    lab, cert, _ = set_up
    site, workers = sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok"), nginx_workers(lab)
    with Fault(lab, 8, "client_max_body_size='5 0m'", work / "history.jsonl") as check:
        res = fab(lab, work, "-H", "cpu", "push-config", "--yes",
                  inv=inventory(lab, work, client_max_body_size="'5 0m'"))  # fmt: skip
        check.check(res.returncode, res.stdout + res.stderr, cause="설정 검증")
    assert res.returncode == 1
    assert "client_max_body_size" in res.stdout and "설정 검증" in res.stdout
    assert sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok") == site
    assert nginx_workers(lab) == workers  # not reloaded
    assert requests.get(lab_site(lab).url, verify=cert, timeout=10).ok


def test_a_unit_that_fails_verification_is_rejected(set_up, work):
    lab = set_up[0]
    unit, running = (
        sha(lab, "cpu", "/etc/systemd/system/dojangkok.service"),
        invocation(lab, "cpu", "dojangkok"),
    )
    res = fab(lab, work, "-H", "cpu", "push-config", "--yes",
              inv=inventory(lab, work, backend_java="/usr/bin/no-such-java"))  # fmt: skip
    # refused before anything: the precondition check names it (systemd-analyze verify would)
    assert res.returncode == 1 and "java /usr/bin/no-such-java" in res.stderr
    assert sha(lab, "cpu", "/etc/systemd/system/dojangkok.service") == unit
    assert invocation(lab, "cpu", "dojangkok") == running


def test_a_unit_that_does_not_start_is_rolled_back(set_up, work):
    lab = set_up[0]
    unit = sha(lab, "cpu", "/etc/systemd/system/dojangkok.service")
    inv = inventory(lab, work, backend_java_opts="-Xmx1k", backend_health_tries="12")
    res = fab(lab, work, "-H", "cpu", "push-config", "--yes", inv=inv)
    assert res.returncode == 1 and "롤백" in res.stdout
    assert sha(lab, "cpu", "/etc/systemd/system/dojangkok.service") == unit
    on(lab, "cpu", "systemctl is-active dojangkok && curl -fsS localhost:8080/health")


def test_a_host_without_nginx_is_a_clear_error(set_up, work):
    lab = set_up[0]
    site = sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok")
    on(lab, "cpu", "mv /usr/sbin/nginx /usr/sbin/nginx.hidden")
    try:
        res = fab(lab, work, "-H", "cpu", "push-config", "--yes",
                  inv=inventory(lab, work, server_name="other.example"))  # fmt: skip
    finally:
        on(lab, "cpu", "mv /usr/sbin/nginx.hidden /usr/sbin/nginx")
    assert res.returncode == 1 and "nginx가 설치되어 있지 않습니다" in res.stdout
    assert sha(lab, "cpu", "/etc/nginx/sites-available/dojangkok") == site


def test_a_new_unit_that_does_not_start_is_removed_and_said_so(set_up, work):
    """A unit that did not exist before the push and fails its check is stopped, disabled
    and removed by the rollback, which says so; the failed check shows its journal."""
    lab = set_up[0]
    on(lab, "gpu", "systemctl disable --now -q fastapi && rm /etc/systemd/system/fastapi.service "
                   "&& systemctl daemon-reload")  # fmt: skip
    broken = lab.write_inventory(work / "hosts-newunit.ini", LAB_VARS + "\n[gpu:vars]\n"
                                 "ai_app=app.main:no_such_app\nai_health_tries=8\n")  # fmt: skip
    try:
        res = fab(lab, work, "-H", "gpu", "push-config", "--yes", inv=broken)
        assert res.returncode == 1
        assert "새로 만든 유닛 fastapi은(는) 지웠고" in res.stderr
        assert "rollback" not in res.stderr.lower() or "롤백도 실패" not in res.stderr
        assert "journalctl -u fastapi" in res.stdout and "no_such_app" in res.stdout
        assert lab.run("gpu", "test -e /etc/systemd/system/fastapi.service").returncode != 0
        assert "not-found" in lab.run("gpu", "systemctl show -p LoadState fastapi").stdout
    finally:
        again = fab(lab, work, "-H", "gpu", "push-config", "--yes")
        assert again.returncode == 0, again.stdout[-3000:]


def test_exposure_targets(set_up):
    lab = set_up[0]
    scores = {
        "dojangkok": exposure(lab, "cpu", "dojangkok"),
        "fastapi": exposure(lab, "gpu", "fastapi"),
    }
    print("exposure:", scores)
    assert all(v <= 2.0 for v in scores.values()), scores


def test_tls_meets_mozilla_intermediate(set_up, work):
    pytest.importorskip("sslyze")
    lab, cert, _ = set_up
    target = f"{acme.SITE_NAME}:443{{{lab.addresses['cpu']}}}"
    res = subprocess.run(
        [sys.executable, "-m", "sslyze", "--mozilla_config=intermediate",
         f"--certinfo_ca_file={cert}", target],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    print(res.stdout[-4000:])
    assert f"{acme.SITE_NAME}:443: OK - Compliant." in res.stdout
    assert res.returncode == 0


def test_no_secret_reached_the_output(set_up):
    _, _, results = set_up
    for value in (v for v in set_up[0].env().values() if len(v) >= 4):
        for output in results.values():
            assert value not in output


def test_setup_and_push_config_are_in_the_history(set_up, work):
    import json

    lab = set_up[0]
    res = fab(lab, work, "history", "--json")
    assert res.returncode == 0
    kinds = [r["kind"] for r in json.loads(res.stdout)]
    assert "config" in kinds, res.stdout
    recs = [json.loads(x) for x in (work / "history.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "config" and r["result"] == "rolled-back" for r in recs)
    # setup's records are on the hosts (setup ran when the layer was made)
    for h in ("cpu", "gpu"):
        host = [json.loads(x) for x in on(lab, h, "cat /var/lib/dojangkok-deploy/history.jsonl")
                .splitlines()]  # fmt: skip
        (setup,) = [r for r in host if r["kind"] == "setup"]
        assert setup["result"] == "ok"
        # the record holds every step that ran: setup's, then the config push's
        assert {s["section"] for s in setup["steps"]} == {"S", "CFG"}
    assert '"kind": "config"' in on(lab, "cpu", "cat /var/lib/dojangkok-deploy/history.jsonl")
