"""The frozen facts of one run: what the pure command builders may read.

A builder (``Step.command``, ``Step.uploads``, ...) receives a :class:`RunView`: the host and
its settings, the run id, the revisions, the rollback target. It never receives the live
session, so it cannot touch a host and always renders the same text for the same view:
``--dry-run``, the runbook and the step log show exactly what runs.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.shell import q

FROM_PLACEHOLDER = "<배포 전 리비전>"
TO_PLACEHOLDER = "<배포할 리비전>"
TARGET_PLACEHOLDER = "<직전 배포 리비전>"


def new_run_id(now: datetime | None = None) -> str:
    """Sortable and collision-free: microseconds plus a random suffix.

    ``20261127_161530_123456_9f3a``: the date and time keep the manual's file names readable
    (backup_YYYYmmdd_HHMM...), the suffix keeps two runs in the same microsecond apart.
    """
    now = now or datetime.now()
    return f"{now:%Y%m%d_%H%M%S_%f}_{secrets.token_hex(2)}"


def earlier_run_id(run_id: str, seconds: float = 1.0) -> str:
    """A run id ``seconds`` before ``run_id``: what was there before a run sorts before it."""
    stamp = datetime.strptime(run_id[:15], "%Y%m%d_%H%M%S") - timedelta(seconds=seconds)
    return new_run_id(stamp)


def operator_name() -> str:
    return os.environ.get("DOJANGKOK_OPERATOR") or getpass.getuser()


def operator_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class RunView:
    task: str  # deploy | rollback | backup | restore | setup | config
    component: str  # frontend | backend | ai | database | setup | config
    host: Host
    run_id: str
    strategy: str = "manual"
    dry_run: bool = False
    #: revision serving before the run, and the one it deploys (dry-run: placeholders)
    from_rev: str = FROM_PLACEHOLDER
    to_rev: str = TO_PLACEHOLDER
    #: rollback: the revision to go back to (empty: ``from_rev``, the one serving before)
    target: str = ""
    #: restore-db: the dump to load
    restore_from: str = ""
    #: deploy: where the build runs, "host" or "local" (the manual's two methods, §1), and
    #: what it found and made (tasks/localbuild/model.py Build: host facts, artifact, checksums)
    build_on: str = "host"
    build: Any = None

    @property
    def s(self) -> Settings:
        return self.host.settings

    @property
    def login(self) -> str:
        """The deploy login as a shell word, for root commands that make it an owner: the
        inventory's ansible_user, else whoever ran sudo (the deploy login itself)."""
        return q(self.host.user) if self.host.user else '"$SUDO_USER"'

    @property
    def from_known(self) -> str:
        """``from_rev`` as read from the host; "" while it is the placeholder."""
        return "" if self.from_rev == FROM_PLACEHOLDER else self.from_rev

    @property
    def to_known(self) -> str:
        """``to_rev`` as this run deploys it; "" while it is the placeholder (a task that
        deploys no revision: setup, config, backup)."""
        return "" if self.to_rev == TO_PLACEHOLDER else self.to_rev

    @property
    def back_to(self) -> str:
        """The revision a rollback restores."""
        return self.target or self.from_rev

    def but(self, **changes) -> RunView:
        return dataclasses.replace(self, **changes)
