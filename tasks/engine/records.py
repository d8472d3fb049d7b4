"""Deploy records (배포 기록) and the deployed-revision stack.

Every task that touches a host (deploy, rollback, backup, restore, setup, push-config)
appends one JSON line to ``history.jsonl`` on the host (in the ``state_dir`` setting) and
locally (``DOJANGKOK_HISTORY``, default ``~/.local/state/dojangkok-deploy/history.jsonl``),
whatever its end: ok, failed, rolled back, declined, interrupted. Per component, the host
also keeps ``<component>.json``: the revisions deployed by the tool, oldest first. Rollback
goes to the one before the newest: the previously *deployed* revision, not ``HEAD~1``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from tasks.engine.live import Live, WithRecord
from tasks.engine.view import new_run_id, operator_host, operator_name
from tasks.errors import ConfigError
from tasks.hosts import environment
from tasks.hosts.remote import ConnectionLost
from tasks.shell import q

STACK_LIMIT = 20
#: every file the tool writes on a host for itself (records, the revision stack, the lock's
#: info, a host run's files) is the deploy login's alone: what ran, when, by whom, with which
#: output is nobody else's business on a shared server
RUN_FILE_MODE = "600"


#: records this process wrote (a run refused before any task's record: ``refused``)
written = 0


def local_history_path() -> Path:
    default = Path.home() / ".local/state/dojangkok-deploy/history.jsonl"
    return Path(os.environ.get("DOJANGKOK_HISTORY", default))


def host_history_path(state_dir: str) -> str:
    return f"{state_dir}/history.jsonl"


def state_file(session: Live) -> str:
    return f"{session.view.s.state_dir}/{session.view.component}.json"


def stack_command(session: Live) -> str:
    """Prints the deployed-revision stack's file (nothing when there is none)."""
    return f"cat -- {q(state_file(session))} 2>/dev/null || true"


def parse_stack(text: str) -> list[str]:
    if not text:
        return []
    try:
        return list(json.loads(text).get("deployed", []))
    except (json.JSONDecodeError, AttributeError):
        return []


def read_stack(session: Live) -> list[str]:
    return parse_stack(session.query(stack_command(session)))


def write_stack(session: Live, stack: list[str]) -> None:
    """The stack, written on the host with the run's record (in its round trip): the last
    thing a successful deploy or rollback changes there."""
    body = json.dumps({"deployed": stack[-STACK_LIMIT:]}, indent=1) + "\n"
    path = state_file(session)
    tmp = f"{path}.{session.view.run_id}.tmp"
    session.with_record.append(WithRecord(f"mv -f -- {q(tmp)} {q(path)}",
                                          f"배포 리비전 목록 ({path})", ((body, tmp, RUN_FILE_MODE),)))  # fmt: skip


def pushed(stack: list[str], from_rev: str, to_rev: str) -> list[str]:
    """The stack after a deploy of ``to_rev`` that replaced ``from_rev``."""
    stack = list(stack) or [from_rev]
    if stack[-1] != from_rev:
        stack.append(from_rev)  # someone deployed by hand meanwhile
    if stack[-1] != to_rev:
        stack.append(to_rev)
    return stack


def previous(stack: list[str], current: str) -> str | None:
    """The revision to roll back to: the newest deployed one that is not ``current``."""
    for rev in reversed(stack):
        if rev != current:
            return rev
    return None


def popped(stack: list[str], bad: str, good: str) -> list[str]:
    """The stack after rolling back from ``bad`` to ``good``."""
    stack = [r for r in stack if r != bad]
    while stack and stack[-1] != good:
        stack.pop()
    return stack or [good]


def write_local(line: str) -> Path:
    """Append to the local history: the operator's alone (0600 in a 0700 directory)."""
    global written
    written += 1
    path = local_history_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)  # a file an older tool (or a copy) left readable: private first
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(line)
    return path


#: printed by the host when the deploy lock was released with the record (append's unlock)
UNLOCKED = "@@dojangkok-unlocked"
#: printed (with its index) for each of the run's leftovers that failed (append's with_record)
NOT_DONE = "@@dojangkok-not-done-"


def append(session: Live, entry: dict, unlock: str = "") -> bool:
    """Append one record locally and, when the host can be reached, on the host (masked).
    First, in the same round trip, what the run left for it (``session.with_record``: the
    host run's acknowledgement, the deployed-revision stack). ``unlock``: the deploy lock's
    release command, run right after the record is on the host; returns whether it ran and
    succeeded (otherwise the lock is still to be released)."""
    line = session.secrets.mask(json.dumps(entry, ensure_ascii=False)) + "\n"
    path = write_local(line)
    remote = host_history_path(session.view.s.state_dir)
    extra, session.with_record = session.with_record, []
    problem, unlocked, undone = "", False, [e.what for e in extra]
    if session.remote is None or not session.remote.alive:
        problem = "호스트에 연결되어 있지 않음"
    else:
        tmp = f"{remote}.{session.view.run_id}.tmp"
        # each of the run's leftovers on its own: one failing says so and stops none
        then = "".join(
            f"{{ {e.command}; }} || echo {NOT_DONE}{i} >&2; " for i, e in enumerate(extra)
        )
        # the host's history: the deploy login's alone (0600, made so if it is not: an older
        # tool left 0640); the line is appended from a file (one write)
        then += (
            f"(umask 077 && cat -- {q(tmp)} >> {q(remote)}) && rm -f -- {q(tmp)} && "
            f"chmod {RUN_FILE_MODE} -- {q(remote)}"
        )
        if unlock:  # whether the record was written or not: the lock is released
            then = f"{{ {then}; }}; a=$?; if {unlock}; then echo {UNLOCKED}; fi; exit $a"
        files = [(line, tmp, RUN_FILE_MODE), *(f for e in extra for f in e.files)]
        try:
            res = session.remote.put_texts(files, then=then)
            unlocked = UNLOCKED in res.stdout
            undone = [e.what for i, e in enumerate(extra) if f"{NOT_DONE}{i}" in res.stderr]
            said = re.sub(f"{NOT_DONE}[0-9]+", "", res.tail(3).replace(UNLOCKED, "")).strip()
            problem = "" if res.ok else said
        except (OSError, ConnectionLost) as exc:  # e.g. no state dir yet: stopped before step 0
            problem = str(exc)
    if problem:
        session.console.out(f"! 호스트에 배포 기록을 쓰지 못했습니다 ({remote}): {problem}")
        session.console.out(f"  로컬 기록은 남았습니다: {path}")
    for what in undone:
        session.console.out(f"!!! 호스트에 쓰지 못했습니다: {what}")
    return unlocked


def _environment() -> str:
    """The environment's name for a refusal record: one refused for a bad name keeps ""."""
    try:
        return environment.current()
    except ConfigError:
        return ""


def refused(task: str, host: str, problem: str, fix: str, mask) -> None:
    """The local record of a run that ended before it wrote one: refused at start (the
    settings, the secrets, a bad option, a host that cannot be reached or whose key
    changed). ``mask``: the secrets' masker (the message never holds a value; in case)."""
    entry = {
        "run_id": new_run_id(),
        "time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "operator": operator_name(),
        "machine": operator_host(),
        "kind": task,
        "host": host,
        "result": "refused",
        "message": problem,
        "fix": fix,
        "environment": _environment(),
    }
    write_local(mask(json.dumps(entry, ensure_ascii=False)) + "\n")
