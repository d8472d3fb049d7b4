#!/usr/bin/env python3
"""The step loop (:class:`Loop`), and the host run of a plan's critical section, detached
from SSH (systemd-run starts it).

:class:`Loop` is the one place that decides, for a plan's steps, run → the outcome by the
step's policy (policy.py) → retry after the cleanup, go on, stop or roll back → the report.
Its executor runs each step: :class:`Run` here, on the host; tasks/engine/runner.py in the
operator's process (over SSH, local steps, uploads, console output, reconnecting), which
imports this module as ``tasks.onhost.hostrun``.

The release strategy's switch, start, health gate and rollback must not depend on the
operator's SSH session: a dropped connection or a killed ``fab`` would otherwise leave a
half-switched service. So tasks/engine/hostscript.py compiles those steps to ``plan.json``
and uploads this file, with tasks/onhost/policy.py beside it (the same loop and failure rules
the in-process runner applies: one loop, two executors), and starts::

    sudo -n /usr/local/sbin/dojangkok-root hostrun <run id> <title>

which runs ``systemd-run --unit=dojangkok-deploy-<run id> --uid=<deploy login> python3
hostrun.py <dir>`` (tasks/onhost/roothelper.py checks the directory is the deploy login's).

Standard library only; runs as the deploy login, never as root: a step's root actions are
its own calls of the root helper. It makes ``<dir>`` 0700 and writes one JSON line per event
to ``<dir>/status.jsonl`` (0600; a step starts, prints a line, ends; the rollback starts; the
run is done), which the operator's side streams and turns back into its report. A file ``<dir>/cancel`` is Ctrl-C: the running command is ended
and the policy decides (roll back once committed). When the run is done, the operator's side
answers with ``<dir>/ack``; without one (the operator is gone) this script writes the record
to the host's history and releases the deploy lock itself.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import pwd
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import NamedTuple

if __package__:  # imported by the operator's tool (tasks.onhost.hostrun): the in-process runner
    from tasks.onhost import policy as rules
else:  # uploaded, with policy.py beside it; run with ``python3 -IS`` (roothelper.py), which
    # leaves the script's directory off sys.path. os.path, not pathlib: ~10 ms less of every
    # host run's start (it waits for it)
    sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    import policy as rules

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# --- the step loop: the one place a plan's steps are run, judged and reported -------------
class Stopped(Exception):
    """An executor's step was stopped: Ctrl-C (on the host: a ``cancel`` file) or a lost
    connection. ``detail`` is the step's result detail, ``why`` names it in the problem."""

    def __init__(self, detail: str, why: str = "Ctrl-C"):
        super().__init__(detail)
        self.detail, self.why = detail, why


class Refused(Exception):
    """The operator's side refused to run a step (a local check): the step is reported
    failed with ``detail``, then ``error`` goes on as it is."""

    def __init__(self, detail: str, error: BaseException):
        super().__init__(detail)
        self.detail, self.error = detail, error


class Halt(NamedTuple):
    """The step that ended a phase early, and how."""

    item: dict
    problem: str  # e.g. "B10 헬스체크 실패", "B8 빌드 중단 (Ctrl-C)"
    detail: str  # the step's result detail
    stopped: bool  # stopped (Ctrl-C, a lost connection), not failed
    rolls_back: bool  # what the policy says: roll back (else stop)
    reason: str  # why a rollback runs, for the rollback plan (the problem, the output's end)
    why: str  # what the rollback's announcement names: the manual's response, or the stop


class Ending(NamedTuple):
    """How a run of the loop ended."""

    result: str  # ok | failed | interrupted | rolled-back | rollback-failed
    problem: str = ""  # the run's problem; with the rollback's own when that failed
    rolled_back: bool | None = None  # None: no rollback ran
    halt: Halt | None = None  # what stopped the steps
    back: Halt | None = None  # what stopped the rollback's steps


