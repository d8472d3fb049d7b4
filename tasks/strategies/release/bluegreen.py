"""Blue/green on one host: two instances of a template unit behind an nginx upstream.

``<service>@<port>`` runs the release its slot (``<root>/<component>/slots/<port>``) points
at. nginx sends requests to the ``upstream`` in an included file, which names the pair's
fixed switch port (127.0.0.1:<switch_port>) and is never rewritten at a switch; the pair's
nftables table sends new connections to that port to the live instance. A switch replaces
that table in one transaction (the root helper's ``switch``, tasks/onhost/roothelper.py):
nginx is not reloaded, so no keep-alive client is disconnected; connections open before it
finish on the old instance, which nginx stops reusing within seconds (the switch waits that
long). A deploy starts the new release on the idle port, gates on its health and smoke tests
there, and only then switches. The old instance stays warm for a while (a transient systemd
timer stops it): a rollback within that window is a switch back, with no start-up.

The backend (tasks/apps/backend/release.py) always works this way; the AI server
(release_ai.py) does with ``ai_switch=blue-green``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasks.apps.base import App
from tasks.apps.common import health_step
from tasks.durations import duration_text
from tasks.engine.steps import Plan, Step
from tasks.engine.view import RunView
from tasks.hostfacts import tracked
from tasks.hosts import values
from tasks.hosts.settings import Settings
from tasks.onhost import roothelper
from tasks.onhost.policy import Policy
from tasks.setup import privilege
from tasks.shell import q, root_helper
from tasks.strategies.release import layout as release
from tasks.strategies.release import switchtable

SLOT_MARK = "@@slot"


def parse_slots(stdout: str) -> dict[int, tuple[str, str]]:
    """slots_command's output → {port: (state, release)}."""
    out = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) in (3, 4) and parts[0] == SLOT_MARK and parts[1].isdigit():
            out[int(parts[1])] = (parts[2], parts[3] if len(parts) == 4 else "")
    return out


