"""What an application is, to every other part of the tool: the interface an app implements.

An app is a class with a few names (``name``, ``label``, ``section`` …) and methods that read
the host's settings. Only the app's own package (tasks/apps/<app>/) says what these are; the
strategies, setup, config, the local build and the fab tasks ask the app:

- where it lives and runs: ``checkout``, ``service``, ``service_user``, ``port``,
  ``pair_ports``/``instance`` (blue/green), ``writable``, ``env`` (its .env: :class:`AppEnv`);
- whether it is up: ``health`` (:class:`Health`; ``at_port`` asks the live instance) and what
  serves now: ``serving`` (:class:`Serving`, from a :class:`HostReading`);
- what setup and push-config do for it: ``setup_units``, ``first_build`` and
  ``first_build_command``, ``built`` (something to serve), ``config_keys``, ``needs``;
- what its build makes (``build_output``: a jar, a tree, a wheelhouse), which a local build
  (tasks/localbuild/) makes, ships and installs; its plans step by step mark what a local
  build replaces (``Step.local_build``);
- its plans for each strategy (``plans``) and its tasks' help (``deploy_help``,
  ``rollback_help``: tasks/__init__.py declares deploy-<app> and rollback-<app>).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import ModuleType

from tasks import shell
from tasks.engine.session import Session
from tasks.engine.steps import Plan
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import validate
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
    #: a service's own check (``url`` is http://localhost:<port><path>): its path, so the
    #: check can ask another port (:meth:`at_port`); "" for a page
    path: str = ""

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

    def at_port(self, port_command: str) -> str:
        """One check of the instance on the port ``port_command`` prints (blue/green: the
        one nginx sends requests to, known only on the host); fails when it prints none."""
        if not self.path:
            raise ValueError(f"{self.url} is not a service's own port: no other port to ask")
        url = f'{shell.q("http://localhost:")}"$p"{shell.q(self.path)}'
        return (
            f'p=$({port_command}) && [ -n "$p" ] && '
            f"curl -fsS --max-time 10 -- {url} | grep -qF -- {shell.q(self.expect)}"
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


#: what an app's build makes; tasks/localbuild/ builds, checks, ships and installs each kind:
#: one jar file (Java, sent by SFTP), a tree of files (a static build, sent by rsync against
#: the previous one), a wheelhouse (pip's wheels for the host's Python, installed in a venv)
JAR, TREE, WHEELHOUSE = "jar", "tree", "wheelhouse"


@dataclass(frozen=True)
class BuildOutput:
    """What an app's build makes, for a build on this machine (``build_on=local``)."""

    kind: str  # JAR | TREE | WHEELHOUSE
    command: str  # the build, in the checkout ("" for a WHEELHOUSE: pip download makes it)
    path: str  # in the checkout: the jar, the build's directory, the requirements file
    #: a TREE's: the file the build must have made in it (a static site's page, a server)
    entry: str = "index.html"


#: push-config's files (tasks/config/): what each is and how it is applied
@dataclass(frozen=True)
class ConfigFile:
    key: str  # nginx | mysql | an app's (backend, ai, ai-proxy)
    template: str  # relative to templates/
    dest: str  # the live path on the host
    kind: str  # nginx | unit | mysql: how it is validated and applied
    service: str  # what reloads or restarts when the file changes
    mode: str = "644"
    #: a change restarts ``service`` (a template unit only needs systemd to read it again)
    restart: bool = True

    @property
    def staged_name(self) -> str:
        return f"{self.key}/{PurePosixPath(self.dest).name}"


def local_url(port: int, path: str) -> str:
    """http://localhost:<port><path>: how the tool asks a service on its own host."""
    return f"http://localhost:{port}{path if path.startswith('/') else '/' + path}"


def local_health(port: int, path: str, expect: str, tries: int, interval: float) -> Health:
    """A service's own check on this host: GET http://localhost:<port><path>."""
    path = path if path.startswith("/") else "/" + path
    return Health(local_url(port, path), expect, tries, interval, path=path)


