"""The team's history (`fab history`): every host's records merged with this machine's.

Every run writes its record twice (tasks/engine/records.py): on this machine
(``DOJANGKOK_HISTORY``) and on the host, ``<state_dir>/history.jsonl`` (the deploy login's,
0600). So a teammate's deploy is on the host even when it is not on this laptop: `fab
history` reads each inventory host's file in one command over one connection (the hosts
at once), merges them with the local file, keeps one record per run id (this machine's
first: it is the operator's own), and shows the newest first. A host that cannot be
reached is named in one line; the others and the local file are still shown.

Whatever a host sends is text to show, never to act on: a line that is not a JSON object
is skipped, every text made safe for a terminal, and a host is asked for only as many
records as are shown (:func:`host_read_command`), each of a bounded size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from tasks.durations import downtime_text, duration_text
from tasks.engine.console import Console, cell_len
from tasks.engine.records import host_history_path, local_history_path
from tasks.engine.report import RESULTS
from tasks.errors import ConfigError, DeployToolError
from tasks.hosts.connect import connect as ssh_connect
from tasks.hosts.inventory import Host, Inventory
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.hosts.secrets import Secrets
from tasks.shell import q
from tasks.terminal import safe

#: the most a host sends per record asked (a deploy's record, with its steps: ~10 KB)
MAX_BYTES_PER_RECORD = 256 * 1024
#: what --app takes: the apps, and the database (backup-db, restore-db)
MESSAGE_WIDTH = 40

#: a record's task (its ``kind``); a refused run's is the task's own name, shown as stored
KINDS = {
    "deploy": "배포",
    "rollback": "롤백",
    "backup": "DB 백업",
    "restore": "DB 복원",
    "setup": "setup",
    "config": "push-config",
}
HEADERS = ("시각", "작업자", "작업", "앱", "호스트", "리비전", "결과", "소요", "다운타임", "메시지")


# --- reading ------------------------------------------------------------------------------
def app_mark(app: str) -> str:
    """How an app's records read in a history file (json.dumps, as records.py writes them):
    a cheap pre-filter only, each line found is parsed and checked again."""
    return json.dumps({"component": app})[1:-1]


def host_read_command(state_dir: str, limit: int, app: str | None = None) -> str:
    """Prints the host's newest ``limit`` records (of ``app``); nothing when it has none yet
    (a host never deployed to); a file the login cannot read fails, saying why. The newest
    ``limit`` of all sources are among each source's newest ``limit``: no more is read.
    At most :data:`MAX_BYTES_PER_RECORD` a record: a damaged file stays a small answer."""
    path = q(host_history_path(state_dir))
    pick = (f"grep -F -e {q(app_mark(app))} -- {path} | tail -n {int(limit)}" if app
            else f"tail -n {int(limit)} -- {path}")  # fmt: skip
    return f"if [ -e {path} ]; then {pick} | head -c {int(limit) * MAX_BYTES_PER_RECORD}; fi"


def parse(text: str) -> list[dict]:
    """The records in ``text`` (JSON lines), each text made safe for a terminal; a line
    that is not a JSON object (cut short, planted, an older format) is skipped."""
    found = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            found.append(_safe(rec))
    return found


def _safe(value):
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {safe(str(k)): _safe(v) for k, v in value.items()}
    return value


def read_local_file(limit: int, app: str | None = None, path: Path | None = None) -> list[dict]:
    """This machine's newest ``limit`` records (of ``app``)."""
    path = path or local_history_path()
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if app:
        lines = [line for line in lines if app_mark(app) in line]
    return parse("\n".join(lines[-limit:]))


def read_host(host: Host, secrets: Secrets, connect: Callable, limit: int,
              app: str | None = None) -> list[dict]:  # fmt: skip
    """One host's records: one command over one connection (the deploy login's)."""
    remote = connect(host, secrets, label="history")
    try:
        res = remote.run(host_read_command(host.settings.state_dir, limit, app), timeout=60)
    finally:
        remote.close()
    if not res.ok:
        said = res.tail(1) or f"exit {res.exit}"
        raise ConfigError(f"{host_history_path(host.settings.state_dir)}: {said}")
    return parse(res.stdout)


