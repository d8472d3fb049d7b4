"""The plans against the manual: every numbered step is there, with its title and time."""

import pytest

from tasks import ai, backend, frontend
from tasks.settings import Settings
from tasks.steps import Policy

from .conftest import make_run

# The manual's tables, section 3 A–C: (number, title, expected time).
MANUAL = {
    "A": [("1", "코드 Pull", "30초"), ("2", "의존성 설치", "1분"), ("3", "프로덕션 빌드", "2분"),
          ("4", "빌드 파일 배포", "10초"), ("5", "캐시 무효화", "5초"), ("6", "브라우저 확인", "1분")],
    "B": [("1", "디코 공지", "1분"), ("2", "서비스 상태 확인", "1분"), ("3", "MySQL 백업", "2분"),
          ("4", "백업 파일 확인", "30초"), ("5", "코드 Pull", "1분"), ("6", "환경변수 확인", "1분"),
          ("7", "서비스 중단", "10초"), ("8", "Gradle 빌드", "3분+"), ("9", "서비스 시작", "30초"),
          ("10", "헬스체크", "1분"), ("11", "기능 테스트", "2분"), ("12", "디코 완료 공지", "30초")],
    "C": [("1", "AI 인스턴스 접속", "30초"), ("2", "코드 Pull", "30초"), ("3", "가상환경 활성화", "5초"),
          ("4", "의존성 설치", "2분"), ("5", "서비스 재시작", "30초"), ("6", "헬스체크", "30초"),
          ("7", "AI 기능 테스트", "N+분")],
}  # fmt: skip
PLANS = {"A": frontend.plan, "B": backend.plan, "C": ai.plan}


@pytest.mark.parametrize("section", "ABC")
def test_every_manual_step_in_order(section):
    plan = PLANS[section]()
    manual_steps = [
        (s.number, s.title, s.expected)
        for s in plan.steps
        if s.number.isdigit() and s.number != "0"
    ]
    assert manual_steps == MANUAL[section]
    assert plan.section == section


@pytest.mark.parametrize("section", "ABC")
def test_added_steps_say_why(section):
    for step in PLANS[section]().steps:
        if not step.number.isdigit() or step.number == "0":
            assert step.added, f"{section}{step.number} is not in the manual and must say why"


def test_manual_rollback_triggers():
    b = backend.plan()
    assert b.step("3").policy is Policy.ABORT  # 백업 실패 시 배포 중단
    assert b.step("2").policy is Policy.ABORT  # 이상 시 배포 중단
    for n in ("8", "10", "11"):
        assert b.step(n).policy is Policy.ROLLBACK
    assert b.step("7").down and b.step("10").up
    f = frontend.plan()
    assert f.step("3").policy is Policy.ABORT  # 롤백 불필요
    assert f.step("4").policy is Policy.ROLLBACK and f.step("6").policy is Policy.ROLLBACK
    a = ai.plan()
    assert a.step("5").policy is Policy.ROLLBACK and a.step("6").policy is Policy.ROLLBACK
    assert a.step("7").policy is Policy.ROLLBACK


def test_settings_reach_the_commands():
    s = Settings(backend_service="dojangkok-server", backend_health_url="http://localhost:8080/actuator/health",
                 ai_venv=".venv", ai_service="ai-server", backend_build_cmd="./gradlew bootJar")  # fmt: skip
    run = make_run(settings=s)
    b = backend.plan()
    assert b.step("7").render(run) == "systemctl stop dojangkok-server"
    assert "actuator/health" in b.step("10").render(run)
    assert b.step("8").render(run).endswith("./gradlew bootJar")
    a = ai.plan()
    assert ". .venv/bin/activate" in a.step("4").render(run)
    assert a.step("5").render(run) == "systemctl restart ai-server"


def test_backend_schedule_is_the_manuals_12_times_5s():
    run = make_run()
    assert backend.plan().step("10").schedule(run) == (12, 5)
    assert ai.plan().step("6").schedule(run) == (6, 5)


def test_every_checklist_item_of_the_manual():
    texts = {p: [i.text for i in PLANS[p]().checklist] for p in "ABC"}
    assert "main 브랜치 최신화 확인" in texts["A"]
    assert "브라우저 콘솔 에러 없음" in texts["A"]
    assert "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)" in texts["B"]
    assert "AI 기능 수동 테스트 (계약서 분석 API, 체크리스트 생성)" in texts["C"]
    for p in "ABC":
        plan = PLANS[p]()
        numbers = {s.number for s in plan.steps}
        assert {i.phase for i in plan.checklist} == {"배포 전", "배포 중", "배포 후"}
        for item in plan.checklist:
            assert not item.step or item.step in numbers