@dataclass(frozen=True)
class Opening:
    """What setup's firewall opens of an app to the other hosts (tasks/setup/firewall.py):
    its ports, to the addresses its settings block's ``<app>_allow_from`` names (by default
    the inventory's [cpu] host's)."""

    what: str  # in the ruleset's comment and the errors: "the AI server"
    ports: tuple[int, ...]


@dataclass(frozen=True)
class HostReading:
    """What the strategies read of an app on its host (one round trip), as
    :meth:`App.serving` takes it."""

    #: the release ``current`` points at ("": none, the manual strategy's checkout serves)
    current: str = ""
    #: blue/green: the port new requests go to (0: no pair, one unit serves)
    live_port: int = 0
    #: blue/green: per port, the instance's state (systemctl is-active) and its release
    slots: Mapping[int, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Serving:
    """What serves an app now: `fab status`, `fab logs`, the deploys and rollbacks."""

    units: tuple[str, ...]  # the systemd units that serve it
    port: int | None  # the port the serving unit answers on (None: the site, by nginx)
    release: str  # the release that serves ("": the manual strategy's checkout)
    #: blue/green: the other instance, still running (a rollback to it is a switch)
    warm_unit: str = ""
    warm_port: int | None = None
    warm_release: str = ""


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

    def setup_units(self, s: Settings, paired: bool) -> list[str]:
        """The units setup enables and starts for it; ``paired``: a blue/green pair serves
        it, whose instances the release strategy starts (tasks/setup/setup_apps.py)."""
        return [] if paired else [self.service(s)]

    def port(self, s: Settings) -> int | None:
        """The port its service answers on without blue/green (None: served by nginx)."""
        return None

    def pair_ports(self, s: Settings) -> list[int]:
        """Its blue/green instances' ports ([]: never two instances)."""
        return []

    def instance(self, s: Settings, port: int) -> str:
        """The unit of its blue/green instance on ``port``."""
        return f"{self.service(s)}@{int(port)}"

    def serving(self, s: Settings, state: HostReading) -> Serving:
        """What serves it now, from what the strategies read on its host."""
        if not state.live_port:
            return Serving((self.service(s),), self.port(s), state.current)
        live = int(state.live_port)
        release = state.slots.get(live, ("", ""))[1] or state.current
        other = next((int(p) for p in self.pair_ports(s)[:2] if int(p) != live), None)
        running, warm = state.slots.get(other, ("", "")) if other is not None else ("", "")
        if running != "active":
            return Serving((self.instance(s, live),), live, release)
        return Serving((self.instance(s, live),), live, release,
                       self.instance(s, other), other, warm)  # fmt: skip

    def needs(self, s: Settings) -> list[tuple[str, str]]:
        """The .env keys its deploy needs: [(key, why)]."""
        return []

    def opening(self, s: Settings) -> Opening | None:
        """Its ports setup's firewall opens to other hosts (None: none; nginx's site is the
        host's, not an app's)."""
        return None

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
        """Its first build: one idempotent command (tasks/hostfacts.py tracked)."""
        raise NotImplementedError

    def serves_yet(self, s: Settings) -> str:
        """A shell test that succeeds when something of it serves that setup's health check
        can ask ("": always). An app whose first build only a conversion to releases makes
        (the Node frontend on a new host) has nothing to ask before it."""
        return ""

    def health_once_serving(self, s: Settings, otherwise: str) -> str:
        """Its health check, polled; where nothing of it serves yet (:meth:`serves_yet`),
        the command ``otherwise`` instead (setup's health step, push-config's check)."""
        check = self.health(s, None).polled()
        yet = self.serves_yet(s)
        return f"if {yet}; then {check}; else {otherwise}; fi" if yet else check

    def manual_paths(self, s: Settings) -> list[tuple[str, str]]:
        """What the manual strategy's deploy needs on the host beside its checkout and its
        unit: [(path, what it is)] (tasks/apps/preconditions.py)."""
        return []

    def build_output(self, s: Settings) -> BuildOutput:
        """What its build makes (tasks/localbuild/ builds it here and sends it)."""
        raise NotImplementedError

    def built(self, s: Settings) -> str:
        """The file whose presence means it has something to serve: setup builds only
        without it (on the host, or here: tasks/localbuild/first.py)."""
        raise NotImplementedError

    def config_files(self, s: Settings) -> list[ConfigFile]:
        """Its own files push-config renders and applies (its systemd unit …), in order."""
        return []

    def facts_command(self, s: Settings) -> str:
        """What setup reads on the host to decide this app's "auto" settings: a command
        printing ``key=value`` lines (tasks/setup/detect.py), "" when it decides nothing."""
        return ""

    def decide(self, s: Settings, facts, host_roles: set[str]) -> dict[str, tuple[object, str]]:
        """This app's settings decided on the host from ``facts`` (detect.Facts): {name:
        (value, why)}; nothing by default."""
        return {}

    def plans(self, strategy: str) -> ModuleType:
        """Its plans for ``strategy`` (``manual``, ``release``): the module of that name in
        the app's package (tasks/apps/<app>/manual.py, release.py). The plan modules sit
        above the App (they build on the strategies' machinery), so the App names them and
        loads them when asked instead of importing them: a new app adds its package's
        modules and nothing else."""
        return importlib.import_module(f"{type(self).__module__}.{strategy}")

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

    def health_command(self, app: App, s: Settings) -> str:
        """One health check of what serves ``app`` now, on its host (`fab health`)."""
        return app.health(s, None).command()

    def settings_rules(self) -> tuple[validate.SettingsRule, ...]:
        """The rules about settings together a host set to this strategy must meet, beside
        everyone's (tasks/hosts/validate.py runs them in every preflight and session): a
        service's writable paths outside the releases where it keeps releases, the switch
        ports free where it runs blue/green."""
        return ((validate.release_paths,) if self.keeps_releases else ()) + (
            (validate.switch_ports,) if self.runs_blue_green else ()
        )

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
    """Make ``strategy`` known by its name, and its settings rules to every session's check
    (tasks/hosts/validate.py, a layer below that cannot ask it)."""
    STRATEGIES[strategy.name] = strategy
    validate.BY_STRATEGY[strategy.name] = strategy.settings_rules()
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
            f"알 수 없는 배포 전략입니다: {name!r}",
            f"--strategy나 strategy 설정에 다음 중 하나를 쓰십시오: "
            f"{', '.join(STRATEGIES) or 'release, manual'}",
        ) from None


