"""Manual §C: the FastAPI AI server on the GPU host (`fab -H gpu deploy-ai`).

The manual's steps 1–7. Its fixes: a failed install or start rolls the checkout and the
venv back to the previously deployed revision, not to ``HEAD~1``.
"""

from __future__ import annotations

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps.ai import AI
from tasks.apps.common import (
    after_items,
    before_items,
    check_health,
    check_log,
    health_step,
    journal,
    prepare_step,
    pull_step,
    restore_code_step,
    service_step,
    smoke_step,
)
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import validate
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies import verify


def _dir(v: RunView) -> str:
    return v.s.ai_dir


def in_venv(v: RunView, command: str) -> str:
    return shell.cd(v.s.ai_dir, f". -- {q(v.s.ai_venv)}/bin/activate && {command}")


def install(v: RunView) -> str:
    return in_venv(v, f"pip install -r {q(v.s.ai_requirements)} --quiet")


def purge_cache(v: RunView) -> str:
    return in_venv(v, "pip cache purge || true")


@adapts("manual")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def plan(view: RunView) -> Plan:
    svc = view.s.ai_service
    steps = (
        Step("1", "AI 인스턴스 접속", "30초", "SSM Session Manager 사용", Policy.ABORT,
             command=lambda v: "hostname",
             added="접속은 도구가 이미 했다: 이 연결로 호스트 이름을 확인한다"),
        prepare_step(lambda v: [v.s.state_dir]),
        pull_step("2", "30초", _dir, fetch_first=True),
        verify.env_mode_step("2a", "ai"),
        Step("3", "가상환경 활성화", "5초", "venv 재생성", Policy.RETRY,
             command=lambda v: in_venv(v, "python -V"),
             cleanup=lambda v: shell.cd(v.s.ai_dir, f"{q(validate.python_command(v.s.ai_python or 'python3'))} -m venv "
                                                    f"--clear -- {q(v.s.ai_venv)}")),
        Step("4", "의존성 설치", "2분", "캐시 삭제 후 재시도 (그래도 실패하면 롤백)", Policy.RETRY,
             command=install, cleanup=purge_cache, then=Policy.ROLLBACK, local_build="deps"),
        service_step("5", "서비스 재시작", "30초",
                     f"로그 확인 (`journalctl -u {svc} -n 50`) 후 롤백", Policy.ROLLBACK, "restart",
                     AI, down=True, diagnose=journal(AI)),
        health_step("6", "헬스체크", "30초", "30초 대기 후 재확인, 연속 실패 시 롤백",
                    Policy.ROLLBACK, AI),
        smoke_step("7", "AI 기능 테스트", "N+분", "롤백", view, lambda s: s.ai_smoke,
                   lambda s: s.ai_listen_port, "계약서 분석 API가 정상입니까?"),
    )  # fmt: skip
    env = lambda v: appenv.of("ai", v.s).path  # noqa: E731
    example = lambda v: ".env.example"  # noqa: E731
    checklist = (
        *before_items(_dir, env, example, ["requirements.txt"], view.s.git_branch),
        CheckItem("배포 중", "AI 인스턴스 접속 성공", step="1"),
        CheckItem("배포 중", "코드 Pull 성공 (충돌 없음)", step="2"),
        CheckItem("배포 중", "가상환경 활성화", step="3"),
        CheckItem("배포 중", "의존성 설치 완료", step="4"),
        CheckItem("배포 중", f"서비스 재시작 (`systemctl restart {svc}`)", step="5"),
        CheckItem("배포 후", f"`{view.s.ai_health_path}` 응답 확인", check_health(AI)),
        CheckItem("배포 후", "AI 기능 수동 테스트 (계약서 분석 API, 체크리스트 생성)",
                  rollback_on_no=True),
        CheckItem("배포 후", f"에러 로그 확인 (`journalctl -u {svc} -n 100`)", check_log(
            lambda v: f"journalctl -u {q(v.s.ai_service)} -n 100 --no-pager")),
        *after_items(AI),
    )  # fmt: skip
    return Plan(
        component="ai", section="C", title="FastAPI (AI Server) 배포",
        location=f"AI Instance `{view.s.ai_dir}`", expected_total="약 8분",
        downtime="1-2분", steps=steps, checklist=checklist,
    )  # fmt: skip


@adapts("manual", rollback=True)  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def rollback_plan(view: RunView, reason: str = "") -> Plan:
    svc = view.s.ai_service
    steps = (
        restore_code_step("R1", _dir),
        Step("R2", "의존성 재설치", "2분", "캐시 삭제 후 재시도", Policy.RETRY, command=install,
             cleanup=purge_cache, local_build="deps"),
        service_step("R3", "서비스 재시작", "30초", "로그 확인", Policy.ABORT, "restart", AI,
                     down=True),
        health_step("R4", "헬스체크", "30초", f"로그 확인 (`journalctl -u {svc} -n 50`)",
                    Policy.ABORT, AI),
        verify.smoke_step("R5", lambda s: s.ai_smoke, lambda s: s.ai_listen_port),
        verify.version_step("R6", "ai"),
    )  # fmt: skip
    return Plan("ai", "C", "FastAPI 롤백", "AI Instance", "약 3분", "1분 이내", steps)


def state_command(view: RunView) -> str:
    s = view.s
    return (
        f'echo {q(s.ai_service + ": ")}"$({shell.systemctl("is-active", s.ai_service)})"; '
        f'echo "code: $(git -C {q(s.ai_dir)} rev-parse --short HEAD)"'
    )
