"""The inventory: ``hosts.ini`` in Ansible's INI format, read the way ``ansible-inventory`` reads it.

Read exactly as Ansible does (ansible-core 2.19, default configuration; the files in
tests/unit/inventory_corpus/ are compared with ``ansible-inventory --list``), or refused with a
ConfigError that names the line and what to change where this tool would read a file
differently or cannot do what it asks. Each rule is written down with the code that applies it:

ini_syntax      host patterns, ports and ranges; values (Python literals, Jinja refused)
ini_reader      sections, host lines, ``:vars`` and ``:children`` lines; group checks
ini_precedence  group membership, variable precedence, a host named like a group
inventory_vars  the ``ansible_*`` variables read, checked, ignored or refused; setting names
this module     the public API; each Host from its variables (below)

Each Host's connection comes from its variables (inventory_vars says which); refused here: a
value of the wrong type for its use (``ansible_port=ssh``, ``backend_health_tries=True``, a
list for a text setting), an empty connection value, a port outside 1-65535, a value the
setting itself refuses (tasks/hosts/settings.py), and ``group_vars/`` or ``host_vars/``
beside the inventory (Ansible reads them, this tool does not).

Relative key, known_hosts and SSH config paths resolve against the inventory file's directory. The file
is ``hosts.ini`` unless ``DOJANGKOK_HOSTS`` names another one, or an environment is named
(``--env NAME``: ``hosts.NAME.ini``; tasks/hosts/environment.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.hosts import environment
from tasks.hosts.ini_precedence import reconcile
from tasks.hosts.ini_reader import Reader, Var
from tasks.hosts.ini_syntax import whole_number
from tasks.hosts.inventory_vars import (
    ANSIBLE_KEYS,
    CHECKED,
    CONNECTION,
    IGNORED,
    PASSWORDS,
    SETTINGS,
)
from tasks.hosts.settings import Settings

#: the inventory's host roles: [cpu] serves the frontend, backend and database, [gpu] the AI
GROUPS = ("cpu", "gpu")


def roles(groups: tuple[str, ...] | list[str] | set[str], alias: str = "") -> set[str]:
    """The host roles (cpu, gpu) of a host in these inventory groups."""
    return set(GROUPS) & (set(groups) | {alias})


__all__ = [
    "ANSIBLE_KEYS", "CHECKED", "CONNECTION", "IGNORED", "PASSWORDS", "PATH_KEYS",
    "Host", "Inventory", "inventory_path", "load", "parse",
]  # fmt: skip

PATH_KEYS = ("ansible_ssh_private_key_file", "ansible_private_key_file", "known_hosts_file",
             "ssh_config_file", "acme_ca_bundle")  # fmt: skip
_QUOTING = (
    "Ansible이 숫자, 목록, True로 읽는 값을 문자열로 두려면 따옴표로 감싸십시오: "
    "[group:vars] 줄에서는 {key}='3', 호스트 줄에서는 {key}=\"'3'\" (셸 방식으로 나눌 때 "
    "따옴표 한 겹이 벗겨집니다)"
)


@dataclass(frozen=True)
class Host:
    alias: str
    address: str
    user: str | None
    port: int
    key_file: str | None
    groups: tuple[str, ...]
    settings: Settings = field(repr=False)
    #: the addresses of the inventory's [cpu] hosts (the GPU host's firewall lets them reach
    #: the AI server unless ai_allow_from says otherwise)
    cpu_addresses: tuple[str, ...] = ()
    #: the inventory gave the port (ansible_port): it wins over the SSH config's Port
    port_given: bool = False


@dataclass
class Inventory:
    path: Path
    hosts: dict[str, Host]
    #: every group (with "all" and "ungrouped") -> its hosts, members of child groups included
    groups: dict[str, list[str]]
    #: each host's variables as Ansible reads them (before settings are typed)
    variables: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)

    def resolve(self, target: str) -> list[Host]:
        """Hosts named by ``target``: a host alias or a group name."""
        if target in self.hosts:
            return [self.hosts[target]]
        if target in self.groups and self.groups[target]:
            return [self.hosts[a] for a in self.groups[target]]
        known = ", ".join(sorted(set(self.hosts) | set(self.groups)))
        raise ConfigError(
            f"{self.path}에 {target!r}라는 호스트나 그룹이 없습니다",
            f"다음 중 하나를 쓰십시오: {known}",
        )

    def group(self, name: str) -> list[Host]:
        """Hosts of a group the full deploy needs; an error if it is empty."""
        if not self.groups.get(name):
            raise ConfigError(
                f"인벤토리 {self.path}의 [{name}] 그룹에 호스트가 없습니다",
                f"[{name}] 섹션을 만들고 호스트 줄을 하나 적으십시오",
            )
        return [self.hosts[a] for a in self.groups[name]]


def inventory_path() -> Path:
    """``DOJANGKOK_HOSTS``, else ``hosts.<environment>.ini``, else ``hosts.ini``
    (tasks/hosts/environment.py)."""
    return environment.inventory_path()


def load(path: Path | None = None) -> Inventory:
    path = path or inventory_path()
    if not path.is_file():
        named = environment.missing_files() if path == environment.inventory_path() else None
        raise named or ConfigError(
            f"인벤토리 파일 {path}이(가) 없습니다 (현재 디렉터리 {Path.cwd()})",
            "hosts.ini가 있는 운영 디렉터리에서 실행하거나, DOJANGKOK_HOSTS로 인벤토리 파일을 "
            "지정하십시오 (환경별 파일은 --env NAME: hosts.NAME.ini)",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"인벤토리 파일 {path}이 UTF-8 텍스트가 아닙니다 ({exc})", "UTF-8로 다시 저장하십시오"
        ) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Inventory:
    for folder in ("group_vars", "host_vars"):
        if (path.parent / folder).is_dir():
            raise ConfigError(
                f"{path.parent / folder}가 있습니다: Ansible은 여기서 변수를 읽지만 이 도구는 "
                "읽지 않습니다",
                f"그 변수들을 {path.name}(호스트 줄 또는 [group:vars])로 옮기거나, 그 디렉터리를 "
                "인벤토리 옆에서 치우십시오",
            )
    reader = Reader(path)
    reader.read(text)
    reconciled = reconcile(reader)
    hosts = {
        alias: _host(path, alias, merged, reconciled.groups_of[alias])
        for alias, merged in reconciled.variables.items()
    }
    cpu = tuple(h.address for h in hosts.values() if "cpu" in roles(h.groups, h.alias))
    hosts = {alias: dataclasses.replace(h, cpu_addresses=cpu) for alias, h in hosts.items()}
    variables = {
        alias: {k: v.value for k, v in merged.items()}
        for alias, merged in reconciled.variables.items()
    }
    return Inventory(path=path, hosts=hosts, groups=reconciled.groups, variables=variables)


# --- each host from its variables ----------------------------------------------------------
def _host(path: Path, alias: str, merged: dict[str, Var], groups: tuple[str, ...]) -> Host:
    about = f"호스트 {alias}"
    for key, allowed in CHECKED.items():
        if key in merged and merged[key].value not in allowed:
            var = merged[key]
            raise ConfigError(
                f"{var.where}: {key}={var.value!r} ({about}): 이 도구는 {key}={allowed[0]}로만 "
                "접속하고 작업합니다",
                f"{key} 줄을 지우거나 {key}={allowed[0]}로 고치십시오",
            )
    conn: dict[str, tuple[str, Var]] = {}
    for attr, names in CONNECTION.items():
        for key in names:
            if key in merged:
                conn[attr] = (key, merged[key])
                break
    for attr, (key, var) in conn.items():
        if attr != "port" and not (isinstance(var.value, str) and var.value):
            raise ConfigError(
                f"{var.where}: {about}의 {key}는 비어 있지 않은 문자열이어야 합니다: {var.value!r}",
                f"{key}에 값을 적으십시오. {_QUOTING.format(key=key)}",
            )
    port = 22
    if "port" in conn:
        key, var = conn["port"]
        port = whole_number(var.value, key, var.where)
        if not 0 < port < 65536:
            raise ConfigError(
                f"{var.where}: {about}의 {key}={port}는 포트 번호가 아닙니다",
                "1부터 65535 사이의 값을 쓰십시오",
            )
    address, user, key_file = (
        str(conn[attr][1].value) if attr in conn else None
        for attr in ("address", "user", "key_file")
    )
    settings: dict[str, object] = {}
    for key, var in merged.items():
        if key.startswith("ansible_"):
            continue
        value = _setting(key, var, about)
        if key in PATH_KEYS and value:
            value = _relative_to(path, str(value))
        # one key at a time, so an error names the line the value came from
        Settings.from_vars({key: value}, where=f"{var.where} ({about})")
        settings[key] = value
    return Host(
        alias=alias,
        address=address or alias,
        user=user,
        port=port,
        key_file=_relative_to(path, key_file) if key_file else None,
        groups=groups,
        settings=Settings.from_vars(settings, where=f"{path} ({about})"),
        port_given="port" in conn,
    )


def _setting(key: str, var: Var, about: str) -> object:
    """Refuse the Ansible types a setting has no reading for (the rest is tasks/settings.py)."""
    default = SETTINGS[key].default
    value = var.value
    if isinstance(default, int) and isinstance(value, bool):
        bad = "정수여야"
    elif isinstance(default, str) and (value is None or isinstance(value, (list, dict))):
        bad = "문자열이어야"
    else:
        return value
    raise ConfigError(
        f"{var.where} ({about})의 설정 {key}는 {bad} 하는데 Ansible은 {value!r}를 "
        f"{type(value).__name__}(으)로 읽습니다",
        _QUOTING.format(key=key) if bad == "문자열이어야" else f"예: {key}=12",
    )


def _relative_to(inventory: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (inventory.parent / p).resolve())
