"""One run of one plan on one host: what the pure command builders get to see."""

from __future__ import annotations

import getpass
import os
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tasks.inventory import Host
from tasks.secrets import Secrets
from tasks.settings import Settings

if TYPE_CHECKING:
    from tasks.runner import Runner


def q(value: object) -> str:
    """Shell-quote one value (every interpolated value goes through here)."""
    return shlex.quote(str(value))


def operator_name() -> str:
    return os.environ.get("DOJANGKOK_OPERATOR") or getpass.getuser()


@dataclass
class Run:
    component: str
    host: Host
    secrets: Secrets
    runner: Runner | None = None
    dry_run: bool = False
    yes: bool = False
    kind: str = "deploy"  # deploy | rollback
    stamp: str = field(default_factory=lambda: datetime.now().strftime("%Y%m%d_%H%M%S"))
    #: revision serving before the run, and the one it deploys (dry-run shows placeholders)
    from_rev: str = "<배포 전 리비전>"
    to_rev: str = "<배포할 리비전>"
    #: what earlier steps found and later steps use (backup file, artifact path, ...)
    notes: dict[str, str] = field(default_factory=dict)
    #: checklist answers, for the deploy record
    answers: list[dict] = field(default_factory=list)

    @property
    def s(self) -> Settings:
        return self.host.settings

    def query(self, command: str, sudo: bool = False) -> str:
        """Read something from the host (checklists, revisions); '' in a dry run."""
        if self.runner is None or self.dry_run:
            return ""
        result = self.runner.sh(command, sudo=sudo)
        if not result.ok:
            raise RuntimeError(result.tail() or f"exit {result.exit}")
        return result.stdout.strip()
