"""dojangkok-deploy: the manual's deploy procedures as Fabric tasks.

Run ``fab --list`` for the tasks and ``fab --help <task>`` for each one. This module only
declares the tasks: their docstrings are the operators' help, their bodies one call into
tasks/apps/, tasks/strategies/, tasks/setup/ (the layout: docs/developing.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from invoke import Collection, Exit, task

from tasks import cli, flags
from tasks.apps.ai import AI
from tasks.apps.backend import BACKEND
from tasks.apps.frontend import FRONTEND
from tasks.cli import help_for, operator_task
from tasks.engine import records
from tasks.engine.console import Console
from tasks.hosts import inventory, values
from tasks.strategies import deploy
from tasks.targets import in_group, without_hosts

# Each task imports the procedures only it needs (tasks.strategies.full, provision, ...):
# every `fab` command starts by importing this module, and a rollback's wall time starts
# with that.


def _deploy(c, name: str, dry_run, yes, message, strategy, build_on=None, revision=None) -> None:
    comp, hosts = cli.component_hosts(c, name, f"deploy-{name}")
    secrets = cli.secrets()
    opts = cli.options(dry_run, yes, message, strategy, build_on, revision)
    deploy.preflight(comp, hosts, secrets, opts)
    for host in hosts:
        deploy.deploy_host(comp, host, secrets, opts)


def _rollback(c, name: str, to, dry_run, yes, message, strategy) -> None:
    to = values.rollback_target(to) if to else None  # before anything else
    comp, hosts = cli.component_hosts(c, name, f"rollback-{name}")
    secrets, opts = cli.secrets(), cli.options(dry_run, yes, message, strategy)
    deploy.preflight(comp, hosts, secrets, opts, task="rollback")
    for host in hosts:
        deploy.rollback_host(comp, host, secrets, opts, to=to)


@task(help=help_for("dry-run", "yes", "message", "strategy", "build-on", "revision"))
@in_group(FRONTEND.group)
@operator_task
def deploy_frontend(
    c, dry_run=False, yes=False, message="", strategy=None, build_on=None, revision=None
):
    """Deploy the frontend (manual A) to [cpu]: a new build, switched in when it is ready.

    Usage: fab -H cpu deploy-frontend [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): the revision is built (npm ci, npm run build)
    in a new release beside the one serving, keeping the previous build's hashed assets;
    then the web root's `current` link switches in one rename and the main page is checked.
    A failed build changes nothing that serves; a failed check switches back.
    Downtime: none.

    manual (--strategy=manual): the manual's A 1–6 as written: pull, npm ci, build, back up
    the web root (3a), replace it (rm -rf + cp), reload nginx, check. A failed copy or page
    check restores the backup. Downtime: none by the manual's count, but requests during
    the copy can fail.
    """
    _deploy(c, "frontend", dry_run, yes, message, strategy, build_on, revision)


@task(help=help_for("dry-run", "yes", "message", "strategy", "build-on", "revision"))
@in_group(BACKEND.group)
@operator_task
def deploy_backend(
    c, dry_run=False, yes=False, message="", strategy=None, build_on=None, revision=None
):
    """Deploy the backend (manual B) to [cpu]: blue/green, the old instance kept warm.

    Usage: fab -H cpu deploy-backend [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): notice, status, MySQL backup and its check,
    the revision exported into a new release, .env keys, the jar built there while the
    live instance serves. Then, on the host (a systemd unit: it finishes if SSH drops): the
    new release starts on the idle port (backend_ports), must pass its health check and
    smoke tests there, new connections switch to it (an nftables table; nginx is not
    reloaded, keep-alive clients stay connected), and the old
    instance stays warm for backend_keep_warm (600 s) so a rollback is a switch back.
    A failure before the switch stops the new instance; the live one never stopped.
    Downtime: none.

    manual (--strategy=manual): the manual's B 1–12 as written: notice, status, backup,
    pull, .env keys, keep the running jar (6a), stop, build, start, health, smoke tests.
    Downtime: from step 7 (stop) to step 10 (health passes). A failed build, start, health
    check or smoke test restores the kept jar and starts it; so does Ctrl-C once stopped.

    Needs the backup account's password in .env (B3; the key named by db_backup_password_env,
    DB_BACKUP_PASSWORD): setup makes that account with only what mysqldump needs.
    """
    _deploy(c, "backend", dry_run, yes, message, strategy, build_on, revision)


@task(help=help_for("dry-run", "yes", "message", "strategy", "build-on", "revision"))
@in_group(AI.group)
@operator_task
def deploy_ai(c, dry_run=False, yes=False, message="", strategy=None, build_on=None, revision=None):
    """Deploy the AI server (manual C) to [gpu]: a new venv beside the live one, then a switch.

    Usage: fab -H gpu deploy-ai [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): the revision is exported into a new release
    with its own venv (reused when the requirements and Python are unchanged) and pip
    install runs there while the old release serves; a failure changes nothing. Then the
    switch, by ai_switch (default auto: decided on the host and said): blue/green where the
    host holds two instances (no GPU, or more free GPU memory than ai_gpu_memory_mb): the
    new instance starts on the idle port of ai_ports behind nginx, gated on /health and the
    AI smoke call, then nginx switches (the old instance drains); else a restart: `current`
    switches and the service restarts after its requests in flight finish
    (ai_drain_timeout), gated the same way. A failure switches back.
    Downtime: none with blue/green; with a restart, until /health answers.

    manual (--strategy=manual): the manual's C 1–7 as written: pull, venv, pip install,
    restart, health, AI smoke call. Downtime: from step 5 (restart) until /health answers.
    A failure rolls back to the previously deployed revision.
    """
    _deploy(c, "ai", dry_run, yes, message, strategy, build_on, revision)


@task(help=help_for("dry-run", "yes", "parallel", "sequential", "message", "strategy",
                    "build-on"))  # fmt: skip
@without_hosts
@operator_task
def full_deploy(c, dry_run=False, yes=False, parallel=False, sequential=False, message="",
                strategy=None, build_on=None):  # fmt: skip
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
    from tasks.strategies import full

    opts = cli.options(dry_run, yes, message, strategy, build_on)
    full.full_deploy(inventory.load(), cli.secrets(), opts, parallel=bool(parallel),
                     sequential=bool(sequential))  # fmt: skip


@task(help=help_for("to", "dry-run", "yes", "message", "strategy"))
@in_group(FRONTEND.group)
@operator_task
def rollback_frontend(c, to=None, dry_run=False, yes=False, message="", strategy=None):
    """Go back to the previous good frontend: a switch, no rebuild.

    Usage: fab -H cpu rollback-frontend [--to=REV] [--dry-run]

    release (the default): the web root's `current` link switches back to the previous good
    release (or --to's), then the main page is checked and the served version compared with
    the one the target served; the release rolled back from is marked bad and skipped by
    later rollbacks (`fab -H cpu releases`). A failed check says what serves now. Downtime:
    none.

    manual (--strategy=manual): the web root is restored from the backup of the previously
    deployed revision (step 3a's), then nginx reloads.
    """
    _rollback(c, "frontend", to, dry_run, yes, message, strategy)


@task(help=help_for("to", "dry-run", "yes", "message", "strategy"))
@in_group(BACKEND.group)
@operator_task
def rollback_backend(c, to=None, dry_run=False, yes=False, message="", strategy=None):
    """Go back to the previous good backend: a switch back to its instance, no rebuild.

    Usage: fab -H cpu rollback-backend [--to=REV] [--dry-run]

    release (the default): new connections switch back to the previous good release (or
    --to's; no nginx reload). Within backend_keep_warm (600 s) of the deploy its instance
    still runs (warm): the rollback is that switch, about 5 s (nginx's open connections to
    the old instance are let finish). After it, that release first starts on the idle port
    and must pass its health check, then the switch. Then the smoke tests and the served
    version against the target's; the instance left drains before it stops. The release
    rolled back from is marked bad and skipped by later rollbacks (`fab -H cpu releases`).
    Downtime: none.

    manual (--strategy=manual): the previously deployed revision's code and its kept jar
    (no rebuild), restart, health. Downtime: the restart, until health passes.

    The database is NOT restored; if the data must go back too: `fab -H cpu restore-db`.
    """
    _rollback(c, "backend", to, dry_run, yes, message, strategy)


@task(help=help_for("to", "dry-run", "yes", "message", "strategy"))
@in_group(AI.group)
@operator_task
def rollback_ai(c, to=None, dry_run=False, yes=False, message="", strategy=None):
    """Go back to the previous good AI server: its release and venv, no reinstall.

    Usage: fab -H gpu rollback-ai [--to=REV] [--dry-run]

    release (the default): back to the previous good release (or --to's), with the venv it
    had: with blue/green (ai_switch; auto decides on the host) a switch, as the backend's;
    with a restart, `current` switches back and the service restarts after its requests in
    flight finish, gated on /health. Then the smoke call and the served version against the
    target's: ok only when both hold. The release rolled back from is marked bad and
    skipped by later rollbacks. Downtime: none with blue/green; with a restart, until
    /health answers.

    manual (--strategy=manual): the previously deployed revision's code, pip install,
    restart, health. Downtime: from the restart until /health answers.
    """
    _rollback(c, "ai", to, dry_run, yes, message, strategy)


@task(help=help_for("dry-run", "message"))
@in_group("cpu")
@operator_task
def backup_db(c, dry_run=False, message=""):
    """Manual B 3–4 on their own: a verified, gzipped mysqldump in backup_dir (default /app/backups).

    Usage: fab -H cpu backup-db [--dry-run]
    """
    hosts, secrets = cli.hosts(c, "cpu", task="backup-db"), cli.secrets()
    deploy.preflight_database(hosts, secrets, "backup")
    for host in hosts:
        deploy.backup_host(host, secrets, cli.options(dry_run, True, message))


@task(help=help_for("backup", "dry-run", "yes", "message"))
@in_group("cpu")
@operator_task
def restore_db(c, backup=None, dry_run=False, yes=False, message=""):
    """The manual's "(필요 시) DB 복원": load a backup into the database, after backing up now.

    Usage: fab -H cpu restore-db [--backup=/app/backups/backup_<run id>.sql.gz] [--yes]
    Asks before overwriting. The current data is dumped first, so a restore can be undone
    by restoring that dump.
    """
    backup = values.restore_source(backup) if backup else None
    hosts, secrets = cli.hosts(c, "cpu", task="restore-db"), cli.secrets()
    deploy.preflight_database(hosts, secrets, "restore")
    for host in hosts:
        deploy.restore_host(host, secrets, backup, cli.options(dry_run, yes, message))


@task
@without_hosts
@operator_task
def health(c):
    """Health of every host in the inventory: main page, backend and AI health checks.

    Usage: fab health        (exit status 1 when anything is unhealthy)
    """
    from tasks.procedures import health as health_checks

    if not health_checks.check_all(inventory.load(), cli.secrets()):
        raise Exit("unhealthy", code=1)


@task
@operator_task
def lock_status(c):
    """Who holds each host's deploy lock (and since when), or that it is free.

    Usage: fab -H cpu lock-status       (exit status 3 when a host is locked)
    """
    from tasks.procedures import locking

    secrets = cli.secrets()
    locked = [locking.lock_status(h, secrets, Console(secrets)) for h in cli.hosts(c, None)]
    if any(locked):
        raise Exit(code=3)


@task(help=help_for("yes"))
@operator_task
def unlock(c, yes=False):
    """Break a host's deploy lock, after naming its holder and asking (a dead deploy's lock).

    Usage: fab -H cpu unlock
    First make sure the holder's deploy really ended: `fab -H cpu lock-status` names it.
    """
    from tasks.procedures import locking

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        locking.unlock(host, secrets, Console(secrets), yes=bool(yes))


@task(help={"component": "frontend, backend or ai (default: every component of the host)"})
@operator_task
def releases(c, component=None):
    """The release strategy's releases on a host: revision, when, status (current, previous,
    failed, bad), as the next rollback would see them.

    Usage: fab -H cpu releases [--component=backend]
    """
    from tasks.strategies.release import admin as release_admin

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        release_admin.list_releases(host, secrets, component)


@task(help={"run": "the run id to follow (default: the newest)"})
@operator_task
def deploy_status(c, run=None):
    """Reattach to a release deploy's critical section on the host (running or finished).

    Usage: fab -H cpu deploy-status [--run=<run id>]
    It ran as a transient systemd unit: it went on if SSH dropped or fab was stopped.
    """
    from tasks.strategies.release import admin as release_admin

    secrets = cli.secrets()
    for host in cli.hosts(c, None):
        release_admin.status(host, secrets, run)


def _revisions(rec: dict) -> str:
    """``abc1234 → def5678``; ``-`` for a task that deployed no revision (setup, config)."""
    before, after = str(rec.get("from") or "")[:7], str(rec.get("to") or "")[:7]
    if before.startswith("<") or after.startswith("<"):  # records written before 2026-11-27
        before, after = "", ""
    return f"{before} → {after}" if before or after else "-"


@task(help={"limit": "how many records (default 20)", "raw": "print the JSON lines as stored"})
@without_hosts
def history(c, limit=20, raw=False):
    """The deploy records (배포 기록) kept on this machine, newest last."""
    rows = []
    for rec in records.read_local(int(limit)):
        if raw:
            print(json.dumps(rec, ensure_ascii=False))
            continue
        down = rec.get("downtime_seconds")
        # a run refused before it began (result "refused") has no component, maybe no host
        rows.append((rec["time"], rec["operator"], rec["kind"], rec.get("component") or "-",
                     rec.get("host") or "-", _revisions(rec), rec["result"],
                     "" if down is None else f"{down}s"))  # fmt: skip
    if rows:
        Console(cli.secrets()).table(
            ("time", "operator", "task", "component", "host", "revision", "result", "downtime"),
            rows, right=(7,),
        )  # fmt: skip


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
    from tasks.procedures import settings_view

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
    },
    klass=flags.OneMeaning,
)
def run_command(c, read_only=False, message=""):
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
    from tasks import program
    from tasks.engine.interrupt import INTERRUPT
    from tasks.errors import DeployToolError
    from tasks.procedures import run as run_proc

    target = c.config.get(program.HOSTS_KEY) or cli.target(c)
    with INTERRUPT.handling():
        try:
            command = run_proc.command_of(c.config.get(program.COMMAND_KEY) or "", target)
            hosts, secrets = run_proc.hosts_named(inventory.load(), target), cli.secrets()
        except DeployToolError as exc:
            raise Exit(f"\nERROR: {exc}", code=1) from None

        def refused(host, exc):
            cli.record_refusal("run", host.alias, exc)

        code = run_proc.run_on_hosts(hosts, command, secrets, read_only=bool(read_only),
                                     message=message or "",
                                     refused=None if read_only else refused)  # fmt: skip
    if INTERRUPT.presses:
        raise Exit(code=130)
    if code:
        raise Exit(code=code)


@task(
    help={**help_for("yes", "message"), "dry-run": "show the diff against the host; change nothing"}
)
@operator_task
def push_config(c, dry_run=False, yes=False, message=""):
    """Render templates/ for the host, show the diff, validate, apply only what changed.

    Usage: fab -H cpu push-config [--dry-run] [--yes]
    Validation (nginx -t, systemd-analyze verify) runs on staged copies before anything takes
    effect; a failure leaves the host as it was. A failed restart puts the old files back
    (a unit that did not exist before is removed). First, what the units rely on (their
    users, the jar, the venv, the checkouts) is checked: on a host `fab setup` never
    prepared it stops at once and changes nothing.
    """
    from tasks.setup import provision

    secrets, opts = cli.secrets(), cli.options(dry_run, yes, message)
    for host in cli.hosts(c, None):
        provision.push_host(host, secrets, opts)


@task(help={"out": "directory to write the rendered files to (DIR/<host>/<live path>)"})
@operator_task
def render_config(c, out="rendered"):
    """Write the rendered config files locally for review (no host is contacted).

    Usage: fab -H cpu render-config --out DIR
    """
    from tasks.config.render import render, write_rendered

    for host in cli.hosts(c, None):
        for path in write_rendered(render(host), Path(out) / host.alias):
            print(path)


@task(name="setup", help=help_for("dry-run", "yes", "message"))
@operator_task
def setup_host(c, dry_run=False, yes=False, message=""):
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
    from tasks.setup import provision

    secrets, opts = cli.secrets(), cli.options(dry_run, yes, message)
    for host in cli.hosts(c, None):
        provision.setup_host(host, secrets, opts)


ns = Collection(
    deploy_frontend, deploy_backend, deploy_ai, full_deploy,
    rollback_frontend, rollback_backend, rollback_ai,
    backup_db, restore_db, health, history, settings, lock_status, unlock, releases, deploy_status,
    setup_host, push_config, render_config, run_command,
)  # fmt: skip
