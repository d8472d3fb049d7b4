"""`fab health`: every host's health checks, run on the host (the ports are not public), and
the site asked from this machine as a browser asks it: ``https://<server_name>/``, its
certificate verified against this machine's trust store, its days left shown (a warning
under 21)."""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.engine.console import Console
from tasks.errors import DeployToolError
from tasks.hosts import site
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host, Inventory
from tasks.hosts.remote import ConnectionLost
from tasks.hosts.secrets import Secrets
from tasks.setup.tls import WARN_DAYS


@dataclass(frozen=True)
class Answer:
    """What the site answered this machine: an HTTP status (0: no answer) and the
    certificate's days left (None: plain HTTP or no certificate seen)."""

    url: str
    status: int
    days_left: int | None = None
    error: str = ""


def ask_site(url: str, timeout: float = 10) -> Answer:
    """GET ``url`` from this machine (TLS verified against the system's trust store, or
    SSL_CERT_FILE); never raises."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    try:
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, port or 443, timeout=timeout,
                                               context=ssl.create_default_context())  # fmt: skip
        else:
            conn = http.client.HTTPConnection(host, port or 80, timeout=timeout)
        try:
            conn.request("GET", parts.path or "/")
            days = None
            if parts.scheme == "https":
                cert = conn.sock.getpeercert()
                days = int((ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) // 86400)
            status = conn.getresponse().status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ssl.SSLError, ValueError, KeyError) as exc:
        return Answer(url, 0, error=_why(exc))
    return Answer(url, status, days)


def _why(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"인증서 검증 실패 ({exc.verify_message})"
    return f"{type(exc).__name__}: {exc}"


#: a row's first word: what the operator looks for
OK, BAD, UNREACHABLE = "정상", "비정상", "연결 안 됨"


def outside_row(answer: Answer) -> tuple[bool, str]:
    """(healthy, shown): the site's answer to this machine, the certificate's days left."""
    if not answer.status:
        return False, f"{BAD}  {answer.url}: {answer.error}"
    if answer.status != 200:
        return False, f"{BAD}  {answer.url}: HTTP {answer.status}"
    if answer.days_left is None:
        return True, f"{OK}  {answer.url} (tls=off: 평문 HTTP, 시험용)"
    days = f"인증서 {answer.days_left}일 남음"
    if answer.days_left < WARN_DAYS:
        return True, f"{OK}  {answer.url}  경고: {days} ({WARN_DAYS}일 미만: 갱신을 확인하십시오)"
    return True, f"{OK}  {answer.url}  {days}"


class Row(NamedTuple):
    host: str
    app: str
    ok: bool
    shown: str


def unreachable(problem: str) -> str:
    return f"{UNREACHABLE}  호스트에 접속하지 못해 확인하지 못했습니다 ({problem})"


def host_rows(host: Host, comps: list, secrets: Secrets, connect_host) -> list[Row]:
    """A row for each app of the host; a host that cannot be reached (or is lost midway)
    is a row per app saying so, never the end of `fab health`."""
    try:
        remote = connect_host(host, secrets)
    except DeployToolError as exc:
        return [Row(host.alias, comp.name, False, unreachable(exc.problem)) for comp in comps]
    rows = []
    try:
        for comp in comps:
            check = strategy_for(host.settings).health_command(comp, host.settings)
            try:
                res = remote.run(check, timeout=30)
                ok, shown = res.ok, OK if res.ok else f"{BAD}  {res.tail(1)}"
            except ConnectionLost as exc:
                ok, shown = False, f"{UNREACHABLE}  연결이 끊겼습니다 ({exc})"
            rows.append(Row(host.alias, comp.name, ok, shown))
    finally:
        remote.close()
    return rows


def check_all(inv: Inventory, secrets: Secrets, console: Console | None = None,
              connect_host=connect, ask=ask_site) -> bool:  # fmt: skip
    """Every host's apps, then the site from this machine (asked even when its host could
    not be reached: the name may answer from elsewhere). Reads only: writes no record."""
    console = console or Console(secrets)
    rows: list[Row] = []
    asked: set[str] = set()
    for host in inv.hosts.values():
        comps = registry.on_host(host.groups, host.alias)
        rows += host_rows(host, comps, secrets, connect_host)
        url = site.site_url(host.settings)
        if registry.FRONTEND in comps and site.names(host.settings) and url not in asked:
            asked.add(url)  # hosts behind one name: asked once
            rows.append(Row(host.alias, "site (이 컴퓨터에서)", *outside_row(ask(url))))
    console.table(("호스트", "앱", "결과"), [(r.host, r.app, r.shown) for r in rows])
    return all(r.ok for r in rows)
