"""The Node frontend with the release strategy: the backend's blue/green, no failed request.

A deploy exports the revision into a new release, installs its dependencies (the current
release's node_modules when the lock file is unchanged, as the static frontend does), builds
it (``npm run build``: Next's ``.next/standalone/server.js``), puts the build's static assets
and public/ beside server.js, and records it; then the pair (bluegreen.py) starts it on the
idle port, gates on its health check and smoke requests, switches nginx's new connections to
it (no reload) and keeps the old instance warm for ``frontend_keep_warm`` seconds.

A host serving the static frontend (or nothing) is converted by the first deploy (or setup):
the switch table and the template unit, the revision built as the first release and started
on the first port, nginx's site then proxying to it (one reload); the static releases, which
no Node server can run, are marked bad so a rollback skips them. ``current`` moves with the
deploy's own switch (old nginx workers may still serve the static site from it).
"""

from __future__ import annotations

from tasks import shell
from tasks.apps.backend.release import drained, examples_decided_on_host, resolve_on
from tasks.apps.frontend.release import checklist as static_checklist
from tasks.apps.frontend.release import fetch_steps
from tasks.apps.frontend_node import FRONTEND_NODE, SERVER, UPSTREAM
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.setup import privilege
from tasks.shell import q
from tasks.strategies.release import layout as release
from tasks.strategies.release.bluegreen import Pair

__all__ = ["drained", "examples_decided_on_host", "resolve_on"]  # the release strategy asks

#: the Node frontend's two instances behind nginx's upstream (bluegreen.py)
PAIR = Pair(
    FRONTEND_NODE, service=lambda s: s.frontend_service, ports=lambda s: s.frontend_ports,
    upstream_file=lambda s: s.frontend_upstream_file, upstream=UPSTREAM,
    switch_port=lambda s: s.frontend_switch_port,
    keep_warm=lambda s: s.frontend_keep_warm, smoke=lambda s: s.frontend_smoke,
    numbers=("4", "5", "5a", "6", "6a", "6b"),
)  # fmt: skip

SECTION = "A"


def pair(s) -> Pair:
    return PAIR


def _dir(v: RunView) -> str:
    return v.s.frontend_dir


@adapts("release")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def build_plan(view: RunView, live: int = 0) -> Plan:
    rel = lambda v: release.path(v)  # noqa: E731
    steps = (
        *fetch_steps(),  # A0–A2, as the static frontend's
        Step("3", "프로덕션 빌드 (standalone 서버)", "2분",
             "빌드 에러 확인 후 수정 (서비스 중인 인스턴스는 그대로)", Policy.ABORT,
             command=lambda v: shell.cd(rel(v), f"{v.s.frontend_build_cmd} && "
                                        f"{FRONTEND_NODE.assemble(v.s)}"),
             added=f"빌드 뒤 .next/static과 public/을 {SERVER} 옆에 둔다 (Next의 standalone 배포 "
             f"방식); {SERVER}가 없으면 실패",
             local_build="build"),
        Step("3a", "Next 캐시 디렉터리 연결 (.next/cache)", "1초", "디스크·권한 확인", Policy.ABORT,
             command=lambda v: shell.cd(rel(v), FRONTEND_NODE.link_cache(v.s)),
             added=f"Next가 실행 중에 쓰는 캐시(이미지 최적화, ISR): 릴리스는 서비스에 읽기 전용이라 "
             f"두 인스턴스가 함께 쓰는 systemd CacheDirectory({FRONTEND_NODE.cache_dir(view.s)})로 "
             "링크한다 (로컬 빌드도 호스트에서)"),
        release.info_step("3b"),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend 배포 (release, Node blue/green)", "CPU Instance",
                "약 3분", "0분 (무중단)", steps, checklist(view))  # fmt: skip


def checklist(view: RunView) -> tuple[CheckItem, ...]:
    """The static frontend's (the manual's A), with how a Node build serves."""
    return static_checklist(view, FRONTEND_NODE, "standalone 서버", (
        CheckItem("배포 중", "새 인스턴스 시작", step="4"),
        CheckItem("배포 후", f"`{view.s.frontend_health_path}` 응답 확인", step="5"),
    ))  # fmt: skip


