"""TLS without a host: the mode and names (tasks/hosts/site.py), the checks that ask the site by
its name, the nginx site per mode, setup's TLS step (its provided-certificate check run with
the real openssl on certificates made here), and `fab health`'s question from this machine."""

from __future__ import annotations

import http.server
import re
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from tasks.apps import registry
from tasks.config import render
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import site
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.procedures import health
from tasks.setup import detect, setup, tls

SITE = "dojangkok.example.com"


def cpu(**settings) -> Host:
    settings.setdefault("strategy", "manual")
    h = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings(**settings))
    return detect.with_facts(h, detect.Facts("debian", "12", "amd64", "mariadb", "3.11"))[0]


def site_conf(**settings) -> str:
    return {f.key: t for f, t in render.render(cpu(**settings)).items()}["nginx"]


# --- the mode and the names ---------------------------------------------------------------------
def test_acme_is_the_default_for_a_dns_name_and_nothing_else_is_guessed():
    assert site.tls_mode(Settings(server_name=SITE)) == "acme"
    assert site.tls_mode(Settings(server_name=f"{SITE} www.{SITE}")) == "acme"
    for name in ("_", "203.0.113.5", "cpu", "*.example.com"):
        assert site.tls_mode(Settings(server_name=name)) == "", name
    with pytest.raises(
        ConfigError,
        match=r"server_name='_' \(호스트 cpu\): DNS 이름이 아니어서 인증서를 받을 수 없습니다",
    ) as e:
        render.render(cpu(server_name="_"))
    assert "tls=off" in e.value.fix and "server_name=dojangkok.example.com" in e.value.fix


def test_what_cannot_work_is_refused_before_any_host():
    with pytest.raises(ConfigError, match="HTTP-01로 증명할 수 없습니다"):
        site.require_tls(Settings(server_name="203.0.113.5", tls="acme"))
    with pytest.raises(ConfigError, match="tls=provided에는 tls_cert, tls_key가 필요합니다"):
        site.require_tls(Settings(server_name=SITE, tls="provided"))
    with pytest.raises(ConfigError, match="server_name이 _\\(모든 이름\\)여서"):
        site.require_tls(Settings(tls="provided", tls_cert="/c.pem", tls_key="/k.pem"))
    assert site.require_tls(Settings(tls="off")) == "off"  # any name: testing only
    for bad in ("~^(www\\.)?x$", "a;b", "x/y"):
        with pytest.raises(ConfigError, match="설정 server_name"):
            Settings.from_vars({"server_name": bad})
    with pytest.raises(ConfigError, match="https:// URL이어야 합니다"):
        Settings.from_vars({"acme_server": "http://acme.example/dir"})
    with pytest.raises(ConfigError, match="이메일 주소 형식이 아닙니다"):
        Settings.from_vars({"acme_email": "ops at example"})


def test_every_check_on_the_host_asks_the_site_by_its_name_resolved_to_itself():
    s = Settings(server_name=f"{SITE} www.{SITE}")
    page = registry.FRONTEND.health(s, None).command()
    assert page == (f"curl -fsSL --max-time 10 --resolve {SITE}:443:127.0.0.1 https://{SITE}/ "
                    ">/dev/null")  # fmt: skip
    assert "localhost" not in page and "-k" not in page.split()
    off = registry.FRONTEND.health(s.replace(tls="off"), None).command()
    assert f"--resolve {SITE}:80:127.0.0.1 http://{SITE}/" in off
    # a frontend_url of the operator's: resolved to the host when it names the site
    own = registry.FRONTEND.health(s.replace(frontend_url=f"https://www.{SITE}:8443/x"), None)
    assert own.resolve == f"www.{SITE}:8443:127.0.0.1"
    assert site.resolve_for("http://localhost/", site.names(s)) == ""
    assert site.resolve_for("https://other.example/", site.names(s)) == ""
    # smoke requests and the served version through nginx: the same
    from tasks import shell
    from tasks.hostfacts import served_version

    smoke = shell.smoke([{"method": "GET", "url": f"https://{SITE}/api/notes"}],
                        site_names=site.names(s))  # fmt: skip
    assert f"--resolve {SITE}:443:127.0.0.1 https://{SITE}/api/notes" in smoke
    assert f"--resolve {SITE}:443:127.0.0.1 -- https://{SITE}/api/version" in served_version(
        f"https://{SITE}/api/version", "json:version", site.names(s)
    )


# --- the nginx site per mode ------------------------------------------------------------------
def test_acme_serves_the_challenge_on_port_80_before_the_redirect():
    text = site_conf(server_name=SITE)
    http_server = text.split("server {")[1]
    assert "location ^~ /.well-known/acme-challenge/ {" in http_server
    assert "root /var/lib/dojangkok-acme;" in http_server
    assert http_server.index("acme-challenge") < http_server.index("return 301 https://")
    assert "ssl_certificate /etc/letsencrypt/live/dojangkok/fullchain.pem;" in text
    assert "ssl_certificate_key /etc/letsencrypt/live/dojangkok/privkey.pem;" in text
    assert "Strict-Transport-Security" in text


def test_provided_and_off():
    provided = site_conf(server_name=SITE, tls="provided", tls_cert="/etc/ssl/x/full.pem",
                         tls_key="/etc/ssl/x/key.pem")  # fmt: skip
    assert "ssl_certificate /etc/ssl/x/full.pem;" in provided and "acme-challenge" not in provided
    off = site_conf(server_name=SITE, tls="off")
    for gone in ("ssl_", "443", "Strict-Transport-Security", "return 301", "acme-challenge"):
        assert gone not in off, gone
    assert "listen 80 default_server;" in off and "try_files $uri $uri/ /index.html;" in off


