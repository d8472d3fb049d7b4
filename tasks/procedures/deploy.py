"""The flows around a component's plans, on a session: deploy, rollback, backup, restore.

deploy:   read what is deployed → 배포 전 checklist → steps (policies, rollback) →
          배포 중/후 checklist → the deployed-revision stack
rollback: the previously deployed revision (or ``--to``) → the rollback plan → the stack
The session (tasks/engine/session.py) does the rest: connect, lock, banner, summary,
record, notice, and what Ctrl-C or a dropped connection means.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks import shell
from tasks.components import Component
from tasks.engine import checklist, records
from tasks.engine.console import Console
from tasks.engine.session import Session, preflight_secrets, session
from tasks.engine.steps import Plan
from tasks.engine.view import TARGET_PLACEHOLDER, RunView, new_run_id
from tasks.errors import ConfigError
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.procedures import PROCEDURES, drift, preconditions
from tasks.shell import q

TITLES = {"deploy": "배포", "rollback": "롤백"}


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    yes: bool = False
    strategy: str = "manual"
    message: str = ""


def plans(comp: Component, host: Host, task: str = "deploy") -> list[Plan]:
    """The plans a task may run (a deploy may roll back), each rendered once with a dry
    view: a bad setting fails here, before any host is touched."""
    proc = PROCEDURES[comp.name]
    view = RunView(task, comp.name, host, new_run_id(), dry_run=True, target=TARGET_PLACEHOLDER)
    found = [proc.plan(view), proc.rollback_plan(view)]
    for plan in found:
        for step in plan.steps:
            step.shown(view)  # raises ConfigError on a bad smoke spec and the like
    return found if task == "deploy" else found[1:]


def preflight(comp: Component, hosts: list[Host], secrets: Secrets, opts: Options,
              task: str = "deploy") -> None:  # fmt: skip
    """Everything that can be known before any host is touched."""
    for host in hosts:
        found = plans(comp, host, task)
        needs = comp.needs(host.settings) if task == "deploy" else []
        preflight_secrets(host, secrets, needs, tuple(found))
        if not opts.dry_run:
            checklist.answerable(found, opts.yes, f"{task} {comp.name}")


def _prepare(s: Session, comp: Component) -> list[str]:
    """Check what the task relies on, read what is deployed (and whether the host changed
    outside the tool: tasks/procedures/drift.py); returns the deployed-revision stack."""
    proc = PROCEDURES[comp.name]
    s.state_command = proc.state_command(s.view)
    alias = s.view.host.alias
    if s.view.dry_run:
        s.recover_with = f"fab -H {alias} rollback-{comp.name}"
        return []
    preconditions.verify(s, preconditions.for_deploy(s.view.s, comp.name), f"{s.view.task}")
    checkout = comp.checkout(s.view.s)
    try:
        head = s.query(shell.git_head(checkout))
    except RuntimeError as exc:
        raise ConfigError(
            f"{checkout} on {alias} is not a git checkout {s.view.host.user} can use: {exc}",
            "check the *_dir settings and ansible_user for this host, or set the host up first",
        ) from None
    stack = records.read_stack(s)
    s.set(from_rev=drift.reconcile(s, comp, stack, head))
    s.recover_with = f"fab -H {alias} rollback-{comp.name} --to={s.view.from_rev[:12]}"
    return stack


def deploy_on(s: Session, comp: Component) -> None:
    """Deploy ``comp`` in an open session."""
    proc = PROCEDURES[comp.name]
    stack = _prepare(s, comp)
    v = s.view
    if not v.dry_run:
        s.set(to_rev=s.query(shell.git_remote_head(comp.checkout(v.s), v.s.git_remote,
                                                   v.s.git_branch)))  # fmt: skip
    plan = proc.plan(s.view)
    checklist.run_phase(plan, s, checklist.BEFORE)
    s.execute(plan, rollback=proc.rollback_plan)
    statuses = {st.number: st.status for st in s.report.steps if st.phase == "deploy"}
    checklist.run_phase(plan, s, checklist.DURING, statuses)
    try:
        checklist.run_phase(plan, s, checklist.AFTER, statuses)
    except checklist.Declined as no:
        if not no.item.rollback_on_no:
            raise
        s.rollback(proc.rollback_plan(s.view, str(no)), str(no))
    if not s.view.dry_run:
        s.set(to_rev=s.query(shell.git_head(comp.checkout(s.view.s))))
        records.write_stack(s, records.pushed(stack, s.view.from_rev, s.view.to_rev))
        drift.remember(s, comp, s.view.to_rev)


def deploy_host(comp: Component, host: Host, secrets: Secrets, opts: Options,
                console: Console | None = None, remote=None) -> Session:  # fmt: skip
    with session("deploy", comp.name, host, secrets, title=f"{comp.label} 배포",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=opts.strategy, console=console,
                 remote=remote, message=opts.message) as s:  # fmt: skip
        deploy_on(s, comp)
    return s


def rollback_host(comp: Component, host: Host, secrets: Secrets, opts: Options,
                  to: str | None = None) -> Session:  # fmt: skip
    proc = PROCEDURES[comp.name]
    with session("rollback", comp.name, host, secrets, title=f"{comp.label} 롤백",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=opts.strategy,
                 message=opts.message) as s:  # fmt: skip
        stack = _prepare(s, comp)
        target = to or (records.previous(stack, s.view.from_rev) if not opts.dry_run else "")
        if not target and not opts.dry_run:
            raise ConfigError(
                f"no previously deployed {comp.name} revision is recorded on {host.alias}",
                "pass --to=<revision> (see `fab history` or `git log` on the host)",
            )
        s.set(target=target or TARGET_PLACEHOLDER)
        s.recover_with = f"fab -H {host.alias} rollback-{comp.name} --to={s.view.back_to[:12]}"
        s.console.out(f"롤백 대상: {s.view.from_rev[:12]} → {s.view.back_to[:12]}")
        s.execute(proc.rollback_plan(s.view, "operator"))
        if not opts.dry_run:
            records.write_stack(s, records.popped(stack, s.view.from_rev, s.view.back_to))
            drift.remember(s, comp, s.view.back_to)
    return s


def preflight_database(hosts: list[Host], secrets: Secrets, task: str) -> None:
    """backup-db / restore-db: the DB password is there and can be hidden."""
    from tasks.procedures import backup

    for host in hosts:
        view = RunView(task, "database", host, new_run_id(), dry_run=True)
        plan = backup.backup_plan(view) if task == "backup" else backup.restore_plan(view)
        needs = [(host.settings.db_password_env, f"MySQL {task}")]
        preflight_secrets(host, secrets, needs, (plan,), view)


def backup_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    """Manual B3–B4 alone (`fab backup-db`), recorded like a deploy."""
    from tasks.procedures import backup

    with session("backup", "database", host, secrets, title="DB 백업", dry_run=opts.dry_run,
                 yes=True, message=opts.message) as s:  # fmt: skip
        s.execute(backup.backup_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"백업 파일: {backup.backup_file(s.view)}")
    return s


def restore_host(host: Host, secrets: Secrets, source: str | None, opts: Options) -> Session:
    """Restore the DB from a backup (the newest unless named), after a safety backup."""
    from tasks.procedures import backup

    with session("restore", "database", host, secrets, title="DB 복원", dry_run=opts.dry_run,
                 yes=opts.yes, message=opts.message) as s:  # fmt: skip
        st = host.settings
        if not source and not opts.dry_run:
            source = s.query(
                f"ls -1t {q(st.backup_dir)}/{backup.PREFIX}*.sql.gz 2>/dev/null | head -1"
            )
            if not source:
                raise ConfigError(f"no backup in {st.backup_dir} on {host.alias}",
                                  f"run `fab -H {host.alias} backup-db` first")  # fmt: skip
        if source:
            s.set(restore_from=source)
        safety = backup.backup_file(s.view)
        s.recover_with = f"fab -H {host.alias} restore-db --backup={safety}"
        question = f"{st.db_name} 데이터베이스를 {source or '최신 백업'}(으)로 덮어씁니까?"
        if not opts.dry_run and not checklist.ask(question, opts.yes)[0]:
            raise ConfigError("restore declined", "nothing was changed")
        s.execute(backup.restore_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"복원 전 데이터: {safety} (되돌리려면 --backup 으로 지정)")
    return s
