"""`fab status`: what runs where, read from the hosts, one table.

For every host of the inventory (or -H's) and every app it serves: the revision and the
version serving (the version asked from the app itself: ``<app>_version_url``), the release
and since when it serves, the unit(s) and port serving (the app says which, from what was
read: :meth:`App.serving`; both instances during a blue/green warm window), its health
check, the host's deploy lock, and the last record of the app on that host (who, when,
which task, the result).

Each host is read in one command over one connection (:func:`host_command`: every read in a
subshell of its own, its output and exit status framed by a mark no host output can guess),
the hosts at once. A host that cannot be reached is a row saying so; the others are still
shown. Reads only, as the deploy login: takes no lock, writes no record.

Whatever a host prints is text to show, never to act on: it is parsed by name, and every
text made safe for a terminal (tasks/terminal.py).
"""

from __future__ import annotations

import json
import secrets as random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime

from tasks import shell
from tasks.apps import registry
from tasks.apps.base import App, HostReading, Serving, strategy_for
from tasks.engine import history, lock, report
from tasks.engine.console import Console, render_table
from tasks.engine.view import RunView
from tasks.errors import DeployToolError
from tasks.hostfacts import served_version
from tasks.hosts import site
from tasks.hosts.connect import connect as ssh_connect
from tasks.hosts.inventory import Host
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.hosts.secrets import Secrets
from tasks.strategies import drift
from tasks.strategies.release import layout
from tasks.strategies.release.bluegreen import Pair, parse_slots
from tasks.strategies.release.convert import is_converted
from tasks.terminal import safe

#: the host's own reads (the others are per app: ``<app>.<name>``)
LOCK = "lock"
#: how many of an app's newest records are read for its last one (each bounded in size)
RECORDS_READ = 3
#: the most one read sends back (a damaged file stays a small answer)
MAX_READ_BYTES = 64 * 1024

OK, BAD, UNREACHABLE, UNKNOWN = "정상", "비정상", "연결 안 됨", "-"


# --- the reads ------------------------------------------------------------------------------
def view_of(host: Host, app: App) -> RunView:
    """A view for the strategies' pure builders (paths of releases, slots): nothing runs."""
    return RunView("status", app.name, host, "status", strategy=host.settings.strategy)


def pair_of(app: App, host: Host) -> tuple[Pair | None, bool]:
    """(the app's blue/green pair, whether the settings choose it): a pair the settings
    leave to the host (``ai_switch=auto``) is read too, and serves only when its live
    instance runs (:func:`reading_of`)."""
    s = host.settings
    if not strategy_for(s).runs_blue_green:
        return None, False
    plans = app.plans("release")
    chosen = plans.pair(s)
    return chosen or getattr(plans, "PAIR", None), chosen is not None


def app_reads(host: Host, app: App) -> dict[str, str]:
    """What is read of ``app`` on ``host``, by name (each a read-only command)."""
    s, v = host.settings, view_of(host, app)
    strategy = strategy_for(s)
    reads: dict[str, str] = {"head": f"{shell.git_head(app.checkout(s))} 2>/dev/null"}
    if strategy.keeps_releases:
        current = layout.current(v)
        reads |= {
            "converted": is_converted(app, v),
            "current": layout.current_release(v),
            "info": f"head -c {MAX_READ_BYTES} -- {shell.q(current + '/' + layout.INFO)}",
            "switched": f"tail -n 1 -- {shell.q(layout.base(v) + '/switches')}",
        }
    pair, _ = pair_of(app, host)
    if pair is not None:
        reads |= {"live": pair.live_port_command(s), "slots": pair.slots_command(v)}
    reads["unit"] = f"systemctl is-active -- {shell.q(app.service(s))}"
    url, match = drift.version_source(s, app.name)
    if url:
        reads["version"] = served_version(url, match, site.names(s))
    reads["health"] = strategy.health_command(app, s)
    reads["last"] = history.host_read_command(s.state_dir, RECORDS_READ, app.name)
    return reads


def host_reads(host: Host, apps: list[App]) -> dict[str, str]:
    """Every read of the host, by name: the lock's, then each app's."""
    reads = {LOCK: lock.read_command(host.settings)}
    for app in apps:
        reads |= {f"{app.name}.{k}": cmd for k, cmd in app_reads(host, app).items()}
    return reads


