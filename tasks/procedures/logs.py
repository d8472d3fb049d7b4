"""`fab logs`: the journal of exactly what serves an app now, read as the deploy login.

Which units serve is read on the host first (the app says, from what was read:
:meth:`App.serving`, as `fab status` reads it): with the release strategy the backend runs
as template instances (``dojangkok@8081``), and during a warm window both instances run,
so both are read and each line says which one wrote it. The frontend's unit is nginx:
nginx writes its error log to the journal too (templates/nginx/site.conf.j2's second
``error_log``), so its errors are read there like every other app's lines.

``-f`` follows: for an app with a blue/green pair, both of the pair's instances are followed
(whichever serves after a switch during the follow is shown, labelled), else the serving
units. Without ``-H`` and without an app: every host's every app, merged by time, each line
prefixed with host/app. The deploy login reads the journal as a member of
``systemd-journal`` (setup: tasks/setup/privilege.py): no root, no lock, no record.

Whatever the journal holds is text to show: each line masked (secrets) and made safe for a
terminal.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from tasks import shell
from tasks.apps import registry
from tasks.apps.base import App
from tasks.errors import ConfigError, DeployToolError
from tasks.hosts import values
from tasks.hosts.connect import connect as ssh_connect
from tasks.hosts.inventory import Host
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.hosts.secrets import Secrets
from tasks.procedures import status
from tasks.terminal import safe

#: --lines: the default and the most (a larger read is a job for `fab -H cpu run`)
DEFAULT_LINES, MAX_LINES = 100, 10000
#: --since: a span back from now (``10m``) or a local time on the host
_SPAN = re.compile(r"(\d{1,5})([smhd])")
_UNITS = {"s": "s", "m": "min", "h": "h", "d": "d"}
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?")
#: the reads :func:`units_of` needs of each app (status's names)
SERVING_READS = ("converted", "current", "live", "slots")


@dataclass(frozen=True)
class Options:
    lines: int = DEFAULT_LINES
    follow: bool = False
    since: str = ""  # journalctl's form (``-10min``, ``2026-12-07 06:00``), "" = none
    grep: str = ""


def check_options(lines, follow, since, grep) -> Options:
    """-n, --since and --grep checked before any host is asked (a clear Korean refusal)."""
    try:
        n = int(lines)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_LINES:
        raise ConfigError(f"-n {lines}: 1에서 {MAX_LINES} 사이의 정수여야 합니다", "예: -n 200")
    when = str(since or "").strip()
    if when:
        if m := _SPAN.fullmatch(when):
            when = f"-{m.group(1)}{_UNITS[m.group(2)]}"
        elif not _TIME.fullmatch(when):
            raise ConfigError(
                f"--since={since}: 알 수 없는 시간입니다",
                "지금부터 거슬러 올라간 시간(예: --since=10m, 2h, 1d, 30s) 또는 호스트의 시각"
                "(예: --since='2026-12-07 06:00')을 주십시오",
            )
    pattern = str(grep or "")
    if "\n" in pattern or "\r" in pattern:
        raise ConfigError("--grep: 한 줄이어야 합니다", "예: --grep=ERROR")
    return Options(n, bool(follow), when, pattern)


def check_app(app: str | None) -> App | None:
    if not app:
        return None
    try:
        return registry.get(app)
    except DeployToolError:
        raise ConfigError(f"알 수 없는 앱입니다: {app}",
                          f"다음 중 하나: {', '.join(registry.APPS)} (없으면 모든 앱)") from None  # fmt: skip


# --- which units ----------------------------------------------------------------------------
def serving_reads(host: Host, apps: list[App]) -> dict[str, str]:
    """What :func:`units_of` needs of each app, by name (one round trip with the others)."""
    reads = {}
    for app in apps:
        for name, cmd in status.app_reads(host, app).items():
            if name in SERVING_READS:
                reads[f"{app.name}.{name}"] = cmd
    return reads


def units_of(host: Host, app: App, got: dict[str, tuple[bool, str]], follow: bool) -> list[str]:
    """The units whose journal is read: what serves now (the warm instance too); following
    an app with a blue/green pair in use, both of its instances (a switch may come)."""
    s = host.settings
    reading = status.reading_of(host, app, got)
    serving = app.serving(s, reading)
    units = [*serving.units, *([serving.warm_unit] if serving.warm_unit else [])]
    pair, _ = status.pair_of(app, host)
    if follow and reading.live_port and pair is not None:
        units = [pair.instance(s, p) for p in pair.ports(s)[:2]]
    return [values.unit_name(u) for u in units]


# --- the journal ----------------------------------------------------------------------------
def journal_command(units: list[str], opts: Options) -> str:
    """journalctl of ``units`` as JSON lines (the unit of each line is in it), read-only."""
    parts = ["journalctl", "--no-pager", "-q", "-o", "json", "-n", str(int(opts.lines))]
    for unit in units:
        parts += ["-u", values.unit_name(unit)]
    if opts.since:
        parts.append(f"--since={opts.since}")
    if opts.grep:
        parts.append(f"--grep={opts.grep}")
    if opts.follow:
        parts.append("-f")
    return " ".join(shell.q(p) for p in parts)


@dataclass(frozen=True)
class Line:
    when: float  # epoch seconds (0: unknown)
    host: str
    app: str
    unit: str
    text: str

    def shown(self, prefix: bool) -> str:
        at = datetime.fromtimestamp(self.when).strftime("%m-%d %H:%M:%S") if self.when else "-"
        where = f"{self.host}/{self.app} " if prefix else ""
        return f"{at} {where}[{self.unit}] {self.text}"


def _message(value) -> str:
    if isinstance(value, list):  # the journal's form of a message that is not UTF-8
        value = bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
        return value.decode("utf-8", "replace")
    return str(value if value is not None else "")


def _unit_name(entry: dict) -> str:
    """Which unit a line is of: the process's unit, or the unit systemd speaks of."""
    for key in ("_SYSTEMD_UNIT", "UNIT", "USER_UNIT"):
        unit = entry.get(key)
        if isinstance(unit, str) and unit and unit != "init.scope":
            return unit.removesuffix(".service")
    return "?"


