"""`fab -H cpu run -- CMD` (and `fab -H cpu -- CMD`): one command on the inventory's hosts.

The command runs as the deploy login over the inventory's connection, exactly as a deploy
connects (tasks/hosts/connect.py: the login, the key, the SSH config's ProxyJump and
ProxyCommand, host keys checked against ``known_hosts_file``). It is raw shell, run as
written (``bash -o pipefail -c``); its output is streamed, line by line, masked
(tasks/hosts/masking.py), prefixed with ``[host]`` when several hosts run it.

Unless ``--read-only`` is given, a run is a change like a deploy: it takes the host's deploy
lock (refused, naming the holder, while another task holds it) and is recorded in the host's
history and the local one, as kind ``run``, the command masked. ``--read-only`` takes no lock
and records nothing (the operator's word that the command changes nothing: it is not checked).

Exit status: the command's, the worst (highest) over the hosts; 255 for a host where it did
not run (unreachable, locked), as ssh says its own failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tasks.engine import lock as locks
from tasks.engine.console import Console
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.runner import StepReport
from tasks.engine.session import session
from tasks.errors import ConfigError, DeployToolError
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host, Inventory
from tasks.hosts.remote import ConnectionLost, Interrupted, Remote
from tasks.hosts.secrets import Secrets

#: the exit status for a host where the command did not run (ssh's own failures: 255)
NOT_RUN = 255
#: where the executor (tasks/program.py) leaves the command after ``--`` for the run task
#: (the context's config), and the -H text it runs on (it runs once for all of them)
COMMAND_KEY = "dojangkok_command"
HOSTS_KEY = "dojangkok_hosts"
TASK = "run"
TITLE = "명령 실행"


def command_of(remainder: str, target: str | None) -> str:
    """The command after ``--``, refused when there is none (or no -H), naming the fix."""
    command = (remainder or "").strip()
    example = f"fab -H {target or 'cpu'} run -- uptime"
    if not command:
        raise ConfigError(
            "실행할 명령이 없습니다: 명령은 `--` 뒤에 씁니다",
            f"예: {example} (바꾸지 않는 명령이면 --read-only: 잠금도 기록도 없음)",
        )
    if "\n" in command or "\r" in command:
        raise ConfigError(
            "명령이 여러 줄입니다: 한 줄로 주십시오",
            "여러 명령은 `;` 또는 `&&`로 잇습니다 (예: fab -H cpu run -- 'cd /app && ls')",
        )
    if not target:
        raise ConfigError(
            "명령을 실행할 호스트가 없습니다: -H로 호스트나 그룹을 주십시오",
            f"예: {example} (여러 호스트: -H cpu,gpu)",
        )
    return command


def hosts_named(inv: Inventory, text: str) -> list[Host]:
    """The hosts the -H text names (aliases and groups), each once, in order."""
    found: dict[str, Host] = {}
    for value in (v.strip() for v in text.split(",")):
        if value:
            found.update((h.alias, h) for h in inv.resolve(value))
    return list(found.values())


class Lines:
    """A command's streamed output, printed line by line (masked, prefixed): a secret split
    across two reads is still masked, since a line is printed only when whole."""

    def __init__(self, console: Console):
        self.console, self.held = console, ""

    def feed(self, chunk: str) -> None:
        self.held += chunk
        *whole, self.held = self.held.split("\n")
        for line in whole:
            self.console.out(line)

    def flush(self) -> None:
        if self.held:
            self.console.out(self.held)
            self.held = ""


def exit_status(code: int) -> int:
    """A remote exit code as this process's (a command killed by a signal, or cut short by a
    timeout, has none: -1; counted as :data:`NOT_RUN`)."""
    return code if 0 <= code <= 255 else NOT_RUN


def run_once(remote: Remote, command: str, console: Console) -> int:
    """The command, its output streamed to ``console``; its exit status."""
    lines = Lines(console)
    try:
        res = remote.run(command, stop=INTERRUPT.cancel.is_set, on_output=lines.feed)
    finally:
        lines.flush()
    return exit_status(res.exit)


def run_read_only(host: Host, command: str, secrets: Secrets, console: Console,
                  connect_host: Callable[..., Remote] = connect) -> int:  # fmt: skip
    """No lock, no record: connect, run, close."""
    remote = connect_host(host, secrets, label="run")
    try:
        return run_once(remote, command, console)
    finally:
        remote.close()


def run_locked(host: Host, command: str, secrets: Secrets, console: Console,
               connect_host: Callable[..., Remote] = connect, message: str = "",
               lock_wait: float = 0) -> int:  # fmt: skip
    """Under the host's deploy lock (its info says the command, masked), recorded as a run:
    the command and its exit status are the record's one step."""
    shown = secrets.mask(command)
    note = f"{message} — {shown}" if message else shown
    try:
        with session(TASK, "-", host, secrets, title=TITLE, console=console,
                     connect=connect_host, message=secrets.mask(note),
                     lock_wait=lock_wait) as s:  # fmt: skip
            step = StepReport("RUN", "1", f"$ {shown}", "-", "running")
            s.report.steps.append(step)
            s.report.message = message
            code, started = NOT_RUN, time.monotonic()
            try:
                code = run_once(s.remote, command, console)
            finally:
                step.seconds = round(time.monotonic() - started, 1)
                step.status = "ok" if code == 0 else "failed"
                step.detail = f"exit {code}"
                if code != 0:
                    s.report.result = "failed"
            return code
    except locks.LockHeld as exc:
        raise lock_refused(host, exc) from None


def lock_refused(host: Host, exc: locks.LockHeld) -> ConfigError:
    """The lock's refusal, in Korean; who holds it is in the holder's own words."""
    holder = exc.problem.partition(": ")[2] or exc.problem
    return ConfigError(
        f"{host.alias}의 배포 잠금을 다른 작업이 쥐고 있어 명령을 실행하지 않았습니다 "
        f"(잠금: {holder})",
        f"그 작업이 끝나기를 기다리십시오 (`fab -H {host.alias} lock-status`). 아무것도 바꾸지 "
        "않는 명령이면 --read-only로 실행합니다 (잠금을 잡지 않음)",
    )


def run_on_hosts(hosts: list[Host], command: str, secrets: Secrets, *, read_only: bool,
                 message: str = "", console: Console | None = None, lock_wait: float = 0,
                 connect_host: Callable[..., Remote] = connect,
                 refused: Callable[[Host, DeployToolError], None] | None = None) -> int:  # fmt: skip
    """Each host in turn; the worst exit status. A host where the command could not run
    (unreachable, locked) is said and the others still run. ``refused``: told of each such
    host (the task records it unless read-only)."""
    console = console or Console(secrets)
    several = len(hosts) > 1
    worst = 0
    for host in hosts:
        out = console.child(f"[{host.alias}] ") if several else console
        try:
            if read_only:
                code = run_read_only(host, command, secrets, out, connect_host)
            else:
                code = run_locked(host, command, secrets, out, connect_host, message, lock_wait)
        except DeployToolError as exc:
            out.out(f"ERROR: {exc}")
            if refused is not None:
                refused(host, exc)
            code = NOT_RUN
        except (ConnectionLost, Interrupted) as exc:
            what = (
                "중단됨 (Ctrl-C)" if isinstance(exc, Interrupted) else f"연결이 끊겼습니다: {exc}"
            )
            out.out(f"ERROR: {host.alias}: {what}")
            code = NOT_RUN
        if several and code:
            out.out(f"종료 코드 {code}")
        worst = max(worst, code)
        if INTERRUPT.cancel.is_set():
            break
    return worst
