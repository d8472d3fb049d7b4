"""The blue/green switch without an nginx reload: each pair's nftables table (pure builders).

nginx's upstream for a pair names one fixed local port, the pair's switch port (settings
``backend_switch_port``, ``ai_switch_port``); the pair's own table, ``ip
dojangkok_switch_<pair>`` (type nat, hook output: connections this host opens), sends new
connections to it to the live instance's port. A switch is the root helper's (``switch
PAIR PORT``, tasks/onhost/roothelper.py): the table replaced in one ``nft -f`` transaction,
no reload. The table is the tool's own, apart from the firewall's ``inet dojangkok``, so
``firewall=off`` leaves it alone.

What lives where (all root's):

- ``/etc/dojangkok-deploy/switch/<pair>.nft``: the table as last loaded (the helper writes it);
  the live port is read from it (:meth:`Pair.live_port_command`);
- ``dojangkok-switch@.service`` (templates/systemd/switch@.service.j2): loads the file at boot,
  before nginx, and again when nftables.service (whose config may flush every table)
  restarts; one instance per pair, enabled where the table is made;
- nginx's upstream file (``nginx_upstream_file``, ``ai_upstream_file``): the switch port,
  never rewritten at a switch.

:func:`table_command` makes all three, as root: at a conversion to releases (the port that
serves then, even the manual's), and in setup for a host already on releases (the port its
upstream file named before there was a switch table; nginx reloaded once, for the new
upstream).
"""

from __future__ import annotations

from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.config.render import MANAGED, environment
from tasks.engine import staging
from tasks.engine.steps import Upload
from tasks.engine.view import RunView
from tasks.hostfacts import ch, tracked
from tasks.hosts.settings import Settings
from tasks.onhost import roothelper
from tasks.shell import q
from tasks.strategies.release.layout import root_owned

UNIT = "dojangkok-switch"
UNIT_TEMPLATE = "systemd/switch@.service.j2"
#: stands for the live port in the ruleset text a shell command completes
MARK = "@@LIVE@@"
#: the boot unit, as it arrives in the step's root-only directory (tasks/engine/staging.py)
STAGED_UNIT = "switch.service"


def unit_path(s: Settings) -> str:
    return f"{s.systemd_dir}/{UNIT}@.service"


def instance(pair_name: str) -> str:
    return f"{UNIT}@{pair_name}.service"


def unit_text() -> str:

    template = environment().get_template(UNIT_TEMPLATE)
    return template.render(switch_dir=roothelper.SWITCH_DIR, unit=UNIT,
                           managed=MANAGED.format(template=UNIT_TEMPLATE))  # fmt: skip


def uploads(v: RunView) -> tuple[Upload, ...]:
    """The boot unit, for a step that runs :func:`table_command`."""
    return (Upload(staging.path(STAGED_UNIT), "644",
                   f"templates/{UNIT_TEMPLATE}에서 렌더링 (부팅 시 전환 테이블)",
                   lambda secrets: unit_text()),)  # fmt: skip


def _ports(pair, s: Settings) -> list[int]:
    """The ports a switch table may name: the pair's, and the one served before the pair
    (a conversion's first table)."""
    usual = [pair.usual_port(s)] if pair.usual_port else []
    return sorted({*(int(p) for p in pair.ports(s)), *(int(p) for p in usual)})