def parse_entry(text: str, host: str, app: str) -> Line | None:
    """One journalctl JSON line → a :class:`Line` (None: not an entry)."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    try:
        when = int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1e6
    except (TypeError, ValueError):
        when = 0.0
    message = _message(entry.get("MESSAGE")).rstrip("\n")
    return Line(when, host, app, safe(_unit_name(entry)), safe(message))


class Lines:
    """Text arriving in chunks → whole lines, each passed on."""

    def __init__(self, each: Callable[[str], None]):
        self.each, self.rest = each, ""

    def feed(self, chunk: str) -> None:
        self.rest += chunk
        *whole, self.rest = self.rest.split("\n")
        for line in whole:
            self.each(line)

    def close(self) -> None:
        if self.rest:
            self.each(self.rest)
            self.rest = ""


# --- reading the hosts ----------------------------------------------------------------------
#: set by Ctrl-C while following: every host's journalctl is ended, then `fab logs` ends
STOPPED = threading.Event()


@contextlib.contextmanager
def ctrl_c_stops():
    """Ctrl-C ends a follow (exit status 0: the way to end it); a second one ends at once.
    Not tasks/engine/interrupt.py's handling: nothing here is rolled back."""
    STOPPED.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def press(signum, frame):
        if STOPPED.is_set():
            raise KeyboardInterrupt
        STOPPED.set()

    previous = signal.signal(signal.SIGINT, press)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _what(host: Host, app: App | None) -> list[App]:
    apps = registry.on_host(host.groups, host.alias)
    return [a for a in apps if app is None or a is app]


