"""Where a local build's code comes from: the inventory's ``<component>_repo``, and only that.

A local build runs the revision's own build scripts on this machine (``npm ci`` and its
install scripts, the Gradle wrapper and its plugins, pip's builds), the machine that holds
the admin key and every secret. So the origin it fetches from is the operator's word (the
inventory), never the host's: a host whose deploy login was taken over must not be able to
point this machine at code of its choosing. The host's checkout is only compared with it,
exactly, and a difference is refused, naming both, before anything changes:

- the same text, character for character: scheme, user, host, port and path all count, so
  ``ssh://git@h:22/org/app.git``, ``git@h:org/app.git`` and ``https://h/org/app.git`` are three
  origins (the host-side checks, which only say whether a checkout is the right one, compare
  them loosely: tasks/hostfacts.py ``norm_origin``);
- a trailing ``.git`` or ``/`` is not ignored either: whether ``app``, ``app/`` and
  ``app.git`` name the same repository is the server's choice (GitHub maps them together;
  ``git daemon`` and a plain HTTP server can serve different repositories under them).
  ``fab setup`` clones ``<component>_repo`` as written, so a host it set up names it exactly;
  a checkout cloned by hand is put right with one ``git remote set-url`` (the refusal
  prints it).
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass, fields

from tasks.errors import ConfigError
from tasks.shell import q

_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:(?P<user>[^@/]*)@)?"
                  r"(?P<host>\[[^\]]*\]|[^/:]*)(?::(?P<port>[^/]*))?(?P<path>.*)")  # fmt: skip
#: git's scp-like syntax: [user@]host:path, a colon before any slash
_SCP = re.compile(r"(?:(?P<user>[^@/]*)@)?(?P<host>\[[^\]]*\]|[^/:]+):(?P<path>.*)")


@dataclass(frozen=True)
class Parts:
    """An origin's parts, as git reads them (scp-like syntax: scheme ``ssh``, as git uses)."""

    scheme: str
    user: str
    host: str
    port: str
    path: str


def parts(url: str) -> Parts:
    m = _URL.fullmatch(url)
    if m:
        return Parts(m["scheme"], m["user"] or "", m["host"], m["port"] or "", m["path"])
    m = _SCP.fullmatch(url)
    if m and "/" not in url.split(":", 1)[0]:
        return Parts("ssh", m["user"] or "", m["host"], "", m["path"])
    return Parts("file", "", "", "", url)  # a local path


def differences(want: str, got: str) -> list[str]:
    """The parts in which ``got`` differs from ``want`` (empty when they are the same text)."""
    if want == got:
        return []
    a, b = parts(want), parts(got)
    named = [
        f.name for f, x, y in zip(fields(Parts), astuple(a), astuple(b), strict=True) if x != y
    ]
    return named or ["spelling"]  # the same parts written another way (scp-like vs ssh://)


def check_host(want: str, got: str, component: str, alias: str, checkout: str,
               remote: str) -> None:  # fmt: skip
    """Refuse a host whose checkout's ``remote`` is not exactly ``want`` (the inventory's)."""
    setting = f"{component}_repo"
    if not got:
        raise ConfigError(
            f"{alias}의 {checkout}에 {remote} 리모트가 없습니다: {component} 로컬 빌드는 "
            f"{want}({setting})에서 받아 그 origin의 체크아웃에만 배포합니다",
            f"리모트가 없는 이유를 먼저 알아본 뒤, {alias}에서 git -C {q(checkout)} remote add "
            f"{q(remote)} {q(want)}를 실행하십시오",
        )
    diff = differences(want, got)
    if diff:
        raise ConfigError(
            f"{alias}의 {checkout}의 origin은 {got}인데 {setting}은 {want}입니다(다른 부분: "
            f"{', '.join(diff)}). 로컬 빌드는 인벤토리의 origin과 정확히 같은 곳에서만 받아 "
            "빌드하고 그 체크아웃에만 배포합니다. 아무것도 바꾸지 않았습니다",
            f"누가 체크아웃의 origin을 바꿨는지 먼저 알아보십시오. {setting}이 맞다면 {alias}에서 "
            f"git -C {q(checkout)} remote set-url {q(remote)} {q(want)}를 실행하고, 인벤토리가 "
            f"틀렸다면 {setting}을 고치십시오",
        )