def host_command(reads: dict[str, str], mark: str) -> str:
    """One command for every read: each in a subshell of its own (standard input closed, at
    most :data:`MAX_READ_BYTES` of its output), then ``<mark> <name> <exit status>``."""
    return "; ".join(
        f"( {cmd}\n) </dev/null 2>&1 | head -c {MAX_READ_BYTES}; "
        f"printf '\\n{mark} %s %s\\n' {shell.q(name)} \"${{PIPESTATUS[0]}}\""
        for name, cmd in reads.items()
    )


def split_answers(stdout: str, mark: str) -> dict[str, tuple[bool, str]]:
    """:func:`host_command`'s output → {name: (succeeded, output)}; a read whose end mark
    is missing (the command was cut short) is absent."""
    got, chunk = {}, []
    for line in stdout.split("\n"):
        if line.startswith(mark + " "):
            parts = line.split()
            if len(parts) == 3:
                got[parts[1]] = (parts[2] == "0", "\n".join(chunk).strip())
            chunk = []
        else:
            chunk.append(line)
    return got


# --- judging what was read ------------------------------------------------------------------
@dataclass(frozen=True)
class LastRun:
    """The app's newest record on the host."""

    operator: str
    time: str  # ISO, as recorded
    kind: str  # deploy, rollback, ...
    result: str  # ok, failed, rolled-back, ...
    revision: str = ""
    message: str = ""

    @property
    def shown(self) -> str:
        try:
            at = datetime.fromisoformat(self.time).astimezone().strftime("%m-%d %H:%M")
        except ValueError:
            at = self.time or "?"
        kind = history.KINDS.get(self.kind, self.kind)
        return f"{self.operator} {at} {kind} {report.RESULTS.get(self.result, self.result)}"


@dataclass(frozen=True)
class Holder:
    """Who holds the host's deploy lock (``operator`` "?": a lock without its info)."""

    operator: str
    since: str  # ISO, local time
    task: str = ""
    app: str = ""
    stale: bool = False

    @property
    def shown(self) -> str:
        if self.operator == "?":
            return "잠김 (정보 없음)"
        at = datetime.fromisoformat(self.since).strftime("%m-%d %H:%M") if self.since else "?"
        text = f"잠김: {self.operator} {at}부터 ({self.task} {self.app})".replace(" )", ")")
        return text + (" 오래됨" if self.stale else "")


@dataclass(frozen=True)
class AppStatus:
    """One row: an app on a host as read (``error``: why nothing could be read)."""

    host: str
    app: str
    reachable: bool = True
    error: str = ""
    strategy: str = ""
    revision: str = ""
    version: str = ""
    release: str = ""
    since: str = ""  # ISO, when the release started serving (its switch)
    units: tuple[str, ...] = ()
    states: tuple[str, ...] = ()  # systemctl is-active of each unit
    port: int | None = None
    warm_unit: str = ""
    warm_port: int | None = None
    warm_release: str = ""
    healthy: bool = False
    health_said: str = ""
    lock: Holder | None = None
    last: LastRun | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict:
        return asdict(self)


