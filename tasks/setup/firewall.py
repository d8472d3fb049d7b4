"""Setup's firewall: the tool's own nftables table, ``inet dojangkok`` (pure builders).

What comes in (everything else is dropped; loopback, replies and ICMP stay open):

- every host: SSH on the port the tool connects to (from ``ssh_allow_from`` when it is set);
- cpu: 80 and 443 (nginx). MariaDB (3306) and the backend (8080, blue/green 8081/8082) are
  not reachable from outside;
- an app's ports it opens to other hosts (``App.opening``: on gpu the AI server's
  ``ai_listen_port`` and the blue/green ``ai_ports``) only from its ``<app>_allow_from``, by
  default the inventory's [cpu] host address (a set per app, named after it: ``ai_v4``).

The ruleset is rendered from templates/nftables/dojangkok.nft.j2 and replaces only this
table, atomically (one ``nft -f`` transaction: declare, delete, write again), after
``nft -c -f`` has checked it. The SSH session running setup survives the switch: the new table
accepts established connections, and setup refuses an ``ssh_allow_from`` that leaves out the
address this session comes from (:func:`session_problem`), since the next connection from
there would be dropped. The same file is loaded at boot by a unit of the tool's own
(templates/systemd/firewall.service.j2), ordered after nftables.service, whose
/etc/nftables.conf may flush the whole ruleset. A second setup compares the file and the live
table (``nft -s list table``) with what it applied last, and changes nothing when they match.
``firewall=off`` removes the table, its file and its unit (and nothing else).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from tasks.apps import registry
from tasks.apps.base import App, Opening
from tasks.config.render import MANAGED, environment
from tasks.engine import staging
from tasks.engine.steps import Upload
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import ch, tracked
from tasks.hosts import values
from tasks.hosts.inventory import Host
from tasks.hosts.settings import VIEWS, Settings
from tasks.shell import q

TABLE = "inet dojangkok"
CONF_DIR = "/etc/dojangkok-deploy"
FILE = f"{CONF_DIR}/firewall.nft"
#: ``nft -s list table inet dojangkok`` right after the last apply (a later difference: the
#: live table was changed or flushed by someone else, and setup applies the file again)
APPLIED = f"{CONF_DIR}/firewall.applied"
UNIT = "dojangkok-firewall.service"
TEMPLATE = "nftables/dojangkok.nft.j2"
UNIT_TEMPLATE = "systemd/firewall.service.j2"
#: the apps' settings naming who may reach their opened ports (``<app>_allow_from``)
ALLOW_FROM = tuple(view["allow_from"] for view in VIEWS.values() if "allow_from" in view)


@dataclass(frozen=True)
class Rule:
    why: str  # the comment above the rule
    text: str


@dataclass(frozen=True)
class AddressSet:
    name: str
    type: str  # ipv4_addr | ipv6_addr
    elements: tuple[str, ...]


def unit_path(s: Settings) -> str:
    return f"{s.systemd_dir}/{UNIT}"


def opened(host: Host) -> list[tuple[App, Opening]]:
    """The apps on ``host`` with ports its firewall opens to other hosts (App.opening), by
    the host's roles (none: every role)."""
    roles = registry.roles(host.groups, host.alias) or set(registry.GROUPS)
    return [(app, opening) for app in registry.ORDER
            if app.group in roles and (opening := app.opening(host.settings))]  # fmt: skip


def sources(host: Host, app: App, opening: Opening) -> tuple[list[str], str]:
    """(the addresses that may reach ``app``'s opened ports, where they come from): its
    ``<app>_allow_from``, else the inventory's [cpu] host's address."""
    setting = VIEWS[app.name]["allow_from"]
    if allowed := getattr(host.settings, setting):
        return list(allowed), setting
    if not host.cpu_addresses:
        raise ConfigError(
            f"{host.alias}의 방화벽은 CPU 호스트만 {app.label}에 닿게 하는데, 인벤토리에 "
            f"[cpu] 호스트가 없고 {setting}도 비어 있습니다 (no [cpu] host, {setting} empty)",
            f"{setting}에 CPU 호스트의 주소를 주십시오. 예: [{app.group}:vars] 아래 "
            f'{setting}=["10.0.1.10"] (또는 firewall=off)',
        )
    for address in host.cpu_addresses:
        try:
            values.network(address, setting)
        except ConfigError:
            raise ConfigError(
                f"{host.alias}의 방화벽은 CPU 호스트만 {app.label}에 닿게 하는데, 인벤토리의 "
                f"[cpu] 호스트 주소 {address!r}이(가) 이름입니다: nftables에는 IP 주소가 "
                f"필요합니다 ({setting} is empty)",
                f"{setting}에 {app.group.upper()} 호스트가 보는 CPU 호스트의 접속 주소를 주십시오. "
                f'예: [{app.group}:vars] 아래 {setting}=["10.0.1.10"] (또는 firewall=off)',
            ) from None
    return list(host.cpu_addresses), "the [cpu] host's address in the inventory"


