"""Runs a plan on a host, through its session: the step loop's executor in the operator's
process. The loop (tasks/onhost/hostrun.py ``Loop``, shared with the host run) decides
what happens after each step; here a step is run and shown.

Here: a step's uploads are sent (a root step's on its own root command's
standard input, into a directory only root can read: tasks/engine/staging.py; a file that
does not arrive whole fails the step, named), its exact command is shown (``[sudo]``
where it runs as root), run with its output streamed to the progress line, timed against
the manual's estimate; a Ctrl-C or a lost connection stops it (the loop then applies the
step's policy, tasks/onhost/policy.py: go on, retry after the cleanup, stop, or roll back;
after a lost connection this side reconnects first), and how the run ended becomes the
StepFailed the task raises. Every step that ran, rollback steps included, lands in the
session's report (:func:`report_step`, also for the host run's steps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from tasks.durations import duration_text
from tasks.engine import staging
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.live import Live
from tasks.engine.report import Report, StepReport, asdict_steps
from tasks.engine.steps import Kind, Plan, Step
from tasks.engine.view import RunView
from tasks.errors import ConfigError, StepFailed
from tasks.hosts.remote import ConnectionLost, Interrupted, UploadFailed
from tasks.onhost import policy
from tasks.onhost.hostrun import Halt, Loop, Refused, Stopped

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


#: how a lost connection is named in a stopped step's problem
LOST = "연결 끊김"


@contextlib.contextmanager
def _stops() -> Iterator[None]:
    """A Ctrl-C or a lost connection during a step, as the step loop knows them."""
    try:
        yield
    except Interrupted:
        raise Stopped("Ctrl-C로 중단됨") from None
    except ConnectionLost as exc:
        raise Stopped(f"{LOST}: {exc}", LOST) from None


class Runner:
    """The step loop's executor in the operator's process (tasks/onhost/hostrun.py ``Loop``
    decides; this runs a step over SSH or locally, with its uploads, and shows it)."""

    def __init__(self, session: Live):
        self.session = session
        self.out = session.console.out
        self.back: Rollback | None = None

    @property
    def report(self) -> Report:
        return self.session.report

    # --- a plan --------------------------------------------------------------------------
    def execute(self, plan: Plan, rollback: Rollback | None = None, phase: str = "deploy") -> None:
        """Run every step of ``plan``; on failure apply the step's policy.

        Raises StepFailed when the run stopped (rolled back or not); the report says how.
        """
        self.back = rollback
        end = Loop(self, self.report).run(_items(plan), phase)
        r, halt = self.report, end.halt
        if halt is None:
            if phase == "deploy":
                r.result = "planned" if self.session.view.dry_run else "ok"
            return
        if phase == "rollback":  # a rollback of its own (Session.rollback) stopped
            if halt.stopped:
                raise _RollbackStopped(halt.problem)
            raise StepFailed(halt.problem, f"매뉴얼 대응: {halt.item['on_failure']}", report=r)
        recovery = self.session.recovery()
        if end.rolled_back:
            r.result, r.rolled_back = end.result, True
            raise StepFailed(halt.problem, "이전 버전으로 롤백했습니다. 원인을 고친 뒤 다시 배포하세요",
                             True, r)  # fmt: skip
        if end.back is not None and end.back.stopped:
            r.result, r.rolled_back = "interrupted", False
            raise StepFailed(f"{halt.problem}, 그리고 롤백이 멈췄습니다 ({end.back.problem})",
                             self.session.host_state() + "\n  → 복구: " + recovery, report=r)  # fmt: skip
        if end.back is not None:
            r.result, r.rolled_back = "rollback-failed", False
            raise StepFailed(end.problem, "서비스가 내려가 있을 수 있습니다. runbook의 '수동 복구' "
                             "절차를 따르세요: " + recovery, report=r)  # fmt: skip
        r.result = end.result
        if halt.stopped:
            raise StepFailed(halt.problem, "서비스를 바꾸기 전에 멈췄습니다: 서비스는 그대로입니다. "
                             "준비되면 다시 배포하세요", report=r)  # fmt: skip
        fix = f"매뉴얼 대응: {halt.item['on_failure']}" + sudo_hint(halt.detail)
        if r.service_down:
            fix = f"서비스가 내려가 있습니다! runbook의 '수동 복구' 절차를 따르세요 ({fix})"
        raise StepFailed(halt.problem, fix, report=r)

    # --- the step loop's executor (tasks/onhost/hostrun.py Loop) -------------------------
    @property
    def dry_run(self) -> bool:
        return self.session.view.dry_run

    def begin(self, k: int, total: int, item: dict, phase: str) -> None:
        self.out(f"[{k}/{total}] ({item['section']}{item['number']}) {item['title']}  "
                 f"(예상 {item['expected']})")  # fmt: skip

    def skip(self, item: dict) -> str:
        step: Step = item["step"]
        # the view now: a step before may have found something out (Session.set)
        return (step.skip_if(self.session.view) or "") if step.skip_if else ""

    def show(self, item: dict) -> None:
        for line in item["step"].shown(self.session.view):
            self.out(f"      {line}")

    def stop_asked(self, phase: str) -> bool:
        return _stop(phase).is_set()

    def run(self, item: dict, phase: str) -> tuple[bool, str]:
        try:
            with _stops():
                return self.attempt(item, phase)
        except ConfigError as exc:  # a LOCAL check refused (e.g. a runtime mismatch)
            raise Refused(exc.problem, exc) from None

    def attempt(self, item: dict, phase: str) -> tuple[bool, str]:
        """One try of a step: (ok, its result detail)."""
        s, step, stop = self.session, item["step"], _stop(phase)
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
        label = f"({item['section']}{step.number}) {step.title}"
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

    def clean(self, item: dict, phase: str) -> bool:
        step: Step = item["step"]
        if step.cleanup is None:
            return False
        cleanup = step.cleanup(self.session.view)
        self.out(f"      ! 실패, 정리 후 재시도: {cleanup}")
        with _stops():
            self.session.remote.run(cleanup, sudo=step.sudo, stop=_stop(phase).is_set)
        return True

    def diagnose(self, item: dict) -> None:
        step: Step = item["step"]
        if step.diagnose is None or not self.session.connected:
            return
        command = step.diagnose(self.session.view)
        self.out(f"      로그: {command}")
        try:
            res = self.session.remote.run(command, timeout=30)
            self.out(_indent(res.tail(30)))
        except (ConnectionLost, Interrupted):
            pass

    def ended(self, entry: dict) -> None:
        report_step(self.session, entry)

    def reconnect(self, halt: Halt) -> None:
        """After a lost connection: a new one, before the rollback runs over it."""
        if halt.why != LOST:
            return
        self.out("!!! 연결이 끊겼습니다: 다시 연결합니다 ...")
        try:
            self.session.reconnect()
        except ConnectionLost as exc:
            self.report.result = "connection-lost"
            raise StepFailed(
                f"{halt.problem}, 다시 연결하지 못했습니다: {exc}",
                "서비스가 내려가 있을 수 있습니다! 호스트에 접속되면: " + self.session.recovery(),
                report=self.report,
            ) from None
        self.out("    다시 연결했습니다.")

    def rollback(self, problem: str, reason: str, why: str) -> list[dict] | None:
        if self.back is None:
            return None
        self.out(f"!!! {problem} → 롤백 시작 ({why})")
        return _items(self.back(self.session.view, reason))


def _items(plan: Plan) -> list[dict]:
    """The plan's steps as the step loop reads them, each with the Step it runs."""
    return [{**step.fields(plan.section), "step": step} for step in plan.steps]


def _stop(phase: str):
    """What stops a step: the first Ctrl-C, or during a rollback only the second."""
    return INTERRUPT.abort if phase == "rollback" else INTERRUPT.cancel


MARKS = {"ok": "✓", "warned": "!", "failed": "✗", "interrupted": "✗"}


def report_step(s: Live, entry: dict) -> None:
    """A step's end, from either executor's loop (here, or the host run's ``end`` event
    that tasks/engine/hostscript.py follows): into the report, and shown."""
    step = StepReport(**{k: entry[k] for k in StepReport.__dataclass_fields__})
    s.report.steps.append(step)
    out = s.console.out
    if step.status == "skipped":
        out(f"      - 건너뜀: {step.detail}")
    elif step.status in MARKS:
        ok = step.status == "ok"
        out(
            f"      {MARKS[step.status]} {duration_text(step.seconds)}"
            + (f"  {step.detail}" if step.detail and ok else "")
        )
        if not ok and step.detail:
            out(_indent(step.detail))


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
