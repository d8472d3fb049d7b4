"""What a run reports: each step's result, the downtime, how the run ended (the summary's
table, the record's fields)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from tasks.onhost import policy

#: a record's result as the operator reads it (an unknown one is shown as stored)
RESULTS = {
    "ok": "성공",
    "failed": "실패",
    "rolled-back": "롤백됨",
    "rollback-failed": "롤백 실패",
    "refused": "거부됨",
    "declined": "취소됨 (체크리스트)",
    "interrupted": "중단됨 (Ctrl-C)",
    "connection-lost": "연결 끊김",
    "detached": "호스트에서 계속",
    "running": "진행 중",
    "planned": "계획 (dry-run)",
    "skipped": "건너뜀 (이미 배포됨)",
}
#: a step's status as the operator reads it (the summary's table, the step log)
STEP_STATUSES = {
    "ok": "성공",
    "warned": "경고",
    "failed": "실패",
    "skipped": "건너뜀",
    "planned": "예정 (dry-run)",
    "interrupted": "중단됨",
}


def result_text(result: str) -> str:
    """A run's result in Korean (an unknown one as stored)."""
    return RESULTS.get(result, result)


def step_status_text(status: str) -> str:
    """A step's status in Korean (an unknown one as stored)."""
    return STEP_STATUSES.get(status, status)


@dataclass
class StepReport:
    section: str  # the plan's section (A, B, C, S, CFG): numbers repeat across plans
    number: str
    title: str
    expected: str
    status: str  # ok | failed | warned | skipped | planned | interrupted
    seconds: float = 0.0
    detail: str = ""
    phase: str = "deploy"  # deploy | rollback


@dataclass
class Report:
    task: str
    component: str
    host: str
    steps: list[StepReport] = field(default_factory=list)
    down_at: float | None = None
    up_at: float | None = None
    result: str = "running"
    rolled_back: bool | None = None
    interrupted: bool = False
    message: str = ""
    #: measured on the host, when the critical section ran there (tasks/onhost/hostrun.py)
    host_downtime: float | None = None

    @property
    def downtime(self) -> float | None:
        if self.host_downtime is not None:
            return self.host_downtime
        if self.down_at is None:
            return None
        end = self.up_at if self.up_at is not None else time.monotonic()
        return max(0.0, end - self.down_at)

    @property
    def service_down(self) -> bool:
        return policy.service_down(self.down_at, self.up_at)

    def to_dict(self) -> dict:
        return {
            "steps": [asdict(s) for s in self.steps],
            "downtime_seconds": None if self.downtime is None else round(self.downtime, 1),
            "result": self.result,
            "rolled_back": self.rolled_back,
            "interrupted": self.interrupted,
            "message": self.message,
        }


def asdict_steps(report: Report) -> list[dict]:
    return [asdict(s) for s in report.steps]
