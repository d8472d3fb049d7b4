"""The typed confirmation of an environment (setting ``confirm_deploy``, e.g. in hosts.prod.ini):
a deploy or rollback to its hosts first asks the operator to type the environment's name.

What a careful operator wants from it: a ``--yes`` typed out of habit at a terminal (or
recalled from the shell's history of a staging deploy) must not deploy to production
unasked, so at a terminal the name is always typed, ``--yes`` or not; a script (no terminal
on stdin) cannot type, so there ``--yes`` stands for the confirmation, and the record says
``yes``; without it the script is refused. ``--dry-run`` changes nothing and asks nothing.
Every refusal happens before any host is touched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tasks.errors import ConfigError
from tasks.hosts import environment
from tasks.hosts.inventory import Host

#: the setting's values that turn it on
ON = ("yes", "true")

SKIP, ASK, BY_YES, REFUSE = "skip", "ask", "by-yes", "refuse"


def needed(hosts: list[Host]) -> bool:
    return any(h.settings.confirm_deploy in ON for h in hosts)


def name_to_type() -> str:
    """The environment's name; with none named, the inventory file's name (hosts.ini)."""
    return environment.current() or environment.inventory_path().name


def decide(needed: bool, dry_run: bool, yes: bool, terminal: bool) -> str:
    """What happens (pure): SKIP, ASK (type the name), BY_YES (a script's --yes), REFUSE."""
    if not needed or dry_run:
        return SKIP
    if terminal:
        return ASK
    return BY_YES if yes else REFUSE


def matches(typed: str, name: str) -> bool:
    return typed.strip() == name


def confirm(hosts: list[Host], what: str, *, dry_run: bool, yes: bool,
            ask: Callable[[str], str] = input, terminal: bool | None = None,
            say: Callable[[str], None] = print) -> None:  # fmt: skip
    """Ask for the environment's name when a host wants it (``what``: e.g. "deploy-backend");
    raises ConfigError (nothing changed) when it is not given."""
    terminal = sys.stdin.isatty() if terminal is None else terminal
    how = decide(needed(hosts), dry_run, yes, terminal)
    if how == SKIP:
        return
    name = name_to_type()
    aliases = ", ".join(h.alias for h in hosts if h.settings.confirm_deploy in ON)
    if how == REFUSE:
        raise ConfigError(
            f"{what}: 환경 {name}의 호스트({aliases})는 배포 전에 환경 이름을 입력해 확인받습니다 "
            "(confirm_deploy), 그러나 입력할 터미널이 없습니다 (stdin is not a terminal); "
            "아무것도 바꾸지 않았습니다",
            "터미널에서 실행하거나, 스크립트라면 --yes를 주십시오 (기록에 yes로 남습니다)",
        )
    if how == BY_YES:
        say(f"환경 확인: {name} (confirm_deploy) — 터미널이 없어 --yes로 확인했습니다")
        return
    say(f"!!! {what}: 환경 {name}의 호스트 {aliases}입니다 (confirm_deploy)."
        + (" --yes는 체크리스트에만 답합니다: 환경 이름은 직접 입력해야 합니다." if yes else ""))  # fmt: skip
    try:
        typed = ask(f"계속하려면 환경 이름을 입력하십시오 ({name}): ")
    except EOFError:
        typed = ""
    if not matches(typed, name):
        raise ConfigError(
            f"입력한 {typed.strip()!r}은(는) 환경 이름 {name}과(와) 다릅니다: 아무것도 바꾸지 "
            "않았습니다",
            f"맞는 환경이면 다시 실행해 {name}을(를) 입력하십시오; 아니면 --env를 확인하십시오",
        )
    say(f"환경 확인: {name} (입력함)")