class Loop:
    """Runs a plan's steps, one loop for both executors: the host run (:class:`Run`, below)
    and the in-process runner (tasks/engine/runner.py). Per step: skip, plan (a dry run),
    stop before it starts, run, retry after the cleanup, go on, stop or roll back, as the
    step's policy (policy.py) says; every step's result goes to the report.

    A step is a dict (what plan.json carries: tasks/engine/steps.py ``Step.fields``).
    The executor runs it (``run``, ``clean``, ``diagnose``), says what the operator sees
    (``begin``, ``show``, ``ended``) and gives the rollback's steps (``rollback``); ``state``
    keeps ``down_at``, ``up_at`` and ``interrupted`` (across plans, for the runner)."""

    def __init__(self, executor, state):
        self.x, self.state = executor, state

    @property
    def service_down(self) -> bool:
        return rules.service_down(self.state.down_at, self.state.up_at)

    def run(self, items: Sequence[dict], phase: str = "deploy") -> Ending:
        """The steps; after a failure or a stop that rolls back, the rollback's steps."""
        halt = self.steps(items, phase)
        if halt is None:
            return Ending("ok")
        if phase == "deploy" and halt.stopped:
            self.x.reconnect(halt)
        back = self.x.rollback(halt.problem, halt.reason, halt.why) if (
            phase == "deploy" and halt.rolls_back) else None  # fmt: skip
        if back is None:
            return Ending("interrupted" if halt.stopped else "failed", halt.problem, None, halt)
        again = self.steps(back, "rollback")
        if again is not None:
            return Ending("rollback-failed", f"{halt.problem}, 그리고 롤백도 실패했습니다: "
                          f"{again.problem}", False, halt, again)  # fmt: skip
        if self.state.down_at is not None and self.state.up_at is None:
            self.state.up_at = time.monotonic()
        result = "interrupted" if self.state.interrupted else "rolled-back"
        return Ending(result, halt.problem, True, halt)

    def steps(self, items: Sequence[dict], phase: str) -> Halt | None:
        """Runs ``items``; None when every step passed (or went on), else what stopped."""
        x, state = self.x, self.state
        committed = False
        for k, item in enumerate(items, 1):
            x.begin(k, len(items), item, phase)
            skip = x.skip(item)
            if skip:
                self.end(item, phase, "skipped", 0, skip)
                continue
            x.show(item)
            if x.dry_run:
                self.end(item, phase, "planned", 0, "")
                continue
            if x.stop_asked(phase):
                self.end(item, phase, "interrupted", 0, "시작 전에 중단됨 (Ctrl-C)")
                return self.stopped(item, "Ctrl-C", committed)
            policy, then = rules.Policy[item["policy"]], rules.Policy[item["then"]]
            committed = committed or rules.rolls_back(policy, then)
            started = time.monotonic()
            if item["down"] and state.down_at is None:
                state.down_at = started
            try:
                ok, detail, outcome = self.attempts(item, phase, policy, then)
            except Stopped as stop:
                self.end(item, phase, "interrupted", time.monotonic() - started, stop.detail)
                return self.stopped(item, stop.why, committed)
            except Refused as no:
                self.end(item, phase, "failed", time.monotonic() - started, no.detail)
                raise no.error from None
            seconds = time.monotonic() - started
            if ok:
                self.end(item, phase, "ok", seconds, detail)
                if item["up"]:
                    state.up_at = time.monotonic()
                continue
            going_on = outcome is rules.Outcome.CONTINUE
            self.end(item, phase, "warned" if going_on else "failed", seconds, detail)
            x.diagnose(item)
            if going_on:
                continue
            problem = f"{item['section']}{item['number']} {item['title']} 실패"
            last = detail.splitlines()[-1] if detail else ""
            return Halt(item, problem, detail, False, outcome is rules.Outcome.ROLLBACK,
                        f"{problem}: {last}", f"매뉴얼: {item['on_failure']}")  # fmt: skip
        return None

    def attempts(self, item: dict, phase: str, policy, then) -> tuple[bool, str, object]:
        """The step, and again after its cleanup while the policy says retry: (ok, detail,
        the outcome of its failure: None when it passed)."""
        attempt = 1
        ok, detail = self.x.run(item, phase)
        while not ok:
            outcome = rules.on_failure(policy, then, attempt, self.service_down)
            if outcome is not rules.Outcome.RETRY:
                return ok, detail, outcome
            if not self.x.clean(item, phase):  # nothing to clean up: no second try
                return ok, detail, rules.Outcome.STOP
            attempt += 1
            ok, detail = self.x.run(item, phase)
        return ok, detail, None

    def stopped(self, item: dict, why: str, committed: bool) -> Halt:
        """Ctrl-C or a lost connection, during (or before) ``item``: the policy decides."""
        self.state.interrupted = True
        problem = f"{item['section']}{item['number']} {item['title']} 중단 ({why})"
        outcome = rules.on_interrupt(committed, self.service_down)
        return Halt(item, problem, "", True, outcome is rules.Outcome.ROLLBACK, problem, why)

    def end(self, item: dict, phase: str, status: str, seconds: float, detail: str) -> None:
        self.x.ended({"section": item["section"], "number": item["number"],
                      "title": item["title"], "expected": item["expected"], "status": status,
                      "seconds": round(seconds, 1), "detail": detail, "phase": phase})  # fmt: skip


# --- the host run: the loop's executor on the host ------------------------------------------
def private_dirs(where: str) -> None:
    """The run's directory and ``hostrun/`` above it: the deploy login's alone (0700). They
    were made by the upload (umask 022); what a run prints is nobody else's to read."""
    for d in (os.path.dirname(os.path.normpath(where)), where):
        # not ours (a state_dir laid out by hand): the files are 0600 all the same
        with contextlib.suppress(OSError):
            os.chmod(d, 0o700)


