"""Runs a plan on a host, through its session: the one place steps are executed.

Here, and only here: a step's uploads are sent (a root step's on its own root command's
standard input, into a directory only root can read: tasks/engine/staging.py; a file that
does not arrive whole fails the step, named), its exact command is shown (``[sudo]``
where it runs as root), run with its output streamed to the progress line, timed against
the manual's estimate, and a failure, a Ctrl-C or a lost connection is turned into the
step's policy (tasks/onhost/policy.py): go on, retry after the cleanup, stop, or roll back.
Every step that ran, rollback steps included, lands in the session's report.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tasks.engine import staging
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.live import Live
from tasks.engine.report import Report, StepReport, asdict_steps
from tasks.engine.steps import Kind, Plan, Step
from tasks.engine.view import RunView
from tasks.errors import ConfigError, StepFailed
from tasks.hosts.remote import ConnectionLost, Interrupted, UploadFailed
from tasks.onhost import policy
from tasks.onhost.policy import Outcome

#: the report's types are the runner's names too (tasks/engine/report.py)
__all__ = [
    "Report",
    "Rollback",
    "Runner",
    "StepReport",
    "asdict_steps",
    "sudo_hint",
    "upload_check",
]

Rollback = Callable[[RunView, str], Plan]


#: what sudo and the root helper say when they refuse (tasks/onhost/roothelper.py)
SUDO_REFUSED = ("a password is required", "is not allowed to execute", "is not allowed to run sudo",
                "is not in the sudoers file", "dojangkok-root: ")  # fmt: skip


def sudo_hint(detail: str) -> str:
    """The next step when sudo or the root helper refused: the deploy login may run the root
    helper only, and the helper only what setup wrote into its config."""
    if not any(s in detail for s in SUDO_REFUSED):
        return ""
    return (
        " — root 권한이 거절됨: 배포 계정은 root 헬퍼(/usr/local/sbin/dojangkok-root)만 실행할 수 "
        "있습니다. `fab -H <호스트> setup`을 다시 실행하세요 (헬퍼와 그 설정을 설치; setup·push-config의 "
        "root 단계는 admin_user 계정으로)"
    )


class _RollbackStopped(Exception):
    """The rollback itself was interrupted (a second Ctrl-C) or lost its connection."""


class Runner:
    def __init__(self, session: Live):
        self.session = session
        self.out = session.console.out

    @property
    def report(self) -> Report:
        return self.session.report

    # --- a plan --------------------------------------------------------------------------
    def execute(self, plan: Plan, rollback: Rollback | None = None, phase: str = "deploy") -> None:
        """Run every step of ``plan``; on failure apply the step's policy.

        Raises StepFailed when the run stopped (rolled back or not); the report says how.
        """
        stop = INTERRUPT.abort if phase == "rollback" else INTERRUPT.cancel
        committed = False
        total = len(plan.steps)
        for k, step in enumerate(plan.steps, 1):
            view = self.session.view  # a step may have found something out (Session.set)
            self.out(
                f"[{k}/{total}] ({plan.section}{step.number}) {step.title}  (예상 {step.expected})"
            )
            skip = step.skip_if(view) if step.skip_if else None
            if skip:
                self.out(f"      - 건너뜀: {skip}")
                self._add(plan, step, "skipped", 0, skip, phase)
                continue
            for line in step.shown(view):
                self.out(f"      {line}")
            if view.dry_run:
                self._add(plan, step, "planned", 0, "", phase)
                continue
            if stop.is_set():
                self._add(plan, step, "interrupted", 0, "시작 전에 중단됨", phase)
                self._stopped(plan, step, rollback, phase, committed, "Ctrl-C")
            committed = committed or policy.rolls_back(step.policy, step.then)
            started = time.monotonic()
            if step.down and self.report.down_at is None:
                self.report.down_at = started
            try:
                ok, detail, outcome = self._attempts(plan, step, stop)
            except Interrupted:
                self._add(
                    plan, step, "interrupted", time.monotonic() - started, "Ctrl-C로 중단됨", phase
                )
                self._stopped(plan, step, rollback, phase, committed, "Ctrl-C")
            except ConnectionLost as exc:
                self._add(
                    plan,
                    step,
                    "interrupted",
                    time.monotonic() - started,
                    f"연결 끊김: {exc}",
                    phase,
                )
                self._stopped(plan, step, rollback, phase, committed, "연결 끊김")
            except ConfigError as exc:  # a LOCAL check refused (e.g. a runtime mismatch)
                self._add(plan, step, "failed", time.monotonic() - started, exc.problem, phase)
                self.out(f"      ✗ 거부: {exc.problem}")
                raise
            elapsed = time.monotonic() - started
            status = "ok" if ok else ("warned" if outcome is Outcome.CONTINUE else "failed")
            self._add(plan, step, status, elapsed, detail, phase)
            mark = {"ok": "✓", "warned": "!", "failed": "✗"}[status]
            self.out(f"      {mark} {elapsed:.1f}s" + (f"  {detail}" if detail and ok else ""))
            if ok:
                if step.up:
                    self.report.up_at = time.monotonic()
                continue
            self.out(_indent(detail))
            self._diagnose(step)
            if outcome is Outcome.CONTINUE:
                continue
            self._failed(plan, step, rollback, phase, outcome, detail)
        if phase == "deploy":
            self.report.result = "planned" if self.session.view.dry_run else "ok"

    def _attempts(self, plan: Plan, step: Step, stop) -> tuple[bool, str, Outcome | None]:
        attempt = 1
        ok, detail = self._attempt(plan, step, stop)
        while not ok:
            outcome = policy.on_failure(step.policy, step.then, attempt, self.report.service_down)
            if outcome is not Outcome.RETRY or step.cleanup is None:
                return ok, detail, outcome if outcome is not Outcome.RETRY else Outcome.STOP
            cleanup = step.cleanup(self.session.view)
            self.out(f"      ! 실패, 정리 후 재시도: {cleanup}")
            self.session.remote.run(cleanup, sudo=step.sudo, stop=stop.is_set)
            attempt += 1
            ok, detail = self._attempt(plan, step, stop)
        return ok, detail, None

    def _attempt(self, plan: Plan, step: Step, stop) -> tuple[bool, str]:
        s = self.session
        if step.kind is Kind.LOCAL:
            assert step.action is not None
            try:
                return True, step.action(s) or ""
            except (Interrupted, ConnectionLost, StepFailed, ConfigError):
                raise
            except Exception as exc:  # a LOCAL action refusing (a "no", a failed request)
                return False, str(exc)
        uploads = step.uploads(s.view) if step.uploads else ()
        texts = [u.content(s.secrets) for u in uploads]
        label = f"({plan.section}{step.number}) {step.title}"
        masker = s.secrets.stream_masker()  # a secret split across two reads stays hidden
        with s.console.progress(label, step.expected) as progress:
            run = {
                "stop": stop.is_set,
                "on_output": lambda chunk: progress.feed(masker.feed(chunk)),
            }
            command = step.render(s.view)  # a root step with uploads: receives them first
            if uploads and step.sudo:  # one root command, the files on its standard input
                res = s.remote.run(command, sudo=True, input=staging.stream(texts), **run)
                name = staging.failed(res.stderr) if not res.ok else None
                if name is not None:
                    return False, upload_refused(
                        staging.path(name), _what(uploads, name), res.tail(5)
                    )
            elif uploads:  # written as the login, then its command: one round trip
                files = [(t, u.path, u.mode) for t, u in zip(texts, uploads, strict=True)]
                try:
                    res = s.remote.put_texts(files, then=command, **run)
                except UploadFailed as exc:
                    return False, upload_refused(exc.path, _what(uploads, exc.path), exc.detail)
            else:
                res = s.remote.run(command, sudo=step.sudo, **run)
        if not res.ok:
            return False, res.tail()
        return True, policy.detail(res.stdout)

    def _diagnose(self, step: Step) -> None:
        if step.diagnose is None or not self.session.connected:
            return
        command = step.diagnose(self.session.view)
        self.out(f"      로그: {command}")
        try:
            res = self.session.remote.run(command, timeout=30)
            self.out(_indent(res.tail(30)))
        except (ConnectionLost, Interrupted):
            pass

    def _add(self, plan: Plan, step: Step, status: str, seconds: float, detail: str,
             phase: str) -> None:  # fmt: skip
        self.report.steps.append(StepReport(plan.section, step.number, step.title, step.expected,
                                            status, round(seconds, 1), detail, phase))  # fmt: skip

    # --- when a step fails ---------------------------------------------------------------
    def _problem(self, plan: Plan, step: Step, what: str = "실패") -> str:
        return f"{plan.section}{step.number} {step.title} {what}"

    def _failed(self, plan, step, rollback, phase, outcome, detail) -> None:
        problem = self._problem(plan, step)
        if phase == "rollback":
            raise StepFailed(problem, f"매뉴얼 대응: {step.on_failure}", report=self.report)
        if outcome is Outcome.ROLLBACK and rollback is not None:
            last = detail.splitlines()[-1] if detail else ""
            self._roll_back(plan, rollback, f"{problem}: {last}", problem,
                            f"매뉴얼: {step.on_failure}")  # fmt: skip
        self.report.result = "failed"
        fix = f"매뉴얼 대응: {step.on_failure}" + sudo_hint(detail)
        if self.report.service_down:
            fix = f"서비스가 내려가 있습니다! runbook의 '수동 복구' 절차를 따르세요 ({fix})"
        raise StepFailed(problem, fix, report=self.report)

    def _stopped(self, plan, step, rollback, phase, committed, why) -> None:
        """Ctrl-C or a lost connection during (or before) ``step``."""
        self.report.interrupted = True
        problem = self._problem(plan, step, f"중단 ({why})")
        if phase == "rollback":
            raise _RollbackStopped(problem)
        outcome = policy.on_interrupt(committed, self.report.service_down)
        if why == "연결 끊김":
            self._reconnect(problem)
        if outcome is Outcome.ROLLBACK and rollback is not None:
            self._roll_back(plan, rollback, problem, problem, why)
        self.report.result = "interrupted"
        raise StepFailed(
            problem,
            "서비스를 바꾸기 전에 멈췄습니다: 서비스는 그대로입니다. 준비되면 다시 배포하세요",
            report=self.report,
        )

    def _reconnect(self, problem: str) -> None:
        self.out("!!! 연결이 끊겼습니다: 다시 연결합니다 ...")
        try:
            self.session.reconnect()
        except ConnectionLost as exc:
            self.report.result = "connection-lost"
            raise StepFailed(
                f"{problem}, 다시 연결하지 못했습니다: {exc}",
                "서비스가 내려가 있을 수 있습니다! 호스트에 접속되면: " + self.session.recovery(),
                report=self.report,
            ) from None
        self.out("    다시 연결했습니다.")

    def _roll_back(self, plan: Plan, rollback: Rollback, reason: str, problem: str,
                   why: str) -> None:  # fmt: skip
        """Run the rollback plan; always raises StepFailed saying how it ended."""
        self.out(f"!!! {problem} → 롤백 시작 ({why})")
        try:
            self.execute(rollback(self.session.view, reason), phase="rollback")
        except StepFailed as exc:
            self.report.result, self.report.rolled_back = "rollback-failed", False
            raise StepFailed(
                f"{problem}, 그리고 롤백도 실패했습니다: {exc.problem}",
                "서비스가 내려가 있을 수 있습니다. runbook의 '수동 복구' 절차를 따르세요: "
                + self.session.recovery(),
                report=self.report,
            ) from None
        except _RollbackStopped as exc:
            self.report.result, self.report.rolled_back = "interrupted", False
            raise StepFailed(
                f"{problem}, 그리고 롤백이 멈췄습니다 ({exc})",
                self.session.host_state() + "\n  → 복구: " + self.session.recovery(),
                report=self.report,
            ) from None
        if self.report.down_at is not None and self.report.up_at is None:
            self.report.up_at = time.monotonic()
        self.report.rolled_back = True
        self.report.result = "interrupted" if self.report.interrupted else "rolled-back"
        raise StepFailed(problem, "이전 버전으로 롤백했습니다. 원인을 고친 뒤 다시 배포하세요",
                         True, self.report)  # fmt: skip


def _what(uploads, path: str) -> str:
    return next((u.what for u in uploads if u.path == path or u.path.endswith(f"/{path}")), "")


def upload_check(path: str) -> str:
    """What went wrong with ``path``, a file that did not arrive whole, and what to check."""
    if path.startswith(staging.STAGE + "/"):
        return (f"root만 읽을 수 있는 임시 디렉터리({staging.TEMPLATE})로 보낸 파일이 다 도착하지 "
                "않았습니다. 확인: 호스트의 /run 여유 공간(`df -h /run`)과 SSH 연결")  # fmt: skip
    return (
        "호스트에 쓴 크기가 보낸 크기와 다르거나 쓰지 못했습니다. 확인: 그 디렉터리의 소유자와 "
        "권한, 디스크 여유 공간(`df -h`), 그리고 배포 계정으로 도는 낯선 프로세스가 그 파일을 "
        "바꾸고 있지 않은지(`ps -u <배포 계정>`)"
    )


def upload_refused(path: str, what: str, said: str) -> str:
    """A step's file that did not arrive whole, named, with what to check (the step then
    fails by its policy: its command did not run)."""
    said = f" — 호스트: {said.strip()}" if said.strip() else ""
    what = f" ({what})" if what else ""
    return f"업로드 실패: {path}{what}: {upload_check(path)}. 이 단계의 명령은 실행하지 않았습니다{said}"


def _indent(text: str) -> str:
    return "\n".join("      | " + line for line in text.splitlines())