class ServiceApp(App):
    """An app its own systemd service runs on a local port (the backend, the AI server):
    its settings are named alike (``<app>_dir``, ``<app>_service``, ``<app>_user``,
    ``<app>_env``, ``<app>_health_path``, ``<app>_ports`` …), read through the app's
    settings view; ``port_setting`` names the one that differs."""

    port_setting = "port"  # the view's name of the port it answers on without blue/green

    def checkout(self, s: Settings) -> str:
        return s.app(self.name).dir

    def service(self, s: Settings) -> str:
        return s.app(self.name).service

    def service_user(self, s: Settings) -> str:
        return s.app(self.name).user

    def env(self, s: Settings) -> AppEnv:
        """Its .env in the checkout, a link to its file in env_dir, read by its group; the
        keys' example is ``<app>_env_example`` where its settings block has one."""
        v = s.app(self.name)
        example = getattr(v, "env_example", ".env.example")
        return AppEnv(self.name, v.dir, v.env_file, example, v.env, v.user,
                      system_env_path(s, self.name))  # fmt: skip

    def writable(self, s: Settings) -> list[str]:
        v = s.app(self.name)
        return [p if p.startswith("/") else f"{v.dir}/{p}" for p in map(str, v.writable_paths)]

    def smoke(self, s: Settings) -> list:
        return s.app(self.name).smoke

    def port(self, s: Settings) -> int | None:
        return int(getattr(s.app(self.name), self.port_setting))

    def pair_ports(self, s: Settings) -> list[int]:
        return [int(p) for p in s.app(self.name).ports]

    def health(self, s: Settings, port: int | None = None) -> Health:
        v = s.app(self.name)
        return local_health(port or getattr(v, self.port_setting), v.health_path,
                            v.health_expect, v.health_tries, v.health_interval)  # fmt: skip
