"""Manual §B: the Spring Boot backend on the CPU host (`fab -H cpu deploy-backend`).

The manual's order is kept (stop at 7, build at 8: that is the downtime the manual
measures). Its fixes: the DB password never reaches a command line (tasks/backup.py), the
jar that was running is kept (6a) so a rollback restores it without a rebuild, and
rollback goes to the previously deployed revision, not ``HEAD~1``.
"""

from __future__ import annotations

from tasks import backup, shell
from tasks.common import (
    before_items,
    check_log,
    check_record,
    check_url,
    journal,
    notice_step,
    prepare_step,
    smoke,
)
from tasks.context import Run, q
from tasks.steps import CheckItem, Kind, Plan, Policy, Step


def _dir(run: Run) -> str:
    return run.s.backend_dir


def release_jar(run: Run, rev: str) -> str:
    return f"{run.s.state_dir}/releases/backend-{rev}.jar"


def keep_artifact(run: Run) -> str:
    art = q(f"{run.s.backend_dir}/{run.s.backend_artifact}")
    return (
        f"if [ -f {art} ]; then install -m 644 {art} {q(release_jar(run, run.from_rev))}; "
        f"else echo 'no {run.s.backend_artifact} yet: nothing to keep'; fi; "
        + shell.keep_newest(f"{run.s.state_dir}/releases", "backend-", 5)
    )


def restore_artifact(run: Run) -> str:
    """Put the target revision's jar back; rebuild only when none was kept."""
    target = run.notes.get("target", run.from_rev)
    jar, art = q(release_jar(run, target)), q(run.s.backend_artifact)
    return shell.cd(
        run.s.backend_dir,
        f"if [ -f {jar} ]; then install -D -m 644 {jar} {art}; "
        f"else echo 'no kept jar for {target[:12]}: rebuilding'; {run.s.backend_build_cmd}; fi",
    )


def health(run: Run) -> str:
    return shell.health(run.s.backend_health_url, run.s.backend_health_expect)


def health_schedule(run: Run) -> tuple[int, int]:
    return run.s.backend_health_tries, run.s.backend_health_interval


SMOKE, SMOKE_DISPLAY = smoke(
    lambda run: run.s.backend_smoke, "로그인, 체크리스트 조회, 문서 업로드가 정상입니까?"
)


