"""``-H``: which hosts a task runs on, checked before any task starts.

Fabric runs a task once per comma-separated ``-H`` value. Left alone, ``-H cpu,gpu
deploy-frontend`` deploys the frontend to cpu, then starts a second deploy on gpu (a host
that serves no frontend), and ``-H cpu,cpu`` deploys twice. So every ``-H`` list is checked
as a whole first (:class:`tasks.program.Executor` calls :func:`checked`; ``fab`` in a clone
gets the same executor through ``fabric.yaml``):

- every value must name a host or a group of the inventory;
- a task bound to a group (a component's deploy or rollback: its component's group; the
  database tasks: [cpu]) is refused, naming the group, when any named host is outside it;
- a task that reads every host itself (``full-deploy``, ``health``, ``history``) refuses -H;
- a host named twice (``cpu,cpu``, or an alias and a group holding it) runs once.

Tasks mark themselves with :func:`in_group` or :func:`without_hosts`; one with neither runs
on any host. :func:`check_group` is the same group rule for one task's own hosts, so a task
called without this executor still refuses a host outside its group.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from tasks.errors import ConfigError
from tasks.hosts.inventory import Host, Inventory, roles

#: the attribute a task body carries: a group name, or NO_HOSTS
ATTRIBUTE = "hosts_group"
NO_HOSTS = "-"


def in_group(group: str) -> Callable:
    """Mark a task that runs only on hosts of ``group``."""

    def mark(fn):
        setattr(fn, ATTRIBUTE, group)
        return fn

    return mark


def without_hosts(fn):
    """Mark a task that chooses its hosts itself and takes no -H."""
    setattr(fn, ATTRIBUTE, NO_HOSTS)
    return fn


def rule_of(body: object) -> str | None:
    """The group a task body is bound to, NO_HOSTS, or None (any host)."""
    return getattr(body, ATTRIBUTE, None)


def values(text: str) -> list[str]:
    """The -H values, in order (empty values dropped)."""
    return [v.strip() for v in text.split(",") if v.strip()]


def check_group(task: str, group: str, hosts: Iterable[Host]) -> None:
    """Refuse hosts outside ``group`` for ``task``, naming the group and the way out."""
    outside = [h.alias for h in hosts if group not in roles(h.groups, h.alias)]
    if outside:
        raise ConfigError(
            f"{task}은(는) [{group}] 그룹의 호스트에서만 실행합니다: "
            f"{', '.join(outside)}은(는) [{group}]에 없습니다",
            f"-H {group} (그룹의 모든 호스트) 또는 [{group}]에 속한 호스트 이름을 주십시오; "
            f"-H 없이 실행해도 [{group}]의 호스트입니다",
        )


def checked(text: str, tasks: list[tuple[str, str | None]],
            load: Callable[[], Inventory]) -> tuple[str, list[str]]:  # fmt: skip
    """The -H value to run with, and the hosts it named more than once (said to the operator).

    ``tasks``: (name, rule) of each task asked for. Raises ConfigError before anything
    runs when a value names no host or group, a task refuses -H, or a host is outside a
    task's group. One value (given once or more) stays as it is: a group runs as one task,
    as without -H. Several become the hosts they name, each once, in order."""
    named = values(text)
    for name, rule in tasks:
        if rule == NO_HOSTS:
            raise ConfigError(
                f"{name}은(는) -H를 받지 않습니다: 인벤토리에서 호스트를 스스로 고릅니다",
                f"-H 없이 실행하십시오: fab {name}",
            )
    if not tasks or not named:
        return text, []
    inv = load()
    resolved = {value: inv.resolve(value) for value in dict.fromkeys(named)}
    counts = Counter(h.alias for value in named for h in resolved[value])
    hosts = list({h.alias: h for value in named for h in resolved[value]}.values())
    for name, rule in tasks:
        if rule is not None:
            check_group(name, rule, hosts)
    keep = named[0] if len(resolved) == 1 else ",".join(h.alias for h in hosts)
    return keep, [h.alias for h in hosts if counts[h.alias] > 1]