def private_file(path: str) -> int:
    """``path`` opened for appending, 0600 (made so if it was not: an older tool left 0640)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return fd


class Run:
    def __init__(self, where: str):
        self.dir = where
        with open(os.path.join(where, "plan.json"), encoding="utf-8") as f:
            self.plan = json.load(f)
        self.login = pwd.getpwuid(os.getuid())
        private_dirs(where)
        self.status = os.fdopen(private_file(os.path.join(where, "status.jsonl")), "a",
                                encoding="utf-8")  # fmt: skip
        self.steps: list[dict] = []
        self.down_at: float | None = None
        self.up_at: float | None = None
        self.interrupted = False
        self.proc: subprocess.Popen | None = None

    # --- events --------------------------------------------------------------------------
    def emit(self, **event) -> None:
        event["t"] = round(time.time(), 3)
        line = json.dumps(event, ensure_ascii=False)
        self.status.write(line + "\n")
        self.status.flush()
        print(line, flush=True)  # the journal of the transient unit keeps it too

    def cancelled(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "cancel"))

    # --- one command ----------------------------------------------------------------------
    def sh(self, command: str, stop_on_cancel: bool = True) -> tuple[int, str]:
        user = self.login
        env = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": user.pw_dir, "USER": user.pw_name}
        self.proc = subprocess.Popen(
            ["bash", "-o", "pipefail", "-c", command], env=env, cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd, pending, lines = self.proc.stdout.fileno(), "", []

        def take(data: bytes) -> None:
            nonlocal pending
            pending += decoder.decode(data)
            *complete, pending = pending.split("\n")
            for line in complete:
                lines.append(line)
                self.emit(ev="out", line=line[-300:])

        while True:
            if select.select([fd], [], [], 0.1)[0]:
                data = os.read(fd, 65536)
                if not data:
                    break  # end of output
                take(data)
                continue
            if self.proc.poll() is not None:
                # what is there, without waiting for the end (a child may keep it open)
                while select.select([fd], [], [], 0)[0] and (data := os.read(fd, 65536)):
                    take(data)
                break
            if stop_on_cancel and self.cancelled():
                self.kill()
                raise Stopped("Ctrl-C로 중단됨")
        pending += decoder.decode(b"", final=True)
        if pending:
            lines.append(pending)
            self.emit(ev="out", line=pending[-300:])
        self.proc.wait()
        return self.proc.returncode, "\n".join(lines[-15:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)

    # --- the loop's executor ----------------------------------------------------------------
    dry_run = False  # a host run always runs

    def begin(self, k: int, total: int, st: dict, phase: str) -> None:
        self.emit(ev="step", phase=phase, k=k, total=total, n=st["section"] + st["number"],
                  title=st["title"], expected=st["expected"])  # fmt: skip

    def skip(self, st: dict) -> str:
        return st.get("skip", "")

    def show(self, st: dict) -> None:
        """The operator's side shows the steps as it follows (tasks/engine/hostscript.py)."""

    def stop_asked(self, phase: str) -> bool:
        return phase == "deploy" and self.cancelled()

    def run(self, st: dict, phase: str) -> tuple[bool, str]:
        code, out = self.sh(st["command"], stop_on_cancel=phase == "deploy")
        return (True, rules.detail(out)) if code == 0 else (False, out)

    def clean(self, st: dict, phase: str) -> bool:
        if not st.get("cleanup"):
            return False
        self.sh(st["cleanup"], stop_on_cancel=phase == "deploy")
        return True

    def diagnose(self, st: dict) -> None:
        if st.get("diagnose"):
            self.sh(st["diagnose"], stop_on_cancel=False)

    def ended(self, report: dict) -> None:
        self.steps.append(report)
        self.emit(ev="end", **report)

    def reconnect(self, halt: Halt) -> None:
        """Nothing to reconnect: the host run has no connection to lose."""

    def rollback(self, problem: str, reason: str, why: str) -> list[dict] | None:
        if not self.plan["rollback"]:
            return None
        self.emit(ev="rollback", reason=problem)
        return self.plan["rollback"]

    # --- the whole run --------------------------------------------------------------------
    def main(self) -> int:
        self.emit(ev="start", pid=os.getpid())
        end = Loop(self, self).run(self.plan["steps"])
        downtime = None
        if self.down_at is not None:
            downtime = round((self.up_at or time.monotonic()) - self.down_at, 2)
        self.emit(ev="done", result=end.result, rolled_back=end.rolled_back,
                  interrupted=self.interrupted, problem=end.problem, downtime=downtime)  # fmt: skip
        self.after(end.result, end.rolled_back, end.problem, downtime)
        return 0 if end.result == "ok" else 1

    def after(self, result: str, rolled_back, problem: str, downtime) -> None:
        """The operator acknowledges within ack_wait seconds, or this script finishes up."""
        deadline = time.monotonic() + float(self.plan.get("ack_wait", 15))
        while time.monotonic() < deadline:
            if os.path.exists(os.path.join(self.dir, "ack")):
                return
            time.sleep(0.2)
        entry = dict(self.plan["record"]["entry"])
        entry.update(steps=entry.get("steps", []) + self.steps, result=result, rolled_back=rolled_back,
                     interrupted=self.interrupted, message=problem, downtime_seconds=downtime,
                     recorded_by="host (the operator's side was gone)")  # fmt: skip
        history = self.plan["record"]["path"]
        with os.fdopen(private_file(history), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.sh(self.plan["unlock"], stop_on_cancel=False)
        self.emit(ev="recorded", history=history)


def main() -> int:
    where = sys.argv[1]
    return Run(where).main()


if __name__ == "__main__":
    sys.exit(main())
