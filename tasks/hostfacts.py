"""Small shell pieces the setup, precondition and drift commands share (pure builders).

- :data:`TRACK` / :func:`tracked`: an idempotent command says what it changed. Its body calls
  ``ch "<what>"`` for each change (``note "<text>"`` for what the operator must read); its
  last line is ``변경: <what>, ...`` or ``변경 없음: …``, then the notes (the step's detail,
  which `fab setup` adds up to say "no changes").
- :func:`norm_origin`: a git origin as host/path, so ``git@github.com:org/app.git`` and
  ``https://github.com/org/app`` compare equal.
- :func:`served_version`: the version a service reports (a JSON field or a regex group).
- :func:`record_lookup`: a field of a revision in the tool's release record on the host.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tasks.hosts.site import resolve_for
from tasks.shell import q, resolve_option

CHANGED_MARK = "변경:"
UNCHANGED = "변경 없음"

TRACK = 'set -e; c=; n=; ch() { c="${c:+$c, }$1"; }; note() { n="${n:+$n; }$1"; }'


def tracked(body: str, unchanged: str = "") -> str:
    """``body`` with ``ch`` (a change) and ``note`` (something the operator must read), and a
    last line saying what changed (``unchanged``: what it was), then the notes."""
    same = q(f"{UNCHANGED}: {unchanged}" if unchanged else UNCHANGED)
    return (
        f'{TRACK}; {body}; if [ -n "$c" ]; then echo "{CHANGED_MARK} $c${{n:+ — $n}}"; '
        f'else echo {same}"${{n:+ — $n}}"; fi'
    )


def ch(what: str) -> str:
    """The shell call that records a change named ``what`` (quoted: values stay words)."""
    return f"ch {q(what)}"


def changed(detail: str) -> bool:
    """Whether a step's detail (its last line) reports a change."""
    return detail.startswith(CHANGED_MARK)


NORM_FN = (
    "norm() { printf '%s' \"$1\" | sed -E "
    "'s#^[A-Za-z][A-Za-z0-9+.-]*://##; s#^[^@/]+@##; s#^([^/:]+):[0-9]+/#\\1/#; "
    "s#^([^/:]+):#\\1/#; s#/+$##; s#\\.git$##' | tr 'A-Z' 'a-z'; }"
)


def norm_origin(url: str) -> str:
    """The same normalization as :data:`NORM_FN`, in Python (for messages and tests)."""
    u = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", url)
    u = re.sub(r"^[^@/]+@", "", u)
    u = re.sub(r"^([^/:]+):[0-9]+/", r"\1/", u)
    u = re.sub(r"^([^/:]+):", r"\1/", u)
    u = re.sub(r"/+$", "", u)
    u = re.sub(r"\.git$", "", u)
    return u.lower()


_EXTRACT = (
    "import json, re, sys\n"
    "how, _, what = sys.argv[-1].partition(':')\n"
    "text = sys.stdin.read()\n"
    "if how == 'json':\n"
    "    v = json.loads(text)\n"
    "    for part in what.split('.'):\n"
    "        v = v[part]\n"
    "else:\n"
    "    v = re.search(what, text).group(1)\n"
    "print(v)\n"
)


def served_version(url: str, match: str, site_names: Sequence[str] = ()) -> str:
    """Prints the version the service at ``url`` reports; fails when it cannot be read. A
    ``url`` on one of ``site_names`` (server_name) asks this host's nginx by that name."""
    return (
        f"curl -fsSL --max-time 10 {resolve_option(resolve_for(url, site_names))}-- {q(url)} "
        f"| python3 -c {q(_EXTRACT)} -- {q(match)} 2>/dev/null"
    )


_LOOKUP = (
    "import json, sys\n"
    "try:\n"
    "    d = json.load(open(sys.argv[-3]))\n"
    "except (OSError, ValueError):\n"
    "    d = {}\n"
    "print(d.get('revisions', {}).get(sys.argv[-2], {}).get(sys.argv[-1], ''))\n"
)


def record_lookup(record: str, rev: str, field: str) -> str:
    """Prints ``field`` of revision ``rev`` in the release record (empty when unknown)."""
    return f"python3 -c {q(_LOOKUP)} -- {q(record)} {q(rev)} {q(field)}"
