"""A manual-strategy host becomes a release-strategy host, once, while it keeps serving.

What serves now is adopted as the first ("legacy") release, so a rollback can go back to it:
- frontend: the web root's files become a release; the web root becomes a symlink;
- backend: the running jar becomes a release; the switch table (tasks/procedures/
  switchtable.py) sends nginx's upstream port to the manual unit's port, the template unit
  and the site with its ``include`` are pushed (validated first); the release starts on the
  first blue/green port, the switch moves to it (the root helper's, no reload), then the
  manual unit stops;
- AI: the served revision is built as a release (its own venv) and ``current`` points at it;
  the unit that runs ``current`` is pushed (one restart, gated on health, rolled back on
  failure).
The first release deploy does it (and says so); ``fab setup`` does it too.
"""

from __future__ import annotations

import dataclasses

from tasks.apps import env as appenv
from tasks.apps.ai import AI
from tasks.apps.ai import release as release_ai
from tasks.apps.backend import BACKEND
from tasks.apps.backend import release as release_backend
from tasks.apps.base import App
from tasks.apps.common import health_step
from tasks.apps.frontend import release as release_frontend
from tasks.engine.session import Session
from tasks.engine.steps import Plan, Step
from tasks.engine.view import RunView, earlier_run_id
from tasks.hosts import values
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release
from tasks.strategies.release import switchtable
from tasks.strategies.release.layout import root_owned


def is_converted(comp: App, v: RunView) -> str:
    """A command that succeeds when ``comp`` already runs the release strategy's way,
    decided from what root made in the conversion (never from the deploy login's files):
    the blue/green template unit and the nginx upstream file; the web root's link; the AI
    unit's working directory."""
    if comp.name == "frontend":
        return release_frontend.converted(v)
    s = v.s
    if comp.name == "backend":
        return (f"{root_owned(f'{s.systemd_dir}/{s.backend_service}@.service')} && "
                f"{root_owned(s.nginx_upstream_file)}")  # fmt: skip
    if release_ai.pair(s) is not None:
        return (f"{root_owned(f'{s.systemd_dir}/{s.ai_service}@.service')} && "
                f"{root_owned(s.ai_upstream_file)}")  # fmt: skip
    unit = values.unit_name(s.ai_service)
    return (
        f'[ "x$(systemctl show -p WorkingDirectory --value {q(unit)})" = '
        f"{q('x' + release.current(v))} ]"
    )


def _release_settings(s: Session):
    """The host, as the release strategy renders its config."""
    host = s.view.host
    return dataclasses.replace(host, settings=host.settings.replace(strategy="release"))


def convert(s: Session, comp: App) -> None:
    from tasks.setup.provision import push_on  # the config push (a flow of its own)

    if comp.name == "frontend":
        s.execute(release_frontend.convert_plan(s.view))
        return
    # the release that served before this run sorts before the release it makes
    legacy = s.view.but(run_id=earlier_run_id(s.view.run_id), to_rev=s.view.from_rev)
    if comp.name == "ai" and release_ai.pair(s.view.s) is not None:
        convert_ai_blue_green(s, legacy)
        return
    if comp.name == "ai":
        s.execute(ai_adopt_plan())
        with s.viewing(legacy):  # the served revision, built as a release of its own
            s.execute(release_ai.build_plan(legacy))
        s.execute(Plan("ai", "C", "AI release 방식 전환", "", "", "", (
            release.switch_step("K1", "current → 서빙 중인 리비전의 릴리스",
                                lambda v: release.name(legacy)),
        )))  # fmt: skip
        push_on(s, _release_settings(s), only={"ai"})
        return
    s.execute(backend_adopt_plan(legacy))
    push_on(s, _release_settings(s), only={"backend", "nginx"})
    s.execute(backend_switch_plan(legacy), rollback=lambda v, reason: backend_undo_plan(legacy))


def ai_adopt_plan() -> Plan:
    """K0: the release directories (releases_root as root, the rest as the deploy login)
    and the shared .env: a link to the file the AI unit reads."""
    steps = (
        *release.root_prepare_steps(),
        Step("K0", "shared .env (유닛이 읽는 파일로 링크)", "1초", "-", Policy.ABORT,
             command=lambda v: release.adopt_env(v, appenv.of("ai", v.s))),
    )  # fmt: skip
    return Plan("ai", "C", "AI release 방식 전환", "", "", "", steps)