def source_problems(host: Host) -> list[tuple[str, str]]:
    """[(setting, problem)]: the opened ports whose sources cannot be known (setup names
    them with everything else missing, before any host)."""
    problems = []
    for app, opening in opened(host):
        try:
            sources(host, app, opening)
        except ConfigError as exc:
            problems.append((VIEWS[app.name]["allow_from"], exc.problem))
    return problems


def _split(networks: list[str]) -> tuple[list[str], list[str]]:
    """IPv4 and IPv6 elements, overlaps merged (an interval set refuses overlapping ones)."""
    parsed = [ipaddress.ip_network(n, strict=True) for n in networks]
    out = []
    for version in (4, 6):
        nets = ipaddress.collapse_addresses(n for n in parsed if n.version == version)
        out.append([str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)
                    for n in nets])  # fmt: skip
    return out[0], out[1]


def _from(name: str, networks: list[str], match: str, why: str) -> tuple[list, list]:
    """Sets ``<name>_v4``/``_v6`` and one rule per family: ``match`` from those sources."""
    sets, rules = [], []
    for family, elements in zip(("4", "6"), _split(networks), strict=True):
        if elements:
            set_name = f"{name}_v{family}"
            sets.append(AddressSet(set_name, f"ipv{family}_addr", tuple(elements)))
            ip = "ip" if family == "4" else "ip6"
            rules.append(Rule(f"{why} (IPv{family})", f"{ip} saddr @{set_name} {match}"))
    return sets, rules


def _ports(ports: list[int]) -> str:
    return str(ports[0]) if len(ports) == 1 else "{ " + ", ".join(map(str, ports)) + " }"


def plan(host: Host) -> tuple[list[AddressSet], list[Rule]]:
    """The sets and the accept rules of ``host``'s table, by its roles (pure; ConfigError
    when a source cannot be known)."""
    s = host.settings
    roles = registry.roles(host.groups, host.alias) or set(registry.GROUPS)
    sets: list[AddressSet] = []
    rules: list[Rule] = []
    ssh = f"tcp dport {int(host.port)} accept"
    if s.ssh_allow_from:
        sets, rules = _from("ssh", s.ssh_allow_from, ssh, "SSH from ssh_allow_from")
    else:
        rules.append(Rule("SSH from anywhere (ssh_allow_from is empty)", ssh))
    if "cpu" in roles:
        rules.append(Rule("nginx: the site (80 redirects to 443)", "tcp dport { 80, 443 } accept"))
    for app, opening in opened(host):  # a set per app, named after it
        allowed, origin = sources(host, app, opening)
        more_sets, more_rules = _from(app.name, allowed, f"tcp dport {_ports(list(opening.ports))} accept",
                                      f"{opening.what} from {origin}")  # fmt: skip
        sets += more_sets
        rules += more_rules
    return sets, rules


def ruleset(host: Host) -> str:
    """The complete file ``nft -f`` loads (templates/nftables/dojangkok.nft.j2)."""

    values.networks(host.settings.ssh_allow_from, "ssh_allow_from")
    for name in ALLOW_FROM:
        values.networks(getattr(host.settings, name), name)
    sets, rules = plan(host)
    template = environment().get_template(TEMPLATE)
    return template.render(sets=sets, rules=rules, managed=MANAGED.format(template=TEMPLATE))


def unit_text(s: Settings) -> str:

    template = environment().get_template(UNIT_TEMPLATE)
    return template.render(firewall_file=FILE, managed=MANAGED.format(template=UNIT_TEMPLATE))


def summary(host: Host) -> str:
    """One line: what comes in (for the upload's description and the runbook)."""
    return "; ".join(r.text.replace(" accept", "") for r in plan(host)[1])


# --- the step --------------------------------------------------------------------------
#: the ruleset and the unit, as they arrive in the step's root-only directory
#: (tasks/engine/staging.py): ``nft -c`` checks the copy that is installed
STAGED_RULES, STAGED_UNIT = "firewall.nft", UNIT


