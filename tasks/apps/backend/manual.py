"""Manual §B: the Spring Boot backend on the CPU host (`fab -H cpu deploy-backend`).

The manual's order is kept (stop at 7, build at 8: that is the downtime the manual
measures). Its fixes: the DB password never reaches a command line (tasks/apps/database/backup.py),
the jar that was running is kept (6a) so a rollback restores it without a rebuild, and
rollback goes to the previously deployed revision, not ``HEAD~1``.
"""

from __future__ import annotations

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps.backend import BACKEND
from tasks.apps.common import (
    before_items,
    build_step,
    check_health,
    check_log,
    check_record,
    env_check_step,
    health_step,
    journal,
    notice_step,
    prepare_step,
    pull_step,
    restore_code_step,
    service_step,
    smoke_step,
)
from tasks.apps.database import backup
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies import drift, verify


def env_path(v: RunView) -> str:
    """The .env the unit reads (tasks/apps/env.py); the checkout's .env links to it."""
    return appenv.of("backend", v.s).path


def _dir(v: RunView) -> str:
    return v.s.backend_dir


def releases(v: RunView) -> str:
    return f"{v.s.state_dir}/releases"


def keep_artifact(v: RunView) -> str:
    """The running jar, kept under its checksum (what it is), not a revision's name: the
    record (tasks/strategies/drift.py) says which revision it was and what it reported."""
    art, rel = q(f"{v.s.backend_dir}/{v.s.backend_artifact}"), q(releases(v))
    return (
        f"if [ -f {art} ]; then sum=$(sha256sum -- {art} | cut -c1-64) && "
        f'install -m 644 -- {art} {rel}/backend-"$sum".jar && echo "backend-${{sum:0:12}}….jar 보관"; '
        f"else echo {q(f'{v.s.backend_artifact} 없음: 보관할 jar가 없습니다')}; fi; "
        + shell.keep_newest(releases(v), "backend-", 5)
    )


def restore_artifact(v: RunView) -> str:
    """Put the target revision's jar back (the one the record names, its checksum checked);
    rebuild only when none was kept."""
    rel, art, rev = q(releases(v)), q(v.s.backend_artifact), v.back_to[:12]
    return shell.cd(
        v.s.backend_dir,
        f'sum=$({drift.lookup(v, "backend", "artifact")}); jar={rel}/backend-"$sum".jar; '
        'if [ -n "$sum" ] && [ -f "$jar" ] && [ "$(sha256sum -- "$jar" | cut -c1-64)" = "$sum" ]; '
        f'then install -D -m 644 -- "$jar" {art} && echo "{rev}의 jar를 복원했습니다 (sha256 ${{sum:0:12}}…)"; '
        f"else echo {q(f'{rev}의 보관된 jar가 없어 다시 빌드합니다 (no kept jar)')}; {v.s.backend_build_cmd}; fi",
    )


