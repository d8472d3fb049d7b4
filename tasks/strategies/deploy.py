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
from tasks.apps import preconditions
from tasks.apps.ai import manual as ai_manual
from tasks.apps.backend import manual as backend_manual
from tasks.apps.base import App
from tasks.apps.frontend import manual as frontend_manual
from tasks.engine import checklist, records
from tasks.engine.console import Console
from tasks.engine.session import Session, preflight_secrets, session
from tasks.engine.steps import Plan
from tasks.engine.view import TARGET_PLACEHOLDER, RunView, new_run_id
from tasks.errors import ConfigError
from tasks.hosts import validate, values
from tasks.hosts.connect import admin_steps
from tasks.hosts.inventory import Host
from tasks.hosts.missing import Missing
from tasks.hosts.secrets import Secrets
from tasks.setup import privilege
from tasks.shell import q
from tasks.strategies import drift

#: app name → its manual-strategy plans (plan, rollback_plan, state_command)
PROCEDURES = {"frontend": frontend_manual, "backend": backend_manual, "ai": ai_manual}
TITLES = {"deploy": "배포", "rollback": "롤백"}


STRATEGIES = ("release", "manual")


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    yes: bool = False
    #: None: each host's ``strategy`` setting
    strategy: str | None = None
    message: str = ""
    #: None: each host's build_on settings (tasks/localbuild); --revision: a commit to deploy
    build_on: str | None = None
    revision: str | None = None

    def build_on_for(self, host: Host, comp: App) -> str:
        from tasks.localbuild import build_on_for

        return build_on_for(host.settings, comp.name, self.build_on)

    def strategy_for(self, host: Host) -> str:
        chosen = self.strategy or host.settings.strategy
        if chosen not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {chosen!r} for {host.alias}",
                f"use one of: {', '.join(STRATEGIES)} (--strategy or the strategy setting)",
            )
        if chosen == "release":  # --strategy=release on hosts set to manual
            validate.release_paths(host.settings, host.alias)
        return chosen


def plans(comp: App, host: Host, task: str = "deploy", strategy: str = "manual",
          build_on: str = "host") -> list[Plan]:  # fmt: skip
    """The plans a task may run (a deploy may roll back), each rendered once with a dry
    view: a bad setting fails here, before any host is touched."""
    view = RunView(task, comp.name, host, new_run_id(), strategy, dry_run=True,
                   target=TARGET_PLACEHOLDER, build_on=build_on)  # fmt: skip
    if strategy == "release":
        from tasks.strategies.release.flow import example_plans

        found = example_plans(comp, view)
    else:
        proc = PROCEDURES[comp.name]
        found = [proc.plan(view), proc.rollback_plan(view)]
        found = found if task == "deploy" else found[1:]
    if task == "deploy":  # build_on: section L runs first (tasks/localbuild/flow.py)
        from tasks.localbuild.flow import plan_for

        found = [plan_for(view), *found]
    for plan in found:
        for step in plan.steps:
            step.shown(view)  # raises ConfigError on a bad smoke spec and the like
    return found


def preflight(comp: App, hosts: list[Host], secrets: Secrets, opts: Options,
              task: str = "deploy", missing: Missing | None = None) -> None:  # fmt: skip
    """Everything that can be known before any host is touched. What the operator has not
    given (.env keys; the connection files, unless a dry run) is refused once for all the
    hosts, or left in ``missing`` for the caller (a full deploy's components) to refuse."""
    report = missing or Missing(secrets, files=not opts.dry_run)
    for host in hosts:
        build_on = opts.build_on_for(host, comp)
        if task == "deploy" and build_on == "local":  # its origin: the inventory's alone
            from tasks.localbuild.checkout import require

            require(host.settings, comp.name, host.alias)
        found = plans(comp, host, task, opts.strategy_for(host), build_on)
        needs = comp.needs(host.settings) if task == "deploy" else []
        preflight_secrets(host, secrets, needs, tuple(found), missing=report)
        if not opts.dry_run:
            checklist.answerable(found, opts.yes, f"{task} {comp.name}")
    if missing is None:
        report.check()


def read_deployed(s: Session, comp: App) -> list[str]:
    """Check what the task relies on, read what is deployed (and, the manual strategy,
    whether the host changed outside the tool: tasks/strategies/drift.py); returns the
    deployed-revision stack."""
    return read_deployed_and(s, comp, [])[0]


