"""The manual's steps as data.

A :class:`Step` is one numbered row of the manual's tables (section 3 A–D): its Korean
title, the exact command (built by a pure function of the :class:`~tasks.engine.view.RunView`),
the manual's expected time, its failure response and what the tool does on failure. A
:class:`Plan` is the ordered steps of one component. The runner executes plans, ``--dry-run``
prints them, ``tasks/runbook.py`` renders them into docs/runbook.md and the tests assert on
them: one source, so the code and the runbook cannot drift apart.

What is shown is what runs: a SHELL step's ``command`` is the exact text the host runs
(``[sudo]`` marks root), its ``uploads`` are the files the runner puts on the host for it
(secrets travel only this way; a root step's land in a directory only root can read, in
its own root command: tasks/engine/staging.py), and a LOCAL step is work on the
operator's side (a notice, a question to the operator) whose ``command`` only describes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from tasks.engine import staging
from tasks.engine.live import Live
from tasks.engine.upload import Upload
from tasks.engine.view import RunView
from tasks.onhost.policy import Policy

__all__ = ["CheckItem", "Kind", "Plan", "Policy", "Step", "Upload"]


class Kind(Enum):
    SHELL = "shell"  # a command on the host
    LOCAL = "local"  # work on the operator's side (notices, questions)


@dataclass(frozen=True)
class Step:
    number: str  # the manual's step number; "6a" marks a step the tool adds
    title: str  # the manual's Korean title
    expected: str  # the manual's time estimate, e.g. "3분+"
    on_failure: str  # the manual's failure response, in its words
    policy: Policy
    kind: Kind = Kind.SHELL
    #: pure: the run's view in, the exact shell text out (LOCAL: a description)
    command: Callable[[RunView], str] | None = None
    #: files written on the host before the command runs
    uploads: Callable[[RunView], tuple[Upload, ...]] | None = None
    #: LOCAL steps: the work itself, with the live session
    action: Callable[[Live], str | None] | None = None
    #: a LOCAL step that may ask the operator (needs a terminal or --yes)
    asks: bool = False
    sudo: bool = False
    #: RETRY: the cleanup before the second try (e.g. rm -rf node_modules)
    cleanup: Callable[[RunView], str] | None = None
    #: RETRY: what a failure of the second try means
    then: Policy = Policy.ABORT
    #: this step takes the service down / brings it back (for the downtime report)
    down: bool = False
    up: bool = False
    #: on failure, a command whose output helps (e.g. the service's journal), run as root
    diagnose: Callable[[RunView], str] | None = None
    #: the step is skipped (and says why) when this returns a reason
    skip_if: Callable[[RunView], str | None] | None = None
    added: str = ""  # why the tool added or changed this step (shown in the runbook)
    #: what a build on the operator's machine (build_on=local) does with this step, as its
    #: plan declares it (tasks/localbuild/plans.py): "pull" (to the built revision), "deps"
    #: (installs the build's dependencies), "build" (builds), "stop" (stops the service:
    #: the build is sent and checked before it); "" leaves the step as it is
    local_build: str = ""

    def fields(self, section: str) -> dict:
        """What the step loop (tasks/onhost/hostrun.py ``Loop``) reads of this step, for
        both executors: the in-process runner and, in plan.json, the host run. A field the
        loop needs is added here once."""
        return {
            "section": section, "number": self.number, "title": self.title,
            "expected": self.expected, "on_failure": self.on_failure,
            "policy": self.policy.name, "then": self.then.name, "down": self.down, "up": self.up,
        }  # fmt: skip

    def render(self, view: RunView) -> str:
        """The exact command (or description) this step runs, for plans and logs. A root
        step with uploads runs as one root command that receives them into a root-only
        directory first (tasks/engine/staging.py): that command, whole."""
        command = self.command(view) if self.command is not None else ""
        uploads = self.uploads(view) if self.uploads and self.sudo else ()
        if uploads and self.kind is Kind.SHELL:
            return staging.script(uploads, command)
        return command

    def shown(self, view: RunView) -> list[str]:
        """What the operator sees before the step runs, one line each: ``↑`` an upload,
        ``$`` the exact command (``[sudo]``: as root), ``»`` work on the operator's side."""
        lines = [
            f"↑ {u.path} ({u.mode}: {u.what})" for u in (self.uploads(view) if self.uploads else ())
        ]
        command = self.render(view)
        if command and self.kind is Kind.LOCAL:
            lines.append(f"» {command}")
        elif command:
            lines.append(("$ [sudo] " if self.sudo else "$ ") + command)
        return lines


@dataclass(frozen=True)
class CheckItem:
    """One checklist line of the manual (배포 전 / 배포 중 / 배포 후)."""

    phase: str  # "배포 전" | "배포 중" | "배포 후"
    text: str  # the manual's words
    #: automatic check: returns (ok, shown result); None means a person answers yes/no
    check: Callable[[Live], tuple[bool, str]] | None = None
    step: str = ""  # 배포 중 items: the step number whose success answers it
    #: a "no" after the deploy rolls back (manual: 콘솔 critical 에러 → 이전 빌드로 복원)
    rollback_on_no: bool = False
    #: the one command ``check`` reads on the host (run_phase reads a phase's together;
    #: Session.sh and Session.query then answer ``check`` from that one round trip)
    reads: Callable[[RunView], str] | None = None

    @property
    def asks(self) -> bool:
        return self.check is None and not self.step


@dataclass(frozen=True)
class Plan:
    component: str  # frontend | backend | ai | database | setup | config
    section: str  # the manual's section letter: A | B | C (S setup, CFG config)
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

    @property
    def asks(self) -> bool:
        """Whether running this plan may ask the operator something."""
        return any(s.asks for s in self.steps) or any(i.asks for i in self.checklist)
