"""The maintenance page on the lab: `fab maintenance on|off` as an operator runs it, checked
from this machine with an HTTP client (status, Retry-After, the page) and on the host (nginx
not reloaded, the flag directory root's); the deploy login tries to plant a flag or a page.
"""

from __future__ import annotations

import base64
import http.client
import ssl
from pathlib import Path

import pytest

from tests.conftest import served
from tests.lab import fabrun
from tests.lab.acme import SITE_NAME
from tests.lab.fabrun import MANUAL, numbered_inventory, on
from tests.lab.site import site as lab_site

pytestmark = pytest.mark.lab

DIR = "/var/lib/dojangkok-maintenance"
HELPER = "/usr/local/sbin/dojangkok-root"


class Client:
    """One kept-alive HTTPS connection to the site (verified against the lab's CA); it must
    never be reopened: a reload of nginx would close it."""

    def __init__(self, lab):
        ctx = ssl.create_default_context(cafile=lab_site(lab).ca)
        self.conn = http.client.HTTPSConnection(SITE_NAME, 443, timeout=15, context=ctx)
        self.conn.connect()
        self.sock = self.conn.sock

    def get(self, path: str) -> tuple[int, dict, str]:
        self.conn.request("GET", path, headers={"Connection": "keep-alive"})
        res = self.conn.getresponse()
        body = res.read().decode("utf-8", "replace")
        assert self.conn.sock is self.sock, "the kept-alive connection was closed (a reload?)"
        return res.status, {k.lower(): v for k, v in res.getheaders()}, body


def nginx_pids(lab) -> str:
    """The master's pid and its workers': a reload replaces the workers."""
    return on(lab, "cpu", "echo $(cat /run/nginx.pid): "
                          "$(ps --ppid $(cat /run/nginx.pid) -o pid= | sort | tr '\\n' ' ')")  # fmt: skip


def as_deploy(lab, command: str):
    return lab.run("cpu", command, login="deploy", timeout=60)


def test_maintenance_page_on_and_off_without_a_reload(lab, tmp_path: Path):
    lab.reset(setup=True)
    served(lab)
    inv = numbered_inventory(lab, tmp_path, MANUAL)

    def fab(*args: str):
        res = fabrun.fab(lab, tmp_path, *args, inv=inv)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    # before the first `on` there is no directory, and the deploy login cannot make one
    assert as_deploy(lab, f"mkdir {DIR}").returncode != 0
    client = Client(lab)
    assert client.get("/")[0] == 200
    before = nginx_pids(lab)

    message = '<script>alert(1)</script> 23시까지 점검합니다 & "곧" 돌아옵니다'
    out = fab("-H", "cpu", "maintenance", "on", f"--message={message}")
    assert "점검 페이지 켜짐" in out and "503" in out
    status, headers, body = client.get("/")
    assert status == 503 and headers["retry-after"] == "300"
    assert "서비스 점검 중입니다" in body and "점검 시작:" in body and 'lang="ko"' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 23시까지 점검합니다 &amp; &quot;곧&quot;" in body
    assert "<script>" not in body
    assert client.get("/api/version")[0] == 503
    assert client.get("/contracts/1")[0] == 503
    shown = fab("-H", "cpu", "maintenance")
    assert "점검 페이지 켜짐" in shown and "사이트 전체" in shown and "23시까지 점검합니다" in shown

    # the deploy login can neither turn it off nor plant a page, a flag or a link there
    for attack in (f"rm -f {DIR}/site.on", f"echo '<h1>owned</h1>' > {DIR}/page.html",
                   f"touch {DIR}/api.on", f"ln -s /etc/shadow {DIR}/x.html",
                   f"mv {DIR} /tmp/moved"):  # fmt: skip
        assert as_deploy(lab, attack).returncode != 0, attack
    assert on(lab, "cpu", f"stat -c '%U %a' {DIR} {DIR}/page.html {DIR}/site.on") == (
        "root 755\nroot 644\nroot 644"
    )
    # ...nor get the helper to take a scope or a message it should not
    two_lines = base64.urlsafe_b64encode(b"a\nb").decode()
    for argv, cause in ((f"on ../../etc {two_lines}", "scope must be one of"),
                        (f"on site {two_lines}", "control characters"),
                        ("on site '$(id)'", "base64url"),
                        ("on site " + base64.urlsafe_b64encode(b"x" * 301).decode(), "longer")):  # fmt: skip
        res = as_deploy(lab, f"sudo -n {HELPER} maintenance {argv}")
        assert res.returncode == 2 and cause in res.stderr, (argv, res.stderr)
    assert client.get("/")[0] == 503  # the refusals changed nothing

    # /api/ only: the frontend serves, the API answers the page
    out = fab("-H", "cpu", "maintenance", "on", "--scope=api")
    assert "/api/가 503" in out
    assert client.get("/")[0] == 200
    status, headers, body = client.get("/api/version")
    assert status == 503 and headers["retry-after"] == "300" and "서비스 점검 중입니다" in body
    assert on(lab, "cpu", f"ls {DIR}") == "api.on\npage.html"

    out = fab("-H", "cpu", "maintenance", "off")
    assert "점검 페이지 꺼짐" in out
    assert client.get("/")[0] == 200
    status, _, body = client.get("/api/version")
    assert status == 200 and "version" in body
    assert nginx_pids(lab) == before, "nginx was reloaded or restarted"
