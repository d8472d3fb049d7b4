"""What an application is, to every other part of the tool: the interface an app implements.

An app is a class with a few names (``name``, ``label``, ``section`` …) and methods that read
the host's settings: where its checkout is, which unit serves it, its health check (which
can ask a given port: blue/green), the secrets its deploy needs. Only the app's own package
says what these are; the strategies, setup and config ask the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tasks import shell
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings

if TYPE_CHECKING:  # the engine is below this layer; hosts/inventory.py still imports apps
    from tasks.engine.session import Session
    from tasks.engine.steps import Plan
    from tasks.engine.view import RunView


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

    # --- asked by the strategies ---
    #: the manual strategy runs it from its checkout (its HEAD is what serves)
    serves_its_checkout: bool = False
    #: the manual's word on a deploy's downtime (§D), shown before a full deploy
    manual_downtime: str = ""

    def served_file(self, s: Settings) -> str:
        """The file whose checksum identifies what serves, in place (the manual strategy's
        drift check: tasks/strategies/drift.py); "" when the checkout itself serves."""
        return ""

    def smoke(self, s: Settings) -> list:
        """The smoke requests a deploy and a rollback make of it ([]: none)."""
        return []

    def release_unit(self, s: Settings) -> str:
        """The one unit that runs the release ``current`` names when no blue/green pair
        switches it (said after a failed release rollback); "": nginx serves its files."""
        return ""

    def release_downtime(self, s: Settings) -> str:
        """What the release strategy's deploy costs in downtime, shown before a full deploy."""
        return "release: 다운타임 없음 (blue/green)"

    def __repr__(self) -> str:
        return f"<app {self.name}>"


class Strategy:
    """How a deploy and a rollback happen on a host: ``manual`` (the manual's steps, in
    place) or ``release`` (a new directory per release, switched to; blue/green and the
    conversion of a manual host beside it).

    Declared here, beside App, so every layer above asks the strategy instead of testing
    its name; the flows are implemented in tasks/strategies/ (manual.py, release/strategy.py)
    and registered by tasks/strategies/registry.py, which tasks/__init__.py loads first
    (any ``import tasks.…`` runs it). Look one up with :func:`strategy_for`.
    """

    name: str
    #: deploys make a new release directory under releases_root and switch to it: the
    #: units run the release ``current`` names, the shared .env sits beside the releases
    keeps_releases: bool = False
    #: an app with a blue/green pair runs as two instances (template units, one per port)
    #: that nginx switches between (nftables guards the switch)
    runs_blue_green: bool = False
    #: a build on the host takes the branch's head (the manual's 코드 Pull), so only a local
    #: build can deploy a given --revision
    pulls_branch_head: bool = False
    #: a deploy keeps the app serving (no outage to space out), so a full deploy may run a
    #: host's apps and the hosts at the same time
    deploys_without_outage: bool = False

    def plans(self, app: App, view: RunView, task: str = "deploy") -> list[Plan]:
        """Every plan ``task`` may run for ``app`` (a deploy may roll back), rendered with
        the dry ``view``: the preflight checks them, the runbook prints them."""
        raise NotImplementedError

    def read_state(self, s: Session, app: App, first: FirstLook) -> object:
        """What the host has, for this strategy: read in the deploy's first round trip
        (:meth:`reads`, answered in ``first``) or, if that did not read it, now."""
        raise NotImplementedError

    def reads(self, s: Session, app: App) -> dict[str, str]:
        """The strategy's own first look at the host, by name, read in the same round trip
        as the deploy's shared reads (tasks/strategies/firstlook.py)."""
        return {}

    def deployed_from(self, s: Session, app: App, first: FirstLook) -> str:
        """The revision that serves now, from the first look (the deploy's ``from``)."""
        raise NotImplementedError

    def deploy(self, s: Session, app: App, first: FirstLook, state: object) -> None:
        """Deploy in an open session, after the local build's preparation (the revision)."""
        raise NotImplementedError

    def refuse_before_prepare(self, s: Session, app: App) -> None:
        """Refuse, before anything is prepared, a host this strategy cannot deploy to."""

    def rollback(self, s: Session, app: App, first: FirstLook, state: object,
                 to: str | None) -> None:  # fmt: skip
        """Roll back in an open session: to the previous deployed revision, or ``to``."""
        raise NotImplementedError

    def downtime_note(self, app: App, s: Settings) -> str:
        """What a deploy of ``app`` costs in downtime, said before a full deploy."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


@dataclass(frozen=True)
class FirstLook:
    """A deploy's or rollback's first round trip, judged: the checkout's HEAD, the
    deployed-revision stack, and the strategy's own reads (:meth:`Strategy.reads`) by name
    (empty in a dry run)."""

    head: str = ""
    stack: tuple[str, ...] = ()
    answers: dict[str, tuple[bool, str]] = field(default_factory=dict)


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.name] = strategy
    return strategy


def strategy_for(settings_or_name: Settings | str) -> Strategy:
    """The strategy a host's settings name (or the name itself: an unknown one is refused).

    Settings are validated when read (hosts/validate.py: ``strategy`` is one of the names);
    Settings built directly, past that (the hostile-value tests), are read as every choice
    setting is read by the builders: anything but ``release`` is the manual strategy."""
    if not isinstance(settings_or_name, str):
        name = settings_or_name.strategy
        return STRATEGIES.get(name) or STRATEGIES["manual"]
    name = settings_or_name
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown strategy {name!r}",
            f"use one of: {', '.join(STRATEGIES) or 'release, manual'} "
            "(--strategy or the strategy setting)",
        ) from None
