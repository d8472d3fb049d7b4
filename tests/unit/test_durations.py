"""How long something took, as the operator reads it (tasks/durations.py), and where the
run's end shows it: beside the manual's ``예상 3분``, in the same words."""

from __future__ import annotations

import pytest

from tasks.durations import downtime_text, duration_text
from tasks.engine.report import StepReport

from .conftest import make_session
from .fakes import FakeRemote


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (183, "3분 3초"),
        (45, "45초"),
        (3720, "1시간 2분"),
        (120, "2분"),
        (3600, "1시간"),
        (59.6, "1분"),  # rounded to the second, never "60초"
        (3599.7, "1시간"),
        (10, "10초"),
        (0.4, "0.4초"),  # a quick step does not read 0초
        (9.94, "9.9초"),
        (0, "0.0초"),
        (None, "-"),
    ],
)
def test_durations_read_as_minutes_and_seconds(seconds, said):
    assert duration_text(seconds) == said


def test_downtime_keeps_a_tenth_under_a_minute():
    assert [downtime_text(s) for s in (0.0, 12.34, 75, None, "x", True)] == [
        "0.0초", "12.3초", "1분 15초", "-", "-", "-"
    ]  # fmt: skip


def test_the_summary_shows_statuses_and_durations_in_korean():
    lines: list[str] = []
    s = make_session(FakeRemote(), lines=lines)
    s.report.steps += [
        StepReport("B", "4", "빌드", "3분", "ok", 183.2),
        StepReport("B", "5", "헬스 체크", "1분", "failed", 45.0, "응답 없음"),
        StepReport("B", "6", "알림", "5초", "skipped"),
        StepReport("B", "2", "복원", "1분", "ok", 0.4, phase="rollback"),
    ]
    s.report.result, s.report.host_downtime = "rolled-back", 75.0
    s.summary()
    text = "\n".join(lines)
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("B")}
    assert "3분" in rows["B4"] and "3분 3초" in rows["B4"] and rows["B4"].endswith("성공")
    assert "45초" in rows["B5"] and rows["B5"].endswith("실패")
    assert rows["B6"].endswith("건너뜀") and "-" in rows["B6"]
    assert "복원 (롤백)" in rows["B2"] and "0.4초" in rows["B2"]
    assert "다운타임: 1분 15초" in text and "결과: 롤백됨" in text
    assert "183.2s" not in text and "rolled-back" not in text and " ok" not in text
