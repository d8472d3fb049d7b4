"""Manual §A with the release strategy: build beside the live site, switch, no failed request.

The web root (``web_root``, /var/www/dojangkok) becomes a symlink to
``<releases_root>/frontend/current/<build dir>`` (once, converting a manual host), and a
deploy builds into a new release, then switches ``current``: one rename. The new build keeps
the previous build's hashed assets, so a page loaded just before the switch still finds its
scripts. Replaces the manual's steps 1 (pull) and 4–5 (``rm -rf`` + ``cp``, reload).
"""

from __future__ import annotations

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps.common import after_items, before_items, health_step
from tasks.apps.frontend import FRONTEND
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView, earlier_run_id
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release


def _dir(v: RunView) -> str:
    return v.s.frontend_dir


def build_dir(v: RunView, rel: str | None = None) -> str:
    return f"{release.path(v, release=rel)}/{v.s.frontend_build_dir}"


def live_root(v: RunView) -> str:
    """What the web root symlink points at."""
    return f"{release.current(v)}/{v.s.frontend_build_dir}"


def install(v: RunView) -> str:
    """``npm ci``; or, when the lock file is the current release's and that release has its
    node_modules, those (hard links: nothing is downloaded or copied)."""
    new, cur = q(release.path(v)), q(release.current(v))
    return (
        f"if cmp -s -- {cur}/package-lock.json {new}/package-lock.json && [ -d {cur}/node_modules ]; "
        f"then cp -al -- {cur}/node_modules {new}/node_modules && "
        "echo 'node_modules: hard links from the current release (package-lock.json unchanged)'; "
        f"else {shell.cd(release.path(v), v.s.frontend_install_cmd)}; fi"
    )


def check_build(v: RunView) -> str:
    """The build is complete; the previous build's hashed assets are kept beside it."""
    new, static = build_dir(v), v.s.hashed_assets_path.strip("/")
    old = f"{live_root(v)}/{static}"
    return (
        f"test -f {q(new)}/index.html || {{ echo {q(f'{new}에 index.html이 없습니다')} >&2; exit 1; }}; "
        f"if [ -d {q(old)} ]; then mkdir -p -- {q(new + '/' + static)} && "
        f"cp -an -- {q(old)}/. {q(new + '/' + static)}/ && echo '이전 빌드의 해시 자산을 남겼습니다'; fi"
    )


SECTION = "A"


def pair(s) -> None:
    return None  # the web root switches by a symlink: no instances


def fetch_steps() -> tuple[Step, ...]:
    """A0–A2: the release directory, the revision exported into it, the shared .env linked,
    its dependencies (a Node frontend's deploy starts the same way: tasks/apps/frontend_node)."""
    rel = lambda v: release.path(v)  # noqa: E731
    return (
        release.prepare_step(),
        release.export_step("1", _dir),
        release.link_step("1a", lambda v: [".env"]),
        Step("2", "의존성 설치", "1분", "node_modules 삭제 후 재시도", Policy.RETRY,
             command=install, local_build="deps", cleanup=lambda v: shell.cd(rel(v), "rm -rf node_modules"),
             added="package-lock.json이 서비스 중인 릴리스와 같으면 그 node_modules를 하드 링크로 "
             "가져온다 (설치 없음)"),
    )  # fmt: skip


@adapts("release")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def build_plan(view: RunView, live: int = 0) -> Plan:
    rel = lambda v: release.path(v)  # noqa: E731
    steps = (
        *fetch_steps(),
        Step("3", "프로덕션 빌드", "2분", "빌드 에러 확인 후 수정 (서비스 중인 빌드는 그대로)",
             Policy.ABORT, command=lambda v: shell.cd(rel(v), v.s.frontend_build_cmd),
             local_build="build"),
        Step("3a", "빌드 결과 확인, 이전 해시 자산 유지", "5초", "빌드 출력 확인", Policy.ABORT,
             command=check_build,
             added="index.html이 있는지 확인하고, 전환 직전에 받은 페이지가 찾을 이전 빌드의 "
             "해시 자산을 새 빌드에 남긴다"),
        release.info_step("3b"),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 배포 (release)", "CPU Instance `/app/releases/frontend`",
                "약 3분", "0분 (무중단)", steps, checklist(view))  # fmt: skip


