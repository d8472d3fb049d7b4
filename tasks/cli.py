"""What every `fab` task shares: option help, the -H target, operator errors, Ctrl-C.

A task declared in tasks/__init__.py is only its docstring (the ``fab --help`` text) and a
call into tasks/apps/, tasks/strategies/ and tasks/setup/; this module is the glue between the two.
"""

from __future__ import annotations

import atexit
import functools
import gc

from invoke import Exit

from tasks import targets
from tasks.apps import registry
from tasks.engine import records
from tasks.engine.interrupt import INTERRUPT
from tasks.errors import ConfigError, DeployToolError
from tasks.hosts import inventory, values
from tasks.hosts.inventory import Host, Inventory
from tasks.hosts.secrets import Secrets
from tasks.strategies.deploy import Options

HELP = {
    "dry-run": "print every step with its exact command (secrets masked); touch nothing",
    "yes": "answer the checklist's yes/no prompts with yes (for CI); the record says so",
    "to": "roll back to this revision instead of the previously deployed one",
    "parallel": "deploy the [cpu] and [gpu] hosts at the same time (the manual: one by one; "
    "the default when every host uses the release strategy)",
    "sequential": "deploy the hosts one by one, as the manual does, even with the release strategy",
    "backup": "the dump to restore, a path on the host (default: the newest in backup_dir)",
    "message": "a note kept in the deploy lock and the record (e.g. why you deploy)",
    "build-on": "host (build on the server: the manual's method 1) or local (build here from "
    "the origin, check it against the host's runtime, send it: method 2); default: build_on",
    "revision": "deploy this commit (it must be on the origin's branch) instead of its head",
    "strategy": "release (build beside the live version, switch when healthy; the default "
    "setting) or manual (the manual's steps as written)",
    "lock-wait": "잠금이 잡혀 있으면 최대 SECONDS초 기다립니다 (누가 잡고 있는지 알리고, 풀리면 "
    "진행; 기본 0: 바로 거부)",
    "force": "배포할 리비전이 이미 서비스 중이어도 다시 배포합니다 (기본: 건너뜀)",
}


def freeze_at_exit() -> None:
    """At exit, hide every object from the garbage collector (``gc.freeze``) instead of
    letting the interpreter's last collections walk them all: fabric, paramiko, invoke and
    rich make some 200,000 objects, and those collections took 0.1 s of every command's wall
    time (a warm rollback's is about a second). Nothing else changes: every other exit
    handler (registered later, run earlier) has run, files are closed by their ``with``
    blocks, and the process ends right after (its memory goes back to the system anyway)."""
    atexit.register(gc.freeze)


freeze_at_exit()


def help_for(*names: str) -> dict[str, str]:
    return {n: HELP[n] for n in names}


def target(c) -> str | None:
    """The -H value: a host alias or a group name (None without -H)."""
    return getattr(c, "original_host", None)


def hosts(c, group: str | None, inv: Inventory | None = None, task: str = "") -> list[Host]:
    """-H's hosts, or the group's (every host when ``group`` is None). With a group, a host
    -H names outside it is refused (tasks/targets.py; the executor checked the whole -H
    list already, this is the same rule for the one value this call got)."""
    inv = inv or inventory.load()
    if not target(c):
        return inv.group(group) if group else list(inv.hosts.values())
    found = inv.resolve(target(c))
    if group:
        targets.check_group(task or "this task", group, found)
    return found


def component_hosts(c, name: str, task: str) -> tuple[registry.App, list[Host]]:
    comp = registry.get(name)
    return comp, hosts(c, comp.group, task=task)


def options(dry_run=False, yes=False, message="", strategy=None, build_on=None,
            revision=None, lock_wait=None, force=False) -> Options:  # fmt: skip
    if revision:  # a commit id, checked before anything else (it reaches git commands)
        revision = values.revision(str(revision).strip(), "--revision").lower()
    return Options(dry_run=bool(dry_run), yes=bool(yes), message=message or "",
                   strategy=strategy or None, build_on=build_on or None,
                   revision=revision or None, lock_wait=lock_wait_seconds(lock_wait),
                   force=bool(force))  # fmt: skip


#: the longest --lock-wait (a deploy waiting longer than this is waiting for a dead one)
LOCK_WAIT_MAX = 3600


def lock_wait_seconds(given) -> int:
    """--lock-wait's value: whole seconds, 0 to LOCK_WAIT_MAX (checked before anything)."""
    if given in (None, ""):
        return 0
    text = str(given).strip()
    if not text.isdigit() or int(text) > LOCK_WAIT_MAX:
        raise ConfigError(
            f"--lock-wait={text}: 0에서 {LOCK_WAIT_MAX} 사이의 초(정수)여야 합니다",
            "예: --lock-wait=300 (5분)",
        )
    return int(text)


def secrets() -> Secrets:
    return Secrets.load()


def operator_task(fn):
    """Ctrl-C handled (tasks/engine/interrupt.py); a tool error shown as its two lines
    (the problem, what to do) with exit status 1 (130 after Ctrl-C)."""

    @functools.wraps(fn)
    def wrapper(c, *args, **kwargs):
        with INTERRUPT.handling():
            try:
                return fn(c, *args, **kwargs)
            except DeployToolError as exc:
                code = 130 if INTERRUPT.presses else 1
                if not kwargs.get("dry_run"):
                    record_refusal(fn.__name__.replace("_", "-"), target(c) or "", exc)
                raise Exit(f"\nERROR: {exc}", code=code) from None

    return wrapper


def record_refusal(task: str, target: str, exc: DeployToolError) -> None:
    """A run refused before any task wrote its record still leaves one (locally: the host
    may be the problem). A history that cannot be written is said, never the end of it."""

    if records.written:
        return
    try:
        mask = Secrets.load().mask
    except DeployToolError:  # the .env itself was refused: its message holds no value
        mask = str
    try:
        records.refused(task, target, exc.problem, exc.fix, mask)
    except OSError as err:
        print(f"! 로컬 기록을 쓰지 못했습니다: {err}")
