"""The inventory: ``hosts.ini`` in Ansible's INI format, read the way ``ansible-inventory`` reads it.

Read exactly as Ansible does (ansible-core 2.19, default configuration; the files in
tests/unit/inventory_corpus/ are compared with ``ansible-inventory --list``):

* Sections: ``[group]`` holds host lines, ``[group:vars]`` one ``key=value`` a line and
  ``[group:children]`` group names, nested to any depth and in any order. Hosts above the
  first section are ``ungrouped``. A line starting with ``#`` or ``;`` is a comment; so is
  ``# ...`` after a section header, a child group's name or a host line's words.
* Host patterns: ``name``, ``name:2222`` and ``10.0.0.5:2222`` (the port becomes the host's
  ``ansible_port``), ``[2001:db8::5]:2222``, a bare IPv6 address, and ranges: ``web[1:3]``,
  ``web[01:10]`` (zero-padded), ``web[1:10:2]`` (a stride), ``db-[a:c]`` (letters), several in
  one name. A name outside Ansible's host grammar without ``:``, ``[`` or ``]`` (``a.-b``) is
  taken as it is, as Ansible does.
* Values: a host line is split like a shell line (quotes keep spaces and are removed), then
  each value, like a ``[group:vars]`` value (all of the line after the first ``=``, stripped),
  goes through Python's ``ast.literal_eval``: ``3`` is a number, ``'3'`` a string on a vars
  line, ``[1, 2]`` a list; what is no Python literal stays text. tasks/settings.py then types
  the settings (a number or a JSON list given as text is converted).
* Precedence: ``[all:vars]`` lowest; then every group the host is in, directly or through
  ``:children``, ordered by depth (a child group below its parent: the longest way down from
  ``all``), then ``ansible_group_priority``, then name, a later one winning; the host's own
  variables highest. A host listed twice gets both lines' variables, the later winning (a
  ``:port`` in the pattern counts on its first line only).
* A host named like a group that exists above its line (``cpu`` in ``[cpu]``): Ansible files
  the variables on that line under the group, not the host. Read the same, and refused where
  that differs from reading them as the host's (below).
* Connection: the address is ``ansible_ssh_host``, else ``ansible_host``, else the alias; the
  port ``ansible_ssh_port``/``ansible_port`` (default 22); the user
  ``ansible_ssh_user``/``ansible_user``; the key ``ansible_ssh_private_key_file``/
  ``ansible_private_key_file``. As in Ansible, the ``ansible_ssh_*`` name wins when both are
  set, whatever level each is set at.
* Known and checked: ``ansible_connection`` must be ssh (or paramiko), ``ansible_become_method``
  sudo, ``ansible_become_user`` root. Known and without effect here: ``ansible_become`` (the
  tool uses sudo for the steps that need root), ``ansible_python_interpreter`` (it runs no
  Python on the hosts), ``ansible_group_priority`` (it orders groups, above).

Refused with a ConfigError that names the line and what to change, though Ansible reads them,
because this tool would read them differently or cannot do what they ask:

* any other ``ansible_*`` name, typos included (``ansible_hostt``), and passwords
  (``ansible_password``, ``ansible_become_password``, ...: log in with a key, and name the
  sudo password's .env key with the ``sudo_password_env`` setting); a name that is no setting,
  even in a group without hosts;
* a value of the wrong type for its use (``ansible_port=ssh``, ``backend_health_tries=True``,
  a list for a text setting), an empty connection value, a port outside 1-65535;
* Jinja in a value (``{{ ... }}``): Ansible would render it, this tool cannot;
* `` # ...`` inside an unquoted ``[group:vars]`` value (Ansible keeps it as part of the value),
  and a ``#`` inside a host line's word (``url=http://x/#/a``: Ansible cuts the word there);
* a host pattern Ansible cannot read as host[:port] or a range (``web_:22``; it would take the
  whole word as the name, without a port), a range in an IPv6 address, ``[1:3]:22`` (host "1",
  port 3 to Ansible), a backwards range (``[5:1]``: no host), port 0, a port on a host's later
  line (Ansible ignores it);
* the line of a host named like a group whose variables, filed under the group, reach other
  hosts, miss the host, or lose to a later ``[group:vars]`` line or a deeper group;
* ``group_vars/`` or ``host_vars/`` beside the inventory (Ansible reads them, this tool does not);
* ``all`` or ``ungrouped`` in a ``:children`` section, and ``[ungrouped:children]``;
* and whatever Ansible itself rejects: unknown section kinds, a ``:children`` or ``:vars``
  section naming a group defined nowhere, group loops, unbalanced quotes, a word without ``=``
  after the host (``;`` starts no comment there), unequal zero-padding (``[01:100]``), ``---``.

Relative key and known_hosts paths resolve against the inventory file's directory. The file
is ``hosts.ini`` unless ``DOJANGKOK_HOSTS`` names another one.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import ipaddress
import os
import re
import shlex
import string
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.hosts.settings import Settings

PATH_KEYS = ("ansible_ssh_private_key_file", "ansible_private_key_file", "known_hosts_file")

#: Host field -> the variables Ansible takes it from, the first one set winning
CONNECTION = {
    "address": ("ansible_ssh_host", "ansible_host"),
    "port": ("ansible_ssh_port", "ansible_port"),
    "user": ("ansible_ssh_user", "ansible_user"),
    "key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}
#: accepted only with one of these values (what this tool does anyway)
CHECKED = {
    "ansible_connection": (
        "ssh", "ansible.builtin.ssh", "smart", "paramiko", "paramiko_ssh",
        "ansible.builtin.paramiko_ssh",
    ),
    "ansible_become_method": ("sudo", "ansible.builtin.sudo"),
    "ansible_become_user": ("root",),
}  # fmt: skip
#: known, and without effect on this tool
IGNORED = ("ansible_become", "ansible_python_interpreter", "ansible_group_priority")
PASSWORDS = (
    "ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
    "ansible_become_password", "ansible_become_pass",
)  # fmt: skip
ANSIBLE_KEYS = frozenset([*(k for ks in CONNECTION.values() for k in ks), *CHECKED, *IGNORED])

_SETTINGS = {f.name: f for f in dataclasses.fields(Settings)}
_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
# Ansible's host grammar: DNS-like labels of word characters and dashes, any of them with
# [begin:end] or [begin:end:step] ranges (numbers, or one letter each); an optional :port.
_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.IGNORECASE)
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_TEMPLATE = ("{{", "{%", "{#")
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
    return Path(os.environ.get("DOJANGKOK_HOSTS", "hosts.ini"))


def load(path: Path | None = None) -> Inventory:
    path = path or inventory_path()
    if not path.is_file():
        raise ConfigError(
            f"inventory file {path} not found",
            "run fab from the project folder, or set DOJANGKOK_HOSTS to your hosts.ini",
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
    reader = _Reader(path)
    reader.read(text)
    return reader.inventory()


# --- reading -------------------------------------------------------------------------------
@dataclass
class _Var:
    value: object
    where: str  # path:line


@dataclass
class _Group:
    name: str
    line: int  # where it was first named
    declared: bool = False  # has a [name] or [name:children] section
    hosts: list[str] = field(default_factory=list)
    children: list[tuple[str, int]] = field(default_factory=list)
    vars: dict[str, _Var] = field(default_factory=dict)
    priority: int = 1


@dataclass
class _HostLines:
    line: int  # the first line naming the host
    port: int | None  # the port given on that line
    vars: dict[str, _Var] = field(default_factory=dict)


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.groups = {g: _Group(g, 0, declared=True) for g in ("all", "ungrouped")}
        self.hosts: dict[str, _HostLines] = {}
        #: (host, key) -> the value a host line gave a host named like a group (in the group)
        self.filed: dict[tuple[str, str], _Var] = {}

    def where(self, lineno: int) -> str:
        return f"{self.path}:{lineno}"

    def read(self, text: str) -> None:
        if text.startswith("\ufeff"):
            raise ConfigError(
                f"{self.path} starts with a byte order mark (Ansible would misread the first line)",
                "save it as UTF-8 without a BOM",
            )
        group, kind = "ungrouped", "hosts"
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if m := _SECTION.match(line):
                group, kind = self.section(m.group(1), m.group(2) or "hosts", lineno)
            elif line.startswith("[") and line.endswith("]"):
                raise ConfigError(
                    f"{self.where(lineno)}: invalid section header {line!r}",
                    "write [group], [group:vars] or [group:children], no spaces inside the brackets",
                )
            elif kind == "hosts":
                self.host_line(line, group, lineno)
            elif kind == "vars":
                self.vars_line(line, group, lineno)
            else:
                self.child_line(line, group, lineno)
        self.check_groups()

    def section(self, name: str, kind: str, lineno: int) -> tuple[str, str]:
        where = self.where(lineno)
        if kind not in ("hosts", "vars", "children"):
            raise ConfigError(
                f"{where}: section [{name}:{kind}] has an unknown kind {kind!r}",
                "use [group], [group:vars] or [group:children]",
            )
        if name == "ungrouped" and kind == "children":
            raise ConfigError(
                f"{where}: [ungrouped:children]: 'ungrouped' is Ansible's group of hosts in no group",
                "put the groups under a group of your own",
            )
        g = self.groups.setdefault(name, _Group(name, lineno))
        g.declared |= kind != "vars"
        return name, kind

    def host_line(self, line: str, group: str, lineno: int) -> None:
        where = self.where(lineno)
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise ConfigError(
                f"{where}: cannot split host line {line!r}: {exc}", "check the quotes on this line"
            ) from None
        if not words:
            raise ConfigError(f"{where}: no host on line {line!r}", "start the line with a host")
        try:
            whole = shlex.split(line)
        except ValueError:  # an odd quote inside the comment: a comment all the same
            whole = words
        if words[-1] != whole[len(words) - 1]:
            raise ConfigError(
                f"{where}: the # inside {whole[len(words) - 1]!r} starts a comment to Ansible, "
                f"which reads only {words[-1]!r}",
                "put a space before a comment; quote a value that holds a #: key='a#b'",
            )
        names, port = _host_pattern(words[0], where)
        values: dict[str, _Var] = {}
        for word in words[1:]:
            key, sep, raw = word.partition("=")
            if not sep:
                raise ConfigError(
                    f"{where}: expected key=value after the host, got {word!r}",
                    "write key=value, quoting a value with spaces: key='a b'",
                )
            _check_name(key, where)
            values[key] = _Var(_value(raw, key, where)[0], where)
        for name in names:
            host = self.hosts.get(name)
            if host is None:
                host = self.hosts[name] = _HostLines(lineno, port)
                if port:
                    host.vars["ansible_port"] = _Var(port, where)
            elif port and port != host.port:
                raise ConfigError(
                    f"{where}: host {name} was first listed on line {host.line}; Ansible "
                    f"ignores the port :{port} given on a later line",
                    f"give the port where {name} is first listed, or write ansible_port={port}",
                )
            members = self.groups[group].hosts
            if name not in members:
                members.append(name)
            if name in self.groups:  # Ansible files these under the group of the same name
                for key, var in values.items():
                    self.set_group_var(name, key, var)
                    if key != "ansible_group_priority":
                        self.filed[(name, key)] = var
            else:
                host.vars.update(values)

    def vars_line(self, line: str, group: str, lineno: int) -> None:
        where = self.where(lineno)
        key, sep, raw = (part.strip() for part in line.partition("="))
        if not sep:
            raise ConfigError(
                f"{where}: expected key=value in [{group}:vars], got {line!r}",
                "one variable a line: key=value",
            )
        _check_name(key, where)
        value, parsed = _value(raw, key, where)
        if not parsed and re.search(r"\s#", raw):
            raise ConfigError(
                f"{where}: the value of {key} contains ' #': Ansible keeps a comment on a "
                "[group:vars] line as part of the value",
                "put the comment on its own line; if the # belongs to the value, quote it: "
                f"{key}='...'",
            )
        self.set_group_var(group, key, _Var(value, where))

    def set_group_var(self, group: str, key: str, var: _Var) -> None:
        if key == "ansible_group_priority":  # Ansible keeps it on the group, not as a variable
            self.groups[group].priority = _whole_number(var.value, key, var.where)
        else:
            self.groups[group].vars[key] = var

    def child_line(self, line: str, group: str, lineno: int) -> None:
        where = self.where(lineno)
        m = _GROUP_NAME.match(line)
        if not m:
            raise ConfigError(
                f"{where}: expected a group name in [{group}:children], got {line!r}",
                "one group name a line",
            )
        child = m.group(1)
        if child in ("all", "ungrouped"):
            raise ConfigError(
                f"{where}: [{group}:children] names {child!r}, one of Ansible's own groups",
                "remove it: every group is in 'all', and 'ungrouped' holds hosts in no group",
            )
        if child == group:
            raise ConfigError(f"{where}: group {group} is its own child", "remove this line")
        if child not in [c for c, _ in self.groups[group].children]:
            self.groups[group].children.append((child, lineno))

    def check_groups(self) -> None:
        problems = []
        for g in self.groups.values():
            for child, lineno in g.children:
                if not (child in self.groups and self.groups[child].declared):
                    problems.append((lineno, f"[{g.name}:children] names group {child!r}", child))
            if not g.declared:
                problems.append((g.line, f"[{g.name}:vars] is for group {g.name!r}", g.name))
        if problems:
            lineno, what, name = min(problems)
            raise ConfigError(
                f"{self.where(lineno)}: {what}, which is defined nowhere",
                f"define it with a [{name}] section (its hosts) or [{name}:children]",
            )
        state: dict[str, str] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                loop = " -> ".join([*trail[trail.index(name) :], name])
                raise ConfigError(
                    f"{self.path}: groups form a loop through :children: {loop}",
                    "a group cannot contain itself; remove one of these :children lines",
                )
            state[name] = "open"
            for child, _ in self.groups[name].children:
                visit(child, [*trail, name])
            state[name] = "done"

        for name in self.groups:
            visit(name, [])

    # --- the inventory, as Ansible reconciles it -----------------------------------------
    def inventory(self) -> Inventory:
        parents: dict[str, list[str]] = {name: [] for name in self.groups}
        for g in self.groups.values():
            for child, _ in g.children:
                parents[child].append(g.name)
        for name, ps in parents.items():  # every group without a parent is a child of all
            if name != "all" and not ps:
                ps.append("all")
                self.groups["all"].children.append((name, 0))
        depth: dict[str, int] = {"all": 0}

        def depth_of(name: str) -> int:  # the longest way down from all
            if name not in depth:
                depth[name] = 1 + max(depth_of(p) for p in parents[name])
            return depth[name]

        def ancestors(name: str) -> set[str]:
            out = set()
            for p in parents[name]:
                out |= {p} | ancestors(p)
            return out

        member_of: dict[str, set[str]] = {}
        for alias in self.hosts:
            direct = {g.name for g in self.groups.values() if alias in g.hosts}
            if "ungrouped" in direct and direct - {"all", "ungrouped"}:
                direct.discard("ungrouped")
            if direct <= {"all"}:
                direct.add("ungrouped")
            member_of[alias] = direct.union(*(ancestors(g) for g in direct)) | {"all"}

        groups = {name: self.members(name, member_of) for name in self.groups}
        hosts: dict[str, Host] = {}
        variables: dict[str, dict[str, object]] = {}
        merged_by_host: dict[str, dict[str, _Var]] = {}
        for alias, lines in self.hosts.items():
            merged = dict(self.groups["all"].vars)
            order = sorted(
                member_of[alias] - {"all"},
                key=lambda g: (depth_of(g), self.groups[g].priority, g),
            )
            for g in order:
                merged.update(self.groups[g].vars)
            merged.update(lines.vars)
            merged_by_host[alias] = merged
        self.check_filed(groups, merged_by_host)
        for alias, merged in merged_by_host.items():
            variables[alias] = {k: v.value for k, v in merged.items()}
            shown = tuple(sorted(member_of[alias] - {"all", "ungrouped"}))
            hosts[alias] = self.host(alias, merged, shown)
        return Inventory(path=self.path, hosts=hosts, groups=groups, variables=variables)

    def check_filed(self, groups: dict[str, list[str]], merged: dict[str, dict[str, _Var]]):
        """Refuse where Ansible's filing of a host's line under its group makes a difference."""
        why = (
            "Ansible files the variables on the line of a host named like a group under that group"
        )
        for (alias, key), var in self.filed.items():
            if alias not in groups[alias]:
                raise ConfigError(
                    f"{var.where}: {key} on the line of host {alias} does not reach host "
                    f"{alias}: {why} ([{alias}]), and {alias} is not in that group",
                    "rename the host so that it is not a group's name",
                )
            if merged[alias][key] is not var:
                raise ConfigError(
                    f"{var.where}: {key} on the line of host {alias} is overridden by "
                    f"{merged[alias][key].where}: {why} ([{alias}]), below deeper groups and "
                    f"later [{alias}:vars] lines",
                    f"set {key} in one place, or rename the host so that it is not a group's name",
                )
            for other in groups[alias]:
                if other != alias and merged[other].get(key) is var:
                    raise ConfigError(
                        f"{var.where}: {key} on the line of host {alias} reaches host {other} "
                        f"too: {why} ([{alias}])",
                        f"rename the host so that it is not a group's name, or set {key} in "
                        f"[{alias}:vars] if every host of the group should have it",
                    )

    def members(self, name: str, member_of: dict[str, set[str]]) -> list[str]:
        """The group's hosts, then its children's, breadth first (Ansible's order)."""
        out: list[str] = []
        queue, seen = [name], {name}
        while queue:
            g = self.groups[queue.pop(0)]
            out += [h for h in g.hosts if h not in out and name in member_of[h]]
            for child, _ in g.children:
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
        # hosts the file lists nowhere under this group (all, ungrouped) in file order
        out += [h for h in self.hosts if h not in out and name in member_of[h]]
        return out

    def host(self, alias: str, merged: dict[str, _Var], groups: tuple[str, ...]) -> Host:
        about = f"host {alias}"
        for key, allowed in CHECKED.items():
            if key in merged and merged[key].value not in allowed:
                var = merged[key]
                raise ConfigError(
                    f"{var.where}: {key}={var.value!r} ({about}): this tool only connects and "
                    f"works as {key}={allowed[0]}",
                    f"remove {key}, or set it to {allowed[0]}",
                )
        conn: dict[str, tuple[str, _Var]] = {}
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
            port = _whole_number(var.value, key, var.where)
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
                value = _relative_to(self.path, str(value))
            # one key at a time, so an error names the line the value came from
            Settings.from_vars({key: value}, where=f"{var.where} ({about})")
            settings[key] = value
        return Host(
            alias=alias,
            address=address or alias,
            user=user,
            port=port,
            key_file=_relative_to(self.path, key_file) if key_file else None,
            groups=groups,
            settings=Settings.from_vars(settings, where=f"{self.path} ({about})"),
        )


# --- pieces --------------------------------------------------------------------------------
def _check_name(key: str, where: str) -> None:
    if key in PASSWORDS:
        raise ConfigError(
            f"{where}: {key}: this tool takes no passwords from the inventory",
            "log in with an ssh key (ansible_ssh_private_key_file), and put the sudo password "
            "in .env under the key the sudo_password_env setting names",
        )
    if key.startswith("ansible_"):
        if key not in ANSIBLE_KEYS:
            close = difflib.get_close_matches(key, sorted(ANSIBLE_KEYS), n=1, cutoff=0.85)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"{where}: unknown or unsupported connection variable {key!r}",
                f"{hint}this tool reads only {', '.join(sorted(ANSIBLE_KEYS))} "
                "(tasks/inventory.py says what each does)",
            )
    elif key not in _SETTINGS:
        raise ConfigError(
            f"unknown setting {key!r} in {where}",
            "check the spelling; `fab settings` lists every setting and its default",
        )