def switch_plan(view: RunView) -> Plan:
    steps = (
        release.switch_step("4", "웹 루트 전환 (current → 새 릴리스)"),
        health_step("6", "브라우저 확인", "1분", "실패 시 이전 릴리스로 되돌림", Policy.ROLLBACK,
                    FRONTEND, up=False, fine=True),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 전환", "CPU Instance", "몇 초", "0분", steps)


def switch_back_plan(view: RunView, previous: str) -> Plan:
    """The host's rollback of a failed switch: ``current`` back, then the page."""
    steps = (
        Step("R1", "이전 릴리스로 되돌림", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: release.switch_current(v, previous)),
        Step("R2", "릴리스를 실패로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "failed")),
        health_step("R3", "메인 페이지 확인", "10초", "수동 복구 필요", Policy.ABORT, FRONTEND,
                    up=False, fine=True),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 되돌림", "CPU Instance", "몇 초", "0분", steps)


def rollback_plan(view: RunView, target: str, bad: str) -> Plan:
    """`rollback-frontend`: switch to the target release, mark the one it leaves bad."""
    steps = (
        Step("R1", "이전 릴리스로 전환", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: release.switch_current(v, target)),
        Step("R2", "떠난 릴리스를 bad로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "bad", bad)),
        health_step("R3", "메인 페이지 확인", "10초", "수동 복구 필요", Policy.ABORT, FRONTEND,
                    up=False, fine=True),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 롤백 (release)", "CPU Instance", "몇 초", "0분", steps)


# --- converting a manual host ------------------------------------------------------------
#: swaps two paths in one step (renameat2 with RENAME_EXCHANGE; mv -T cannot replace a
#: directory by a symlink): python3 is on every host the tool runs its host script on
EXCHANGE = (
    "python3 -c 'import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
    "a, b = (os.fsencode(p) for p in sys.argv[-2:]); "
    "sys.exit(0 if libc.renameat2(-100, a, -100, b, 2) == 0 "
    "else os.strerror(ctypes.get_errno()))'"
)


def converted(v: RunView) -> str:
    """Succeeds when the web root already is the release strategy's symlink, the one root
    made (K2): not one the deploy login could have made."""
    w = q(v.s.web_root)
    return (
        f'[ -L {w} ] && [ "$(stat -c %u -- {w})" = 0 ] && '
        f'[ "x$(readlink -- {w})" = {q("x" + live_root(v))} ]'
    )


def convert_plan(view: RunView) -> Plan:
    """Adopt the served web root as a (legacy) release, then make the web root a symlink."""
    # the release that served before this run sorts before the release it makes
    legacy = f"{earlier_run_id(view.run_id)}-{view.from_rev[:7]}-{release.LEGACY}"
    root, old = view.s.web_root, f"{view.s.web_root}.manual-{view.run_id}"
    new = f"{root}.{view.run_id}"
    steps = (
        *release.root_prepare_steps(),
        Step("K1", "서빙 중인 웹 루트를 릴리스로 등록", "10초", "디스크 공간 확인", Policy.ABORT,
             command=lambda v: (
                 f"d={q(release.path(v, release=legacy))}; mkdir -p -- \"$d\"/{q(v.s.frontend_build_dir)} && "
                 f"cp -a -- {q(root)}/. \"$d\"/{q(v.s.frontend_build_dir)}/ && "
                 f"printf 'ready\\n' > \"$d\"/{release.STATUS} && {release.switch_current(v, legacy)} && "
                 f"{release.adopt_env(v, appenv.of('frontend', v.s))}"
             ),
             added="manual 방식으로 배포된 호스트를 release 방식으로 바꾼다: 지금 서빙 중인 파일이 첫 릴리스"),
        Step("K2", "웹 루트를 심볼릭 링크로 (원자적 교환)", "1초", "권한 확인", Policy.ABORT, sudo=True,
             command=lambda v: (
                 f"ln -s -- {q(live_root(v))} {q(new)} && {EXCHANGE} -- {q(new)} {q(root)} && "
                 f"mv -T -- {q(new)} {q(old)}"
             ),
             added="디렉터리와 심볼릭 링크를 한 번에 맞바꾼다 (renameat2 RENAME_EXCHANGE): 바꾸는 "
             f"동안에도 요청은 실패하지 않는다. 예전 웹 루트는 {old}에 남는다 (manual 방식으로 "
             "돌아갈 때)"),
    )  # fmt: skip
    return Plan(
        "frontend", "A", "Frontend release 방식 전환", "CPU Instance", "몇 초", "0분", steps
    )


def checklist(view: RunView, app=FRONTEND, built: str = "에러 없음",
              serving: tuple[CheckItem, ...] = ()) -> tuple[CheckItem, ...]:  # fmt: skip
    """The manual's A checklist; a Node frontend's (tasks/apps/frontend_node) says what its
    build makes (``built``) and how the new build serves (``serving``)."""
    env = lambda v: ".env"  # noqa: E731
    example = lambda v: ".env.example"  # noqa: E731
    serving = serving or (CheckItem("배포 중", "build 폴더 배포 완료 (웹 루트 전환)", step="4"),
                          CheckItem("배포 후", "메인 페이지 HTTP 200 응답", step="6"))  # fmt: skip
    return (
        *before_items(_dir, env, example, ["package.json", "package-lock.json"], view.s.git_branch),
        CheckItem("배포 중", "코드 Pull 성공 (새 릴리스로 내보내기)", step="1"),
        CheckItem("배포 중", "`npm ci` 완료", step="2"),
        CheckItem("배포 중", f"`npm run build` 성공 ({built})", step="3"),
        *serving,
        CheckItem("배포 후", "주요 페이지 로드 확인 (로그인, 체크리스트)", rollback_on_no=True),
        CheckItem("배포 후", "브라우저 콘솔 에러 없음", rollback_on_no=True),
        *after_items(app),
    )


def state_command(view: RunView) -> str:
    b = q(release.base(view))
    return f"ls -l -- {q(view.s.web_root)}; readlink -- {b}/current; tail -n 3 -- {b}/switches"


def convert(s, legacy: RunView, settings, push) -> None:
    """The conversion of a manual host (tasks/strategies/release/convert.py): the web root
    becomes the first release (:func:`convert_plan`); nothing to push."""
    s.execute(convert_plan(s.view))


# --- asked by the release strategy (as the AI's release plans answer it) -------------------
def resolve_on(s) -> None:
    """Nothing of its switch is decided on the host (the AI's ai_switch=auto is)."""


def drained(s) -> bool:
    """Its switch never stops the old instance before the new one serves."""
    return False


def examples_decided_on_host(view: RunView, plans_of) -> None:
    """Its switch is known before the deploy: its plans are the usual ones."""
    return None