def read_deployed_and(s: Session, comp: App,
                      also: list[str]) -> tuple[list[str], list[tuple[bool, str]]]:  # fmt: skip
    """:func:`read_deployed`, and the flow's own reads (``also``, e.g. the host's releases)
    in the same round trip: the checks, the checkout's HEAD, the stack, the root helper's
    version (privilege.helper_check) and those are all read in one batch (Session.batch),
    then judged: the checks, the helper, the checkout, the stack. Returns the stack and the
    answers to ``also`` (none in a dry run)."""
    proc = PROCEDURES[comp.name]
    s.state_command = proc.state_command(s.view)
    alias = s.view.host.alias
    if s.view.dry_run:
        s.recover_with = f"fab -H {alias} rollback-{comp.name}"
        return [], []
    settings = s.view.s.replace(strategy=s.view.strategy)
    checks = preconditions.for_deploy(settings, comp.name)
    checkout = comp.checkout(s.view.s)
    reads = [
        f"{{ {preconditions.command(checks)}\n}} 2>&1" if checks else "true",
        f"{shell.git_head(checkout)} 2>&1",  # its error, when it fails, is the message
        records.stack_command(s),
        privilege.helper_check(),
        *also,
    ]
    got = s.batch(reads)
    if checks:
        ok, out = got[0]
        preconditions.judge(s, f"{s.view.task}", ok, out, "\n".join(out.splitlines()[-2:]))
    privilege.judge_helper(alias, got[3][1])
    ok, head = got[1]
    if not ok:
        raise ConfigError(
            f"{checkout} on {alias} is not a git checkout {s.view.host.user} can use: "
            f"{head or 'failed'}",
            "check the *_dir settings and ansible_user for this host, or set the host up first",
        )
    head = head.splitlines()[-1] if head else ""  # a warning git printed comes before it
    stack = records.parse_stack(got[2][1])
    for rev in stack:
        if not values.is_revision(rev):
            raise ConfigError(
                f"the deployed-revision record {records.state_file(s)} on {alias} holds "
                f"{rev!r}, not a commit id",
                'fix that file (a JSON list of commit ids under "deployed") or remove it',
            )
    if s.view.strategy == "release":  # releases are their own record (release.info)
        s.set(from_rev=stack[-1] if stack else head)
    else:
        s.set(from_rev=drift.reconcile(s, comp, stack, head))
    s.recover_with = f"fab -H {alias} rollback-{comp.name} --to={s.view.from_rev[:12]}"
    return stack, got[4:]


def deploy_on(s: Session, comp: App, revision: str | None = None) -> None:
    """Deploy ``comp`` in an open session, with the session's strategy and build place."""
    from tasks.localbuild.flow import prepare

    proc = PROCEDURES[comp.name]
    _resolve_switch(s, comp)
    release_reads = _release_reads(s, comp)
    stack, got = read_deployed_and(s, comp, release_reads)
    v = s.view
    if not v.dry_run:
        s.set(to_rev=s.query(shell.git_remote_head(comp.checkout(v.s), v.s.git_remote,
                                                   v.s.git_branch)))  # fmt: skip
    if v.strategy != "release":
        _refuse_if_converted(s, comp)
    prepare(s, comp, revision)  # the revision, runtime checks, a local build: nothing changes yet
    if v.strategy == "release":
        from tasks.strategies.release import flow as release_flow

        release_flow.deploy_on(s, comp, stack, release_flow.state_from(s, comp, release_reads, got))
        return
    plan = proc.plan(s.view)
    checklist.run_phase(plan, s, checklist.BEFORE)
    s.execute(plan, rollback=proc.rollback_plan)
    checklist.during_and_after(plan, s, lambda no: s.rollback(proc.rollback_plan(s.view, no), no))
    if not s.view.dry_run:
        s.set(to_rev=s.query(shell.git_head(comp.checkout(s.view.s))))
        records.write_stack(s, records.pushed(stack, s.view.from_rev, s.view.to_rev))
        drift.remember(s, comp, s.view.to_rev)


def _resolve_switch(s: Session, comp: App) -> None:
    """The AI server's ai_switch=auto, decided on the host and said (release strategy)."""
    if comp.name == "ai" and s.view.strategy == "release":
        from tasks.apps.ai import release as release_ai

        release_ai.resolve_on(s)


