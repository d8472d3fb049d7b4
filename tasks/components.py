"""The component registry: the one place that says what frontend, backend and AI are.

Deploy, full-deploy, the runbook, ``fab health``, setup and push-config all read it: the
inventory group a component deploys to, its checkout, the service that serves it, its health
check (port-aware, so a check can ask a given port), the secrets its deploy needs and the
manual's section. The plans themselves live in tasks/procedures/.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tasks import shell
from tasks.errors import ConfigError
from tasks.hosts import site
from tasks.hosts.settings import Settings


@dataclass(frozen=True)
class Health:
    """A health check: GET ``url`` must answer 2xx with ``expect`` in the body."""

    url: str
    expect: str
    tries: int
    interval: float
    page: bool = False  # a web page: follow redirects, an empty ``expect`` means any 200
    #: curl's --resolve (the site's name to this host: tasks/hosts/site.py), or ""
    resolve: str = ""

    @property
    def timeout(self) -> float:
        return self.tries * self.interval

    def command(self) -> str:
        """One check, on the host (the services' ports are not public)."""
        return (
            shell.page(self.url, self.expect, self.resolve)
            if self.page
            else shell.health(self.url, self.expect)
        )

    def polled(self, every: float | None = None) -> str:
        """The check repeated until it passes: ``tries`` times, ``interval`` apart; with
        ``every``, that often instead, within the same total time (the manual's limit)."""
        if every:
            n = max(1, math.ceil(self.timeout / every))
            return shell.poll(self.command(), n, every, self.timeout)
        return shell.poll(self.command(), self.tries, self.interval)


@dataclass(frozen=True)
class Component:
    name: str  # frontend | backend | ai
    label: str  # Korean, for notices and banners
    section: str  # the manual's section: A | B | C
    manual_title: str  # the manual's words for it in §D (React 배포, ...)
    group: str  # the inventory group it deploys to
    checkout: Callable[[Settings], str]
    #: the systemd unit that serves it
    service: Callable[[Settings], str]
    #: its health check; ``port`` asks a given port (blue/green) instead of the configured one
    health: Callable[[Settings, int | None], Health]
    #: .env keys its deploy needs: [(key, why)]
    needs: Callable[[Settings], list[tuple[str, str]]]

    @property
    def task(self) -> str:
        return f"deploy-{self.name}"


def local_url(port: int, path: str) -> str:
    """http://localhost:<port><path>: how the tool asks a service on its own host."""
    return f"http://localhost:{port}{path if path.startswith('/') else '/' + path}"


def _frontend_health(s: Settings, port: int | None = None) -> Health:
    """The main page as a browser asks it: https://<server_name>/ (tasks/hosts/site.py), on
    this host's nginx (curl --resolve), the certificate verified."""
    url = site.page_url(s)
    return Health(url, s.frontend_expect, s.frontend_page_tries, s.frontend_page_interval,
                  page=True, resolve=site.resolve_for(url, site.names(s)))  # fmt: skip


def _backend_health(s: Settings, port: int | None = None) -> Health:
    return Health(
        local_url(port or s.backend_port, s.backend_health_path),
        s.backend_health_expect,
        s.backend_health_tries,
        s.backend_health_interval,
    )


def _ai_health(s: Settings, port: int | None = None) -> Health:
    return Health(
        local_url(port or s.ai_listen_port, s.ai_health_path),
        s.ai_health_expect,
        s.ai_health_tries,
        s.ai_health_interval,
    )


FRONTEND = Component(
    "frontend", "프론트엔드", "A", "React 배포", "cpu",
    checkout=lambda s: s.frontend_dir, service=lambda s: "nginx",
    health=_frontend_health, needs=lambda s: [],
)  # fmt: skip
BACKEND = Component(
    "backend", "백엔드", "B", "Spring Boot 배포", "cpu",
    checkout=lambda s: s.backend_dir, service=lambda s: s.backend_service,
    health=_backend_health, needs=lambda s: [(s.db_backup_password_env, "MySQL backup, step B3")],
)  # fmt: skip
AI = Component(
    "ai", "AI 서버", "C", "FastAPI 배포", "gpu",
    checkout=lambda s: s.ai_dir, service=lambda s: s.ai_service,
    health=_ai_health, needs=lambda s: [],
)  # fmt: skip

#: in the manual's order (§D: React, Spring Boot, FastAPI)
ORDER: tuple[Component, ...] = (FRONTEND, BACKEND, AI)
COMPONENTS: dict[str, Component] = {c.name: c for c in ORDER}
GROUPS = ("cpu", "gpu")


def get(name: str) -> Component:
    try:
        return COMPONENTS[name]
    except KeyError:
        raise ConfigError(
            f"no component {name!r}", f"use one of: {', '.join(COMPONENTS)}"
        ) from None


def roles(groups: tuple[str, ...] | list[str] | set[str], alias: str = "") -> set[str]:
    """The host roles (cpu, gpu) of a host in these inventory groups."""
    return set(GROUPS) & (set(groups) | {alias})


def on_host(groups, alias: str = "") -> list[Component]:
    """The components a host with these groups serves, in the manual's order."""
    r = roles(groups, alias)
    return [c for c in ORDER if c.group in r]
