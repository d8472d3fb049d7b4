"""Hosts changed outside the tool: what runs is compared with the last record before a
deploy or rollback, and the record keeps what each revision really was.

The record (``<state_dir>/releases/<component>.json`` on the host) says, for every revision
the tool deployed or found serving, what it was: the checksum of its artifact (the backend's
jar, the frontend's index.html, which names its hashed assets) and the version it reported
(``<component>_version_url``); ``current`` is the revision the tool left serving.

Before a deploy or rollback the host is probed (checkout HEAD, artifact checksum, served
version) and compared with ``current``. A difference is said plainly. When the artifact or
the served version differ (someone deployed by hand: the manual's own script), what serves
is taken to be the checkout's HEAD, and recorded as such: the jar kept for rollback (B6a,
named by its checksum) and the rollback target are then the right ones. When only the
checkout moved (a pull without a deploy) the record still says what serves. The AI server
runs from its checkout, so its HEAD is what serves.

Rollbacks look the target's artifact and version up in this record; the version check after
a rollback compares what is served with what the target served when it was recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from tasks.apps.base import App
from tasks.engine.records import RUN_FILE_MODE
from tasks.engine.view import RunView
from tasks.hostfacts import record_lookup, served_version
from tasks.hosts import site
from tasks.hosts.settings import Settings
from tasks.shell import q

LIMIT = 30


def record_path(s: Settings, comp: str) -> str:
    return f"{s.state_dir}/releases/{comp}.json"


def version_source(s: Settings, comp: str) -> tuple[str, str]:
    return getattr(s, f"{comp}_version_url"), getattr(s, f"{comp}_version_match")


def probe_command(s: Settings, comp: App) -> str:
    """Prints head=, artifact=, version= (empty: unknown); read-only, as the login user."""
    art = comp.served_file(s)
    url, match = version_source(s, comp.name)
    parts = [f'echo "head=$(git -C {q(comp.checkout(s))} rev-parse HEAD 2>/dev/null || echo -)"']
    parts.append(
        f'echo "artifact=$(sha256sum -- {q(art)} 2>/dev/null | cut -c1-64 || true)"'
        if art
        else 'echo "artifact="'
    )
    parts.append(
        f'echo "version=$({served_version(url, match, site.names(s))} || true)"'
        if url
        else 'echo "version="'
    )
    return "; ".join(parts)


@dataclass(frozen=True)
class Seen:
    head: str = ""
    artifact: str = ""
    version: str = ""


def parse_probe(stdout: str) -> Seen:
    values = {}
    for line in stdout.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = "" if value.strip() == "-" else value.strip()
    return Seen(values.get("head", ""), values.get("artifact", ""), values.get("version", ""))


def differences(seen: Seen, rev: str, entry: dict) -> dict[str, str]:
    """What differs between the host and the record of ``rev``: {what: plain words} (pure)."""
    out = {}
    if seen.head and rev and seen.head != rev:
        out["head"] = f"코드(checkout)는 {seen.head[:12]}인데 기록은 {rev[:12]}"
    if seen.artifact and entry.get("artifact") and seen.artifact != entry["artifact"]:
        out["artifact"] = f"실행 파일 sha256 {seen.artifact[:12]}… ≠ 기록 {entry['artifact'][:12]}…"
    if seen.version and entry.get("version") and seen.version != entry["version"]:
        out["version"] = f"제공 중인 버전 {seen.version} ≠ 기록 {entry['version']}"
    return out


def serving(comp: App, seen: Seen, record: dict, stack: list[str]) -> tuple[str, list[str]]:
    """(the revision that serves, the differences to report)."""
    current = record.get("current", "")
    if not current:  # no record yet: the deployed-revision stack, else the checkout
        return (stack[-1] if stack else seen.head), []
    entry = record.get("revisions", {}).get(current, {})
    diffs = differences(seen, current, entry)
    if not diffs:
        return current, []
    if comp.serves_its_checkout or "artifact" in diffs or "version" in diffs:
        return seen.head or current, list(diffs.values())
    # only the checkout moved (a pull without a deploy): what serves is the recorded one
    return current, list(diffs.values())


def updated(record: dict, rev: str, seen: Seen, how: str, now: str) -> dict:
    """The record with ``rev`` serving, as ``seen`` (pure)."""
    revisions = dict(record.get("revisions", {}))
    old = revisions.pop(rev, {})
    revisions[rev] = {
        "artifact": seen.artifact or old.get("artifact", ""),
        "version": seen.version or old.get("version", ""),
        "how": how,
        "time": now,
    }
    keep = list(revisions)[-LIMIT:]
    return {"current": rev, "revisions": {r: revisions[r] for r in keep}}


# --- on a session ------------------------------------------------------------------------
def probe(session, comp: App) -> Seen:
    return parse_probe(session.query(probe_command(session.view.s, comp)))


def read(session, comp: str) -> dict:
    text = session.query(f"cat {q(record_path(session.view.s, comp))} 2>/dev/null || true")
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        data = {}
    return data if isinstance(data, dict) else {}


def write(session, comp: str, record: dict) -> None:
    path = record_path(session.view.s, comp)
    tmp = f"{path}.{session.view.run_id}.tmp"
    session.remote.run(f"mkdir -p {q(path.rsplit('/', 1)[0])}")
    session.remote.put_text(json.dumps(record, indent=1) + "\n", tmp, mode=RUN_FILE_MODE)
    session.remote.run(f"mv -f {q(tmp)} {q(path)}")


def reconcile(session, comp: App, stack: list[str], head: str = "") -> str:
    """Before a deploy or rollback: the revision that really serves (said plainly when the
    host differs from the record), recorded as such. Returns it."""
    seen = probe(session, comp)
    if head:
        seen = Seen(head, seen.artifact, seen.version)
    record = read(session, comp.name)
    rev, diffs = serving(comp, seen, record, stack)
    out = session.console.out
    if diffs:
        out(f"!! {session.view.host.alias}의 {comp.label}이(가) 도구의 마지막 기록과 다릅니다 "
            "(도구 밖에서 배포·수정됨):")  # fmt: skip
        for d in diffs:
            out(f"   - {d}")
        out(f"   → 지금 제공 중인 것을 {rev[:12]}"
            + (f" (버전 {seen.version})" if seen.version else "")
            + "(으)로 기록하고 진행합니다 (롤백하면 이것으로 돌아옵니다)")  # fmt: skip
    if rev:
        entry = record.get("revisions", {}).get(rev, {})
        how = "found" if diffs or not entry else entry.get("how", "deployed")
        write(session, comp.name, updated(record, rev, seen, how, _now()))
    return rev


def remember(session, comp: App, rev: str) -> None:
    """After a deploy or rollback that ended well: ``rev`` serves, as probed now."""
    seen = probe(session, comp)
    write(session, comp.name, updated(read(session, comp.name), rev, seen, "deployed", _now()))


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def lookup(v: RunView, comp: str, field: str) -> str:
    """Shell: prints ``field`` of the rollback target in the record ("" when unknown)."""
    return record_lookup(record_path(v.s, comp), v.back_to, field)