def state_command(view: RunView) -> str:
    return PAIR.state_command(view)


# --- the conversion of a host serving the static frontend (convert.py) -------------------
def converted(v: RunView) -> str:
    """Succeeds when the frontend runs as the Node pair: root's template unit and upstream."""
    return PAIR.laid_out(v.s)


def convert(s, legacy: RunView, settings, push) -> None:
    """The revision this run deploys (setup's: the checkout's) built on the host as the first release,
    started on the first port behind the switch table; then nginx's site proxies to it (one
    reload, while the static site served until then). ``push(only)``:
    the config push, rendered for the release strategy."""
    # built on the host: a local build made the deploy's own release (its work dir and
    # manifest are that run's), which follows the conversion; setup deploys no revision of
    # its own: the one it read as deployed (the checkout's), legacy's
    first = legacy.but(to_rev=s.view.to_known or legacy.to_rev, build_on="host")
    port = int(s.view.s.frontend_ports[0])
    s.execute(convert_table_plan(first, port))
    push({"frontend"})
    with s.viewing(first):  # the first release's own run id (it sorts before this run's)
        s.execute(build_plan(first, port))
        s.execute(convert_start_plan(first, port))
        push({"nginx"})
        s.execute(convert_current_plan(first))


def convert_table_plan(first: RunView, port: int) -> Plan:
    steps = (
        *release.root_prepare_steps(),
        Step("K0", "root 헬퍼가 다룰 수 있는 것에 프론트엔드 쌍 추가", "1초", "visudo 출력 확인",
             Policy.ABORT, sudo=True, uploads=privilege.uploads, command=privilege.command,
             added="setup의 최소 권한 sudo 단계와 같다: 배포 계정이 root 헬퍼로 프론트엔드 "
                   "인스턴스를 시작·전환·종료할 수 있게 한다 (frontend_kind=node로 바꾼 뒤 setup 없이도)"),
        PAIR.table_step("K1", first.s, port, then="사이트는 첫 인스턴스가 뜬 뒤에 바꾼다"),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend Node blue/green 전환 준비", "CPU Instance", "1분", "0분",
                steps)  # fmt: skip


def convert_start_plan(first: RunView, port: int) -> Plan:
    steps = (
        *PAIR.first_instance_steps(("K2", "K3"), first.s, port, "수동 복구", Policy.ABORT,
                                   unhealthy="수동 복구 (정적 사이트는 그대로)"),
        Step("K4", f"부팅 때 {PAIR.instance(first.s, port)}", "1초", "-", Policy.WARN,
             sudo=True, command=lambda v: PAIR.at_boot(v.s, port)),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend Node 첫 인스턴스", "CPU Instance", "1분", "0분", steps)


def static_marked_bad(v: RunView) -> str:
    """The releases without a server (static builds): bad, so no rollback starts one."""
    rels, sa = q(f"{release.base(v)}/releases"), q(FRONTEND_NODE.standalone(v.s))
    return (
        f'for d in {rels}/*/; do [ -f "$d"{sa}/{SERVER} ] && continue; [ -d "$d" ] || continue; '
        f'printf \'bad\\n\' > "$d"{release.STATUS} && echo "static release $(basename -- "$d"): bad"; done; true'
    )


def convert_current_plan(first: RunView) -> Plan:
    """``current`` stays where it is: nginx's workers from before the site's reload may
    still serve the static site from it (the web root is ``current``'s build directory); the
    deploy's own switch moves it (6a), a rollback skips the static releases."""
    steps = (
        Step("K5", "정적 릴리스를 bad로 표시", "1초", "-", Policy.WARN, command=static_marked_bad,
             added="Node 서버가 실행할 수 없는 정적 빌드: 롤백이 고르지 않는다. current는 그대로 둔다 "
                   "(리로드 전의 nginx 워커가 아직 그 아래의 정적 사이트를 서빙할 수 있다): 배포의 "
                   "전환(6a)이 옮긴다"),
    )  # fmt: skip
    return Plan("frontend", "A", "Frontend Node blue/green 전환", "CPU Instance", "1초", "0분",
                steps)  # fmt: skip
