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
                f"{self.path} 맨 앞에 BOM(byte order mark)이 있습니다: Ansible이 첫 줄을 잘못 읽습니다",
                "BOM 없는 UTF-8로 다시 저장하십시오",
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
                    f"{self.where(lineno)}: 섹션 머리가 잘못되었습니다: {line!r}",
                    "[group], [group:vars], [group:children] 중 하나로, 대괄호 안에 공백 없이 쓰십시오",
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
                f"{where}: 섹션 [{name}:{kind}]: 알 수 없는 섹션 종류입니다 ({kind!r})",
                "[group], [group:vars], [group:children] 중 하나로 쓰십시오",
            )
        if name == "ungrouped" and kind == "children":
            raise ConfigError(
                f"{where}: [ungrouped:children]: 'ungrouped'는 어느 그룹에도 없는 호스트를 모으는 "
                "Ansible의 그룹입니다",
                "그룹들을 직접 만든 그룹 아래에 두십시오",
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
                f"{where}: 호스트 줄을 나누지 못했습니다: {line!r} ({exc})",
                "이 줄의 따옴표가 짝이 맞는지 확인하십시오",
            ) from None
        if not words:
            raise ConfigError(
                f"{where}: 줄에 호스트가 없습니다: {line!r}", "줄을 호스트 이름으로 시작하십시오"
            )
        try:
            whole = shlex.split(line)
        except ValueError:  # an odd quote inside the comment: a comment all the same
            whole = words
        if words[-1] != whole[len(words) - 1]:
            raise ConfigError(
                f"{where}: {whole[len(words) - 1]!r} 안의 #부터 Ansible은 주석으로 읽어, "
                f"{words[-1]!r}까지만 읽습니다",
                "주석 앞에는 공백을 두고, #이 들어간 값은 따옴표로 감싸십시오: key='a#b'",
            )
        names, port = host_pattern(words[0], where)
        values: dict[str, Var] = {}
        for word in words[1:]:
            key, sep, raw = word.partition("=")
            if not sep:
                raise ConfigError(
                    f"{where}: 호스트 뒤에는 key=value만 올 수 있습니다: {word!r}",
                    "key=value로 쓰고, 공백이 든 값은 따옴표로 감싸십시오: key='a b'",
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
                    f"{where}: 호스트 {name}: 처음 나온 줄({host.line}번)이 아닌 줄에 적은 포트 "
                    f":{port}는 Ansible이 무시합니다",
                    f"포트는 {name}이(가) 처음 나오는 줄에 적거나, ansible_port={port}로 쓰십시오",
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
                f"{where}: [{group}:vars]에는 key=value만 쓸 수 있습니다: {line!r}",
                "한 줄에 변수 하나씩 key=value로 쓰십시오",
            )
        check_name(key, where)
        value, parsed = read_value(raw, key, where)
        if not parsed and re.search(r"\s#", raw):
            raise ConfigError(
                f"{where}: {key}의 값에 ' #'이 있습니다: Ansible은 [group:vars] 줄의 주석을 "
                "값의 일부로 읽습니다",
                f"주석은 따로 한 줄에 쓰십시오. #이 값의 일부라면 따옴표로 감싸십시오: {key}='...'",
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
                f"{where}: [{group}:children]에는 그룹 이름만 쓸 수 있습니다: {line!r}",
                "한 줄에 그룹 이름 하나씩 쓰십시오",
            )
        child = m.group(1)
        if child in ("all", "ungrouped"):
            raise ConfigError(
                f"{where}: [{group}:children]에 Ansible 기본 그룹을 넣을 수 없습니다: {child!r}",
                "이 줄을 지우십시오: 모든 그룹은 이미 'all'에 속하고, 'ungrouped'는 그룹 없는 "
                "호스트를 모읍니다",
            )
        if child == group:
            raise ConfigError(
                f"{where}: 그룹을 자기 자신의 자식으로 둘 수 없습니다: {group}",
                "이 줄을 지우십시오",
            )
        if child not in [c for c, _ in self.groups[group].children]:
            self.groups[group].children.append((child, lineno))

    def check_groups(self) -> None:
        problems = []
        for g in self.groups.values():
            for child, lineno in g.children:
                if not (child in self.groups and self.groups[child].declared):
                    problems.append((lineno, f"[{g.name}:children]의 그룹 {child!r}", child))
            if not g.declared:
                problems.append((g.line, f"[{g.name}:vars]의 그룹 {g.name!r}", g.name))
        if problems:
            lineno, what, name = min(problems)
            raise ConfigError(
                f"{self.where(lineno)}: {what}: 어디에도 정의되지 않은 그룹입니다",
                f"[{name}] 섹션(그 그룹의 호스트)이나 [{name}:children]으로 정의하십시오",
            )
        state: dict[str, str] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "open":
                loop = " -> ".join([*trail[trail.index(name) :], name])
                raise ConfigError(
                    f"{self.path}: :children으로 그룹들이 순환합니다: {loop}",
                    "그룹은 자기 자신을 담을 수 없습니다. 이 :children 줄 중 하나를 지우십시오",
                )
            state[name] = "open"
            for child, _ in self.groups[name].children:
                visit(child, [*trail, name])
            state[name] = "done"

        for name in self.groups:
            visit(name, [])
