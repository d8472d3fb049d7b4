"""dojangkok-deploy: the manual's deploy procedures as Fabric tasks.

Run ``fab --list`` for the tasks and ``fab --help <task>`` for each one.
"""

from __future__ import annotations

import functools
import json

from invoke import Collection, Exit, task

from tasks import inventory, records
from tasks.deploy import (
    COMPONENTS,
    backup_host,
    deploy_host,
    hosts_for,
    preflight,
    restore_host,
    rollback_host,
)
from tasks.errors import DeployToolError
from tasks.full import full_deploy as run_full_deploy
from tasks.health import check_all
from tasks.secrets import Secrets
from tasks.settings import Settings


def _target(c) -> str | None:
    """The -H value: a host alias or a group name (None without -H)."""
    return getattr(c, "original_host", None)


def operator_errors(fn):
    """Show a tool error as its two lines (problem, what to do) and exit 1."""

    @functools.wraps(fn)
    def wrapper(c, *args, **kwargs):
        try:
            return fn(c, *args, **kwargs)
        except DeployToolError as exc:
            raise Exit(f"\nERROR: {exc}", code=1) from None

    return wrapper


def _deploy(c, name: str, dry_run: bool, yes: bool) -> None:
    comp = COMPONENTS[name]
    inv, secrets = inventory.load(), Secrets.load()
    hosts = hosts_for(_target(c), inv, comp.group)
    preflight(comp, hosts, secrets)
    for host in hosts:
        deploy_host(comp, host, secrets, dry_run=dry_run, yes=yes)


def _rollback(c, name: str, to: str | None, dry_run: bool, yes: bool) -> None:
    comp = COMPONENTS[name]
    inv, secrets = inventory.load(), Secrets.load()
    for host in hosts_for(_target(c), inv, comp.group):
        rollback_host(comp, host, secrets, to=to, dry_run=dry_run, yes=yes)


_HELP = {
    "dry-run": "print every step with its exact command (secrets masked); touch nothing",
    "yes": "answer the checklist's yes/no prompts with yes (for CI); the record says so",
    "to": "roll back to this revision instead of the previously deployed one",
    "parallel": "deploy the [cpu] and [gpu] hosts at the same time (the manual: one by one)",
    "backup": "the dump to restore, a path on the host (default: the newest in backup_dir)",
}


def _help(*names: str) -> dict[str, str]:
    return {n: _HELP[n] for n in names}


@task(help=_help("dry-run", "yes"))
@operator_errors
def deploy_frontend(c, dry_run=False, yes=False):
    """Manual A 1–6: pull, npm ci, build, back up and replace the web root, reload nginx, check.

    Usage: fab -H cpu deploy-frontend [--dry-run] [--yes]
    Downtime: none. A failed copy or page check restores the backup step 3a wrote.
    """
    _deploy(c, "frontend", dry_run, yes)


@task(help=_help("dry-run", "yes"))
@operator_errors
def deploy_backend(c, dry_run=False, yes=False):
    """Manual B 1–12: notice, status, MySQL backup, pull, .env keys, stop, build, start, health.

    Usage: fab -H cpu deploy-backend [--dry-run] [--yes]
    Downtime: from step 7 (stop) to step 10 (health passes). A failed build, start, health
    check or smoke test restores the previously deployed jar and starts it again.
    Needs the DB password in .env (the key named by db_password_env, MYSQL_ROOT_PASSWORD).
    """
    _deploy(c, "backend", dry_run, yes)


@task(help=_help("dry-run", "yes"))
@operator_errors
def deploy_ai(c, dry_run=False, yes=False):
    """Manual C 1–7: pull, venv, pip install, restart, health, AI smoke call.

    Usage: fab -H gpu deploy-ai [--dry-run] [--yes]
    Downtime: from step 5 (restart) until /health answers. Failure rolls back.
    """
    _deploy(c, "ai", dry_run, yes)


@task(help=_help("dry-run", "yes", "parallel"))
@operator_errors
def full_deploy(c, dry_run=False, yes=False, parallel=False):
    """Manual D: frontend and backend on [cpu], then AI on [gpu]; stops at the first failure.

    Usage: fab full-deploy [--dry-run] [--yes] [--parallel]
    """
    inv, secrets = inventory.load(), Secrets.load()
    run_full_deploy(inv, secrets, dry_run=dry_run, yes=yes, parallel=parallel)


@task(help=_help("to", "dry-run", "yes"))
@operator_errors
def rollback_frontend(c, to=None, dry_run=False, yes=False):
    """Restore the web root from the backup of the previously deployed revision, reload nginx.

    Usage: fab -H cpu rollback-frontend [--to=REV] [--dry-run]
    """
    _rollback(c, "frontend", to, dry_run, yes)


@task(help=_help("to", "dry-run", "yes"))
@operator_errors
def rollback_backend(c, to=None, dry_run=False, yes=False):
    """Go back to the previously deployed backend revision: code, its kept jar, restart, health.

    Usage: fab -H cpu rollback-backend [--to=REV] [--dry-run]
    The database is NOT restored; if the data must go back too: `fab -H cpu restore-db`.
    """
    _rollback(c, "backend", to, dry_run, yes)


@task(help=_help("to", "dry-run", "yes"))
@operator_errors
def rollback_ai(c, to=None, dry_run=False, yes=False):
    """Go back to the previously deployed AI revision: code, pip install, restart, health.

    Usage: fab -H gpu rollback-ai [--to=REV] [--dry-run]
    """
    _rollback(c, "ai", to, dry_run, yes)


