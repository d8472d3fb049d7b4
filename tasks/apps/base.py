"""What an application is, to every other part of the tool: the interface an app implements.

An app is a class with a few names (``name``, ``label``, ``section`` …) and methods that read
the host's settings: where its checkout is, which unit serves it, its health check (which
can ask a given port: blue/green), the secrets its deploy needs. Only the app's own package
says what these are; the strategies, setup and config ask the app.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from types import ModuleType

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


@dataclass(frozen=True)
class AppEnv:
    """An app's .env (tasks/apps/env.py says where it is and who may read it)."""

    component: str
    checkout: str
    env_file: str  # relative to the checkout
    example: str  # relative to the checkout
    values: dict  # the inventory's <component>_env
    group: str  # the service's group ("" = the login user's own group)
    #: a service's .env (:func:`system_env_path`); "" = the file in the checkout (the frontend's)
    system: str = ""

    @property
    def link(self) -> str:
        """Where the app, the manual and the deploys look: the .env in the checkout (a
        service's: a link to :attr:`path`)."""
        return f"{self.checkout}/{self.env_file}"

    @property
    def path(self) -> str:
        """The file itself."""
        return self.system or self.link

    @property
    def service(self) -> bool:
        return bool(self.system)


def system_env_path(s: Settings, component: str) -> str:
    """The .env a service's unit reads (``EnvironmentFile=``), in ``env_dir``: root's
    directory (setup makes it), the deploy login's file."""
    return f"{s.env_dir}/{component}.env"


@dataclass(frozen=True)
class FirstBuild:
    """Setup's first build on the host, when there is nothing to serve yet (its command:
    :meth:`App.first_build_command`)."""

    title: str  # Korean, after the app's label: "첫 빌드 (Gradle)"
    expected: str  # the manual's kind of duration: "3분+"


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
    #: `fab --help deploy-<name>` and `rollback-<name>` (tasks/__init__.py declares the
    #: tasks from the registry): for operators, the default strategy first
    deploy_help: str
    rollback_help: str

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

    #: the push-config files (tasks/config/render.py ConfigFile.key) whose reload or
    #: restart this app's health check proves
    config_keys: tuple[str, ...] = ()

    def env(self, s: Settings) -> AppEnv:
        """Its .env: where it is, its keys' example, the values, the group that reads it."""
        raise NotImplementedError

    def service_user(self, s: Settings) -> str:
        """The user its service runs as ("": no service of its own, e.g. a static site)."""
        return ""

    def writable(self, s: Settings) -> list[str]:
        """The paths its service may write, absolute (relative ones are in its checkout)."""
        return []

    #: setup's first build on the host (tasks/setup/setup_apps.py)
    first_build: FirstBuild

    def first_build_command(self, s: Settings) -> str:
        """Its first build: one idempotent command (tasks/setup/hostfacts.py tracked)."""
        raise NotImplementedError

    def built(self, s: Settings) -> str:
        """The file whose presence means it has something to serve: setup builds only
        without it (on the host, or here: tasks/localbuild/first.py)."""
        raise NotImplementedError

    def plans(self, strategy: str) -> ModuleType:
        """Its plans for ``strategy`` (``manual``, ``release``): the module of that name in
        the app's package (tasks/apps/<app>/manual.py, release.py). The plan modules sit
        above the App (they build on the strategies' machinery), so the App names them and
        loads them when asked instead of importing them: a new app adds its package's
        modules and nothing else."""
        return importlib.import_module(f"{type(self).__module__}.{strategy}")

    def __repr__(self) -> str:
        return f"<app {self.name}>"
