"""Manual §B with the release strategy: blue/green on one host, no failed request.

Two instances of a template unit, ``<backend_service>@<port>`` for the two ``backend_ports``;
each runs the jar of the release its slot (``<root>/backend/slots/<port>``) points at. nginx
sends /api/ to an ``upstream`` in ``nginx_upstream_file``: the switch port, which a switch
sends to the new instance without an nginx reload (bluegreen.py). A deploy builds the jar in a new release while the live
instance serves, starts it on the idle port, gates on its health and smoke tests there, and
only then switches. The old instance stays warm for ``backend_keep_warm`` seconds (a systemd
timer stops it): a rollback within that window is a switch back.
"""

from __future__ import annotations

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps.backend import BACKEND
from tasks.apps.common import (
    before_items,
    check_log,
    check_notice,
    check_record,
    env_check_step,
    notice_step,
)
from tasks.apps.database import backup
from tasks.config.render import UPSTREAM
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import values
from tasks.hosts.settings import Settings
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release
from tasks.strategies.release import switchtable
from tasks.strategies.release.bluegreen import Pair

#: the backend's two instances behind nginx's upstream (tasks/strategies/release/bluegreen.py)
PAIR = Pair.of(BACKEND, upstream_file=lambda s: s.nginx_upstream_file, upstream=UPSTREAM,
               numbers=("9", "10", "11", "11a", "11b", "11c"))  # fmt: skip


SECTION = "B"


def pair(s: Settings) -> Pair:
    return PAIR


def instance(s: Settings, port: int) -> str:
    return PAIR.instance(s, port)


def _dir(v: RunView) -> str:
    return v.s.backend_dir


def env_path(v: RunView) -> str:
    """The .env the units read (tasks/apps/env.py); shared/.env links to it."""
    return appenv.of("backend", v.s).path


