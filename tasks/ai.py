"""Manual §C: the FastAPI AI server on the GPU host (`fab -H gpu deploy-ai`).

The manual's steps 1–7. Its fixes: a failed install or start rolls the checkout and the
venv back to the previously deployed revision, not to ``HEAD~1``.
"""

from __future__ import annotations

from tasks import shell
from tasks.common import after_items, before_items, check_log, check_url, journal, smoke
from tasks.context import Run, q
from tasks.steps import CheckItem, Kind, Plan, Policy, Step


def _dir(run: Run) -> str:
    return run.s.ai_dir


def in_venv(run: Run, command: str) -> str:
    return shell.cd(run.s.ai_dir, f". {q(run.s.ai_venv)}/bin/activate && {command}")


def install(run: Run) -> str:
    return in_venv(run, f"pip install -r {q(run.s.ai_requirements)} --quiet")


def health(run: Run) -> str:
    return shell.health(run.s.ai_health_url, run.s.ai_health_expect)


def health_schedule(run: Run) -> tuple[int, int]:
    return run.s.ai_health_tries, run.s.ai_health_interval


SMOKE, SMOKE_DISPLAY = smoke(lambda run: run.s.ai_smoke, "계약서 분석 API가 정상입니까?")


def connect_check(run: Run) -> str:
    return run.query("hostname") or "접속됨"


def plan() -> Plan:
    from tasks.common import prepare_step

    svc = lambda run: run.s.ai_service  # noqa: E731
    steps = (
        Step("1", "AI 인스턴스 접속", "30초", "SSM Session Manager 사용", Policy.ABORT,
             kind=Kind.LOCAL, command=lambda run: f"ssh {run.host.alias}", action=connect_check),
        prepare_step(lambda run: [run.s.state_dir]),
        Step("2", "코드 Pull", "30초", "충돌 시 수동 해결", Policy.ABORT,
             command=lambda run: shell.git_pull(_dir(run), run.s.git_remote, run.s.git_branch, True)),
        Step("3", "가상환경 활성화", "5초", "venv 재생성", Policy.RETRY,
             command=lambda run: in_venv(run, "python -V"),
             cleanup=lambda run: shell.cd(run.s.ai_dir, f"python3 -m venv --clear {q(run.s.ai_venv)}")),
        Step("4", "의존성 설치", "2분", "캐시 삭제 후 재시도 (그래도 실패하면 롤백)", Policy.RETRY,
             command=install, cleanup=lambda run: in_venv(run, "pip cache purge || true"),
             then=Policy.ROLLBACK),
        Step("5", "서비스 재시작", "30초", "로그 확인 (`journalctl -u fastapi -n 50`) 후 롤백",
             Policy.ROLLBACK, command=lambda run: shell.systemctl("restart", svc(run)),
             sudo=True, down=True, diagnose=journal(svc)),
        Step("6", "헬스체크", "30초", "30초 대기 후 재확인, 연속 실패 시 롤백", Policy.ROLLBACK,
             kind=Kind.POLL, command=health, schedule=health_schedule, up=True,
             diagnose=journal(svc)),
        Step("7", "AI 기능 테스트", "N+분", "롤백", Policy.ROLLBACK, kind=Kind.LOCAL,
             command=SMOKE_DISPLAY, action=SMOKE),
    )  # fmt: skip
    env = lambda run: ".env"  # noqa: E731
    example = lambda run: ".env.example"  # noqa: E731
    checklist = (
        *before_items(_dir, env, example, ["requirements.txt"]),
        CheckItem("배포 중", "AI 인스턴스 접속 성공", step="1"),
        CheckItem("배포 중", "코드 Pull 성공 (충돌 없음)", step="2"),
        CheckItem("배포 중", "가상환경 활성화", step="3"),
        CheckItem("배포 중", "의존성 설치 완료", step="4"),
        CheckItem("배포 중", "서비스 재시작 (`systemctl restart fastapi`)", step="5"),
        CheckItem("배포 후", "`/health` 응답 확인", check_url(
            lambda run: run.s.ai_health_url, lambda run: run.s.ai_health_expect)),
        CheckItem("배포 후", "AI 기능 수동 테스트 (계약서 분석 API, 체크리스트 생성)",
                  rollback_on_no=True),
        CheckItem("배포 후", "에러 로그 확인 (`journalctl -u fastapi -f`)", check_log(
            lambda run: f"journalctl -u {q(run.s.ai_service)} -n 100 --no-pager")),
        *after_items("AI 서버"),
    )  # fmt: skip
    return Plan(
        component="ai", section="C", title="FastAPI (AI Server) 배포",
        location="AI Instance `/app/ai-server`", expected_total="약 8분",
        downtime="1-2분", steps=steps, checklist=checklist,
    )  # fmt: skip


def rollback_plan(run: Run, reason: str = "") -> Plan:
    svc = lambda run: run.s.ai_service  # noqa: E731
    steps = (
        Step("R1", "이전 배포 리비전으로 코드 복원", "5초", "서버에서 수정된 파일 확인",
             Policy.ABORT, command=lambda run: shell.git_reset_to(
                 _dir(run), run.notes.get("target", run.from_rev)),
             added="HEAD~1이 아니라 도구가 기록한 직전 배포 리비전으로 되돌림"),
        Step("R2", "의존성 재설치", "2분", "캐시 삭제 후 재시도", Policy.RETRY, command=install,
             cleanup=lambda run: in_venv(run, "pip cache purge || true")),
        Step("R3", "서비스 재시작", "30초", "로그 확인", Policy.ABORT,
             command=lambda run: shell.systemctl("restart", svc(run)), sudo=True, down=True),
        Step("R4", "헬스체크", "30초", "로그 확인 (`journalctl -u fastapi -n 50`)", Policy.ABORT,
             kind=Kind.POLL, command=health, schedule=health_schedule, up=True),
    )  # fmt: skip
    return Plan("ai", "C", "FastAPI 롤백", "AI Instance", "약 3분", "1분 이내", steps)
