"""The apps, in the manual's order (§D: React, Spring Boot, FastAPI), and which host serves
which: the fab tasks, full-deploy, setup and the runbook iterate this."""

from __future__ import annotations

from tasks.apps.ai import AI
from tasks.apps.backend import BACKEND
from tasks.apps.base import App
from tasks.apps.frontend import FRONTEND as STATIC_FRONTEND
from tasks.apps.frontend_node import FRONTEND_NODE
from tasks.apps.kinds import ByKind
from tasks.errors import ConfigError
from tasks.hosts.inventory import GROUPS, roles

#: the frontend's kind is the host's frontend_kind (tasks/apps/kinds.py)
FRONTEND = ByKind("frontend_kind", {"static": STATIC_FRONTEND, "node": FRONTEND_NODE})
ORDER: tuple[App, ...] = (FRONTEND, BACKEND, AI)
APPS: dict[str, App] = {a.name: a for a in ORDER}


def get(name: str) -> App:
    try:
        return APPS[name]
    except KeyError:
        raise ConfigError(
            f"알 수 없는 앱입니다: {name!r}", f"다음 중 하나를 쓰십시오: {', '.join(APPS)}"
        ) from None


def on_host(groups, alias: str = "") -> list[App]:
    """The apps a host with these groups serves, in the manual's order."""
    r = roles(groups, alias)
    return [a for a in ORDER if a.group in r]


__all__ = ["AI", "APPS", "BACKEND", "FRONTEND", "GROUPS", "ORDER", "App", "get", "on_host", "roles"]
