#!/usr/bin/env python3
"""Runs a plan's critical section on the host, detached from SSH (systemd-run starts it).

The release strategy's switch, start, health gate and rollback must not depend on the
operator's SSH session: a dropped connection or a killed ``fab`` would otherwise leave a
half-switched service. So tasks/engine/hostscript.py compiles those steps to ``plan.json``
and uploads this file, with tasks/onhost/policy.py beside it (the same failure rules the
in-process runner applies: one policy, two executors), and starts::

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

# os.path, not pathlib: ~10 ms less of every host run's start (it waits for it)
HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)

import policy as rules  # noqa: E402 - uploaded beside this file: tasks/onhost/policy.py

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
                raise KeyboardInterrupt
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

    # --- a plan ---------------------------------------------------------------------------
    def execute(self, steps: list[dict], phase: str) -> tuple[str, str]:
        """Runs the steps; returns ("ok", "") or (outcome, problem) for the first that stops."""
        committed = False
        for k, st in enumerate(steps, 1):
            self.emit(ev="step", phase=phase, k=k, total=len(steps), n=st["section"] + st["number"],
                      title=st["title"], expected=st["expected"])  # fmt: skip
            started = time.monotonic()
            pol, then = rules.Policy[st["policy"]], rules.Policy[st["then"]]
            if phase == "deploy" and self.cancelled():
                self.end(st, phase, "interrupted", 0, "시작 전에 중단됨 (Ctrl-C)")
                return self.stopped(committed, st)
            committed = committed or rules.rolls_back(pol, then)
            if st["down"] and self.down_at is None:
                self.down_at = started
            try:
                code, out = self.sh(st["command"], stop_on_cancel=phase == "deploy")
                attempt = 1
                outcome = None
                while code != 0:
                    outcome = rules.on_failure(pol, then, attempt, self.service_down)
                    if outcome is not rules.Outcome.RETRY or not st.get("cleanup"):
                        outcome = rules.Outcome.STOP if outcome is rules.Outcome.RETRY else outcome
                        break
                    self.sh(st["cleanup"])
                    attempt += 1
                    code, out = self.sh(st["command"], stop_on_cancel=phase == "deploy")
            except KeyboardInterrupt:
                self.end(st, phase, "interrupted", time.monotonic() - started, "Ctrl-C로 중단됨")
                return self.stopped(committed, st)
            seconds = time.monotonic() - started
            if code == 0:
                self.end(st, phase, "ok", seconds, rules.detail(out))
                if st["up"]:
                    self.up_at = time.monotonic()
                continue
            status = "warned" if outcome is rules.Outcome.CONTINUE else "failed"
            self.end(st, phase, status, seconds, out)
            if st.get("diagnose"):
                self.sh(st["diagnose"], stop_on_cancel=False)
            if outcome is rules.Outcome.CONTINUE:
                continue
            problem = f"{st['section']}{st['number']} {st['title']} 실패"
            if phase == "rollback":
                return "stop", problem
            return ("rollback" if outcome is rules.Outcome.ROLLBACK else "stop"), problem
        return "ok", ""

    @property
    def service_down(self) -> bool:
        return rules.service_down(self.down_at, self.up_at)

    def stopped(self, committed: bool, st: dict) -> tuple[str, str]:
        self.interrupted = True
        outcome = rules.on_interrupt(committed, self.service_down)
        problem = f"{st['section']}{st['number']} {st['title']} 중단 (Ctrl-C)"
        return ("rollback" if outcome is rules.Outcome.ROLLBACK else "stop"), problem

    def end(self, st: dict, phase: str, status: str, seconds: float, detail: str) -> None:
        report = {"section": st["section"], "number": st["number"], "title": st["title"],
                  "expected": st["expected"], "status": status, "seconds": round(seconds, 1),
                  "detail": detail, "phase": phase}  # fmt: skip
        self.steps.append(report)
        self.emit(ev="end", **report)

    # --- the whole run --------------------------------------------------------------------
    def main(self) -> int:
        self.emit(ev="start", pid=os.getpid())
        outcome, problem = self.execute(self.plan["steps"], "deploy")
        result, rolled_back = "ok", None
        if outcome == "rollback" and self.plan["rollback"]:
            self.emit(ev="rollback", reason=problem)
            back, why = self.execute(self.plan["rollback"], "rollback")
            rolled_back = back == "ok"
            if rolled_back:
                result = "interrupted" if self.interrupted else "rolled-back"
                if self.down_at is not None and self.up_at is None:
                    self.up_at = time.monotonic()
            else:
                result, problem = "rollback-failed", f"{problem}, 그리고 롤백도 실패했습니다: {why}"
        elif outcome != "ok":
            result = "interrupted" if self.interrupted else "failed"
        downtime = None
        if self.down_at is not None:
            downtime = round((self.up_at or time.monotonic()) - self.down_at, 2)
        self.emit(ev="done", result=result, rolled_back=rolled_back, interrupted=self.interrupted,
                  problem=problem, downtime=downtime)  # fmt: skip
        self.after(result, rolled_back, problem, downtime)
        return 0 if result == "ok" else 1

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
