"""`fab maintenance on|off`: nginx answers 503 with a Korean maintenance page, for the whole
site or /api/ only, and `restore-db`'s offer of it.

The page and its flag are root's (the root helper's ``maintenance`` verb writes them in
:data:`~tasks.onhost.roothelper.MAINTENANCE_DIR`); the site's nginx config tests for the flag
at every request (templates/nginx/site.conf.j2), so a toggle never reloads nginx. The
message reaches the helper base64url-encoded: never as shell text. The builders here are
pure; :func:`toggle` and :func:`show` talk to the host.
"""

from __future__ import annotations

import base64
import json

from tasks.engine.checklist import ask
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts import site
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.onhost import roothelper
from tasks.procedures.health import ask_site
from tasks.shell import q, root_helper

STATES = ("on", "off")
SCOPES = roothelper.MAINTENANCE_SCOPES
SCOPE_NAMES = {"site": "사이트 전체", "api": "/api/"}


def check_input(state: str | None, scope: str, message: str) -> None:
    """Bad input, refused before any host is contacted (the helper checks it again)."""
    if state is not None and state not in STATES:
        raise ConfigError(f"알 수 없는 동작입니다: {state!r} (expected on or off)",
                          "fab -H cpu maintenance on --message=... | off | (없으면 상태 표시)")  # fmt: skip
    if scope not in SCOPES:
        raise ConfigError(f"--scope={scope!r}은(는) 쓸 수 없습니다 (scope must be site or api)",
                          "--scope=site (사이트 전체, 기본) 또는 --scope=api (/api/ 만)")  # fmt: skip
    if state != "on" and message:
        raise ConfigError("--message는 on과 함께만 씁니다 (message without on)",
                          "fab -H cpu maintenance on --message=...")  # fmt: skip
    limit = roothelper.MAINTENANCE_MESSAGE_MAX
    if len(message) > limit:
        raise ConfigError(f"--message가 {len(message)}자입니다 (longer than {limit})",
                          f"{limit}자 이하로 줄이십시오")  # fmt: skip
    if not message.isprintable():
        raise ConfigError("--message에 줄바꿈이나 제어 문자가 있습니다 (control characters)",
                          "한 줄의 글로 쓰십시오")  # fmt: skip


def encode(message: str) -> str:
    return base64.urlsafe_b64encode(message.encode("utf-8")).decode("ascii")


def on_command(scope: str, message: str) -> str:
    """The helper call that turns the page on (the message base64url-encoded)."""
    return root_helper("maintenance", "on", scope, encode(message))


def off_command() -> str:
    return root_helper("maintenance", "off")


def status_command() -> str:
    """Prints each flag's JSON line (readable by anyone: the directory is 0755)."""
    flags = " ".join(q(roothelper.maintenance_flag(s)) for s in SCOPES)
    return f'for f in {flags}; do if [ -f "$f" ]; then cat -- "$f"; fi; done'


def wired_command(s) -> str:
    """Succeeds when the site's nginx config tests for the flags (a site pushed by a version
    before this one would ignore them: the page would be 'on' and nothing served it)."""
    return f"grep -qF -- {q(roothelper.MAINTENANCE_DIR)} {q(s.nginx_site)}"


def parse_status(text: str) -> list[dict]:
    """The flags' JSON lines, as dicts (a line that is not one is skipped)."""
    states = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("scope") in SCOPES:
            states.append(item)
    return states


def describe(alias: str, states: list[dict]) -> list[str]:
    """Korean lines for the operator: what answers 503, since when, with which message."""
    if not states:
        return [f"{alias}: 점검 페이지 꺼짐 (maintenance off)"]
    lines = []
    for st in states:
        where = SCOPE_NAMES[st["scope"]]
        lines.append(f"{alias}: 점검 페이지 켜짐 (maintenance on): {where}가 503을 돌려줍니다 "
                     f"(시작 {st.get('since', '?')})")  # fmt: skip
        if st.get("message"):
            lines.append(f"  메시지: {st['message']}")
    lines.append(f"  끄려면: fab -H {alias} maintenance off")
    return lines


def probe_url(s, scope: str) -> str:
    """The URL whose answer shows the page's state for ``scope``."""
    url = site.site_url(s)
    return url + "api/" if scope == "api" else url


def _probe(console: Console, s, scope: str, expect_on: bool, ask_url) -> None:
    """Ask the site from this machine, as a browser would, and say what it answered (a
    look, not a gate: this machine may not reach the site)."""
    if not site.names(s):
        return
    answer = ask_url(probe_url(s, scope))
    if not answer.status:
        console.out(f"  확인 불가: {answer.url}에 이 컴퓨터에서 닿지 않습니다 ({answer.error})")
    elif (answer.status == 503) == expect_on:
        console.out(f"  확인: {answer.url} → HTTP {answer.status}")
    else:
        console.out(f"  경고: {answer.url}이(가) HTTP {answer.status}로 응답합니다 "
                    f"({'503' if expect_on else '503이 아닌 응답'}을 기대했습니다)")  # fmt: skip


def toggle(host: Host, secrets: Secrets, state: str, scope: str = "site", message: str = "",
           dry_run: bool = False, console: Console | None = None, connect_host=connect,
           ask_url=ask_site) -> None:  # fmt: skip
    """Turn the page on or off on ``host``; nginx is not reloaded."""
    check_input(state, scope, message)
    console = console or Console(secrets)
    command = on_command(scope, message) if state == "on" else off_command()
    if dry_run:
        console.out(f"$ {wired_command(host.settings)}")
        console.out(f"$ {command}")
        if message:
            console.out(f"  (메시지는 base64url로 전달합니다: {message})")
        return
    remote = connect_host(host, secrets)
    try:
        if state == "on" and not remote.run(wired_command(host.settings)).ok:
            raise ConfigError(
                f"{host.alias}의 nginx 사이트 설정({host.settings.nginx_site})에 점검 페이지 "
                "설정이 없습니다 (site config predates the maintenance page)",
                f"먼저 `fab -H {host.alias} push-config`를 실행하십시오",
            )
        res = remote.run(command, timeout=60)
        if not res.ok:
            raise ConfigError(f"{host.alias}: 점검 페이지를 바꾸지 못했습니다: {res.tail(3)}",
                              f"`fab -H {host.alias} setup`으로 루트 도우미를 이 버전으로 "
                              "설치했는지 확인하십시오")  # fmt: skip
        states = parse_status(remote.run(status_command()).stdout)
    finally:
        remote.close()
    for line in describe(host.alias, states):
        console.out(line)
    _probe(console, host.settings, scope, state == "on", ask_url)


def show(host: Host, secrets: Secrets, console: Console | None = None,
         connect_host=connect) -> list[dict]:  # fmt: skip
    """Print whether the page is on (and for what, since when); returns the flags."""
    console = console or Console(secrets)
    remote = connect_host(host, secrets)
    try:
        states = parse_status(remote.run(status_command()).stdout)
    finally:
        remote.close()
    for line in describe(host.alias, states):
        console.out(line)
    return states


def wanted_for_restore(yes: bool, maintenance: bool, dry_run: bool, reader=None) -> bool:
    """Whether `restore-db` turns the page on for the restore (and off after): --maintenance
    says yes; otherwise it asks, and with --yes (no one to ask) it does not."""
    if maintenance:
        return True
    if yes or dry_run:
        return False
    question = "복원하는 동안 점검 페이지를 켤까요? (복원이 끝나면 끕니다)"
    return ask(question, False, **({"reader": reader} if reader else {}))[0]
