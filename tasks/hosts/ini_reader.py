"""Reading an inventory's lines into groups and hosts, as Ansible reads them.

* Sections: ``[group]`` holds host lines, ``[group:vars]`` one ``key=value`` a line and
  ``[group:children]`` group names, nested to any depth and in any order. Hosts above the
  first section are ``ungrouped``. A line starting with ``#`` or ``;`` is a comment; so is
  ``# ...`` after a section header, a child group's name or a host line's words.
* A host listed twice gets both lines' variables, the later winning (a ``:port`` in the
  pattern counts on its first line only).
* A host named like a group that exists above its line (``cpu`` in ``[cpu]``): Ansible files
  the variables on that line under the group, not the host. Read the same (``Reader.filed``
  keeps them), and refused where that differs from reading them as the host's
  (tasks/hosts/ini_precedence.py).

The pieces of a line (host patterns, values) are tasks/hosts/ini_syntax.py, the variable
names tasks/hosts/inventory_vars.py. Refused with a ConfigError that names the line and what
to change, though Ansible reads them, because this tool would read them differently:

* `` # ...`` inside an unquoted ``[group:vars]`` value (Ansible keeps it as part of the value),
  and a ``#`` inside a host line's word (``url=http://x/#/a``: Ansible cuts the word there);
* a port on a host's later line (Ansible ignores it);
* ``all`` or ``ungrouped`` in a ``:children`` section, and ``[ungrouped:children]``;
* and whatever Ansible itself rejects: unknown section kinds, a ``:children`` or ``:vars``
  section naming a group defined nowhere, group loops, unbalanced quotes, a word without ``=``
  after the host (``;`` starts no comment there).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.hosts.ini_syntax import GROUP_NAME, SECTION, host_pattern, read_value, whole_number
from tasks.hosts.inventory_vars import check_name


@dataclass
class Var:
    value: object
    where: str  # path:line


@dataclass
class Group:
    name: str
    line: int  # where it was first named
    declared: bool = False  # has a [name] or [name:children] section
    hosts: list[str] = field(default_factory=list)
    children: list[tuple[str, int]] = field(default_factory=list)
    vars: dict[str, Var] = field(default_factory=dict)
    priority: int = 1


@dataclass
class HostLines:
    line: int  # the first line naming the host
    port: int | None  # the port given on that line
    vars: dict[str, Var] = field(default_factory=dict)


class Reader:
    def __init__(self, path: Path):
        self.path = path
        self.groups = {g: Group(g, 0, declared=True) for g in ("all", "ungrouped")}
        self.hosts: dict[str, HostLines] = {}
        #: (host, key) -> the value a host line gave a host named like a group (in the group)
        self.filed: dict[tuple[str, str], Var] = {}

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
            if m := SECTION.match(line):
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
        g = self.groups.setdefault(name, Group(name, lineno))
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
        names, port = host_pattern(words[0], where)
        values: dict[str, Var] = {}
        for word in words[1:]:
            key, sep, raw = word.partition("=")
            if not sep:
                raise ConfigError(
                    f"{where}: expected key=value after the host, got {word!r}",
                    "write key=value, quoting a value with spaces: key='a b'",
                )
            check_name(key, where)
            values[key] = Var(read_value(raw, key, where)[0], where)
        for name in names:
            host = self.hosts.get(name)
            if host is None:
                host = self.hosts[name] = HostLines(lineno, port)
                if port:
                    host.vars["ansible_port"] = Var(port, where)
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
        check_name(key, where)
        value, parsed = read_value(raw, key, where)
        if not parsed and re.search(r"\s#", raw):
            raise ConfigError(
                f"{where}: the value of {key} contains ' #': Ansible keeps a comment on a "
                "[group:vars] line as part of the value",
                "put the comment on its own line; if the # belongs to the value, quote it: "
                f"{key}='...'",
            )
        self.set_group_var(group, key, Var(value, where))

    def set_group_var(self, group: str, key: str, var: Var) -> None:
        if key == "ansible_group_priority":  # Ansible keeps it on the group, not as a variable
            self.groups[group].priority = whole_number(var.value, key, var.where)
        else:
            self.groups[group].vars[key] = var

    def child_line(self, line: str, group: str, lineno: int) -> None:
        where = self.where(lineno)
        m = GROUP_NAME.match(line)
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
