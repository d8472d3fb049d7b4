"""The inventory as Ansible reconciles what tasks/hosts/ini_reader.py read: groups, precedence.

* Membership: a host is in every group that lists it and in their parents through
  ``:children``; every group without a parent is a child of ``all``. ``ungrouped`` holds the
  hosts listed in no group of their own (above the first section, or only in ``[all]``). A
  group's hosts are its own, then its children's, breadth first.
* Precedence: ``[all:vars]`` lowest; then every group the host is in, directly or through
  ``:children``, ordered by depth (a child group below its parent: the longest way down from
  ``all``), then ``ansible_group_priority``, then name, a later one winning; the host's own
  variables highest.

Refused with a ConfigError that names the line and what to change, though Ansible reads it:
the line of a host named like a group whose variables, filed under the group (as Ansible
files them), reach other hosts, miss the host, or lose to a later ``[group:vars]`` line or a
deeper group.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.errors import ConfigError
from tasks.hosts.ini_reader import Reader, Var


@dataclass
class Reconciled:
    #: every group (with "all" and "ungrouped") -> its hosts, members of child groups included
    groups: dict[str, list[str]]
    #: each host -> its variables after precedence, with the line each value came from
    variables: dict[str, dict[str, Var]]
    #: each host -> its groups, without "all" and "ungrouped", sorted
    groups_of: dict[str, tuple[str, ...]]


def reconcile(reader: Reader) -> Reconciled:
    """Each group's hosts and each host's variables, as Ansible reconciles them."""
    parents: dict[str, list[str]] = {name: [] for name in reader.groups}
    for g in reader.groups.values():
        for child, _ in g.children:
            parents[child].append(g.name)
    for name, ps in parents.items():  # every group without a parent is a child of all
        if name != "all" and not ps:
            ps.append("all")
            reader.groups["all"].children.append((name, 0))
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
    for alias in reader.hosts:
        direct = {g.name for g in reader.groups.values() if alias in g.hosts}
        if "ungrouped" in direct and direct - {"all", "ungrouped"}:
            direct.discard("ungrouped")
        if direct <= {"all"}:
            direct.add("ungrouped")
        member_of[alias] = direct.union(*(ancestors(g) for g in direct)) | {"all"}

    groups = {name: _members(reader, name, member_of) for name in reader.groups}
    merged_by_host: dict[str, dict[str, Var]] = {}
    for alias, lines in reader.hosts.items():
        merged = dict(reader.groups["all"].vars)
        order = sorted(
            member_of[alias] - {"all"},
            key=lambda g: (depth_of(g), reader.groups[g].priority, g),
        )
        for g in order:
            merged.update(reader.groups[g].vars)
        merged.update(lines.vars)
        merged_by_host[alias] = merged
    _check_filed(reader, groups, merged_by_host)
    groups_of = {
        alias: tuple(sorted(member_of[alias] - {"all", "ungrouped"})) for alias in reader.hosts
    }
    return Reconciled(groups=groups, variables=merged_by_host, groups_of=groups_of)


def _check_filed(reader: Reader, groups: dict[str, list[str]],
                 merged: dict[str, dict[str, Var]]) -> None:  # fmt: skip
    """Refuse where Ansible's filing of a host's line under its group makes a difference."""
    why = "Ansible은 그룹과 이름이 같은 호스트의 줄에 적은 변수를 그 그룹의 변수로 읽습니다"
    for (alias, key), var in reader.filed.items():
        if alias not in groups[alias]:
            raise ConfigError(
                f"{var.where}: 호스트 {alias}의 줄에 적은 {key}가 호스트 {alias}에 적용되지 "
                f"않습니다: {why} ([{alias}]). 그런데 {alias}는 그 그룹에 없습니다",
                "호스트 이름을 그룹 이름과 다르게 바꾸십시오",
            )
        if merged[alias][key] is not var:
            raise ConfigError(
                f"{var.where}: 호스트 {alias}의 줄에 적은 {key}를 "
                f"{merged[alias][key].where}의 값이 덮어씁니다: {why} ([{alias}]). 그 값은 "
                f"더 깊은 그룹과 뒤에 나오는 [{alias}:vars] 줄보다 우선순위가 낮습니다",
                f"{key}를 한 곳에만 적거나, 호스트 이름을 그룹 이름과 다르게 바꾸십시오",
            )
        for other in groups[alias]:
            if other != alias and merged[other].get(key) is var:
                raise ConfigError(
                    f"{var.where}: 호스트 {alias}의 줄에 적은 {key}가 호스트 {other}에도 "
                    f"적용됩니다: {why} ([{alias}])",
                    f"호스트 이름을 그룹 이름과 다르게 바꾸십시오. 그룹의 모든 호스트에 적용할 "
                    f"값이라면 [{alias}:vars]에 {key}를 적으십시오",
                )


def _members(reader: Reader, name: str, member_of: dict[str, set[str]]) -> list[str]:
    """The group's hosts, then its children's, breadth first (Ansible's order)."""
    out: list[str] = []
    queue, seen = [name], {name}
    while queue:
        g = reader.groups[queue.pop(0)]
        out += [h for h in g.hosts if h not in out and name in member_of[h]]
        for child, _ in g.children:
            if child not in seen:
                seen.add(child)
                queue.append(child)
    # hosts the file lists nowhere under this group (all, ungrouped) in file order
    out += [h for h in reader.hosts if h not in out and name in member_of[h]]
    return out
