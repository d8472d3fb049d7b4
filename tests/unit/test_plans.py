"""The plans against the manual: every numbered step is there, with its title and time."""

import pytest

from tasks.apps.ai import manual as ai
from tasks.apps.backend import manual as backend
from tasks.apps.frontend import manual as frontend
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy

from .conftest import make_view

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
COMPONENT = {"A": "frontend", "B": "backend", "C": "ai"}
MODULE = {"A": frontend, "B": backend, "C": ai}


def plan_of(section, settings=None):
    return MODULE[section].plan(make_view(COMPONENT[section], settings))


@pytest.mark.parametrize("section", "ABC")
def test_every_manual_step_in_order(section):
    plan = plan_of(section)
    manual_steps = [
        (s.number, s.title, s.expected)
        for s in plan.steps
        if s.number.isdigit() and s.number != "0"
    ]
    assert manual_steps == MANUAL[section]
    assert plan.section == section


@pytest.mark.parametrize("section", "ABC")
def test_added_steps_say_why(section):
    for step in plan_of(section).steps:
        if not step.number.isdigit() or step.number == "0":
            assert step.added, f"{section}{step.number} is not in the manual and must say why"


def test_manual_rollback_triggers():
    b = plan_of("B")
    assert b.step("3").policy is Policy.ABORT  # 백업 실패 시 배포 중단
    assert b.step("2").policy is Policy.ABORT  # 이상 시 배포 중단
    for n in ("8", "10", "11"):
        assert b.step(n).policy is Policy.ROLLBACK
    assert b.step("7").down and b.step("10").up
    f = plan_of("A")
    assert f.step("3").policy is Policy.ABORT  # 롤백 불필요
    assert f.step("4").policy is Policy.ROLLBACK and f.step("6").policy is Policy.ROLLBACK
    a = plan_of("C")
    assert a.step("5").policy is Policy.ROLLBACK and a.step("6").policy is Policy.ROLLBACK
    assert a.step("7").policy is Policy.ROLLBACK


def test_settings_reach_the_commands():
    s = Settings(backend_service="dojangkok-server", backend_health_path="/actuator/health",
                 ai_venv=".venv", ai_service="ai-server", backend_build_cmd="./gradlew bootJar",
                 git_branch="release")  # fmt: skip
    b = plan_of("B", s)
    view = make_view("backend", s)
    assert b.step("7").render(view) == (
        "sudo -n /usr/local/sbin/dojangkok-root systemctl stop dojangkok-server"
    )
    assert "localhost:8080/actuator/health" in b.step("10").render(view)
    assert b.step("8").render(view).endswith("./gradlew bootJar")
    assert "release" in b.step("5").render(view)
    a = plan_of("C", s)
    view = make_view("ai", s)
    assert ". -- .venv/bin/activate" in a.step("4").render(view)
    assert a.step("5").render(view) == (
        "sudo -n /usr/local/sbin/dojangkok-root systemctl restart ai-server"
    )
    assert not b.step("7").sudo and not a.step("5").sudo  # the helper's sudo, not the runner's


def test_labels_name_the_configured_service_and_branch():
    s = Settings(backend_service="dojangkok-server", ai_service="ai-server", git_branch="release")
    texts = " ".join(i.text for p in "ABC" for i in plan_of(p, s).checklist)
    texts += " ".join(st.on_failure for p in "BC" for st in plan_of(p, s).steps)
    # the checklist keeps the manual's wording (the step runs it through the root helper)
    assert "systemctl stop dojangkok-server" in texts and "release 브랜치" in texts
    assert "journalctl -u ai-server" in texts
    assert "fastapi" not in texts and "main 브랜치" not in texts


def test_health_keeps_the_manuals_interval_with_windows_for_slow_starts():
    """The manual's 5 s between checks; the windows fit real apps: 2 minutes for the backend
    (the manual: 12 × 5 s), 3 for the AI server (6 × 5 s; the team's loads ~45 s)."""
    b = plan_of("B").step("10").render(make_view("backend"))
    assert "seq 1 24" in b and "sleep 5" in b and "한도 120초" in b
    a = plan_of("C").step("6").render(make_view("ai"))
    assert "seq 1 36" in a and "sleep 5" in a and "한도 180초" in a


def test_every_checklist_item_of_the_manual():
    texts = {p: [i.text for i in plan_of(p).checklist] for p in "ABC"}
    assert "main 브랜치 최신화 확인" in texts["A"]
    assert "브라우저 콘솔 에러 없음" in texts["A"]
    assert "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)" in texts["B"]
    assert "AI 기능 수동 테스트 (계약서 분석 API, 체크리스트 생성)" in texts["C"]
    for p in "ABC":
        plan = plan_of(p)
        numbers = {s.number for s in plan.steps}
        assert {i.phase for i in plan.checklist} == {"배포 전", "배포 중", "배포 후"}
        for item in plan.checklist:
            assert not item.step or item.step in numbers


def test_setup_shows_which_steps_run_as_root():
    """What `fab setup --dry-run` prints: `$ [sudo]` exactly on the steps that run as root
    (system changes, directories and the services' env files, services), `$` on the login
    user's (git, the .env files' content, builds, health), `»` on the push-config step,
    which runs its own plan (CFG)."""
    from tasks.setup import detect, setup

    view = make_view("setup", task="setup")
    view = view.but(host=detect.offline(view.host))
    plan = setup.plan(view)
    root = {s.title for s in plan.steps if s.sudo}
    assert {"패키지 확인 (없으면 설치)", "서비스 계정 생성", "데이터베이스와 계정",
            "디렉터리와 서비스의 .env 파일 (소유자·권한)", "서비스 활성화·시작"} <= root  # fmt: skip
    assert not root & {"백엔드 코드 받기 (git clone)", "백엔드 .env 작성", "백엔드 첫 빌드 (Gradle)",
                       "헬스체크"}  # fmt: skip
    for step in plan.steps:
        (line,) = [x for x in step.shown(view) if not x.startswith("↑")]
        mark = "» " if step.title.startswith("설정 적용") else "$ [sudo] " if step.sudo else "$ "
        assert line.startswith(mark) and (step.sudo or "[sudo]" not in line), line
