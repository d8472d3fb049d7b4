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
            f"{checkout} on {alias} has no {remote} remote: a local build of {component} "
            f"fetches from {want} ({setting}) and deploys to a checkout of that origin only",
            f"on {alias}: git -C {q(checkout)} remote add {q(remote)} {q(want)} (after finding "
            "out why it has none)",
        )
    diff = differences(want, got)
    if diff:
        raise ConfigError(
            f"{checkout} on {alias} has origin {got}, but {setting} is {want} (they differ in: "
            f"{', '.join(diff)}): a local build fetches and builds only from the inventory's "
            "origin, compared exactly, and deploys only to a checkout of it; nothing was "
            "changed",
            f"find out who changed the checkout's origin; if {setting} is right, on {alias}: "
            f"git -C {q(checkout)} remote set-url {q(remote)} {q(want)}; if the inventory is "
            f"wrong, correct {setting}",
        )