# --- setup's TLS step -------------------------------------------------------------------------
def test_setup_checks_tls_right_after_the_packages_on_the_cpu_host_only(tmp_path):
    h = cpu(server_name=SITE)
    view = RunView("setup", "setup", h, "RUN", dry_run=True)
    numbers = [st.number for st in setup.plan(view).steps]
    assert numbers[numbers.index("1") + 1] == "1a"
    step = setup.plan(view).step("1a")
    assert step.sudo and step.title == "TLS 인증서"
    text = step.render(view)
    assert (
        "certbot certonly --non-interactive --agree-tos --register-unsafely-without-email" in text
    )
    assert f"--webroot -w /var/lib/dojangkok-acme --cert-name dojangkok -d {SITE}" in text
    assert "--deploy-hook 'systemctl reload nginx'" in text and "certbot.timer" in text
    assert "install -d -m 755 -o root -g root -- /var/lib/dojangkok-acme" in text
    assert "certbot" in h.settings.host_packages
    gpu = detect.offline(Host("gpu", "x", "u", 22, None, ("gpu",), Settings()))
    gview = RunView("setup", "setup", gpu, "RUN", dry_run=True)
    assert "1a" not in [st.number for st in setup.plan(gview).steps]
    assert "certbot" not in gpu.settings.host_packages
    assert "certbot" not in cpu(server_name=SITE, tls="off").settings.host_packages


def test_a_private_acme_servers_ca_travels_to_roots_own_copy_and_is_given_to_certbot(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    view = RunView("setup", "setup", cpu(server_name=SITE, acme_ca_bundle=str(bundle)), "RUN")
    (upload,) = tls.uploads(view)
    assert upload.content(None) == bundle.read_text()
    assert upload.path == "$STAGE/acme-ca.pem"  # the root step's own root-only directory
    text = tls.acme_command(view)
    assert 'cp -- "$STAGE/acme-ca.pem" "$tmp/ca.pem"' in text
    assert "Environment=REQUESTS_CA_BUNDLE=/etc/dojangkok-deploy/acme-ca.pem" in text
    assert "export REQUESTS_CA_BUNDLE=/etc/dojangkok-deploy/acme-ca.pem" in text
    with pytest.raises(ConfigError, match="acme_ca_bundle .*: 이 컴퓨터에서 읽지 못했습니다"):
        tls.acme_command(view.but(host=cpu(server_name=SITE, acme_ca_bundle="/no/such.pem")))


def make_cert(d: Path, name: str, days: int = 90) -> tuple[Path, Path]:
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", str(days), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    return cert, key


def run_provided(tmp_path: Path, cert: Path, key: Path, name: str = SITE):
    h = cpu(server_name=name, tls="provided", tls_cert=str(cert), tls_key=str(key))
    cmd = tls.provided_command(RunView("setup", "setup", h, "RUN"))
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=tmp_path)


def test_a_provided_certificate_is_checked_with_openssl(tmp_path):
    cert, key = make_cert(tmp_path, SITE)
    ok = run_provided(tmp_path, cert, key)
    assert ok.returncode == 0, ok.stderr
    assert f"제공된 인증서: DNS:{SITE}" in ok.stdout and "일 남음" in ok.stdout
    # names that do not cover server_name: refused, naming both
    wrong = run_provided(tmp_path, cert, key, f"www.{SITE}")
    assert wrong.returncode == 1
    assert f"server_name www.{SITE}, 인증서 DNS:{SITE}" in wrong.stderr
    # another certificate's key
    _, other_key = make_cert(tmp_path, "other.example.com")
    mismatch = run_provided(tmp_path, cert, other_key)
    assert mismatch.returncode == 1
    assert f"tls_key {other_key}는 tls_cert {cert}의 키가 아닙니다" in mismatch.stderr
    # a missing file
    gone = run_provided(tmp_path, tmp_path / "none.pem", key)
    assert gone.returncode == 1 and "이 서버에 없는 파일입니다" in gone.stderr
    # fewer than 21 days left: said, not refused
    (tmp_path / "soon").mkdir()
    soon, soon_key = make_cert(tmp_path / "soon", SITE, days=5)
    short = run_provided(tmp_path, soon, soon_key)
    assert short.returncode == 0 and re.search("인증서 만료까지 [45]일", short.stdout), short.stdout


def test_tls_off_says_it_is_for_testing():
    view = RunView("setup", "setup", cpu(tls="off"), "RUN")
    out = subprocess.run(["bash", "-c", tls.command(view)], capture_output=True, text=True)
    assert out.returncode == 0 and "!!! tls=off" in out.stdout and "시험용" in out.stdout


# --- fab health from this machine -----------------------------------------------------------
def test_the_outside_row_warns_under_21_days():
    assert health.outside_row(health.Answer("https://x/", 200, 60)) == (
        True,
        "정상  https://x/  인증서 60일 남음",
    )
    ok, shown = health.outside_row(health.Answer("https://x/", 200, 20))
    assert ok and "경고: 인증서 20일 남음 (21일 미만" in shown
    assert (
        health.outside_row(health.Answer("https://x/", 0, error="인증서 검증 실패 (x)"))[0] is False
    )
    assert health.outside_row(health.Answer("https://x/", 502))[0] is False


def test_ask_site_verifies_the_certificate_and_reads_its_days(tmp_path, monkeypatch):
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "40", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)  # fmt: skip

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    try:
        untrusted = health.ask_site(url, timeout=5)
        assert untrusted.status == 0 and "인증서 검증 실패" in untrusted.error
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # as an operator trusting the site's CA
        trusted = health.ask_site(url, timeout=5)
        assert trusted.status == 200 and trusted.days_left in (38, 39), trusted
    finally:
        server.shutdown()
