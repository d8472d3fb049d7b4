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
    "to keep a value Ansible reads as a number, list or True as text, quote it: {key}='3' "
    "on a [group:vars] line, {key}=\"'3'\" on a host line (the shell split takes one pair)"
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
            f"no host or group named {target!r} in {self.path}",
            f"use one of: {known}",
        )

    def group(self, name: str) -> list[Host]:
        """Hosts of a group the full deploy needs; an error if it is empty."""
        if not self.groups.get(name):
            raise ConfigError(
                f"inventory {self.path} has no hosts in group [{name}]",
                f"add a [{name}] section with one host line",
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
            f"inventory file {path} is not UTF-8 text: {exc}", "save it as UTF-8"
        ) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Inventory:
    for folder in ("group_vars", "host_vars"):
        if (path.parent / folder).is_dir():
            raise ConfigError(
                f"{path.parent / folder} exists: Ansible reads variables from it, this tool does not",
                f"move those variables into {path.name} (host lines or [group:vars]), "
                "or move the folder away from the inventory",
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
    about = f"host {alias}"
    for key, allowed in CHECKED.items():
        if key in merged and merged[key].value not in allowed:
            var = merged[key]
            raise ConfigError(
                f"{var.where}: {key}={var.value!r} ({about}): this tool only connects and "
                f"works as {key}={allowed[0]}",
                f"remove {key}, or set it to {allowed[0]}",
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
                f"{var.where}: {key} for {about} must be non-empty text, got {var.value!r}",
                f"give {key} a value; {_QUOTING.format(key=key)}",
            )
    port = 22
    if "port" in conn:
        key, var = conn["port"]
        port = whole_number(var.value, key, var.where)
        if not 0 < port < 65536:
            raise ConfigError(
                f"{var.where}: {key}={port} for {about} is not a port", "use 1 to 65535"
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
        bad = "a whole number"
    elif isinstance(default, str) and (value is None or isinstance(value, (list, dict))):
        bad = "text"
    else:
        return value
    raise ConfigError(
        f"setting {key} in {var.where} ({about}) must be {bad}, but Ansible reads {value!r} "
        f"as {type(value).__name__}",
        _QUOTING.format(key=key) if bad == "text" else f"e.g. {key}=12",
    )


def _relative_to(inventory: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (inventory.parent / p).resolve())
