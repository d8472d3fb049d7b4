"""A file a step puts on the host (below the steps and the staging of root steps' files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.hosts.secrets import Secrets


@dataclass(frozen=True)
class Upload:
    """A file the runner puts on the host (created with its mode, its text on standard input,
    never on a command line) for a step. A root step's land in a directory only root can
    read, made in the same root command: their path is ``staging.path(name)``
    (``$STAGE/<name>``)."""

    path: str
    mode: str  # octal, e.g. "600"
    what: str  # shown instead of the content, e.g. "MySQL 접속 정보"
    #: the content; the only place a secret may be read (never shown, never in argv)
    content: Callable[[Secrets], str] = field(repr=False, compare=False)