def table_command(pair, s: Settings, port: int | None = None, reload: bool = False) -> str:
    """As root: the pair's switch table sending its switch port to ``port`` (None: the port
    that serves now: the table's, else the one nginx's upstream file names, on a host set up
    before the switch table), loaded when it is new, changed or missing from the kernel; the
    boot unit (the step's upload: :func:`uploads`) installed, its instance enabled and
    active; nginx's upstream file naming the switch
    port (``reload``: nginx checked and reloaded when the file changed, the old file back
    when nginx refuses it). When it moved the live port, it waits as the helper's switch
    does. Idempotent; says what it changed (hostfacts.tracked)."""
    name = pair.component.name
    table, sw = roothelper.switch_table(name), roothelper.switch_file(name)
    head, tail = roothelper.switch_ruleset(name, pair.switch_port(s), MARK).split(MARK)
    unit, inst = q(unit_path(s)), q(instance(name))
    allowed = "|".join(str(p) for p in _ports(pair, s))
    unknown = (f"{name}: 지금 서빙하는 포트를 알 수 없습니다 ($live; {sw}도, nginx upstream의 "
               f"인스턴스 포트도 없음): 서빙 중인 인스턴스 포트로 {sw}를 복구하거나 다시 배포하세요")  # fmt: skip
    if port is None:
        live = (
            'live=$old; [ -n "$live" ] || live=$(sed -n '
            "'s/^[[:space:]]*server 127\\.0\\.0\\.1:\\([0-9]*\\);.*$/\\1/p' "
            '-- "$u" 2>/dev/null | head -n 1)'
        )
    else:
        live = f"live={int(port)}"
    upstream = (
        f'printf %s {q(pair.upstream_text(s))} > "$u.new"; '
        'if cmp -s -- "$u.new" "$u"; then rm -f -- "$u.new"; else '
        'if [ -f "$u" ]; then cp -p -- "$u" "$u.prev"; fi; mv -fT -- "$u.new" "$u"; '
        + (
            f"if {s.nginx_test_cmd} 2>&1; then {s.nginx_reload_cmd}; "
            f'ch "$u (nginx 리로드)"; else if [ -f "$u.prev" ]; then mv -fT -- "$u.prev" "$u"; fi; '
            f"echo {q('nginx가 새 upstream을 거부했습니다: upstream 파일은 그대로입니다')} >&2; exit 1; fi; "
            if reload
            else 'ch "$u"; '
        )
        + "fi"
    )
    return (
        f"f={q(sw)}; u={q(pair.upstream_file(s))}; old=; "
        'if [ -f "$f" ]; then old=$(sed -n '
        "'s/^.*redirect to :\\([0-9]*\\)$/\\1/p' -- \"$f\" | head -n 1); fi; "
        f"{live}; "
        f'case "$live" in {allowed}) ;; *) echo "{unknown}" >&2; exit 1;; esac; '
        f"install -d -m 755 -- {q(roothelper.SWITCH_DIR)}; "
        f'if ! cmp -s -- "{staging.path(STAGED_UNIT)}" {unit}; then '
        f'install -m 644 -- "{staging.path(STAGED_UNIT)}" {unit}; systemctl daemon-reload; '
        f"{ch(unit_path(s))}; fi; "
        f'printf %s%s%s {q(head)} "$live" {q(tail)} > "$f.new"; '
        f'if cmp -s -- "$f.new" "$f" && nft list table {table} >/dev/null 2>&1; then rm -f -- "$f.new"; '
        f'elif nft -f "$f.new"; then mv -fT -- "$f.new" "$f"; ch "table {table}: → $live"; '
        f'else rm -f -- "$f.new"; echo {q("nft가 전환 테이블을 거부했습니다: 전환은 그대로입니다")} >&2; exit 1; fi; '
        f"systemctl is-enabled -q -- {inst} || {{ systemctl enable -q -- {inst}; {ch(f'enabled {instance(name)}')}; }}; "
        # active, so that a restart of nftables.service (PartOf) loads the table again
        f"systemctl is-active -q -- {inst} || {{ systemctl start -- {inst}; {ch(f'started {instance(name)}')}; }}; "
        f"{upstream}; "
        f'if [ -n "$old" ] && [ "$old" != "$live" ]; then sleep {roothelper.DRAIN}; fi'
    )


def converted_pairs(v: RunView) -> list:
    """The host's blue/green pairs under the release strategy (their tables are made where
    the pair is converted: its upstream file is root's)."""
    if not strategy_for(v.s).runs_blue_green:
        return []
    apps = registry.on_host(v.host.groups, v.host.alias) or registry.ORDER
    return [p for a in apps if (p := getattr(a.plans("release"), "PAIR", None)) is not None
            and a.pair_ports(v.s)]  # fmt: skip


def setup_command(v: RunView) -> str:
    """Setup on a release host: each converted pair's table (a host set up before the switch
    table: made from the port its upstream named, then nginx's upstream to the switch port,
    one reload), loaded if the kernel lost it; nothing when it is all there."""
    s = v.s
    parts = [
        f"if {root_owned(pair.upstream_file(s))}; then {table_command(pair, s, None, True)}; fi"
        for pair in converted_pairs(v)
    ]
    names = ", ".join(roothelper.switch_table(p.component.name) for p in converted_pairs(v))
    return tracked("; ".join(parts) or "true", names or "no pair")
