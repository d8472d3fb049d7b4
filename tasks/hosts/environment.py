"""Environments (Kamal's destinations, Capistrano's stages): one inventory and one secrets
file per environment, side by side in the operator's directory.

``dojangkok --env staging ...`` (tasks/program.py) sets ``DOJANGKOK_ENVIRONMENT=staging``
before anything else runs; every module only reads that variable (:func:`current`). With an
environment named, the inventory is ``hosts.<name>.ini`` and the secrets ``.env.<name>``;
``DOJANGKOK_HOSTS`` and ``DOJANGKOK_ENV`` still name other files explicitly, and win. Without
one, nothing changes: ``hosts.ini`` and ``.env``.

A named environment whose files are missing is refused before any task runs
(:func:`missing_files`), naming each file and how to make it: a typo (``--env prdo``) must not
fall back to another environment's files, nor run with no secrets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tasks.errors import ConfigError

#: the variable that names the environment ("" or unset: none)
KEY = "DOJANGKOK_ENVIRONMENT"
#: the variables that name the files explicitly (they win over the environment's)
HOSTS_KEY, SECRETS_KEY = "DOJANGKOK_HOSTS", "DOJANGKOK_ENV"

#: an environment's name: it becomes part of two file names, so no path, no dot, no space
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def checked(name: str) -> str:
    """``name`` if it can name an environment; a ConfigError otherwise (before anything)."""
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"환경 이름 {name!r}은(는) 쓸 수 없습니다 (소문자, 숫자, -, _ 로 32자 이하, "
            "파일 이름 hosts.<이름>.ini 와 .env.<이름> 에 들어갑니다)",
            "예: --env staging 또는 DOJANGKOK_ENVIRONMENT=prod",
        )
    return name


def current() -> str:
    """The environment's name ("" = none): what the banner, the records and notices name."""
    name = os.environ.get(KEY, "").strip()
    return checked(name) if name else ""


def inventory_path() -> Path:
    """``DOJANGKOK_HOSTS``, else the environment's ``hosts.<name>.ini``, else ``hosts.ini``."""
    if os.environ.get(HOSTS_KEY):
        return Path(os.environ[HOSTS_KEY])
    name = current()
    return Path(f"hosts.{name}.ini" if name else "hosts.ini")


def secrets_path() -> Path:
    """``DOJANGKOK_ENV``, else the environment's ``.env.<name>``, else ``.env``."""
    if os.environ.get(SECRETS_KEY):
        return Path(os.environ[SECRETS_KEY])
    name = current()
    return Path(f".env.{name}" if name else ".env")


def missing_files() -> ConfigError | None:
    """With an environment named: its files that do not exist (those the environment chose,
    not the ones DOJANGKOK_HOSTS / DOJANGKOK_ENV name), as one error; None otherwise."""
    name = current()
    if not name:
        return None
    gone = []
    if not os.environ.get(HOSTS_KEY) and not inventory_path().is_file():
        gone.append((inventory_path(), f"cp hosts.ini {inventory_path()}"))
    if not os.environ.get(SECRETS_KEY) and not secrets_path().exists():
        path = secrets_path()
        gone.append((path, f"cp .env.example {path} && chmod 600 {path}"))
    if not gone:
        return None
    files = ", ".join(str(p) for p, _ in gone)
    fixes = "; ".join(fix for _, fix in gone)
    return ConfigError(
        f"환경 {name}의 파일이 없습니다: {files} (현재 디렉터리 {Path.cwd()}; 아무것도 "
        "실행하지 않았습니다)",
        f"환경 이름을 확인하십시오 (--env {name}). 새 환경이면 만든 뒤 값을 채우십시오: "
        f"{fixes} (다른 경로의 파일은 DOJANGKOK_HOSTS / DOJANGKOK_ENV로 지정)",
    )


def label(name: str | None = None) -> str:
    """``[staging] `` for the banner ("" without an environment)."""
    name = current() if name is None else name
    return f"[{name}] " if name else ""