@dataclass(frozen=True)
class Pair:
    component: App
    service: Callable[[Settings], str]  # the template's name: <service>@<port>
    ports: Callable[[Settings], list]
    upstream_file: Callable[[Settings], str]
    upstream: str  # the upstream's name in nginx
    #: the local port nginx's upstream names; the switch table sends it to the live port
    switch_port: Callable[[Settings], int]
    keep_warm: Callable[[Settings], int]
    smoke: Callable[[Settings], list]
    #: the manual's step numbers the switch plan's steps stand in for: start, health, smoke,
    #: then the tool's switch, current and retire steps
    numbers: tuple[str, str, str, str, str, str]
    #: the port the service answers on without blue/green (the manual's); a smoke url on
    #: localhost:<it> is asked of the new instance
    usual_port: Callable[[Settings], int] | None = None

    @classmethod
    def of(cls, app: App, *, upstream_file: Callable[[Settings], str], upstream: str,
           numbers: tuple[str, str, str, str, str, str]) -> Pair:  # fmt: skip
        """The pair of an app that answers the pair's questions itself (a ServiceApp: its
        unit, its blue/green ports, its usual port, its smoke requests) and whose settings
        block names the rest alike: ``<app>_switch_port``, ``<app>_keep_warm``."""
        return cls(app, service=app.service, ports=app.pair_ports, upstream_file=upstream_file,
                   upstream=upstream, switch_port=lambda s: s.app(app.name).switch_port,
                   keep_warm=lambda s: s.app(app.name).keep_warm, smoke=app.smoke,
                   numbers=numbers, usual_port=app.port)  # fmt: skip

    # --- names ----------------------------------------------------------------------------
    def instance(self, s: Settings, port: int) -> str:
        """The instance's name (for titles); commands take :meth:`unit`."""
        return f"{self.service(s)}@{int(port)}"

    def unit(self, s: Settings, port: int) -> str:
        """The instance's unit, checked to be a unit name, quoted: for commands."""
        return q(values.unit_name(self.instance(s, port)))

    def slot(self, v: RunView, port: int) -> str:
        return f"{release.base(v)}/slots/{port}"

    def retire_timer(self, s: Settings, port: int) -> str:
        """The retire timer of the instance on ``port`` (checked: a unit name)."""
        return values.unit_name(roothelper.retire_unit(self.service(s), port) + ".timer")

    def other(self, s: Settings, port: int) -> int:
        a, b = self.ports(s)[:2]
        return b if port == a else a

    # --- commands (root actions are the root helper's: tasks/onhost/roothelper.py) ---------
    def upstream_text(self, s: Settings) -> str:
        """nginx's upstream file: the switch port, whichever instance serves."""
        return roothelper.upstream_text(self.upstream, self.switch_port(s))

    def table_command(self, s: Settings, port: int | None = None, reload: bool = False) -> str:
        """As root (setup, the conversions): the switch table sending the switch port to
        ``port`` (None: the port that serves now), loaded now and at boot, and nginx's
        upstream file naming the switch port (tasks/strategies/release/switchtable.py); says what
        it changed."""
        return tracked(switchtable.table_command(self, s, port, reload),
                       roothelper.switch_table(self.component.name))  # fmt: skip

    def at_boot(self, s: Settings, port: int) -> str:
        """As root: the live instance starts at boot, the other one does not."""
        new, old = self.unit(s, port), self.unit(s, self.other(s, port))
        # --no-reload: the units are loaded already; only the boot-time links change
        return f"systemctl enable -q --no-reload {new} && systemctl disable -q --no-reload {old}"

    def point_upstream(self, s: Settings, port: int) -> str:
        """New connections to the switch port go to ``port`` (the pair's nftables table
        replaced in one transaction; refused, nothing changed, when the instance on ``port``
        does not run); that instance's retire timer stopped; it starts at boot, the other
        one does not; returns once nginx no longer sends the old instance a request. One
        call of the root helper, no nginx reload."""
        return root_helper("switch", self.component.name, int(port))

    def start_instance(self, v: RunView, port: int, rel: str | None = None) -> str:
        """Whatever runs on ``port`` stops; its slot points at the release; it starts."""
        s = v.s
        unit = values.unit_name(self.instance(s, port))
        timer = self.retire_timer(s, port)
        started = f"{self.instance(s, port)} started: {rel or release.name(v)}"
        return (
            f"{privilege.systemctl('stop', timer)} 2>/dev/null; {privilege.systemctl('stop', unit)}; "
            f"{privilege.systemctl('reset-failed', unit)} 2>/dev/null; "
            f"{release.switch(self.slot(v, port), release.path(v, release=rel), v.run_id)} && "
            f"{privilege.systemctl('start', unit)} && echo {q(started)}"
        )

    def retire(self, s: Settings, port: int, after: int) -> str:
        """Stop the instance on ``port`` after ``after`` seconds (a transient systemd timer)."""
        said = (f"{self.instance(s, port)}: {duration_text(after)} 뒤 멈춥니다 "
                "(그 전의 롤백은 전환만으로 끝납니다)")  # fmt: skip
        return (
            f"{root_helper('retire', self.component.name, int(port), int(after))} && echo {q(said)}"
        )

    def stop(self, s: Settings, port: int) -> str:
        return privilege.systemctl("stop", values.unit_name(self.instance(s, port)))

    def slots_command(self, v: RunView) -> str:
        """Prints ``@@slot <port> <state> <release>`` for each port: the instance's state
        (systemctl is-active, one call for both) and the release its slot points at."""
        ports = self.ports(v.s)[:2]
        units = " ".join(self.unit(v.s, p) for p in ports)
        lines = "; ".join(
            f"l=$(readlink -- {q(self.slot(v, p))} 2>/dev/null); "
            f'echo "{SLOT_MARK} {int(p)} ${{a[{i}]:-unknown}} ${{l##*/}}"'
            for i, p in enumerate(ports)
        )
        return f"mapfile -t a < <(systemctl is-active -- {units} 2>/dev/null); {lines}"

    def live_port_command(self, s: Settings) -> str:
        """Prints the port new requests go to (nothing when the pair has none yet); exits 0:
        the switch table's (root's file), or on a host set up before the switch table, the
        port nginx's upstream file names. Read by bash itself (no grep, head, cut)."""
        table = q(roothelper.switch_file(self.component.name))
        return (
            f"{{ f={table}; re='redirect to :([0-9]+)$'; if [ ! -f \"$f\" ]; then "
            f"f={q(self.upstream_file(s))}; re='^[[:space:]]*server 127\\.0\\.0\\.1:([0-9]+);'; fi; "
            "while IFS= read -r l; do [[ $l =~ $re ]] && { "
            f'[ "${{BASH_REMATCH[1]}}" != {int(self.switch_port(s))} ] && echo "${{BASH_REMATCH[1]}}"; '
            'break; }; done < "$f"; } 2>/dev/null; true'
        )

    def laid_out(self, s: Settings) -> str:
        """Succeeds when the host runs the pair: root's template unit and upstream file (what
        a conversion makes; never the deploy login's files)."""
        unit = f"{s.systemd_dir}/{self.service(s)}@.service"
        return f"{release.root_owned(unit)} && {release.root_owned(self.upstream_file(s))}"

    def state_command(self, v: RunView) -> str:
        """What runs, for a recovery: the live port, both instances' states, their slots."""
        s, b, ports = v.s, q(release.base(v)), self.ports(v.s)[:2]
        units = " ".join(self.unit(s, p) for p in ports)
        return (
            f"echo \"upstream: $({self.live_port_command(s)})\"; systemctl is-active {units} | paste -sd' '; "
            f'for p in {" ".join(str(int(p)) for p in ports)}; do echo "slot $p: $(readlink -- {b}/slots/$p)"; done'
        )

    def live_health(self, s: Settings) -> str:
        """One health check of the instance nginx sends requests to."""
        return self.component.health(s).at_port(self.live_port_command(s))

    # --- a conversion's steps (the backend's, the AI's, the Node frontend's) ----------------
    def table_step(self, number: str, s: Settings, port: int, *, to: str = "",
                   then: str = "") -> Step:  # fmt: skip
        """As root: the switch table sending the switch port to ``port`` and nginx's upstream
        file naming the switch port (``to``: how the title names the port; ``then``: what the
        conversion does next, for the note)."""
        return Step(
            number, f"전환 테이블 (nftables, → {to or port})과 nginx upstream 파일", "1초",
            "nft 출력·권한 확인", Policy.ABORT, sudo=True, uploads=switchtable.uploads,
            command=lambda v: self.table_command(s, port),
            added="nginx의 upstream은 고정된 전환 포트를 가리키고, 도구의 nftables 테이블이 그 "
                  "포트로 오는 새 연결을 서빙 중인 인스턴스로 보낸다: 전환할 때 nginx를 리로드하지 "
                  "않는다" + (f" ({then})" if then else ""),
        )  # fmt: skip

    def first_instance_steps(self, numbers: tuple[str, str], s: Settings, port: int,
                             on_failure: str, policy: Policy, *, view: RunView | None = None,
                             rel: str | None = None, unhealthy: str = "") -> tuple[Step, Step]:  # fmt: skip
        """A conversion's first instance: started on ``port`` as the deploy login (the slot
        is its, the unit the root helper's), then gated on its health check there. ``view``:
        the run whose release the slot points at (else the step's own run), ``rel``: that
        release by name; ``unhealthy``: the health step's failure response, if other."""
        start, health = numbers
        return (
            Step(start, f"{self.instance(s, port)} 시작", "30초", on_failure, policy,
                 command=lambda v: self.start_instance(view or v, port, rel),
                 added="배포 계정이 한다: 슬롯 링크는 그 디렉터리에, 유닛은 root 헬퍼로"),
            self._health(health, "헬스체크", unhealthy or on_failure, policy, port),
        )  # fmt: skip

    def _health(self, number, title, on_failure, policy, port: int) -> Step:
        return health_step(number, title, "1분", on_failure, policy, self.component, up=False,
                           fine=True, port=lambda v: port,
                           unit=lambda v: self.instance(v.s, port))  # fmt: skip

    def switch_plan(self, view: RunView, section: str, live: int, idle: int) -> Plan:
        n = self.numbers
        s = view.s
        smoke = release.host_smoke(
            n[2],
            "기능 테스트 (새 인스턴스)",
            "2분",
            "실패 시 새 인스턴스 중지",
            view,
            self.smoke,
            lambda settings: idle,
            self.usual_port,
        )
        steps = (
            Step(n[0], f"새 인스턴스 시작 ({self.instance(s, idle)})", "30초",
                 "실패 시 새 인스턴스 중지", Policy.ROLLBACK,
                 command=lambda v: self.start_instance(v, idle),
                 added=f"매뉴얼 {n[0]}를 대신: 쓰지 않는 포트에서 새 릴리스를 띄운다 "
                 "(서비스 중인 인스턴스는 그대로)"),
            self._health(n[1], "헬스체크 (새 인스턴스)", "실패 시 새 인스턴스 중지 (요청은 계속 이전 버전)",
                         Policy.ROLLBACK, idle),
            *smoke,
            Step(n[3], f"전환 ({live} → {idle}, nginx 리로드 없이)", f"{roothelper.DRAIN}초",
                 "이전 포트로 되돌림", Policy.ROLLBACK,
                 command=lambda v: self.point_upstream(v.s, idle),
                 added="nftables 테이블을 한 번에 교체: 새 연결은 새 인스턴스로, 열려 있던 연결과 처리 "
                 "중인 요청은 이전 인스턴스가 끝낸다. nginx를 리로드하지 않아 keep-alive 연결이 끊기지 "
                 f"않는다; nginx가 이전 인스턴스에 요청을 보내지 않게 될 때까지 ({roothelper.DRAIN}초) "
                 "기다린다. 부팅할 때는 새 인스턴스가 뜬다"),
            release.switch_step(n[4], "current → 새 릴리스"),
            Step(n[5], f"이전 인스턴스 대기 후 종료 ({self.instance(s, live)})", "1초", "-",
                 Policy.WARN,
                 command=lambda v: self.retire(v.s, live, self.keep_warm(v.s)),
                 added="잠시 켜 둔다: 그동안의 롤백은 전환만 하면 된다"),
        )  # fmt: skip
        return Plan(view.component, section, f"{self.component.label} 전환 (blue/green)",
                    "", "1분", "0분", steps)  # fmt: skip

    def switch_back_plan(self, view: RunView, section: str, live: int, idle: int,
                         live_release: str | None) -> Plan:  # fmt: skip
        steps = (
            Step("R1", f"전환을 {live}로", f"{roothelper.DRAIN}초", "수동 복구", Policy.ABORT,
                 command=lambda v: self.point_upstream(v.s, live)),
            Step("R2", "current를 이전 릴리스로", "1초", "-", Policy.WARN,
                 command=lambda v: release.switch_current(v, live_release) if live_release else "true"),
            Step("R3", f"새 인스턴스 중지 ({self.instance(view.s, idle)})", "10초", "-", Policy.WARN,
                 command=lambda v: self.stop(v.s, idle)),
            Step("R4", "릴리스를 실패로 표시", "1초", "-", Policy.WARN,
                 command=lambda v: release.mark(v, "failed")),
        )  # fmt: skip
        return Plan(view.component, section, f"{self.component.label} 되돌림", "", "몇 초", "0분",
                    steps)  # fmt: skip

    def rollback_plan(self, view: RunView, section: str, target: str, bad: str, live: int,
                      other: int, warm: bool) -> Plan:  # fmt: skip
        """A switch back when the target still runs (warm), else a start of the target on
        the other port first (cold); then the left release is marked bad."""
        start = () if warm else (
            Step("R1", f"이전 릴리스 시작 ({self.instance(view.s, other)})", "30초", "수동 복구",
                 Policy.ABORT, command=lambda v: self.start_instance(v, other, target)),
        )  # fmt: skip
        steps = (
            *start,
            self._health("R2", f"헬스체크 ({self.instance(view.s, other)})",
                         "서비스는 그대로 (전환 전)", Policy.ABORT, other),
            Step("R3", f"전환 ({live} → {other}, nginx 리로드 없이)", f"{roothelper.DRAIN}초",
                 "수동 복구", Policy.ABORT, command=lambda v: self.point_upstream(v.s, other)),
            Step("R4", "current → 이전 릴리스", "1초", "-", Policy.WARN,
                 command=lambda v: release.switch_current(v, target)),
            Step("R5", f"떠난 인스턴스 종료 ({self.instance(view.s, live)}, 요청이 끝난 뒤)", "1초",
                 "-", Policy.WARN,
                 command=lambda v: self.retire(v.s, live, 10)),
            Step("R6", "떠난 릴리스를 bad로 표시", "1초", "-", Policy.WARN,
                 command=lambda v: release.mark(v, "bad", bad)),
        )  # fmt: skip
        kind = "전환만 (이전 인스턴스가 켜져 있음)" if warm else "시작 후 전환"
        return Plan(view.component, section, f"{self.component.label} 롤백 (release: {kind})", "",
                    "몇 초", "0분", steps)  # fmt: skip

    def keep_live_plan(self, view: RunView, section: str, live: int) -> Plan:
        """The host's answer to a failed rollback: the live instance keeps serving."""
        steps = (
            Step("R1", f"전환을 {live}로", "1초", "수동 복구", Policy.ABORT,
                 command=lambda v: self.point_upstream(v.s, live)),
        )  # fmt: skip
        return Plan(view.component, section, f"{self.component.label} 롤백 취소", "", "몇 초", "0분",
                    steps)  # fmt: skip