@task(help=_help("dry-run"))
@operator_errors
def backup_db(c, dry_run=False):
    """Manual B 3–4 on their own: a verified, gzipped mysqldump in backup_dir (default /app/backups).

    Usage: fab -H cpu backup-db [--dry-run]
    """
    inv, secrets = inventory.load(), Secrets.load()
    hosts = hosts_for(_target(c), inv, "cpu")
    for host in hosts:
        secrets.require(host.settings.db_password_env, "MySQL backup")
    for host in hosts:
        backup_host(host, secrets, dry_run=dry_run)


@task(help=_help("backup", "dry-run", "yes"))
@operator_errors
def restore_db(c, backup=None, dry_run=False, yes=False):
    """The manual's "(필요 시) DB 복원": load a backup into the database, after backing up now.

    Usage: fab -H cpu restore-db [--backup=/app/backups/backup_YYYYmmdd_HHMMSS.sql.gz] [--yes]
    Asks before overwriting. The current data is dumped first, so a restore can be undone
    by restoring that dump.
    """
    inv, secrets = inventory.load(), Secrets.load()
    hosts = hosts_for(_target(c), inv, "cpu")
    for host in hosts:
        secrets.require(host.settings.db_password_env, "MySQL restore")
    for host in hosts:
        restore_host(host, secrets, backup, dry_run=dry_run, yes=yes)


@task
@operator_errors
def health(c):
    """Health of every host in the inventory: main page, backend /health, AI /health.

    Usage: fab health        (exit status 1 when anything is unhealthy)
    """
    if not check_all(inventory.load(), Secrets.load()):
        raise Exit("unhealthy", code=1)


@task(help={"limit": "how many records (default 20)", "raw": "print the JSON lines as stored"})
def history(c, limit=20, raw=False):
    """The deploy records (배포 기록) kept on this machine, newest last."""
    for rec in records.read_local(int(limit)):
        if raw:
            print(json.dumps(rec, ensure_ascii=False))
            continue
        down = rec.get("downtime_seconds")
        print(
            f"{rec['time']}  {rec['operator']:<10} {rec['kind']:<8} {rec['component']:<8} "
            f"{rec['host']:<6} {str(rec['from'])[:7]} → {str(rec['to'])[:7]}  {rec['result']}"
            + (f"  downtime {down}s" if down is not None else "")
        )


@task
def settings(c):
    """Every setting with its default (the manual's value); override them in hosts.ini."""
    for name, value in sorted(vars(Settings()).items()):
        print(
            f"{name} = {json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value}"
        )


# --- config as code (tasks/config.py, tasks/setup.py, templates/) --------------------------
def _config_hosts(c):
    inv = inventory.load()
    return inv.resolve(_target(c)) if _target(c) else list(inv.hosts.values())


def _push(host, secrets, dry_run: bool, yes: bool) -> None:
    from tasks import config
    from tasks.connect import connect
    from tasks.errors import StepFailed
    from tasks.runner import Runner

    config.render(host)  # template errors before any connection
    runner = Runner(connect(host, secrets), secrets)
    try:
        config.push_host(host, secrets, runner, dry_run=dry_run, yes=yes)
    except StepFailed as exc:
        if exc.report is not None:
            runner.summary(exc.report)
        raise


@task(help={**_help("yes"), "dry-run": "show the diff against the host; change nothing"})
@operator_errors
def push_config(c, dry_run=False, yes=False):
    """Render templates/ for the host, show the diff, validate, apply only what changed.

    Usage: fab -H cpu push-config [--dry-run] [--yes]
    Validation (nginx -t, systemd-analyze verify) runs on staged copies before anything takes
    effect; a failure leaves the host as it was. A failed restart puts the old files back.
    """
    secrets = Secrets.load()
    for host in _config_hosts(c):
        _push(host, secrets, dry_run, yes)


@task(help={"out": "directory to write the rendered files to (DIR/<host>/<live path>)"})
@operator_errors
def render_config(c, out="rendered"):
    """Write the rendered config files locally for review (no host is contacted).

    Usage: fab -H cpu render-config --out DIR
    """
    from pathlib import Path

    from tasks import config

    for host in _config_hosts(c):
        for path in config.write_rendered(config.render(host), Path(out) / host.alias):
            print(path)


@task(name="setup", help=_help("dry-run", "yes"))
@operator_errors
def setup_host(c, dry_run=False, yes=False):
    """Prepare a host (packages installed): service users, directories, swap, database, config.

    Usage: fab -H cpu setup | fab -H gpu setup  [--dry-run] [--yes]
    Idempotent. Ends with push-config (asks before applying unless --yes).
    """
    from tasks import config
    from tasks import setup as host_setup
    from tasks.connect import connect
    from tasks.context import Run
    from tasks.runner import Runner

    secrets = Secrets.load()
    for host in _config_hosts(c):
        config.render(host)
        if "cpu" in host_setup.roles(host) and not dry_run:
            secrets.require(host.settings.db_app_password_env, "the app's database account")
        runner = Runner(None if dry_run else connect(host, secrets), secrets)
        runner.out(
            f"=== 도장콕 서버 준비 (setup): {host.alias}{' — DRY RUN' if dry_run else ''} ==="
        )
        run = Run("setup", host, secrets, runner, dry_run=dry_run, yes=yes, kind="setup")
        runner.summary(runner.execute(host_setup.plan(host), run))
        if dry_run:
            runner.out("(then: push-config)")
            continue
        _push(host, secrets, dry_run, yes)


ns = Collection(
    deploy_frontend, deploy_backend, deploy_ai, full_deploy,
    rollback_frontend, rollback_backend, rollback_ai,
    backup_db, restore_db, health, history, settings,
    setup_host, push_config, render_config,
)  # fmt: skip
