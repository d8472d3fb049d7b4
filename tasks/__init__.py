"""dojangkok-deploy: the manual's deploy procedures as Fabric tasks.

Run ``fab --list`` for the tasks and ``fab --help <task>`` for each one. This module only
declares the tasks: their docstrings are the operators' help, their bodies one call into
tasks/apps/, tasks/strategies/, tasks/setup/ (the layout: docs/developing.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from invoke import Argument, Collection, Exit, task

from tasks import cli, flags
from tasks.apps import registry
from tasks.apps.base import App
from tasks.cli import HELP, help_for, operator_task
from tasks.config.render import render, write_rendered
from tasks.engine import history as team
from tasks.engine.console import Console
from tasks.engine.interrupt import INTERRUPT
from tasks.errors import DeployToolError
from tasks.hosts import inventory, values
from tasks.procedures import health as health_checks
from tasks.procedures import locking, settings_view
from tasks.procedures import logs as journal
from tasks.procedures import maintenance as page
from tasks.procedures import run as run_proc
from tasks.procedures import status as serving
from tasks.setup import provision
from tasks.strategies import confirm, deploy, full
from tasks.strategies.release import admin as release_admin
from tasks.targets import in_group, without_hosts

# Every task's modules are imported here, at the top: importing them all costs ~20 ms of a
# ~270 ms start (python -c 'import tasks' with and without them, median of 9 runs).


class _WordMayBeLeftOut(flags.OneMeaning):
    """A task whose positional word may be left out (`fab maintenance` shows the state)."""

    def get_arguments(self, *args, **kwargs):
        return [_MayBeLeftOut(**vars_of(a)) if a.positional else a
                for a in super().get_arguments(*args, **kwargs)]  # fmt: skip


def _asked_by(function: str, depth: int = 4) -> bool:
    """Whether ``function`` is among the callers (a few frames up) of the caller."""
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def vars_of(arg: Argument) -> dict:
    return {"names": arg.names, "kind": arg.kind, "default": arg.default, "help": arg.help,
            "positional": True, "optional": arg.optional, "attr_name": arg.attr_name}  # fmt: skip


class _MayBeLeftOut(Argument):
    """A positional argument the command line may leave out (`fab maintenance` shows the
    state). invoke's parser asks whether a positional is missing twice: while reading, to
    take the next word as its value (it is: None), and when the task's words end, to refuse
    the task without it (here it is not: the task gets None)."""

    @property
    def value(self):
        value = Argument.value.fget(self)
        if value is None and _asked_by("complete_context"):
            return ""  # only to that last check; the task itself receives None
        return value

    @value.setter
    def value(self, arg) -> None:
        self.set_value(arg, cast=True)


def _deploy(c, name: str, dry_run, yes, message, strategy, build_on=None, revision=None,
            lock_wait=None, force=False) -> None:  # fmt: skip
    comp, hosts = cli.component_hosts(c, name, f"deploy-{name}")
    secrets = cli.secrets()
    opts = cli.options(dry_run, yes, message, strategy, build_on, revision, lock_wait, force)
    deploy.preflight(comp, hosts, secrets, opts)
    confirm.confirm(hosts, f"deploy-{name}", dry_run=opts.dry_run, yes=opts.yes)
    for host in hosts:
        deploy.deploy_host(comp, host, secrets, opts)


def _rollback(c, name: str, to, dry_run, yes, message, strategy, lock_wait=None) -> None:
    to = values.rollback_target(to) if to else None  # before anything else
    comp, hosts = cli.component_hosts(c, name, f"rollback-{name}")
    secrets = cli.secrets()
    opts = cli.options(dry_run, yes, message, strategy, lock_wait=lock_wait)
    deploy.preflight(comp, hosts, secrets, opts, task="rollback")
    confirm.confirm(hosts, f"rollback-{name}", dry_run=opts.dry_run, yes=opts.yes)
    for host in hosts:
        deploy.rollback_host(comp, host, secrets, opts, to=to)


def _declared(body, kind: str, app: App, doc: str):
    """``body`` as the task ``<kind>-<app>``: its name, its help (the app's, for operators)
    and its group."""
    body.__name__ = body.__qualname__ = f"{kind}_{app.name.replace('-', '_')}"
    body.__doc__, body.__module__ = doc, __name__
    return in_group(app.group)(operator_task(body))


def deploy_task(app: App):
    """``deploy-<app>``: the app's deploy on its group's hosts."""

    def body(c, dry_run=False, yes=False, message="", strategy=None, build_on=None, revision=None,
             lock_wait=None, force=False):  # fmt: skip
        _deploy(c, app.name, dry_run, yes, message, strategy, build_on, revision, lock_wait, force)

    helps = help_for("dry-run", "yes", "message", "strategy", "build-on", "revision", "lock-wait",
                     "force")  # fmt: skip
    return task(help=helps, klass=flags.OneMeaning)(_declared(body, "deploy", app, app.deploy_help))


def rollback_task(app: App):
    """``rollback-<app>``: back to the app's previous good release on its group's hosts."""

    def body(c, to=None, dry_run=False, yes=False, message="", strategy=None, lock_wait=None):
        _rollback(c, app.name, to, dry_run, yes, message, strategy, lock_wait)

    helps = help_for("to", "dry-run", "yes", "message", "strategy", "lock-wait")
    return task(help=helps, klass=flags.OneMeaning)(
        _declared(body, "rollback", app, app.rollback_help)
    )


DEPLOYS = [deploy_task(app) for app in registry.ORDER]
ROLLBACKS = [rollback_task(app) for app in registry.ORDER]


@task(klass=flags.OneMeaning, help=help_for("dry-run", "yes", "parallel", "sequential", "message", "strategy",
                    "build-on", "lock-wait", "force"))  # fmt: skip
@without_hosts
@operator_task
def full_deploy(c, dry_run=False, yes=False, parallel=False, sequential=False, message="",
                strategy=None, build_on=None, lock_wait=None, force=False):  # fmt: skip
    """Manual D: frontend and backend on [cpu], AI on [gpu]; stops at the first failure.

    Usage: fab full-deploy [--dry-run] [--yes] [--parallel | --sequential]   (no -H: the
    hosts are the inventory's [cpu] and [gpu] groups)
    Each component as its own deploy task does it (see `fab --help deploy-backend`).
    With the release strategy (the default) on every host, [cpu] and [gpu] deploy at the
    same time, and so do [cpu]'s frontend and backend (each on its own connection, under
    the host's one lock); --sequential keeps the manual's order, which --strategy=manual
    always follows. Every host's deploy lock is taken first (all or none). Ctrl-C stops
    every chain.
    """

    opts = cli.options(dry_run, yes, message, strategy, build_on, lock_wait=lock_wait, force=force)
    full.full_deploy(inventory.load(), cli.secrets(), opts, parallel=bool(parallel),
                     sequential=bool(sequential))  # fmt: skip


@task(klass=flags.OneMeaning, help=help_for("dry-run", "message", "lock-wait"))
@in_group("cpu")
@operator_task
def backup_db(c, dry_run=False, message="", lock_wait=None):
    """Manual B 3–4 on their own: a verified, gzipped mysqldump in backup_dir (default /app/backups).

    Usage: fab -H cpu backup-db [--dry-run]
    """
    hosts, secrets = cli.hosts(c, "cpu", task="backup-db"), cli.secrets()
    deploy.preflight_database(hosts, secrets, "backup")
    for host in hosts:
        deploy.backup_host(host, secrets, cli.options(dry_run, True, message, lock_wait=lock_wait))


@task(
    klass=_WordMayBeLeftOut,
    help={**help_for("backup", "dry-run", "yes", "message", "lock-wait"),
          "maintenance": "점검 페이지를 복원하는 동안 켜고 끝나면 끕니다 (묻지 않음; --yes만으로는 "
          "켜지 않습니다)"},
)  # fmt: skip
@in_group("cpu")
@operator_task
def restore_db(c, backup=None, dry_run=False, yes=False, message="", maintenance=False,
               lock_wait=None):  # fmt: skip
    """The manual's "(필요 시) DB 복원": load a backup into the database, after backing up now.

    Usage: fab -H cpu restore-db [--backup=/app/backups/backup_<run id>.sql.gz] [--yes]
                                 [--maintenance]
    Asks before overwriting. The current data is dumped first, so a restore can be undone
    by restoring that dump. Asks whether to show the maintenance page during the restore
    (`fab --help maintenance`): it is turned on before and off after a restore that
    succeeded (left on after one that failed, and said); with --yes it is not turned on
    unless --maintenance is given.
    """

    backup = values.restore_source(backup) if backup else None
    hosts, secrets = cli.hosts(c, "cpu", task="restore-db"), cli.secrets()
    opts = cli.options(dry_run, yes, message, lock_wait=lock_wait)
    deploy.preflight_database(hosts, secrets, "restore")
    with_page = page.wanted_for_restore(bool(yes), bool(maintenance), bool(dry_run))
    for host in hosts:
        if with_page:
            page.toggle(host, secrets, "on", message="데이터베이스 복원 중입니다. 잠시 후 다시 "
                        "접속해 주십시오.", dry_run=bool(dry_run))  # fmt: skip
        try:
            deploy.restore_host(host, secrets, backup, opts)
        except BaseException:
            if with_page:
                Console(secrets).out(f"복원이 끝나지 않아 점검 페이지를 켜 둡니다: 확인한 뒤 "
                                     f"`fab -H {host.alias} maintenance off`로 끄십시오")  # fmt: skip
            raise
        if with_page:
            page.toggle(host, secrets, "off", dry_run=bool(dry_run))


@task(
    klass=_WordMayBeLeftOut,
    positional=["state"],
    help={
        "state": "on | off (없으면 지금 상태를 보여 줍니다)",
        "scope": "site (사이트 전체, 기본) 또는 api (/api/ 만)",
        "message": "점검 페이지에 보일 한 줄 (300자 이하; on과 함께)",
        "dry-run": HELP["dry-run"],
    },
)
@in_group(registry.FRONTEND.group)
@operator_task
def maintenance(c, state=None, scope="site", message="", dry_run=False):
    """The maintenance page: nginx answers 503 (Retry-After) with a Korean page.

    Usage: fab -H cpu maintenance on [--message="..."] [--scope=site|api]
           fab -H cpu maintenance off
           fab -H cpu maintenance            (the state: on or off, since when, the message)

    --scope=site: every path; --scope=api: /api/ only (the frontend still serves). The page
    and its flag are root's (the root helper writes them); nginx tests for the flag at each
    request, so turning it on or off never reloads nginx. `fab -H cpu restore-db` offers it.
    """

    state = state or None  # none given: show the state
    page.check_input(state, scope, message)  # before anything else
    secrets = cli.secrets()
    for host in cli.hosts(c, registry.FRONTEND.group, task="maintenance"):
        if state is None:
            page.show(host, secrets)
        else:
            page.toggle(host, secrets, state, scope, message, dry_run=bool(dry_run))


@task
@without_hosts
@operator_task
def health(c):
    """Health of every host in the inventory and of the site as this machine sees it.

    Usage: fab health        (exit status 1 when anything is unhealthy or unreachable)
    On each host (the ports are not public): the main page, the backend's and the AI's
    health checks; a host that cannot be reached is a row saying so and the others are
    still checked. From this machine: https://<server_name>/, its status and the
    certificate's days left (a warning under 21). Reads only; records nothing.
    """

    try:
        healthy = health_checks.check_all(inventory.load(), cli.secrets())
    except DeployToolError as exc:  # a read: no refusal record (tasks/cli.py's is for runs)
        raise Exit(f"\nERROR: {exc}", code=1) from None
    if not healthy:
        raise Exit("\n이상이 있습니다: 위 표에서 정상이 아닌 행을 확인하십시오", code=1)


@task(klass=flags.OneMeaning,
      help={"json": "표 대신 JSON으로 (호스트·앱마다 객체 하나의 목록)"})  # fmt: skip
def status(c, json=False):
    """What runs where: every host's apps, read from the hosts (fab status | fab -H cpu status).

    Usage: fab status [--json]      (exit status 1 when an app is unhealthy or a host unreachable)
    One row per host and app: the revision and the version it serves (the version asked
    from the app itself, <app>_version_url), the release and since when it serves, the
    unit(s) and port serving (both instances during a blue/green warm window), the health
    check, the host's deploy lock, the app's last record on that host (who, when, result).
    A host that cannot be reached is a row saying so; the others are still shown. One
    command per host, the hosts at once. Reads only; takes no lock, records nothing.
    """

    secrets = cli.secrets()
    try:
        rows = serving.show(cli.hosts(c, None), secrets, as_json=bool(json))
    except DeployToolError as exc:  # a read: no refusal record (tasks/cli.py's is for runs)
        raise Exit(f"\nERROR: {exc}", code=1) from None
    if not serving.all_well(rows):
        raise Exit(code=1)


@task(
    klass=_WordMayBeLeftOut,
    positional=["app"],
    help={
        "app": "frontend, backend or ai (없으면 호스트의 모든 앱)",
        "lines": f"줄 수 (기본 {journal.DEFAULT_LINES}, 최대 {journal.MAX_LINES})",
        "follow": "새 줄을 계속 보여 줍니다 (Ctrl-C로 끝냄); blue/green 전환 뒤에도 따라갑니다",
        "since": "이때부터: 10m, 2h, 1d 또는 '2026-12-07 06:00' (호스트의 시각)",
        "grep": "이 정규식에 맞는 줄만 (journalctl --grep)",
    },
)
def logs(c, app=None, lines=journal.DEFAULT_LINES, follow=False, since="", grep=""):
    """The logs of exactly what serves an app now: fab -H cpu logs backend [-n 100] [--follow].

    Usage: fab -H cpu logs backend [-n 100] [--follow] [--since=10m] [--grep=ERROR]
           fab logs                 (every host's every app, merged by time, prefixed host/app)
    The journal of the unit(s) that serve now, read on the host first: with the release
    strategy the backend runs as dojangkok@8081 or @8082, and during a warm window both
    instances are read, each line labelled with its unit; --follow on a blue/green pair
    follows both instances, so a switch is followed. The frontend: nginx's error log (nginx
    writes it to the journal too). Read as the deploy login (systemd-journal); no lock, no
    record.
    """

    try:
        opts = journal.check_options(lines, follow, since, grep)
        only = journal.check_app(app or None)
        read = journal.show(cli.hosts(c, None), only, cli.secrets(), opts)
    except DeployToolError as exc:  # a read: no refusal record
        raise Exit(f"\nERROR: {exc}", code=1) from None
    if not read:
        raise Exit(code=1)


@task
@operator_task
def lock_status(c):
    """Who holds each host's deploy lock (and since when), or that it is free.

    Usage: fab -H cpu lock-status       (exit status 3 when a host is locked)
    """

    secrets = cli.secrets()
    locked = [locking.lock_status(h, secrets, Console(secrets)) for h in cli.hosts(c, None)]
    if any(locked):
        raise Exit(code=3)


@task(klass=flags.OneMeaning, help=help_for("yes"))
@operator_task
def unlock(c, yes=False):
    """Break a host's deploy lock, after naming its holder and asking (a dead deploy's lock).

    Usage: fab -H cpu unlock
    First make sure the holder's deploy really ended: `fab -H cpu lock-status` names it.
    """

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        locking.unlock(host, secrets, Console(secrets), yes=bool(yes))


@task(
    klass=flags.OneMeaning,
    help={"component": "frontend, backend or ai (default: every component of the host)"},
)
@operator_task
def releases(c, component=None):
    """The release strategy's releases on a host: revision, when, status (current, previous,
    failed, bad), as the next rollback would see them.

    Usage: fab -H cpu releases [--component=backend]
    """

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        release_admin.list_releases(host, secrets, component)


@task(klass=flags.OneMeaning, help={"run": "the run id to follow (default: the newest)"})
@operator_task
def deploy_status(c, run=None):
    """Reattach to a release deploy's critical section on the host (running or finished).

    Usage: fab -H cpu deploy-status [--run=<run id>]
    It ran as a transient systemd unit: it went on if SSH dropped or fab was stopped.
    """

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        release_admin.status(host, secrets, run)


@task(
    klass=flags.OneMeaning,
    help={
        "limit": "how many records (default 20), newest first",
        "app": "only this app's records: frontend, backend, ai or database",
        "json": "print the records as JSON (a list, newest first) instead of a table",
    },
    auto_shortflags=False,  # long names only: -l is fab's own --list (one meaning per flag)
)
@without_hosts
def history(c, limit=20, app=None, json=False):
    """The team's deploy records (배포 기록): every host's and this machine's, newest first.

    Usage: fab history [--limit=50] [--app=backend] [--json]
    Each host keeps the record of every run on it (state_dir/history.jsonl), whoever ran
    it: they are read (one command per host, the hosts at once) and merged with this
    machine's records, one per run. A host that cannot be reached is named; the rest is
    still shown. Columns: when, who, task, app, host, revisions, result, how long, downtime,
    the --message given. Reads only; records nothing.
    """

    secrets = cli.secrets()
    try:
        n, only = team.check_options(limit, app, (*registry.APPS, "database"))
        try:
            inv = inventory.load()
        except DeployToolError as exc:  # this machine's records are still worth showing
            inv = exc
        team.show(inv, secrets, limit=n, app=only, as_json=bool(json))
    except DeployToolError as exc:  # a read: no refusal record (tasks/cli.py's is for runs)
        raise Exit(f"\nERROR: {exc}", code=1) from None


@task(klass=flags.OneMeaning)
@operator_task
def settings(c):
    """Every setting, grouped per app, with its default and a Korean description; with -H, the
    host's values and where each comes from.

    Usage: fab settings | fab -H cpu settings
    Without -H: the defaults (the manual's values; override them in hosts.ini), the ones to
    fill before the first setup marked "setup 전에 필수", the *_cmd settings marked RAW SHELL
    (they run on the host as written, never quoted; every other value is quoted or checked
    before it reaches a host). With -H: the inventory's value, the default, or what is
    detected on the host (database server and unit, its config file, python, packages),
    read-only; a host that cannot be reached still shows the inventory's values, and says
    which could not be detected.
    """

    console = Console(cli.secrets()) if cli.target(c) else None
    if console is None:
        print("\n".join(settings_view.defaults_lines()))
        return
    inv = inventory.load()
    for host in cli.hosts(c, None, inv):
        given = [k for k in inv.variables.get(host.alias, {}) if not k.startswith("ansible_")]
        settings_view.show_host(host, given, console.secrets, console)


@task(
    name="run",
    help={
        "read-only": "the command changes nothing: no deploy lock, no record (your word: the "
        "command is not checked)",
        "message": "a note kept in the deploy lock and the record (e.g. why you run it)",
        **help_for("lock-wait"),
    },
    klass=flags.OneMeaning,
)
def run_command(c, read_only=False, message="", lock_wait=None):
    """Run a shell command on hosts of the inventory, as the deploy login: `fab -H cpu run -- CMD`.

    Usage: fab -H cpu run [--read-only] [--message=TEXT] -- systemctl status nginx
    (`fab -H cpu -- CMD` is the same). The inventory's connection, as a deploy's: its login,
    key, jump host and host keys. The command after `--` is raw shell, run as written; its
    output is shown as it comes, secrets masked, each line prefixed [host] when -H names
    several hosts. Without --read-only it takes the host's deploy lock (refused while
    another task holds it, naming the holder) and is recorded in the host's history and
    here (kind run, the command masked). --read-only: no lock, no record.
    Exit status: the command's, the worst over the hosts; 255 where it could not run.
    """

    target = c.config.get(run_proc.HOSTS_KEY) or cli.target(c)
    with INTERRUPT.handling():
        try:
            command = run_proc.command_of(c.config.get(run_proc.COMMAND_KEY) or "", target)
            hosts, secrets = run_proc.hosts_named(inventory.load(), target), cli.secrets()
            wait = cli.lock_wait_seconds(lock_wait)
        except DeployToolError as exc:
            raise Exit(f"\nERROR: {exc}", code=1) from None

        def refused(host, exc):
            cli.record_refusal("run", host.alias, exc)

        code = run_proc.run_on_hosts(hosts, command, secrets, read_only=bool(read_only),
                                     message=message or "", lock_wait=wait,
                                     refused=None if read_only else refused)  # fmt: skip
    if INTERRUPT.presses:
        raise Exit(code=130)
    if code:
        raise Exit(code=code)


@task(
    klass=flags.OneMeaning,
    help={
        **help_for("yes", "message", "lock-wait"),
        "dry-run": "show the diff against the host; change nothing",
    },
)
@operator_task
def push_config(c, dry_run=False, yes=False, message="", lock_wait=None):
    """Render templates/ for the host, show the diff, validate, apply only what changed.

    Usage: fab -H cpu push-config [--dry-run] [--yes]
    Validation (nginx -t, systemd-analyze verify) runs on staged copies before anything takes
    effect; a failure leaves the host as it was. A failed restart puts the old files back
    (a unit that did not exist before is removed). First, what the units rely on (their
    users, the jar, the venv, the checkouts) is checked: on a host `fab setup` never
    prepared it stops at once and changes nothing.
    """

    secrets, opts = cli.secrets(), cli.options(dry_run, yes, message, lock_wait=lock_wait)
    for host in cli.hosts(c, None):
        provision.push_host(host, secrets, opts)


@task(
    klass=flags.OneMeaning,
    help={"out": "directory to write the rendered files to (DIR/<host>/<live path>)"},
)
@operator_task
def render_config(c, out="rendered"):
    """Write the rendered config files locally for review (no host is contacted).

    Usage: fab -H cpu render-config --out DIR
    """

    for host in cli.hosts(c, None):
        for path in write_rendered(render(host), Path(out) / host.alias):
            print(path)


@task(klass=flags.OneMeaning, name="setup", help=help_for("dry-run", "yes", "message", "lock-wait"))
@operator_task
def setup_host(c, dry_run=False, yes=False, message="", lock_wait=None):
    """A bare host to serving: packages, users, directories, swap, database, each app's
    checkout, .env, first build (venv), then push-config, the services, a health check.

    Usage: fab -H cpu setup | fab -H gpu setup  [--dry-run] [--yes]
    With strategy=release (the default) the host, once serving the manual way, is converted
    to releases (as a first release deploy does) and gets the release config.
    Idempotent: a second run changes nothing and says so. Asks before applying the config
    unless --yes. The database server, its unit, python and packages are detected on the
    host unless set (`fab settings -H cpu`). Every missing .env key, file and setting is
    named at once before anything changes (hosts.ini's "setup 전에 필수" block lists them).
    Runbook: "0. 서버 준비".
    """

    secrets, opts = cli.secrets(), cli.options(dry_run, yes, message, lock_wait=lock_wait)
    for host in cli.hosts(c, None):
        provision.setup_host(host, secrets, opts)


ns = Collection(
    *DEPLOYS, full_deploy, *ROLLBACKS,
    backup_db, restore_db, maintenance, health, status, logs, history, settings, lock_status, unlock, releases, deploy_status,
    setup_host, push_config, render_config, run_command,
)  # fmt: skip