def backend_adopt_plan(legacy: RunView) -> Plan:
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
        Step("K2", f"전환 테이블 (nftables, → 지금 포트 {s.backend_port})과 nginx upstream 파일",
             "1초", "nft 출력·권한 확인", Policy.ABORT, sudo=True, uploads=switchtable.uploads,
             command=lambda v: release_backend.PAIR.table_command(s, s.backend_port),
             added="nginx의 upstream은 고정된 전환 포트를 가리키고, 도구의 nftables 테이블이 그 "
                   "포트로 오는 새 연결을 서빙 중인 포트로 보낸다: 전환할 때 nginx를 리로드하지 않는다"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend release 방식 전환", "CPU Instance", "1분", "0분", steps)


def backend_switch_plan(legacy: RunView) -> Plan:
    """K3–K6: the adopted release on the first blue/green port, then nginx to it."""
    s = legacy.s
    port = s.backend_ports[0]
    steps = (
        Step("K3", f"{release_backend.instance(s, port)} 시작", "30초", "되돌림", Policy.ROLLBACK,
             command=lambda v: release_backend.PAIR.start_instance(legacy, port),
             added="배포 계정이 한다: 슬롯 링크는 그 디렉터리에, 유닛은 root 헬퍼로"),
        health_step("K4", "헬스체크", "1분", "되돌림", Policy.ROLLBACK,
                    BACKEND, up=False, fine=True, port=lambda v: port,
                    unit=lambda v: release_backend.instance(s, port)),
        Step("K5", f"전환 ({s.backend_port} → {port}, nginx 리로드 없이)", "5초", "되돌림",
             Policy.ROLLBACK, sudo=True, command=lambda v: release_backend.PAIR.point_upstream(s, port)),
        release.switch_step("K6", "current → 등록한 릴리스", lambda v: release.name(legacy)),
        Step("K7", f"manual 유닛 종료 ({s.backend_service}, 요청이 끝난 뒤)", "1초", "-",
             Policy.WARN, sudo=True,
             command=lambda v: (
                 f"systemctl disable -q {q(values.unit_name(s.backend_service))}; "
                 f"{release_backend.PAIR.at_boot(s, port)}; "
                 f"systemd-run --on-active=10s --collect --quiet -- "
                 f"systemctl stop {q(values.unit_name(s.backend_service))}"
             ),
             added="manual 방식의 유닛은 멈추고 부팅 때도 켜지지 않는다 (파일은 남는다); "
                   "부팅 때는 지금 포트의 인스턴스가 켜진다"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend release 방식 전환", "CPU Instance", "1분", "0분", steps)


def backend_undo_plan(legacy: RunView) -> Plan:
    s = legacy.s
    port = s.backend_ports[0]
    steps = (
        Step("KR1", f"전환을 {s.backend_port}로", "5초", "수동 복구", Policy.ABORT,
             sudo=True, uploads=switchtable.uploads,
             command=lambda v: release_backend.PAIR.table_command(s, s.backend_port)),
        Step("KR2", f"{release_backend.instance(s, port)} 중지", "10초", "-", Policy.WARN,
             sudo=True, command=lambda v: f"systemctl stop {release_backend.PAIR.unit(s, port)}"),
    )  # fmt: skip
    return Plan("backend", "B", "전환 되돌림", "CPU Instance", "", "", steps)


def _ai_has_releases(s: Session) -> bool:
    return s.sh(f"test -L {q(release.current(s.view))}").ok


def convert_ai_blue_green(s: Session, legacy: RunView) -> None:
    """The AI server onto two instances behind nginx on the GPU host.

    The served release (built first on a manual host) starts on the first port; then the
    single unit stops and nginx takes its port: the one outage, about a second, said.
    """
    from tasks.setup.provision import push_on

    if not _ai_has_releases(s):
        s.execute(ai_adopt_plan())
        with s.viewing(legacy):
            s.execute(release_ai.build_plan(legacy))
        s.execute(Plan("ai", "C", "AI release 방식 전환", "", "", "", (
            release.switch_step("K1", "current → 서빙 중인 리비전의 릴리스",
                                lambda v: release.name(legacy)),
        )))  # fmt: skip
    current = s.query(release.current_release(s.view)) or release.name(legacy)
    settings = _release_settings(s).settings
    s.execute(Plan("ai", "C", "AI blue/green 준비", "", "", "", release.root_prepare_steps()))
    port = settings.ai_ports[0]
    push_on(s, _release_settings(s), only={"ai"})  # the template unit: nothing restarts
    s.execute(ai_blue_green_start_plan(settings, port, current))
    push_on(s, _release_settings(s), only={"ai-proxy"})  # nginx cannot take the port yet
    s.execute(ai_blue_green_takeover_plan(settings, port))


def ai_blue_green_start_plan(settings, port: int, current: str) -> Plan:
    """K2–K4: the served release on the first port (as the deploy login: the slot is its,
    the unit the root helper's), then the switch table sending the upstream's port to it and
    the upstream file naming that port (root)."""
    pair = release_ai.PAIR
    steps = (
        Step("K2", f"{pair.instance(settings, port)} 시작", "30초", "수동 복구", Policy.ABORT,
             command=lambda v: pair.start_instance(v, port, current)),
        health_step("K3", "헬스체크", "1분", "수동 복구", Policy.ABORT, AI, up=False, fine=True,
                    port=lambda v: port, unit=lambda v: pair.instance(settings, port)),
        Step("K4", f"전환 테이블 (nftables, → {port})과 nginx upstream 파일", "1초",
             "nft 출력·권한 확인", Policy.ABORT, sudo=True, uploads=switchtable.uploads,
             command=lambda v: pair.table_command(settings, port)),
    )  # fmt: skip
    return Plan("ai", "C", "AI blue/green 전환", "", "", "", steps)


def ai_blue_green_takeover_plan(settings, port: int) -> Plan:
    """K5–K6: the single unit lets its port go, nginx takes it (the one short outage)."""
    pair = release_ai.PAIR
    steps = (
        Step("K5", f"nginx가 포트 {settings.ai_listen_port}를 넘겨받음 (짧은 중단)", "1초",
             "수동 복구", Policy.ABORT, sudo=True, down=True,
             command=lambda v: (
                 f"systemctl disable -q {q(values.unit_name(settings.ai_service))}; "
                 f"systemctl stop {q(values.unit_name(settings.ai_service))} && "
                 f"{settings.nginx_reload_cmd} && {pair.at_boot(settings, port)}"
             ),
             added="한 번뿐인 전환: 단일 유닛이 포트를 놓고 nginx가 받는 동안 (약 1초) 응답이 없다"),
        health_step("K6", "헬스체크 (nginx 뒤)", "1분", "수동 복구", Policy.ABORT, AI, fine=True),
    )  # fmt: skip
    return Plan("ai", "C", "AI blue/green 전환", "", "", "", steps)