def _revision_of_info(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return ""
    rev = data.get("revision") if isinstance(data, dict) else ""
    return rev if isinstance(rev, str) and rev.isalnum() else ""


def _port(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def reading_of(host: Host, app: App, got: dict[str, tuple[bool, str]]) -> HostReading:
    """The app's :class:`HostReading` from the answers by name (``<app>.`` left off)."""
    current = got.get("current", (False, ""))[1].strip() if _converted(got) else ""
    pair, chosen = pair_of(app, host)
    if pair is None or not _converted(got):
        return HostReading(current=current)
    live, slots = (
        _port(got.get("live", (False, ""))[1]),
        parse_slots(got.get("slots", (False, ""))[1]),
    )
    if not chosen and slots.get(live, ("", ""))[0] != "active":
        return HostReading(current=current)  # the pair is not what serves it (ai_switch)
    return HostReading(current=current, live_port=live, slots=slots)


def _converted(got: dict[str, tuple[bool, str]]) -> bool:
    return "converted" in got and got["converted"][0]


def lock_of(host: Host, answer: tuple[bool, str], now: float | None = None) -> Holder | None:
    ok, text = answer
    locked, info = lock.parse(text if ok else "")
    if not locked:
        return None
    if info is None:
        return Holder("?", "")
    return Holder(safe(info.operator), datetime.fromtimestamp(info.since).isoformat(timespec="seconds"),
                  safe(info.task), safe(info.component),
                  info.age(now) > host.settings.lock_stale_after)  # fmt: skip


def last_of(answer: tuple[bool, str]) -> LastRun | None:
    recs = history.parse(answer[1]) if answer[0] else []
    if not recs:
        return None
    rec = recs[-1]
    return LastRun(str(rec.get("operator") or "?"), str(rec.get("time") or ""),
                   str(rec.get("kind") or "?"), str(rec.get("result") or "?"),
                   str(rec.get("to") or "")[:40], str(rec.get("operator_message") or ""))  # fmt: skip


def since_of(got: dict[str, tuple[bool, str]], release: str) -> str:
    """When ``release`` started serving: the switches log's last line, when it names it."""
    ok, line = got.get("switched", (False, ""))
    when, _, name = line.strip().partition(" ")
    if not ok or not release or name.strip() != release:
        return ""
    try:
        return datetime.fromisoformat(when).isoformat(timespec="seconds")
    except ValueError:
        return ""


def app_status(host: Host, app: App, got: dict[str, tuple[bool, str]],
               holder: Holder | None) -> AppStatus:  # fmt: skip
    """The row of ``app`` from its answers (by name, ``<app>.`` left off)."""
    s = host.settings
    notes = []
    reading = reading_of(host, app, got)
    serving: Serving = app.serving(s, reading)
    converted = _converted(got)
    strategy = (
        s.strategy if converted or not strategy_for(s).keeps_releases else f"{s.strategy} 전환 전"
    )
    if reading.current:
        ok, info = got.get("info", (False, ""))
        revision = _revision_of_info(info) if ok else ""
        revision = revision or layout.revision_of(reading.current)
    else:
        ok, head = got.get("head", (False, ""))
        revision = head.splitlines()[-1].strip() if ok and head else ""
    if reading.live_port:
        states = tuple(reading.slots.get(int(serving.port or 0), ("unknown", ""))[0:1])
    else:
        state = got.get("unit", (False, ""))[1]
        states = (state.strip().splitlines()[-1] if state.strip() else "unknown",)
    version_ok, version = got.get("version", (False, ""))
    if "version" in got and not version_ok:
        notes.append(f"제공 버전을 읽지 못했습니다 ({drift.version_source(s, app.name)[0]})")
    healthy, said = got.get("health", (False, "응답 없음"))
    return AppStatus(
        host=host.alias, app=app.name, strategy=strategy,
        revision=safe(revision)[:40], version=safe(version.strip().splitlines()[-1]) if version_ok and version.strip() else "",
        release=safe(serving.release), since=since_of(got, serving.release),
        units=serving.units, states=tuple(safe(x) for x in states), port=serving.port,
        warm_unit=serving.warm_unit, warm_port=serving.warm_port,
        warm_release=safe(serving.warm_release),
        healthy=healthy, health_said="" if healthy else safe(said.strip().splitlines()[-1] if said.strip() else ""),
        lock=holder, last=last_of(got.get("last", (False, ""))), notes=tuple(notes),
    )  # fmt: skip


def statuses_of(
    host: Host, apps: list[App], answers: dict[str, tuple[bool, str]]
) -> list[AppStatus]:
    holder = lock_of(host, answers.get(LOCK, (False, "")))
    rows = []
    for app in apps:
        prefix = f"{app.name}."
        got = {k[len(prefix) :]: v for k, v in answers.items() if k.startswith(prefix)}
        rows.append(app_status(host, app, got, holder))
    return rows


def unreachable_rows(host: Host, apps: list[App], problem: str) -> list[AppStatus]:
    return [AppStatus(host.alias, app.name, reachable=False, error=safe(problem)) for app in apps]


# --- reading the hosts ----------------------------------------------------------------------
def read_host(host: Host, secrets: Secrets, connect: Callable = ssh_connect) -> list[AppStatus]:
    """One host's rows: one command over one connection; unreachable: rows saying so."""
    apps = registry.on_host(host.groups, host.alias)
    mark = f"@@dojangkok-status-{random.token_hex(8)}"
    reads = host_reads(host, apps)
    try:
        remote = connect(host, secrets, label="status")
    except DeployToolError as exc:
        return unreachable_rows(host, apps, exc.problem)
    except (OSError, ConnectionLost, Interrupted) as exc:
        return unreachable_rows(host, apps, f"{type(exc).__name__}: {exc}")
    try:
        res = remote.run(host_command(reads, mark), timeout=90)
    except (ConnectionLost, Interrupted, OSError) as exc:
        return unreachable_rows(host, apps, f"연결이 끊겼습니다: {exc}")
    finally:
        remote.close()
    answers = split_answers(res.stdout, mark)
    if not answers:
        return unreachable_rows(
            host, apps, f"읽지 못했습니다: {safe(res.tail(1)) or f'exit {res.exit}'}"
        )
    return statuses_of(host, apps, answers)


def read_all(
    hosts: list[Host], secrets: Secrets, connect: Callable = ssh_connect
) -> list[AppStatus]:
    """Every host's rows, in the inventory's order (the hosts read at once)."""
    if not hosts:
        return []
    with ThreadPoolExecutor(min(8, len(hosts))) as pool:
        got = list(pool.map(lambda h: read_host(h, secrets, connect), hosts))
    return [row for rows in got for row in rows]


# --- showing --------------------------------------------------------------------------------
HEADERS = (
    "호스트",
    "앱",
    "리비전",
    "버전",
    "릴리스 (시작)",
    "유닛 (포트)",
    "헬스",
    "잠금",
    "마지막 기록",
)


def _short_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%m-%d %H:%M")
    except ValueError:
        return ""


def units_cell(r: AppStatus) -> str:
    if not r.units:
        return UNKNOWN
    port = f" :{r.port}" if r.port else ""
    state = "" if r.states in ((), ("active",)) else f" [{', '.join(r.states)}]"
    text = f"{', '.join(r.units)}{port}{state}"
    if r.warm_unit:
        text += f" + 대기 {r.warm_unit} :{r.warm_port}"
    return text


def release_cell(r: AppStatus) -> str:
    if not r.release:
        return f"체크아웃 ({r.strategy})" if r.strategy else UNKNOWN
    at = _short_time(r.since)
    return f"{r.release} ({at}부터)" if at else r.release


def health_cell(r: AppStatus) -> str:
    return OK if r.healthy else f"{BAD} {r.health_said}".strip()


def row(r: AppStatus) -> tuple[str, ...]:
    if not r.reachable:
        said = f"호스트에 접속하지 못해 확인하지 못했습니다 ({r.error})"
        return (r.host, r.app, UNREACHABLE, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, said)
    return (
        r.host, r.app, r.revision[:12] or UNKNOWN, r.version or UNKNOWN, release_cell(r),
        units_cell(r), health_cell(r), r.lock.shown if r.lock else "없음",
        r.last.shown if r.last else "(기록 없음)",
    )  # fmt: skip


def render(rows: list[AppStatus]) -> str:
    """The table, then a line per note (a version that could not be read …)."""
    lines = [render_table(HEADERS, [row(r) for r in rows])]
    lines += [f"! {r.host} {r.app}: {n}" for r in rows for n in r.notes]
    return "\n".join(lines)


def to_json(rows: list[AppStatus]) -> str:
    return json.dumps([r.to_json() for r in rows], ensure_ascii=False, indent=1)


def all_well(rows: list[AppStatus]) -> bool:
    return all(r.reachable and r.healthy for r in rows)


def show(hosts: list[Host], secrets: Secrets, *, as_json: bool = False,
         connect: Callable = ssh_connect, console: Console | None = None) -> list[AppStatus]:  # fmt: skip
    """`fab status`: read every host, print the table (or JSON); returns the rows."""
    rows = read_all(hosts, secrets, connect)
    if as_json:
        print(secrets.mask(to_json(rows)))
    else:
        (console or Console(secrets)).out(render(rows))
    return rows
