from pathlib import Path

from tasks import runbook

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"


def test_runbook_is_up_to_date():
    assert RUNBOOK.read_text(encoding="utf-8") == runbook.render(), (
        "docs/runbook.md is out of date: run `make runbook` and commit it"
    )


def test_runbook_covers_every_step():
    text = runbook.render()
    for title in ("## A. Frontend 배포", "## B. Backend 배포", "## C. FastAPI (AI Server) 배포",
                  "## D. 전체 배포 (Full Deploy)"):  # fmt: skip
        assert title in text
    assert "| 12 | 디코 완료 공지 |" in text
    assert "| 7 | AI 기능 테스트 |" in text
    assert "./gradlew clean build -x test" in text
