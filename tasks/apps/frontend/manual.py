"""Manual §A: the React frontend on the CPU host (`fab -H cpu deploy-frontend`).

Faithful to the manual's steps 1–6, with two fixes it needs to be safe: step 3a writes
the backup that the manual's rollback script reads (the manual's deploy never wrote one),
and a failed copy or page check restores that backup right away.
"""

from __future__ import annotations

from tasks import shell
from tasks.apps.common import (
    after_items,
    before_items,
    build_step,
    health_step,
    prepare_step,
    pull_step,
)
from tasks.apps.frontend import FRONTEND
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import values
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.setup import privilege
from tasks.shell import q
from tasks.strategies import verify

BACKUP_PREFIX = "frontend_backup_"


def _dir(v: RunView) -> str:
    return v.s.frontend_dir


def backup_path(v: RunView) -> str:
    return f"{v.s.frontend_backup_dir}/{BACKUP_PREFIX}{v.run_id}_{v.from_rev[:12]}"


def backup_web_root(v: RunView) -> str:
    s = v.s
    return f"cp -a -- {q(s.web_root)} {q(backup_path(v))} && " + shell.keep_newest(
        s.frontend_backup_dir, BACKUP_PREFIX, s.frontend_backup_keep
    )


def replace_web_root(v: RunView) -> str:
    # The manual's step 4, as written: empty the web root, copy the build in.
    s = v.s
    build = f"{s.frontend_dir}/{s.frontend_build_dir}"
    return (
        f"test -f {q(build)}/index.html || {{ echo {q(f'{build}에 index.html이 없습니다')} >&2; exit 1; }}; "
        f"rm -rf -- {q(_web_root(s))}/* && cp -r -- {q(build)}/. {q(s.web_root)}/"
    )


def restore_web_root(v: RunView) -> str:
    """Restore the backup of the target revision (the manual's rollback_frontend.sh)."""
    s = v.s
    target = v.back_to
    d = q(s.frontend_backup_dir)
    missing = f"{s.frontend_backup_dir}에 {target[:12]}의 백업이 없습니다"
    return (
        f"b=$(ls -1td -- {d}/{BACKUP_PREFIX}*_{q(target[:12])} 2>/dev/null | head -1); "
        f'[ -n "$b" ] || {{ echo {q(missing)} >&2; exit 1; }}; '
        'echo "복원할 백업: $b"; '
        f'rm -rf -- {q(_web_root(s))}/* && cp -r -- "$b"/. {q(s.web_root)}/'
    )


def _web_root(s) -> str:
    """The directory step 4 empties: never empty, relative or a system directory."""
    return values.root_dir(s.web_root, "web_root")


def nginx_reload(v: RunView) -> str:
    """nginx -t, then the graceful reload (the root helper runs the two commands setup
    recorded from nginx_test_cmd and nginx_reload_cmd)."""
    return privilege.nginx_reload()


@adapts("manual")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def plan(view: RunView) -> Plan:
    steps = (
        prepare_step(lambda v: [v.s.state_dir, v.s.frontend_backup_dir]),
        pull_step("1", "30초", _dir),
        Step("2", "의존성 설치", "1분", "node_modules 삭제 후 재시도", Policy.RETRY,
             command=lambda v: shell.cd(_dir(v), v.s.frontend_install_cmd),
             cleanup=lambda v: shell.cd(_dir(v), "rm -rf node_modules"), local_build="deps"),
        build_step("3", "프로덕션 빌드", "2분",
                   "빌드 에러 확인 후 수정 (롤백 불필요: 이전 빌드가 그대로 서빙 중)", Policy.ABORT,
                   _dir, lambda v: v.s.frontend_build_cmd),
        Step("3a", "현재 빌드 백업", "10초", "디스크 공간·권한 확인", Policy.ABORT,
             command=backup_web_root,
             added="도구가 추가: 매뉴얼의 롤백 스크립트가 읽는 백업을 배포가 직접 만든다"),
        Step("4", "빌드 파일 배포", "10초", "권한 확인 (실패 시 백업에서 복원)", Policy.ROLLBACK,
             command=replace_web_root),
        Step("5", "캐시 무효화", "5초", "`nginx -t`로 설정 검증", Policy.ABORT,
             command=nginx_reload),
        health_step("6", "브라우저 확인", "1분", "3회 연속 실패 시 이전 빌드로 복원",
                    Policy.ROLLBACK, FRONTEND, up=False),
    )  # fmt: skip
    env = lambda v: ".env"  # noqa: E731
    example = lambda v: ".env.example"  # noqa: E731
    checklist = (
        *before_items(_dir, env, example, ["package.json", "package-lock.json"],
                      view.s.git_branch),
        CheckItem("배포 중", "코드 Pull 성공", step="1"),
        CheckItem("배포 중", "`npm ci` 완료", step="2"),
        CheckItem("배포 중", "`npm run build` 성공 (에러 없음)", step="3"),
        CheckItem("배포 중", "build 폴더 복사 완료", step="4"),
        CheckItem("배포 중", "Nginx 리로드 완료", step="5"),
        CheckItem("배포 후", "메인 페이지 HTTP 200 응답", step="6"),
        CheckItem("배포 후", "주요 페이지 로드 확인 (로그인, 체크리스트)", rollback_on_no=True),
        CheckItem("배포 후", "브라우저 콘솔 에러 없음", rollback_on_no=True),
        *after_items(FRONTEND),
    )  # fmt: skip
    return Plan(
        component="frontend", section="A", title="Frontend 배포",
        location=f"CPU Instance `{view.s.web_root}`", expected_total="약 5분",
        downtime="0분 (무중단)", steps=steps, checklist=checklist,
    )  # fmt: skip


def rollback_plan(view: RunView, reason: str = "") -> Plan:
    steps = (
        Step("R1", "백업에서 복원", "10초", f"백업 목록 확인 (`ls -td {view.s.frontend_backup_dir}/*`)",
             Policy.ABORT, command=restore_web_root),
        Step("R2", "Nginx 리로드", "5초", "`nginx -t`로 설정 검증", Policy.ABORT,
             command=nginx_reload),
        health_step("R3", "메인 페이지 확인", "10초", "수동 복구 필요", Policy.ABORT, FRONTEND,
                    up=False),
        verify.version_step("R4", "frontend"),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 롤백", "CPU Instance", "약 1분", "0분", steps)


def state_command(view: RunView) -> str:
    """What an operator needs to see after an interrupted frontend deploy."""
    s = view.s
    return f"ls -la -- {q(s.web_root)} | head -5; ls -1td -- {q(s.frontend_backup_dir)}/* | head -3"