@adapts("release")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def build_plan(view: RunView, live: int) -> Plan:
    rel = lambda v: release.path(v)  # noqa: E731
    b3, b4 = backup.steps()
    steps = (
        release.prepare_step(),
        notice_step("1", "디코 공지", "1분",
                    lambda v: f"배포 시작합니다 (무중단, 예상 {v.s.backend_expected_total})"),
        Step("2", "서비스 상태 확인", "1분", "이상 시 배포 중단", Policy.ABORT,
             command=lambda v: shell.service_status(instance(v.s, live))),
        b3,
        b4,
        release.export_step("5", _dir),
        env_check_step("6", rel, env_path, lambda v: v.s.backend_env_example),
        release.link_step("6a", lambda v: [v.s.backend_env_file]),
        Step("8", "Gradle 빌드 (새 릴리스에서)", "3분+", "빌드 실패: 서비스는 그대로, 릴리스는 실패로 표시",
             Policy.ABORT,
             command=lambda v: shell.cd(rel(v), f"{v.s.backend_build_cmd} && install -m 644 -- "
                                        f"{q(v.s.backend_artifact)} app.jar"),
             added="매뉴얼 7 (서비스 중단)과 8 (빌드)을 대신: 서비스를 멈추지 않고 새 릴리스에서 빌드",
             local_build="build"),
        release.info_step("8a", "app.jar"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend 배포 (release, blue/green)", "CPU Instance",
                "약 5분", "0분 (무중단)", steps, checklist(view))  # fmt: skip


def checklist(view: RunView) -> tuple[CheckItem, ...]:
    env = env_path
    example = lambda v: v.s.backend_env_example  # noqa: E731
    return (
        *before_items(_dir, env, example, ["build.gradle", "settings.gradle"], view.s.git_branch),
        CheckItem("배포 중", "코드 Pull 성공 (새 릴리스로 내보내기)", step="5"),
        CheckItem("배포 중", "Gradle 빌드 성공", step="8"),
        CheckItem("배포 중", "서비스 시작 (새 인스턴스)", step="9"),
        CheckItem("배포 후", f"`{view.s.backend_health_path}` 응답 확인", step="10"),
        CheckItem("배포 후", "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)",
                  rollback_on_no=True),
        CheckItem("배포 후", f"에러 로그 확인 (`{view.s.backend_log_cmd}`)",
                  check_log(lambda v: v.s.backend_log_cmd)),
        CheckItem("배포 후", "디코 완료 공지 (B12)", check_notice(lambda v: "배포 완료")),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    )  # fmt: skip


def state_command(view: RunView) -> str:
    return PAIR.state_command(view)


# --- the conversion of a manual host (tasks/strategies/release/convert.py) -------------------
def converted(v: RunView) -> str:
    """Succeeds when the backend runs as blue/green: root's template unit and upstream file."""
    return PAIR.laid_out(v.s)


def convert(s, legacy: RunView, settings: Settings, push) -> None:
    """The running jar becomes the first release and starts on the first blue/green port;
    ``push(only)``: the config push, rendered for the release strategy (``settings``)."""
    s.execute(convert_adopt_plan(legacy))
    push({"backend", "nginx"})
    s.execute(convert_switch_plan(legacy), rollback=lambda v, reason: convert_undo_plan(legacy))


def convert_adopt_plan(legacy: RunView) -> Plan:
    """K1–K2: the running jar as a release; the switch table sending the upstream's port to
    the manual port, the upstream file naming it."""
    s = legacy.s
    d = release.path(legacy)
    steps = (
        *release.root_prepare_steps(),
        Step("K1", "서빙 중인 jar를 릴리스로 등록", "5초", "디스크 공간 확인", Policy.ABORT,
             command=lambda v: (
                 f"mkdir -p -- {q(d)} {q(release.base(v) + '/slots')} && "
                 f"install -m 644 -- {q(s.backend_dir + '/' + s.backend_artifact)} {q(d + '/app.jar')} && "
                 f"{release.adopt_env(v, appenv.of('backend', v.s))} && "
                 f"{release.info(legacy, 'app.jar')}"
             ),
             added="manual 방식으로 배포된 호스트를 release 방식으로 바꾼다: 지금 도는 jar가 첫 릴리스"),
        PAIR.table_step("K2", s, s.backend_port, to=f"지금 포트 {s.backend_port}"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend release 방식 전환", "CPU Instance", "1분", "0분", steps)


def convert_switch_plan(legacy: RunView) -> Plan:
    """K3–K6: the adopted release on the first blue/green port, then nginx to it."""
    s = legacy.s
    port = s.backend_ports[0]
    steps = (
        *PAIR.first_instance_steps(("K3", "K4"), s, port, "되돌림", Policy.ROLLBACK, view=legacy),
        Step("K5", f"전환 ({s.backend_port} → {port}, nginx 리로드 없이)", "5초", "되돌림",
             Policy.ROLLBACK, sudo=True, command=lambda v: PAIR.point_upstream(s, port)),
        release.switch_step("K6", "current → 등록한 릴리스", lambda v: release.name(legacy)),
        Step("K7", f"manual 유닛 종료 ({s.backend_service}, 요청이 끝난 뒤)", "1초", "-",
             Policy.WARN, sudo=True,
             command=lambda v: (
                 f"systemctl disable -q {q(values.unit_name(s.backend_service))}; "
                 f"{PAIR.at_boot(s, port)}; "
                 f"systemd-run --on-active=10s --collect --quiet -- "
                 f"systemctl stop {q(values.unit_name(s.backend_service))}"
             ),
             added="manual 방식의 유닛은 멈추고 부팅 때도 켜지지 않는다 (파일은 남는다); "
                   "부팅 때는 지금 포트의 인스턴스가 켜진다"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend release 방식 전환", "CPU Instance", "1분", "0분", steps)


def convert_undo_plan(legacy: RunView) -> Plan:
    s = legacy.s
    port = s.backend_ports[0]
    steps = (
        Step("KR1", f"전환을 {s.backend_port}로", "5초", "수동 복구", Policy.ABORT,
             sudo=True, uploads=switchtable.uploads,
             command=lambda v: PAIR.table_command(s, s.backend_port)),
        Step("KR2", f"{instance(s, port)} 중지", "10초", "-", Policy.WARN,
             sudo=True, command=lambda v: f"systemctl stop {PAIR.unit(s, port)}"),
    )  # fmt: skip
    return Plan("backend", "B", "전환 되돌림", "CPU Instance", "", "", steps)


# --- asked by the release strategy (as the AI's release plans answer it) -------------------
def resolve_on(s) -> None:
    """Nothing of its switch is decided on the host (the AI's ai_switch=auto is)."""


def drained(s) -> bool:
    """Its switch never stops the old instance before the new one serves."""
    return False


def examples_decided_on_host(view: RunView, plans_of) -> None:
    """Its switch is known before the deploy: its plans are the usual ones."""
    return None