def _release_reads(s: Session, comp: App) -> list[str]:
    """The release strategy's first look at the host (its releases, whether it is converted,
    the live port), read with the deploy's own first reads; none for the manual strategy."""
    if s.view.strategy != "release":
        return []
    from tasks.strategies.release import flow as release_flow

    return release_flow.state_reads(s, comp)


def _refuse_if_converted(s: Session, comp: App) -> None:
    """The manual strategy on a host converted to releases would change what does not serve."""
    from tasks.strategies.release.convert import is_converted

    if not s.view.dry_run and s.sh(is_converted(comp, s.view)).ok:
        raise ConfigError(
            f"{comp.label} on {s.view.host.alias} runs the release strategy "
            "(releases under releases_root): the manual strategy would change files that no "
            "longer serve",
            "deploy with --strategy=release (the default setting), and roll back with "
            f"`fab -H {s.view.host.alias} rollback-{comp.name}`",
        )


def deploy_host(comp: App, host: Host, secrets: Secrets, opts: Options,
                console: Console | None = None, remote=None) -> Session:  # fmt: skip
    strategy, build_on = opts.strategy_for(host), opts.build_on_for(host, comp)
    where = ", 로컬 빌드" if build_on == "local" else ""
    with session("deploy", comp.name, host, secrets, title=f"{comp.label} 배포 ({strategy}{where})",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=strategy, console=console,
                 remote=remote, message=opts.message) as s:  # fmt: skip
        s.set(build_on=build_on)
        deploy_on(s, comp, opts.revision)
    return s


def rollback_host(comp: App, host: Host, secrets: Secrets, opts: Options,
                  to: str | None = None) -> Session:  # fmt: skip
    proc = PROCEDURES[comp.name]
    to = values.rollback_target(to) if to else None
    strategy = opts.strategy_for(host)
    with session("rollback", comp.name, host, secrets, title=f"{comp.label} 롤백 ({strategy})",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=strategy,
                 message=opts.message) as s:  # fmt: skip
        s.set(build_on=opts.build_on_for(host, comp))  # the AI's reinstall needs no index then
        _resolve_switch(s, comp)
        release_reads = _release_reads(s, comp)
        stack, got = read_deployed_and(s, comp, release_reads)
        if strategy == "release":
            from tasks.strategies.release import flow as release_flow

            state = release_flow.state_from(s, comp, release_reads, got)
            bad, _ = release_flow.roll_back(s, comp, to, state=state)
            if not opts.dry_run:
                records.write_stack(s, records.popped(stack, s.view.from_rev, s.view.back_to))
            return s
        _refuse_if_converted(s, comp)
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
    from tasks.apps.database import backup

    report = Missing(secrets, files=False)
    for host in hosts:
        view = RunView(task, "database", host, new_run_id(), dry_run=True)
        plan = backup.backup_plan(view) if task == "backup" else backup.restore_plan(view)
        st = host.settings
        needs = [(st.db_backup_password_env, f"MySQL {task} (the backup account)")]
        if task == "restore":
            needs.append((st.db_password_env, f"MySQL restore (the admin {st.db_user})"))
        preflight_secrets(host, secrets, needs, (plan,), view, missing=report)
    report.check()


def backup_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    """Manual B3–B4 alone (`fab backup-db`), recorded like a deploy."""
    from tasks.apps.database import backup

    with session("backup", "database", host, secrets, title="DB 백업", dry_run=opts.dry_run,
                 yes=True, message=opts.message) as s:  # fmt: skip
        s.execute(backup.backup_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"백업 파일: {backup.backup_file(s.view)}")
    return s


def restore_host(host: Host, secrets: Secrets, source: str | None, opts: Options) -> Session:
    """Restore the DB from a backup (the newest unless named), after a safety backup."""
    from tasks.apps.database import backup

    source = values.restore_source(source) if source else source
    with session("restore", "database", host, secrets, title="DB 복원", dry_run=opts.dry_run,
                 yes=opts.yes, message=opts.message) as s:  # fmt: skip
        st = host.settings
        if not source and not opts.dry_run:
            source = s.query(
                f"ls -1t -- {q(st.backup_dir)}/{backup.PREFIX}*.sql.gz 2>/dev/null | head -1"
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
        with admin_steps(s.remote, host, secrets, s.view.run_id):  # D4: the admin's, as root
            s.execute(backup.restore_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"복원 전 데이터: {safety} (되돌리려면 --backup 으로 지정)")
    return s
