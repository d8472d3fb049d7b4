"""The manual's steps as data.

A :class:`Step` is one numbered row of the manual's tables (section 3 A–D): its Korean
title, the exact command (built by a pure function of the settings and the run), the
manual's expected time, its failure response and what the tool does on failure. A
:class:`Plan` is the ordered steps of one component. The runner executes plans, ``--dry-run``
prints them, ``tasks/runbook.py`` renders them into docs/runbook.md and the tests assert on
them: one source, so the code and the runbook cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.context import Run


class Policy(Enum):
    """What a failure of the step means."""

    ABORT = "중단"  # stop here; nothing that serves users has changed yet
    ROLLBACK = "롤백"  # restore the previous version, then stop
    RETRY = "재시도"  # run the step's cleanup, try once more, then abort
    WARN = "경고 후 계속"  # report and go on (notices)


class Kind(Enum):
    SHELL = "shell"  # a command on the host
    POLL = "poll"  # a command on the host, repeated until it succeeds (health checks)
    LOCAL = "local"  # work on the operator's side (notices, prompts)


@dataclass(frozen=True)
class Step:
    number: str  # the manual's step number; "6a" marks a step the tool adds
    title: str  # the manual's Korean title
    expected: str  # the manual's time estimate, e.g. "3분+"
    on_failure: str  # the manual's failure response, in its words
    policy: Policy
    kind: Kind = Kind.SHELL
    #: pure: run context in, shell text out (SHELL/POLL); for LOCAL, a description
    command: Callable[[Run], str] | None = None
    #: LOCAL steps: the work itself (it may use run.runner to query the host)
    action: Callable[[Run], str | None] | None = None
    sudo: bool = False
    #: RETRY: the cleanup before the second try (e.g. rm -rf node_modules)
    cleanup: Callable[[Run], str] | None = None
    #: RETRY: what a failure of the second try means
    then: Policy = Policy.ABORT
    #: POLL: (tries, interval seconds) from the settings
    schedule: Callable[[Run], tuple[int, int]] | None = None
    #: this step takes the service down / brings it back (for the downtime report)
    down: bool = False
    up: bool = False
    #: on failure, a command whose output helps (e.g. the service's journal)
    diagnose: Callable[[Run], str] | None = None
    #: the step is skipped (and says why) when this returns a reason
    skip_if: Callable[[Run], str | None] | None = None
    added: str = ""  # why the tool added or changed this step (shown in the runbook)

    def render(self, run: Run) -> str:
        """The exact command (or description) this step runs, for plans and logs."""
        if self.command is None:
            return ""
        return self.command(run)


@dataclass(frozen=True)
class CheckItem:
    """One checklist line of the manual (배포 전 / 배포 중 / 배포 후)."""

    phase: str  # "배포 전" | "배포 중" | "배포 후"
    text: str  # the manual's words
    #: automatic check: returns (ok, shown result); None means a person answers yes/no
    check: Callable[[Run], tuple[bool, str]] | None = None
    step: str = ""  # 배포 중 items: the step number whose success answers it
    #: a "no" after the deploy rolls back (manual: 콘솔 critical 에러 → 이전 빌드로 복원)
    rollback_on_no: bool = False


@dataclass(frozen=True)
class Plan:
    component: str  # frontend | backend | ai
    section: str  # the manual's section letter: A | B | C
    title: str  # the manual's Korean section title
    location: str  # where it runs, e.g. "CPU Instance /var/www/dojangkok"
    expected_total: str
    downtime: str  # the manual's downtime estimate
    steps: tuple[Step, ...]
    checklist: tuple[CheckItem, ...] = field(default=())

    def step(self, number: str) -> Step:
        for s in self.steps:
            if s.number == number:
                return s
        raise KeyError(number)
