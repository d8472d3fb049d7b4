"""The inventory: ``hosts.ini`` in Ansible's INI format.

Groups ``[cpu]`` and ``[gpu]`` hold host lines ``alias ansible_host=... ansible_user=...``;
``[group:vars]`` and ``[all:vars]`` hold settings (see tasks/settings.py). A host's own
variables win over its groups', which win over ``[all:vars]``. Relative file paths (keys,
known_hosts) are resolved against the inventory file's directory.

The file is ``hosts.ini`` unless ``DOJANGKOK_HOSTS`` names another one.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.hosts.settings import Settings

PATH_KEYS = ("ansible_ssh_private_key_file", "known_hosts_file")


@dataclass(frozen=True)
class Host:
    alias: str
    address: str
    user: str | None
    port: int
    key_file: str | None
    groups: tuple[str, ...]
    settings: Settings = field(repr=False)


@dataclass
class Inventory:
    path: Path
    hosts: dict[str, Host]
    groups: dict[str, list[str]]

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
    return Path(os.environ.get("DOJANGKOK_HOSTS", "hosts.ini"))


def load(path: Path | None = None) -> Inventory:
    path = path or inventory_path()
    if not path.is_file():
        raise ConfigError(
            f"inventory file {path} not found",
            "run fab from the project folder, or set DOJANGKOK_HOSTS to your hosts.ini",
        )
    return parse(path.read_text(encoding="utf-8"), path)


def parse(text: str, path: Path) -> Inventory:
    host_vars: dict[str, dict[str, str]] = {}
    group_hosts: dict[str, list[str]] = {"all": []}
    group_vars: dict[str, dict[str, str]] = {"all": {}}
    children: dict[str, list[str]] = {}
    section, kind = "ungrouped", "hosts"
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        where = f"{path}:{lineno}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise ConfigError(f"{where}: unclosed section header {line!r}", "end it with ]")
            name = line[1:-1].strip()
            section, _, kind = name.partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise ConfigError(
                    f"{where}: unknown section kind :{kind}", "use :vars or :children"
                )
            group_hosts.setdefault(section, [])
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}", "check the quotes on this line") from None
        if kind == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                raise ConfigError(f"{where}: expected key=value, got {line!r}", "add =value")
            group_vars.setdefault(section, {})[key.strip()] = _unquote(value.strip())
        elif kind == "children":
            children.setdefault(section, []).extend(words)
        else:
            alias, *pairs = words
            hvars = host_vars.setdefault(alias, {})
            for pair in pairs:
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ConfigError(f"{where}: expected key=value, got {pair!r}", "add =value")
                hvars[key] = value
            if alias not in group_hosts[section]:
                group_hosts[section].append(alias)
            if alias not in group_hosts["all"]:
                group_hosts["all"].append(alias)
    for parent, kids in children.items():
        for kid in kids:
            for alias in group_hosts.get(kid, []):
                if alias not in group_hosts[parent]:
                    group_hosts[parent].append(alias)
    hosts = {}
    for alias, hvars in host_vars.items():
        groups = tuple(g for g, members in group_hosts.items() if alias in members and g != "all")
        merged = dict(group_vars.get("all", {}))
        for g in groups:
            merged.update(group_vars.get(g, {}))
        merged.update(hvars)
        for key in PATH_KEYS:
            if merged.get(key):
                merged[key] = _relative_to(path, merged[key])
        try:
            port = int(merged.get("ansible_port", 22))
        except ValueError:
            raise ConfigError(
                f"{path}: host {alias}: ansible_port must be a number", "e.g. ansible_port=22"
            ) from None
        hosts[alias] = Host(
            alias=alias,
            address=merged.get("ansible_host", alias),
            user=merged.get("ansible_user"),
            port=port,
            key_file=merged.get("ansible_ssh_private_key_file"),
            groups=groups,
            settings=Settings.from_vars(merged, where=f"{path} (host {alias})"),
        )
    return Inventory(path=path, hosts=hosts, groups=group_hosts)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _relative_to(inventory: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (inventory.parent / p).resolve())
