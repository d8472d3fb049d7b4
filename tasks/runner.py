"""The one place that runs commands on a host.

Here, and only here: commands are logged (secrets masked), timed against the manual's
estimate, retried or polled, and a failure is turned into the step's policy (abort, roll
back, retry, warn). Everything else builds strings and data.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fabric import Connection
from invoke.exceptions import AuthFailure, CommandTimedOut

from tasks.context import Run, q
from tasks.errors import StepFailed
from tasks.secrets import Secrets
from tasks.steps import Kind, Plan, Policy, Step


@dataclass
class Result:
    ok: bool
    exit: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class StepReport:
    number: str
    title: str
    expected: str
    status: str  # ok | failed | skipped | planned
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Report:
    component: str
    host: str
    kind: str
    steps: list[StepReport] = field(default_factory=list)
    down_at: float | None = None
    up_at: float | None = None
    result: str = "running"
    rolled_back: bool | None = None

    @property
    def downtime(self) -> float | None:
        if self.down_at is None:
            return None
        end = self.up_at if self.up_at is not None else time.monotonic()
        return max(0.0, end - self.down_at)

    def to_dict(self) -> dict:
        return {
            "steps": [s.__dict__ for s in self.steps],
            "downtime_seconds": None if self.downtime is None else round(self.downtime, 1),
            "result": self.result,
            "rolled_back": self.rolled_back,
        }


def _write(text: str) -> None:
    print(text, flush=True)


class Runner:
    def __init__(
        self,
        conn: Connection | None,
        secrets: Secrets,
        out: Callable[[str], None] = _write,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.conn = conn
        self.secrets = secrets
        self.out = lambda text: out(secrets.mask(text))
        self.sleep = sleep

    # --- commands ---------------------------------------------------------------------
    def sh(self, command: str, sudo: bool = False, timeout: int | None = None) -> Result:
        """Run ``command`` under bash with pipefail; never raises on a non-zero exit."""
        assert self.conn is not None, "dry runs never reach the host"
        wrapped = f"bash -o pipefail -c {q(command)}"
        kwargs = dict(hide=True, warn=True, in_stream=False, timeout=timeout)
        try:
            res = self.conn.sudo(wrapped, **kwargs) if sudo else self.conn.run(wrapped, **kwargs)
        except (AuthFailure, CommandTimedOut) as exc:  # a wrong sudo password, a hung command
            return Result(False, -1, "", self.secrets.mask(f"{type(exc).__name__}: {exc}"))
        mask = self.secrets.mask
        return Result(res.exited == 0, res.exited, mask(res.stdout), mask(res.stderr))

    def put_text(self, text: str, remote_path: str, mode: str = "600") -> None:
        """Write a file on the host through SFTP (secrets travel this way, never in argv)."""
        assert self.conn is not None
        # Create it with its final mode first: a secret is never readable by others.
        made = self.conn.run(
            f"install -m {mode} /dev/null {q(remote_path)}", hide=True, warn=True, in_stream=False
        )
        if made.exited != 0:
            raise OSError(f"cannot create {remote_path}: {made.stderr.strip()}")
        self.conn.put(io.BytesIO(text.encode()), remote=remote_path)

    # --- plans -------------------------------------------------------------------------
    def execute(
        self, plan: Plan, run: Run, rollback: Callable[[Run, str], Plan] | None = None
    ) -> Report:
        """Run every step of ``plan``; on failure apply the step's policy.

        Raises StepFailed when the run stopped; the report is attached as ``.report``.
        """
        report = Report(plan.component, run.host.alias, run.kind)
        total = len(plan.steps)
        for k, step in enumerate(plan.steps, 1):
            self.out(
                f"[{k}/{total}] ({plan.section}{step.number}) {step.title}  (예상 {step.expected})"
            )
            skip = step.skip_if(run) if step.skip_if and not run.dry_run else None
            if skip:
                self.out(f"      - 건너뜀: {skip}")
                report.steps.append(
                    StepReport(step.number, step.title, step.expected, "skipped", 0, skip)
                )
                continue
            shown = step.render(run)
            if shown:
                self.out(f"      $ {('[sudo] ' if step.sudo else '') + shown}")
            if run.dry_run:
                report.steps.append(StepReport(step.number, step.title, step.expected, "planned"))
                continue
            started = time.monotonic()
            if step.down and report.down_at is None:
                report.down_at = started
            ok, detail = self._attempt(step, run)
            if not ok and step.policy is Policy.RETRY and step.cleanup:
                self.out(f"      ! 실패, 정리 후 재시도: {step.cleanup(run)}")
                self.sh(step.cleanup(run), sudo=step.sudo)
                ok, detail = self._attempt(step, run)
            elapsed = time.monotonic() - started
            status = "ok" if ok else "failed"
            if not ok and step.policy is Policy.WARN:
                status = "warned"
            report.steps.append(
                StepReport(
                    step.number, step.title, step.expected, status, round(elapsed, 1), detail
                )
            )
            mark = {"ok": "✓", "warned": "!", "failed": "✗"}[status]
            self.out(f"      {mark} {elapsed:.1f}s" + (f"  {detail}" if detail and ok else ""))
            if ok:
                if step.up:
                    report.up_at = time.monotonic()
                continue
            self.out(_indent(detail))
            if step.diagnose is not None:
                self.out(f"      로그: {step.diagnose(run)}")
                self.out(_indent(self.sh(step.diagnose(run), sudo=True).tail(30)))
            if status == "warned":
                continue
            self._fail(plan, step, run, report, detail, rollback)
        report.result = "planned" if run.dry_run else "ok"
        return report

    def _attempt(self, step: Step, run: Run) -> tuple[bool, str]:
        try:
            if step.kind is Kind.LOCAL:
                assert step.action is not None
                detail = step.action(run)
                return True, detail or ""
            command = step.render(run)
            if step.kind is Kind.POLL:
                return self._poll(step, run, command)
            res = self.sh(command, sudo=step.sudo)
            return res.ok, "" if res.ok else res.tail()
        except StepFailed:
            raise
        except Exception as exc:  # a LOCAL action refusing (a "no" on the checklist, ...)
            return False, self.secrets.mask(str(exc))

    def _poll(self, step: Step, run: Run, command: str) -> tuple[bool, str]:
        assert step.schedule is not None
        tries, interval = step.schedule(run)
        res = Result(False, -1, "", "")
        for i in range(1, tries + 1):
            res = self.sh(command, sudo=step.sudo)
            if res.ok:
                return True, f"{i}/{tries}회째 성공"
            if i < tries:
                self.out(f"      대기 중... ({i}/{tries})")
                self.sleep(interval)
        return False, f"{tries}회 연속 실패: {res.tail(5)}"

    def _fail(self, plan, step, run, report, detail, rollback) -> None:
        service_down = report.down_at is not None and report.up_at is None
        policy = step.then if step.policy is Policy.RETRY else step.policy
        if policy is Policy.ABORT and service_down:
            policy = Policy.ROLLBACK  # never leave a stopped service behind
        problem = f"{plan.section}{step.number} {step.title} 실패"
        if policy is not Policy.ROLLBACK or rollback is None:
            report.result = "failed"
            fix = f"매뉴얼 대응: {step.on_failure}"
            if service_down:
                fix = f"서비스가 내려가 있습니다! runbook의 '수동 복구' 절차를 따르세요 ({fix})"
            raise StepFailed(problem, fix, report=report)
        self.out(f"!!! {problem} → 롤백 시작 (매뉴얼: {step.on_failure})")
        back = rollback(run, f"{problem}: {detail.splitlines()[-1] if detail else ''}")
        try:
            sub = self.execute(back, run, rollback=None)
        except StepFailed as exc:
            report.result = "rollback-failed"
            report.rolled_back = False
            raise StepFailed(
                f"{problem}, 그리고 롤백도 실패했습니다: {exc.problem}",
                "서비스가 내려가 있을 수 있습니다. runbook의 '수동 복구' 절차를 따르세요",
                rolled_back=False,
                report=report,
            ) from None
        report.steps.extend(sub.steps)
        if report.down_at is not None:
            report.up_at = time.monotonic()
        report.result = "rolled-back"
        report.rolled_back = True
        raise StepFailed(
            problem, "이전 버전으로 롤백했습니다. 원인을 고친 뒤 다시 배포하세요", True, report
        )

    # --- the end of a run ----------------------------------------------------------------
    def summary(self, report: Report) -> None:
        self.out("")
        self.out(f"{'단계':<6}{'작업':<30}{'예상':>8}{'실제':>9}  결과")
        for s in report.steps:
            actual = f"{s.seconds:.1f}s" if s.status not in ("planned", "skipped") else "-"
            self.out(f"{s.number:<6}{_pad(s.title, 32)}{s.expected:>8}{actual:>9}  {s.status}")
        if report.downtime is not None:
            self.out(f"다운타임: {report.downtime:.1f}s (서비스 중단 → 헬스체크 성공)")
        self.out(f"결과: {report.result}")


def _indent(text: str) -> str:
    return "\n".join("      | " + line for line in text.splitlines())


def _pad(text: str, width: int) -> str:
    """Left-justify counting Korean characters as two columns."""
    cols = sum(2 if ord(ch) > 0x1100 else 1 for ch in text)
    return text + " " * max(1, width - cols)
