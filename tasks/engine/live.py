"""One task's live link to its host and its operator: what steps, checklists, records, the
runner and the host run's follower work with.

:class:`Live` holds the run's view, the connection, the console and the report, and reads
the host (one command, several in one round trip, read ahead). The session
(tasks/engine/session.py) is a Live that also runs plans, holds the deploy lock and ends the
run (summary, record, notice); the modules below it take a Live, so they never import the
session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from tasks.engine.console import Console
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.report import Report
from tasks.engine.view import RunView
from tasks.errors import HostCommandFailed
from tasks.hosts.remote import ConnectionLost, Interrupted, Remote, Result
from tasks.hosts.secrets import Secrets

RECONNECT_WITHIN = 30.0


class WithRecord(NamedTuple):
    """Something a run still has to do on the host, done in the record's round trip (the
    record is the last thing a session writes there): a command, after ``files`` (text,
    path, mode) are written; ``what`` names it when it could not be done."""

    command: str
    what: str
    files: tuple[tuple[str, str, str], ...] = ()


class Live:
    def __init__(self, view: RunView, secrets: Secrets, *, yes: bool, console: Console,
                 remote: Remote | None, title: str) -> None:  # fmt: skip
        self.view = view
        self.secrets = secrets
        self.yes = yes
        self.console = console
        self.remote = remote
        self.title = title
        self.answers: list[dict] = []
        self.report = Report(view.task, view.component, view.host.alias)
        #: the host's critical section still runs and will release the lock itself
        self.lock_handed_over = False
        #: the command that recovers the host if this task ends badly (set by the flow)
        self.recover_with = f"runbook의 '수동 복구' ({view.host.alias})"
        #: a command printing the host's state for an operator (set by the flow)
        self.state_command = ""
        #: reads answered ahead, in one round trip (prefetch): command → its output
        self.prefetched: dict[str, str] = {}
        #: what goes to the host with the record, in its round trip (records.append)
        self.with_record: list[WithRecord] = []

    # --- the deploy lock, while the host runs on its own --------------------------------
    @contextmanager
    def lock_left_to_host(self) -> Iterator[None]:
        """While the host's critical section runs on its own (systemd-run, followed from
        here): if this side ends inside the block (an error, Ctrl-C twice, a lost
        connection), the host finishes and releases the deploy lock itself, so this session
        leaves it alone. When the block ends well, the host has handed the end back: the lock
        is this session's to release again."""
        self.lock_handed_over = True
        yield
        self.lock_handed_over = False

    def detach(self) -> None:
        """This side stops following the host's run, which finishes (and unlocks) alone."""
        self.lock_handed_over, self.report.result = True, "detached"

    # --- the host --------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.remote is not None and self.remote.alive

    def sh(self, command: str, sudo: bool = False) -> Result:
        assert self.remote is not None, "dry runs never reach the host"
        if not sudo and command in self.prefetched:  # read ahead (prefetch), once
            return Result(True, 0, self.prefetched.pop(command), "")
        return self.remote.run(command, sudo=sudo, stop=INTERRUPT.cancel.is_set)

    def prefetch(self, commands: list[str]) -> None:
        """Read several commands in one round trip ahead of the code that reads them one
        by one: :meth:`sh` answers each from here, once. One that failed is not kept: it
        runs again when asked, for its exact status and error."""
        if self.view.dry_run or self.remote is None or len(commands) < 2:
            return
        try:
            got = self.batch(commands)
        except HostCommandFailed:  # the batch itself went wrong: each is read on its own
            return
        self.prefetched.update({c: out for c, (ok, out) in zip(commands, got, strict=True) if ok})

    def query(self, command: str, sudo: bool = False) -> str:
        """Read something from the host (checklists, revisions); '' in a dry run."""
        if self.view.dry_run or self.remote is None:
            return ""
        res = self.sh(command, sudo=sudo)
        if not res.ok:
            raise HostCommandFailed(self.view.host.alias, command, res.tail() or f"exit {res.exit}")
        return res.stdout.strip()

    def batch(self, commands: list[str], sudo: bool = False) -> list[tuple[bool, str]]:
        """Several independent reads in one round trip: each command in a subshell of its
        own, its output and whether it succeeded, in order. ``[]`` in a dry run."""
        if self.view.dry_run or self.remote is None:
            return []
        mark = f"@@dojangkok-batch-{self.view.run_id}"
        script = "; ".join(f"( {c}\n); printf '\\n{mark} %s\\n' $?" for c in commands)
        res = self.sh(script, sudo=sudo)
        # output 1, then for each command: "<its status>\n<the next one's output>"
        first, *rest = res.stdout.split(f"\n{mark} ")
        if len(rest) != len(commands):
            raise HostCommandFailed(self.view.host.alias, commands[min(len(rest), len(commands) - 1)],
                                    res.tail() or f"exit {res.exit}")  # fmt: skip
        outputs, codes = [first], []
        for part in rest:
            code, _, output = part.partition("\n")
            codes.append(code.strip())
            outputs.append(output)
        return [(code == "0", out.strip()) for code, out in zip(codes, outputs, strict=False)]

    def reconnect(self) -> None:
        """A new connection after a drop: retried with backoff for up to 30 s."""
        # imported here: only a dropped connection needs it (8 ms of every start-up)
        from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

        assert self.remote is not None
        try:
            for attempt in Retrying(
                stop=stop_after_delay(RECONNECT_WITHIN) | (lambda _: INTERRUPT.abort.is_set()),
                wait=wait_exponential(multiplier=0.5, max=8),
                retry=retry_if_exception_type(Exception),
                reraise=True,
            ):
                with attempt:
                    self.remote.reconnect()
        except Exception as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None

    def host_state(self) -> str:
        """What the host looks like now, for an operator deciding what to do."""
        if not self.state_command:
            return "호스트 상태: (확인 명령 없음)"
        try:
            if not self.connected:
                self.reconnect()
            res = self.remote.run(self.state_command, timeout=15)
            return "호스트 상태:\n" + "\n".join(f"    {line}" for line in res.tail(20).splitlines())
        except (ConnectionLost, Interrupted) as exc:
            return f"호스트 상태를 읽지 못했습니다: {exc}"

    def recovery(self) -> str:
        return self.recover_with
