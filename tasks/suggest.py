"""A word the tool does not know (a task, a flag, a -H value), said in Korean with the closest
names it does know (difflib), so a typo costs one look instead of a trip to ``--list``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from tasks.errors import ConfigError
from tasks.hosts.inventory import Inventory

#: how alike a known name must be to be offered (difflib's ratio; its own default is 0.6)
CUTOFF = 0.6
#: at most this many names offered
OFFERED = 3
#: offered beside the best only when this close to it
NEARLY = 0.1


def closest(word: str, known: Iterable[str]) -> list[str]:
    """The known names closest to ``word``, best first (none when nothing is alike)."""
    names = list(dict.fromkeys(known))
    scored = sorted(((difflib.SequenceMatcher(None, word, n).ratio(), n) for n in names),
                    key=lambda pair: -pair[0])  # fmt: skip
    best = scored[0][0] if scored else 0.0
    # the best, and those nearly as close (deploy-bakend: deploy-backend, not deploy-ai)
    alike = [n for r, n in scored if r >= CUTOFF and r >= best - NEARLY]
    # a word that begins names (`deploy`: deploy-frontend, deploy-backend, ...) offers them first
    begun = [n for n in names if word and n.startswith(word)]
    return list(dict.fromkeys(begun + alike))[:OFFERED]


def _offer(found: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in found)


def unknown_task(word: str, tasks: Iterable[str]) -> tuple[str, str]:
    """(problem, fix) for a task name that names no task."""
    found = closest(word, tasks)
    problem = f"'{word}' 작업이 없습니다"
    if found:
        return problem + f". 비슷한 작업: {_offer(found)}", (
            f"예: fab {found[0]} (작업 목록: fab --list, 작업의 도움말: fab --help {found[0]})"
        )
    return problem, "작업 목록은 fab --list, 작업의 도움말은 fab --help <작업>으로 봅니다"


def unknown_flag(flag: str, task: str, flags: Iterable[str]) -> tuple[str, str]:
    """(problem, fix) for a flag the task (or, before any task, fab itself) does not take."""
    where = f"{task} 작업은" if task else "fab은"
    found = closest(flag, [f for f in flags if f.startswith("--")] or flags)
    problem = f"{where} {flag} 옵션을 받지 않습니다"
    help_of = f"fab --help {task}" if task else "fab --help"
    if found:
        return problem + f". 비슷한 옵션: {_offer(found)}", f"받는 옵션: {help_of}"
    return problem, f"받는 옵션: {help_of}"


def check_targets(text: str, load: Callable[[], Inventory]) -> None:
    """Each -H value names a host or a group of the inventory, or a Korean error naming the
    closest ones and every name there is."""
    named = [v.strip() for v in (text or "").split(",") if v.strip()]
    if not named:
        return
    inv = load()
    known = sorted({*inv.hosts, *(g for g, hosts in inv.groups.items() if hosts)} - {"ungrouped"})
    unknown = [v for v in named if v not in inv.hosts and not inv.groups.get(v)]
    if not unknown:
        return
    word = unknown[0]
    found = closest(word, known)
    guess = f". 비슷한 이름: {_offer(found)}" if found else ""
    raise ConfigError(
        f"인벤토리 {inv.path}에 '{word}' 호스트나 그룹이 없습니다{guess}",
        f"-H에 인벤토리의 호스트나 그룹을 주십시오: {', '.join(known)}",
    )