def read_hosts(hosts: Iterable[Host], secrets: Secrets, connect: Callable, limit: int,
               app: str | None = None) -> tuple[list[list[dict]], list[tuple[str, str]]]:  # fmt: skip
    """Each host's records (in the inventory's order, read at once), and the hosts that
    could not be read, with why."""
    hosts = list(hosts)

    def one(host: Host) -> list[dict] | str:
        try:
            return read_host(host, secrets, connect, limit, app)
        except DeployToolError as exc:
            return exc.problem
        except (ConnectionLost, Interrupted, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"

    if not hosts:
        return [], []
    with ThreadPoolExecutor(min(8, len(hosts))) as pool:
        got = list(pool.map(one, hosts))
    read = [g for g in got if isinstance(g, list)]
    failed = [(h.alias, g) for h, g in zip(hosts, got, strict=True) if isinstance(g, str)]
    return read, failed


# --- merging ------------------------------------------------------------------------------
def merge(*sources: list[dict]) -> list[dict]:
    """One record per run id (the first source's wins: this machine's), newest first."""
    seen, out = set(), []
    for source in sources:
        for rec in source:
            key = rec.get("run_id") or json.dumps(rec, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append(rec)
    return sorted(out, key=_age, reverse=True)


def _age(rec: dict) -> tuple[float, str]:
    """Sorts by time, then run id (sortable: tasks/engine/view.py); no time: the oldest."""
    when = _when(rec)
    return (when.timestamp() if when else float("-inf"), str(rec.get("run_id", "")))


def _when(rec: dict) -> datetime | None:
    """The record's time (when it was written: the run's end), aware; None when unreadable."""
    try:
        when = datetime.fromisoformat(str(rec.get("time", "")))
    except ValueError:
        return None
    return when if when.tzinfo else when.astimezone()


def selected(recs: list[dict], app: str | None, limit: int) -> list[dict]:
    if app:
        recs = [r for r in recs if r.get("component") == app]
    return recs[:limit]


def check_options(limit, app: str | None, apps: tuple[str, ...]) -> tuple[int, str | None]:
    """--limit and --app (one of ``apps``: what records name), checked before any host is
    asked."""
    try:
        n = int(limit)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ConfigError(f"--limit={limit}: 1 이상의 정수여야 합니다", "예: --limit=50")
    if app and app not in apps:
        raise ConfigError(f"--app={app}: 알 수 없는 앱입니다", f"다음 중 하나: {', '.join(apps)}")
    return n, app or None


# --- showing ------------------------------------------------------------------------------
def run_seconds(rec: dict) -> float | None:
    """How long the run took: from its start (the run id is its local start time) to its
    record (the record's time, in the same machine's local time), or the steps' sum when
    that is longer (a record the host wrote carries the time the host run was launched)."""
    steps = [s for s in rec.get("steps") or [] if isinstance(s, dict)]
    total = sum(float(s.get("seconds") or 0) for s in steps if _number(s.get("seconds")))
    wall = None
    when = _when(rec)
    try:
        start = datetime.strptime(str(rec.get("run_id", ""))[:22], "%Y%m%d_%H%M%S_%f")
    except ValueError:
        start = None
    if when is not None and start is not None:
        wall = (when.replace(tzinfo=None) - start).total_seconds()
        wall = max(0.0, wall) if wall > -1 else None  # the record's time has no fraction
    found = [x for x in (wall, total if steps else None) if x is not None]
    return max(found) if found else None


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def revisions(rec: dict) -> str:
    """``abc1234 → def5678``; ``-`` for a task that deployed no revision (setup, config)."""
    before, after = str(rec.get("from") or "")[:7], str(rec.get("to") or "")[:7]
    if before.startswith("<") or after.startswith("<"):  # records written before 2026-11-27
        before, after = "", ""
    return f"{before} → {after}" if before or after else "-"


def shortened(text: str, width: int = MESSAGE_WIDTH) -> str:
    text = " ".join(str(text).split())
    if cell_len(text) <= width:
        return text
    while cell_len(text) > width - 1:
        text = text[:-1]
    return text + "…"


def row(rec: dict) -> tuple[str, ...]:
    when = _when(rec)
    result = str(rec.get("result") or "-")
    kind = str(rec.get("kind") or "-")
    return (
        when.astimezone().strftime("%Y-%m-%d %H:%M") if when else str(rec.get("time") or "-"),
        str(rec.get("operator") or "-"),
        KINDS.get(kind, kind),
        str(rec.get("component") or "-"),
        str(rec.get("host") or "-"),
        revisions(rec),
        RESULTS.get(result, result),
        duration_text(run_seconds(rec)),
        downtime_text(rec.get("downtime_seconds")),
        shortened(rec.get("operator_message") or ""),
    )


def unreachable_line(alias: str, problem: str) -> str:
    return f"! {alias}: 호스트에 연결하지 못해 그 호스트의 기록은 빠졌습니다 ({problem})"


# --- the task -----------------------------------------------------------------------------
def show(inv_or_error: Inventory | DeployToolError, secrets: Secrets, *, limit: int = 20,
         app: str | None = None, as_json: bool = False, connect: Callable | None = None,
         console: Console | None = None, err: Callable[[str], None] | None = None) -> list[dict]:  # fmt: skip
    """`fab history`: the merged records, as a table (or JSON); the hosts that could not be
    read, one line each (on stderr with --json, so its output stays JSON). Returns what it
    showed."""
    import sys

    console = console or Console(secrets)
    say = err or (
        (lambda text: print(safe(secrets.mask(text)), file=sys.stderr)) if as_json else console.out
    )
    local = read_local_file(limit, app)
    if isinstance(inv_or_error, DeployToolError):
        say(f"! 인벤토리를 읽지 못해 이 컴퓨터의 기록만 보입니다 ({inv_or_error.problem})")
        hosts_read, failed = [], []
    else:
        hosts_read, failed = read_hosts(inv_or_error.hosts.values(), secrets,
                                        connect or ssh_connect, limit, app)  # fmt: skip
    for alias, problem in failed:
        say(unreachable_line(alias, problem))
    shown = selected(merge(local, *hosts_read), app, limit)
    if as_json:
        print(secrets.mask(json.dumps(shown, ensure_ascii=False, indent=1)))
    elif shown:
        console.table(HEADERS, [row(r) for r in shown], right=(7, 8))
    else:
        console.out("(기록 없음)")
    return shown
