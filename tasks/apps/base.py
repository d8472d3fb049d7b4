"""What an application is, to every other part of the tool: the interface an app implements.

An app is a class with a few names (``name``, ``label``, ``section`` …) and methods that read
the host's settings: where its checkout is, which unit serves it, its health check (which
can ask a given port: blue/green), the secrets its deploy needs. Only the app's own package
says what these are; the strategies, setup and config ask the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tasks import shell
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


def local_url(port: int, path: str) -> str:
    """http://localhost:<port><path>: how the tool asks a service on its own host."""
    return f"http://localhost:{port}{path if path.startswith('/') else '/' + path}"


class App:
    """One application. Subclasses set the names and implement the methods."""

    name: str  # frontend | backend | ai: the task names (deploy-<name>) and settings prefix
    label: str  # Korean, for notices and banners
    section: str  # the manual's section: A | B | C
    manual_title: str  # the manual's words for it in §D (React 배포, ...)
    group: str  # the inventory group it deploys to

    @property
    def task(self) -> str:
        return f"deploy-{self.name}"

    def checkout(self, s: Settings) -> str:
        """Where its git checkout is on the host."""
        raise NotImplementedError

    def service(self, s: Settings) -> str:
        """The systemd unit that serves it (the template's name under blue/green)."""
        raise NotImplementedError

    def health(self, s: Settings, port: int | None = None) -> Health:
        """Its health check; ``port`` asks a given port (blue/green) instead of the usual."""
        raise NotImplementedError

    def needs(self, s: Settings) -> list[tuple[str, str]]:
        """The .env keys its deploy needs: [(key, why)]."""
        return []

    def __repr__(self) -> str:
        return f"<app {self.name}>"
