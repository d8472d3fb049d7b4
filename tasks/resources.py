"""Where the tool's own files are, in a clone and in an installed package alike.

``templates/`` is at the top of the repository (the users keep it there: nginx site,
systemd units, MySQL config, sudoers, nftables, the runbook's prose). A wheel installs the
same directory as ``tasks/templates/`` (pyproject.toml maps it there as package data), so
the tool finds it wherever pip, pipx or uv put it. The installed copy is looked for first; a
clone (or an editable install) has none and uses the repository's own.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

#: the templates directory: the installed copy, else the clone's top-level templates/
TEMPLATES = next(
    (d for d in (_PACKAGE / "templates", _PACKAGE.parent / "templates") if d.is_dir()),
    _PACKAGE.parent / "templates",
)