def uploads(v: RunView) -> tuple[Upload, ...]:
    if v.s.firewall != "on":
        return ()
    host = v.host
    return (
        Upload(staging.path(STAGED_RULES), "644", f"templates/{TEMPLATE}에서 렌더링",
               lambda secrets: ruleset(host)),
        Upload(staging.path(STAGED_UNIT), "644", f"templates/{UNIT_TEMPLATE}에서 렌더링 (부팅 시 적용)",
               lambda secrets: unit_text(host.settings)),
    )  # fmt: skip


NO_NFT = (
    "nft is not installed: add nftables to host_packages (or leave it empty), or set firewall=off"
)


def command(v: RunView) -> str:
    """Check, then replace the table only when the file or the live table differs from what
    was applied last; the boot unit installed and enabled."""
    if v.s.firewall != "on":
        return off_command(v.s)
    new, unit_new = staging.path(STAGED_RULES), staging.path(STAGED_UNIT)
    f, seen, unit = q(FILE), q(APPLIED), q(unit_path(v.s))
    listing = f"nft -s list table {TABLE}"
    return tracked(
        f'new="{new}"; unit_new="{unit_new}"; '
        f"command -v nft >/dev/null 2>&1 || {{ echo {q(NO_NFT)} >&2; exit 1; }}; "
        'nft -c -f "$new" || { echo '
        + q("the rendered ruleset fails `nft -c` (checked only): the firewall is as it was")
        + " >&2; exit 1; }; "
        f"install -d -m 755 -- {q(CONF_DIR)}; fresh=; "
        f'cmp -s -- "$new" {f} || {{ install -m 644 -- "$new" {f}; fresh=1; {ch(FILE)}; }}; '
        f"live=$({listing} 2>/dev/null) || live=; "
        f'if [ -n "$fresh" ] || [ -z "$live" ] || [ "$live" != "$(cat -- {seen} 2>/dev/null)" ]; then '
        f"nft -f {f}; {listing} > {seen}; {ch(f'nft -f (table {TABLE})')}; fi; "
        f'cmp -s -- "$unit_new" {unit} || {{ install -m 644 -- "$unit_new" {unit}; '
        f"systemctl daemon-reload; {ch(unit_path(v.s))}; }}; "
        f"systemctl is-enabled -q -- {UNIT} || {{ systemctl enable -q -- {UNIT}; {ch(f'enabled {UNIT}')}; }}; "
        f"systemctl is-active -q -- {UNIT} || {{ systemctl start -- {UNIT}; {ch(f'started {UNIT}')}; }}",
        f"table {TABLE}",
    )


def off_command(s: Settings) -> str:
    """firewall=off: the tool's table, file and unit removed (other tables stay)."""
    unit = q(unit_path(s))
    return tracked(
        f"if systemctl is-enabled -q -- {UNIT} 2>/dev/null; then systemctl disable -q -- {UNIT}; "
        f"{ch(f'disabled {UNIT}')}; fi; "
        f"if [ -f {unit} ]; then rm -f -- {unit}; systemctl daemon-reload; {ch(unit_path(s))}; fi; "
        f"if command -v nft >/dev/null 2>&1 && nft list table {TABLE} >/dev/null 2>&1; then "
        f"nft delete table {TABLE}; {ch(f'deleted table {TABLE}')}; fi; "
        f"if [ -e {q(FILE)} ]; then rm -f -- {q(FILE)} {q(APPLIED)}; {ch(FILE)}; fi",
        "firewall=off: no table of the tool's",
    )


# --- the session it must not lock out ---------------------------------------------------
#: run as the login user (sudo would drop SSH_CLIENT): the address this session comes from
CLIENT_ADDRESS = 'printf "%s\\n" "${SSH_CLIENT%% *}"'


def session_problem(client: str, s: Settings, alias: str) -> ConfigError | None:
    """An error when ``ssh_allow_from`` leaves out ``client``, the address the host sees
    this session come from: after setup, the next connection from there would be dropped."""
    if s.firewall != "on" or not s.ssh_allow_from or not client:
        return None
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in ipaddress.ip_network(n) for n in s.ssh_allow_from):
        return None
    return ConfigError(
        f"ssh_allow_from이 이 접속의 주소를 빼놓습니다 (ssh_allow_from "
        f"({', '.join(s.ssh_allow_from)}) leaves out {client}, the address {alias} sees this "
        "session come from): setup 뒤에는 여기서 새 SSH 접속이 들어갈 수 없습니다. 아무것도 "
        "바꾸지 않았습니다",
        f'그 주소를 넣거나(예: ssh_allow_from=["{client}/{address.max_prefixlen}", ...]) 목록 '
        "안의 주소에서 접속하십시오",
    )