def _value(raw: str, key: str, where: str) -> tuple[object, bool]:
    """Ansible's reading of a value: a Python literal if it is one, else the text itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value, parsed = _plain(ast.literal_eval(raw)), True
    except (ValueError, SyntaxError):
        value, parsed = raw, False
    except Exception as exc:  # Ansible fails on these too: {[]: 1}, deep nesting
        raise ConfigError(
            f"{where}: the value of {key} cannot be read: {exc}", "quote it as a string"
        ) from None
    if any(mark in text for text in _strings(value) for mark in _TEMPLATE):
        raise ConfigError(
            f"{where}: the value of {key} is a Jinja template: Ansible would render it, "
            "this tool cannot",
            "write the value out",
        )
    return value, parsed


def _plain(value: object) -> object:
    """Ansible's types for a literal: sequences become lists; no bytes, complex or Ellipsis."""
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def _whole_number(value: object, key: str, where: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}", f"e.g. {key}=22")


def _setting(key: str, var: _Var, about: str) -> object:
    """Refuse the Ansible types a setting has no reading for (the rest is tasks/settings.py)."""
    default = _SETTINGS[key].default
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


def _host_pattern(word: str, where: str) -> tuple[list[str], int | None]:
    """The hosts and the port a host line's first word names, as Ansible reads it."""
    address, port = word, None
    matched = []
    for pattern in (_BRACKETED_PORT, _HOST_PORT):
        if m := pattern.match(address):
            address, port = m.group(1), int(m.group(2))
            matched.append(pattern)
    if len(matched) == 2:  # [1:3]:22 is host "1", port 3 to Ansible
        raise ConfigError(
            f"{where}: host pattern {word!r} is ambiguous: Ansible reads it as host "
            f"{address!r}, port {port}",
            "write a range without brackets around it: web[1:3]:22",
        )
    if _HOSTNAME.match(address):
        names = _expand(address, word, where) if "[" in address else [address]
    elif "[" not in address and _ipv6(address, bracketed=bool(matched)):
        names = [address]
    elif word == "---":
        raise ConfigError(
            f"{where}: '---' starts a YAML document; Ansible reads no YAML from an INI file",
            "write the inventory in Ansible's INI format (see hosts.ini)",
        )
    elif word == "" or any(c in word for c in ":[]"):
        hint = (
            "; a section header stands alone on its line, a # comment at most after it"
            if word.startswith("[")
            else ""
        )
        raise ConfigError(
            f"{where}: Ansible cannot read {word!r} as a host, host:port or host range "
            "(it would take the whole word as a host name, without a port)",
            f"write name, name:port, 10.0.0.5:port, [ipv6]:port or name[1:3]{hint}",
        )
    else:  # a name Ansible's grammar does not know, which it takes as it is
        return [word], None
    if port == 0:
        raise ConfigError(f"{where}: {word!r} has port 0, which Ansible ignores", "use 1 to 65535")
    return names, port