@adapts("manual")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def plan(view: RunView) -> Plan:
    svc = view.s.backend_service
    b3, b4 = backup.steps()
    steps = (
        prepare_step(lambda v: [v.s.state_dir, f"{v.s.state_dir}/releases"],
                     lambda v: [v.s.backup_dir]),  # fmt: skip
        notice_step("1", "디코 공지", "1분",
                    lambda v: f"배포 시작합니다 (예상 {v.s.backend_expected_total})"),
        Step("2", "서비스 상태 확인", "1분", "이상 시 배포 중단", Policy.ABORT,
             command=lambda v: shell.service_status(v.s.backend_service)),
        b3,
        b4,
        pull_step("5", "1분", _dir, fetch_first=True),
        env_check_step("6", _dir, env_path, lambda v: v.s.backend_env_example),
        Step("6a", "현재 빌드 보존 (롤백용)", "5초", "디스크 공간·권한 확인", Policy.ABORT,
             command=keep_artifact,
             added="도구가 추가: 롤백이 재빌드 없이 이전 jar로 돌아가도록 보관 (sha256 이름)"),
        verify.env_mode_step("6b", "backend"),
        service_step("7", "서비스 중단", "10초", "-", Policy.ROLLBACK, "stop", BACKEND, down=True,
                     local_build="stop"),
        build_step("8", "Gradle 빌드", "3분+", "빌드 실패 시 롤백", Policy.ROLLBACK, _dir,
                   lambda v: v.s.backend_build_cmd),
        service_step("9", "서비스 시작", "30초", "-", Policy.ROLLBACK, "start", BACKEND),
        health_step("10", "헬스체크", "1분", "실패 시 로그 확인 후 롤백 (헬스체크 연속 실패)",
                    Policy.ROLLBACK, BACKEND),
        smoke_step("11", "기능 테스트", "2분", "실패 시 롤백", view, lambda s: s.backend_smoke,
                   lambda s: s.backend_port, "로그인, 체크리스트 조회, 문서 업로드가 정상입니까?"),
        notice_step("12", "디코 완료 공지", "30초", lambda v: "배포 완료", done=True),
    )  # fmt: skip
    env = env_path
    example = lambda v: v.s.backend_env_example  # noqa: E731
    checklist = (
        *before_items(_dir, env, example, ["build.gradle", "settings.gradle"], view.s.git_branch),
        CheckItem("배포 중", f"서비스 중단 (`systemctl stop {svc}`)", step="7"),
        CheckItem("배포 중", "코드 Pull 성공 (충돌 없음)", step="5"),
        CheckItem("배포 중", "Gradle 빌드 성공", step="8"),
        CheckItem("배포 중", f"서비스 시작 (`systemctl start {svc}`)", step="9"),
        CheckItem("배포 후", f"`{view.s.backend_health_path}` 응답 확인", check_health(BACKEND)),
        CheckItem("배포 후", "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)",
                  rollback_on_no=True),
        CheckItem("배포 후", f"에러 로그 확인 (`{view.s.backend_log_cmd}`)",
                  check_log(lambda v: v.s.backend_log_cmd)),
        CheckItem("배포 후", "배포 완료 공지", step="12"),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    )  # fmt: skip
    return Plan(
        component="backend", section="B", title="Backend 배포",
        location=f"CPU Instance `{view.s.backend_dir}`", expected_total="약 12분",
        downtime="3-5분", steps=steps, checklist=checklist,
    )  # fmt: skip


def rollback_plan(view: RunView, reason: str = "") -> Plan:
    # The manual stops first, then rebuilds HEAD~1. Here code and jar are put back while
    # the service still runs (the JVM keeps its open jar), so only the restart is downtime.
    steps = (
        restore_code_step("R1", _dir),
        Step("R2", "이전 빌드 복원", "10초", "보관된 jar가 없으면 재빌드", Policy.ABORT,
             command=restore_artifact,
             added="보관된 jar를 되돌려 놓으므로 재빌드가 없고, 서비스는 재시작 전까지 계속 동작"),
        service_step("R3", "서비스 재시작", "30초", "로그 확인", Policy.ABORT, "restart", BACKEND,
                     down=True, diagnose=journal(BACKEND)),
        health_step("R4", "헬스체크", "1분", f"로그 확인 (`journalctl -u {view.s.backend_service}`)",
                    Policy.ABORT, BACKEND),
        verify.smoke_step("R5", lambda s: s.backend_smoke, lambda s: s.backend_port),
        verify.version_step("R6", "backend"),
    )  # fmt: skip
    return Plan(
        "backend", "B", "Backend 롤백", "CPU Instance", "약 1분", "재시작 ~ 헬스체크", steps
    )


def state_command(view: RunView) -> str:
    s = view.s
    return (
        f'echo {q(s.backend_service + ": ")}"$({shell.systemctl("is-active", s.backend_service)})"; '
        f'echo "code: $(git -C {q(s.backend_dir)} rev-parse --short HEAD)"; '
        f"ls -la -- {q(s.backend_dir + '/' + s.backend_artifact)} 2>&1"
    )