def plan() -> Plan:
    svc = lambda run: run.s.backend_service  # noqa: E731
    b3, b4 = backup.steps()
    steps = (
        prepare_step(lambda run: [run.s.state_dir, f"{run.s.state_dir}/releases", run.s.backup_dir]),
        notice_step("1", "디코 공지", "1분",
                    lambda run: f"배포 시작합니다 (예상 {run.s.backend_expected_total})"),
        Step("2", "서비스 상태 확인", "1분", "이상 시 배포 중단", Policy.ABORT,
             command=lambda run: shell.service_status(svc(run))),
        b3,
        b4,
        Step("5", "코드 Pull", "1분", "충돌 시 수동 해결", Policy.ABORT,
             command=lambda run: shell.git_pull(_dir(run), run.s.git_remote, run.s.git_branch, True)),
        Step("6", "환경변수 확인", "1분", "누락 시 추가 후 진행", Policy.ABORT,
             command=lambda run: shell.cd(_dir(run), shell.env_keys_diff(
                 run.s.backend_env_file, run.s.backend_env_example)),
             added="값은 보지 않고 키만 비교; .env.example이 없으면 비교 생략"),
        Step("6a", "현재 빌드 보존 (롤백용)", "5초", "디스크 공간·권한 확인", Policy.ABORT,
             command=keep_artifact,
             added="도구가 추가: 롤백이 재빌드 없이 이전 jar로 돌아가도록 보관"),
        Step("7", "서비스 중단", "10초", "-", Policy.ROLLBACK,
             command=lambda run: shell.systemctl("stop", svc(run)), sudo=True, down=True),
        Step("8", "Gradle 빌드", "3분+", "빌드 실패 시 롤백", Policy.ROLLBACK,
             command=lambda run: shell.cd(_dir(run), run.s.backend_build_cmd)),
        Step("9", "서비스 시작", "30초", "-", Policy.ROLLBACK,
             command=lambda run: shell.systemctl("start", svc(run)), sudo=True),
        Step("10", "헬스체크", "1분", "실패 시 로그 확인 후 롤백 (헬스체크 연속 실패)",
             Policy.ROLLBACK, kind=Kind.POLL, command=health, schedule=health_schedule, up=True,
             diagnose=journal(svc)),
        Step("11", "기능 테스트", "2분", "실패 시 롤백", Policy.ROLLBACK, kind=Kind.LOCAL,
             command=SMOKE_DISPLAY, action=SMOKE),
        notice_step("12", "디코 완료 공지", "30초", lambda run: "배포 완료"),
    )  # fmt: skip
    env = lambda run: run.s.backend_env_file  # noqa: E731
    example = lambda run: run.s.backend_env_example  # noqa: E731
    checklist = (
        *before_items(_dir, env, example, ["build.gradle", "settings.gradle"]),
        CheckItem("배포 중", "서비스 중단 (`systemctl stop dojangkok`)", step="7"),
        CheckItem("배포 중", "코드 Pull 성공 (충돌 없음)", step="5"),
        CheckItem("배포 중", "Gradle 빌드 성공", step="8"),
        CheckItem("배포 중", "서비스 시작 (`systemctl start dojangkok`)", step="9"),
        CheckItem("배포 후", "`/health` 응답 확인", check_url(
            lambda run: run.s.backend_health_url, lambda run: run.s.backend_health_expect)),
        CheckItem("배포 후", "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)",
                  rollback_on_no=True),
        CheckItem("배포 후", "에러 로그 확인 (`tail -100 /var/log/dojangkok/error.log`)",
                  check_log(lambda run: run.s.backend_log_cmd)),
        CheckItem("배포 후", "배포 완료 공지", step="12"),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    )  # fmt: skip
    return Plan(
        component="backend", section="B", title="Backend 배포",
        location="CPU Instance `/app/backend`", expected_total="약 12분",
        downtime="3-5분", steps=steps, checklist=checklist,
    )  # fmt: skip


def rollback_plan(run: Run, reason: str = "") -> Plan:
    # The manual stops first, then rebuilds HEAD~1. Here code and jar are put back while
    # the service still runs (the JVM keeps its open jar), so only the restart is downtime.
    svc = lambda run: run.s.backend_service  # noqa: E731
    steps = (
        Step("R1", "이전 배포 리비전으로 코드 복원", "5초", "서버에서 수정된 파일 확인",
             Policy.ABORT, command=lambda run: shell.git_reset_to(
                 _dir(run), run.notes.get("target", run.from_rev)),
             added="HEAD~1이 아니라 도구가 기록한 직전 배포 리비전으로 되돌림"),
        Step("R2", "이전 빌드 복원", "10초", "보관된 jar가 없으면 재빌드", Policy.ABORT,
             command=restore_artifact,
             added="보관된 jar를 되돌려 놓으므로 재빌드가 없고, 서비스는 재시작 전까지 계속 동작"),
        Step("R3", "서비스 재시작", "30초", "로그 확인", Policy.ABORT,
             command=lambda run: shell.systemctl("restart", svc(run)), sudo=True, down=True,
             diagnose=journal(svc)),
        Step("R4", "헬스체크", "1분", "로그 확인 (`journalctl -u dojangkok`)", Policy.ABORT,
             kind=Kind.POLL, command=health, schedule=health_schedule, up=True,
             diagnose=journal(svc)),
    )  # fmt: skip
    return Plan(
        "backend", "B", "Backend 롤백", "CPU Instance", "약 1분", "재시작 ~ 헬스체크", steps
    )