def read_host(host: Host, apps: list[App], secrets: Secrets, opts: Options,
              emit: Callable[[Line], None], said: Callable[[str], None],
              connect: Callable = ssh_connect) -> bool:  # fmt: skip
    """One host: which units serve (one round trip), then their journal in one command (a
    follow keeps it open until Ctrl-C), every line passed to ``emit``. Returns whether it
    was read; a host that cannot be reached is said, not raised."""
    mark = f"@@dojangkok-logs-{status.random.token_hex(8)}"
    try:
        remote = connect(host, secrets, label="logs")
    except DeployToolError as exc:
        said(f"! {host.alias}: 호스트에 접속하지 못해 로그를 읽지 못했습니다 ({exc.problem})")
        return False
    try:
        res = remote.run(status.host_command(serving_reads(host, apps), mark), timeout=60)
        answers = status.split_answers(res.stdout, mark)
        app_of: dict[str, str] = {}  # unit (as the journal names it) -> app
        for app in apps:
            got = {k.split(".", 1)[1]: v for k, v in answers.items()
                   if k.startswith(app.name + ".")}  # fmt: skip
            units = units_of(host, app, got, opts.follow)
            said(f"# {host.alias}/{app.name}: {', '.join(units)}의 저널")
            app_of |= {u.removesuffix(".service"): app.name for u in units}

        def each(text: str) -> None:
            line = parse_entry(text, host.alias, "")
            if line is not None:
                emit(replace(line, app=app_of.get(line.unit, "?")))

        lines = Lines(each)
        command = journal_command(list(app_of), opts)
        try:
            res = remote.run(command, on_output=lines.feed if opts.follow else None,
                             stop=STOPPED.is_set)  # fmt: skip
        except Interrupted:  # Ctrl-C: the end of a follow
            return True
        if not opts.follow:
            lines.feed(res.stdout)
        lines.close()
    except (ConnectionLost, OSError) as exc:
        said(f"! {host.alias}: 연결이 끊겼습니다 ({exc})")
        return False
    finally:
        remote.close()
    if not res.ok:
        said(f"! {host.alias}: 저널을 읽지 못했습니다 ({safe(res.tail(1)) or f'exit {res.exit}'}): "
             f"배포 계정이 systemd-journal 그룹에 없으면 `fab -H {host.alias} setup`")  # fmt: skip
        return False
    return True


def show(hosts: list[Host], app: App | None, secrets: Secrets, opts: Options,
         connect: Callable = ssh_connect, out: Callable[[str], None] | None = None,
         err: Callable[[str], None] | None = None) -> bool:  # fmt: skip
    """`fab logs`: every host's lines, merged by time (following: as they come), each
    prefixed with host/app when several apps or hosts are read. Returns whether every
    host was read."""
    write = out or (lambda text: print(text, flush=True))
    say = err or (lambda text: print(text, file=sys.stderr, flush=True))
    targets = [(h, _what(h, app)) for h in hosts]
    targets = [(h, apps) for h, apps in targets if apps]
    if not targets:
        raise ConfigError(f"{app.name if app else '앱'}을(를) 서비스하는 호스트가 없습니다",
                          f"-H로 [{app.group if app else 'cpu'}]의 호스트를 주십시오")  # fmt: skip
    prefix = len(targets) > 1 or len(targets[0][1]) > 1
    lock = threading.Lock()

    def shown(line: Line) -> str:
        return secrets.mask(line.shown(prefix))

    def said(text: str) -> None:
        with lock:
            say(secrets.mask(safe(text)))

    if opts.follow:

        def emit(line: Line) -> None:
            with lock:
                write(shown(line))
    else:
        got: list[Line] = []

        def emit(line: Line) -> None:
            with lock:
                got.append(line)

    with ctrl_c_stops(), ThreadPoolExecutor(len(targets)) as pool:
        read = list(pool.map(lambda t: read_host(t[0], t[1], secrets, opts, emit, said, connect),
                             targets))  # fmt: skip
    if not opts.follow:
        for line in sorted(got, key=lambda x: x.when)[-opts.lines :]:  # the newest, of all
            write(shown(line))
    return all(read)