def _ipv6(address: str, bracketed: bool) -> bool:
    """An IPv6 address. In brackets (with a port) only the forms Ansible's grammar reads."""
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    if not bracketed:
        return True  # Ansible takes a bare address as it is, port or not
    if "." in address or "%" in address:
        return False
    if "::" not in address:
        return True
    explicit = len([part for part in address.split(":") if part])
    return explicit <= (6 if address.startswith("::") or address.endswith("::") else 7)


def _expand(pattern: str, word: str, where: str) -> list[str]:
    """Ansible's range expansion: the first [begin:end(:step)], then the rest, recursively."""
    head, _, rest = pattern.partition("[")
    spec, _, tail = rest.partition("]")
    begin, end, *step_ = spec.split(":")
    step = int(step_[0]) if step_ else 1
    if step == 0:
        raise ConfigError(
            f"{where}: range [{spec}] in {word!r} has step 0", "use a step of 1 or more"
        )
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and len(end) != width:
        raise ConfigError(
            f"{where}: zero-padded range [{spec}] in {word!r} needs a begin and end of equal length",
            f"e.g. [{begin.zfill(len(end))}:{end.zfill(len(begin))}]",
        )
    if begin.isdigit():
        first, last = int(begin), int(end)
        seq = [str(i).zfill(width) for i in range(first, last + 1, step)]
    else:  # letters, in Python's order: a-z, then A-Z
        first, last = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        seq = list(string.ascii_letters[first : last + 1 : step])
    if first > last:
        raise ConfigError(
            f"{where}: range [{spec}] in {word!r} runs backwards (Ansible adds no host from it, "
            "or fails)",
            f"write it as [{end}:{begin}]",
        )
    out = []
    for part in seq:
        name = head + part + tail
        out += _expand(name, word, where) if "[" in name else [name]
    return out


def _relative_to(inventory: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (inventory.parent / p).resolve())
