"""The shared dispatch around a strategy's flows, on a session: deploy, rollback (the
strategy: tasks/apps/base.py Strategy, implemented in manual.py and release/strategy.py),
and the database's backup and restore.

deploy:   the first look (one round trip: firstlook.py) → the revision and a local build's
          preparation (tasks/localbuild/flow.py) → the strategy's deploy
rollback: the first look → the strategy's rollback
The session (tasks/engine/session.py) does the rest: connect, lock, banner, summary,
record, notice, and what Ctrl-C or a dropped connection means.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks import shell
from tasks.apps.base import App, FirstLook
from tasks.apps.database import backup
from tasks.engine import checklist
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
from tasks.localbuild import build_on_for
from tasks.localbuild.checkout import require
from tasks.localbuild.flow import plan_for, prepare
from tasks.shell import q
from tasks.strategies import firstlook, noop
from tasks.strategies.registry import STRATEGIES, strategy_for


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
    #: --lock-wait: seconds to wait for a held deploy lock (0: refused at once)
    lock_wait: float = 0
    #: --force: deploy even when the target revision already serves (tasks/strategies/noop.py)
    force: bool = False

    def build_on_for(self, host: Host, comp: App) -> str:
        return build_on_for(host.settings, comp.name, self.build_on)

    def strategy_for(self, host: Host) -> str:
        chosen = self.strategy or host.settings.strategy
        if chosen not in STRATEGIES:
            raise ConfigError(
                f"{host.alias}: 알 수 없는 전략입니다: {chosen!r} (unknown strategy)",
                f"{', '.join(STRATEGIES)} 중 하나를 쓰십시오 (--strategy 또는 설정 strategy)",
            )
        if strategy_for(chosen).keeps_releases:  # --strategy=release on hosts set to manual
            validate.release_paths(host.settings, host.alias)
        return chosen


def plans(comp: App, host: Host, task: str = "deploy", strategy: str = "manual",
          build_on: str = "host") -> list[Plan]:  # fmt: skip
    """The plans a task may run (a deploy may roll back), each rendered once with a dry
    view: a bad setting fails here, before any host is touched."""
    view = RunView(task, comp.name, host, new_run_id(), strategy, dry_run=True,
                   target=TARGET_PLACEHOLDER, build_on=build_on)  # fmt: skip
    found = strategy_for(strategy).plans(comp, view, task)
    if task == "deploy":  # build_on: section L runs first (tasks/localbuild/flow.py)
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
            require(host.settings, comp.name, host.alias)
        found = plans(comp, host, task, opts.strategy_for(host), build_on)
        needs = comp.needs(host.settings) if task == "deploy" else []
        preflight_secrets(host, secrets, needs, tuple(found), missing=report)
        if not opts.dry_run:
            checklist.answerable(found, opts.yes, f"{task} {comp.name}")
    if missing is None:
        report.check()


def read_deployed(s: Session, comp: App) -> list[str]:
    """Check what the task relies on, read what is deployed (firstlook.read); returns the
    deployed-revision stack."""
    return list(firstlook.read(s, comp).stack)


def look(s: Session, comp: App) -> FirstLook:
    """The first round trip, with the session's strategy's own reads."""
    return firstlook.read(s, comp, strategy_for(s.view.strategy).reads(s, comp))


def deploy_on(s: Session, comp: App, revision: str | None = None, force: bool = False) -> None:
    """Deploy ``comp`` in an open session, with the session's strategy and build place;
    skipped when its revision already serves, unless ``force`` (tasks/strategies/noop.py)."""
    strategy = strategy_for(s.view.strategy)
    first = look(s, comp)
    v = s.view
    if not v.dry_run:
        s.set(to_rev=s.query(shell.git_remote_head(comp.checkout(v.s), v.s.git_remote,
                                                   v.s.git_branch)))  # fmt: skip
    strategy.refuse_before_prepare(s, comp)
    state = strategy.read_state(s, comp, first)
    if not v.dry_run and not force and _serves_already(s, comp, strategy, first, state, revision):
        return
    prepare(s, comp, revision)  # the revision, runtime checks, a local build: nothing changes yet
    strategy.deploy(s, comp, first, state)


def _serves_already(s: Session, comp: App, strategy, first: FirstLook, state,
                    revision: str | None) -> bool:  # fmt: skip
    """The target revision serves, and the host says nothing against skipping: the run ends
    as ``skipped`` (its record says so), before anything is prepared or changed."""
    if revision and s.view.build_on == "host" and strategy.pulls_branch_head:
        return False  # refused by prepare (--revision needs a local build there)
    said = noop.check(s, comp, strategy, first, state, revision or s.view.to_rev)
    if said:
        s.report.result, s.report.message = noop.SKIPPED, said
    return bool(said)


def deploy_host(comp: App, host: Host, secrets: Secrets, opts: Options,
                console: Console | None = None, remote=None) -> Session:  # fmt: skip
    strategy, build_on = opts.strategy_for(host), opts.build_on_for(host, comp)
    where = ", 로컬 빌드" if build_on == "local" else ""
    with session("deploy", comp.name, host, secrets, title=f"{comp.label} 배포 ({strategy}{where})",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=strategy, console=console,
                 remote=remote, message=opts.message,
                 lock_wait=opts.lock_wait) as s:  # fmt: skip
        s.set(build_on=build_on)
        deploy_on(s, comp, opts.revision, force=opts.force)
    return s


def rollback_host(comp: App, host: Host, secrets: Secrets, opts: Options,
                  to: str | None = None) -> Session:  # fmt: skip
    to = values.rollback_target(to) if to else None
    strategy = opts.strategy_for(host)
    with session("rollback", comp.name, host, secrets, title=f"{comp.label} 롤백 ({strategy})",
                 dry_run=opts.dry_run, yes=opts.yes, strategy=strategy,
                 message=opts.message, lock_wait=opts.lock_wait) as s:  # fmt: skip
        s.set(build_on=opts.build_on_for(host, comp))  # the AI's reinstall needs no index then
        chosen = strategy_for(strategy)
        first = look(s, comp)
        chosen.rollback(s, comp, first, chosen.read_state(s, comp, first), to)
    return s


def preflight_database(hosts: list[Host], secrets: Secrets, task: str) -> None:
    """backup-db / restore-db: the DB password is there and can be hidden."""
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
    with session("backup", "database", host, secrets, title="DB 백업", dry_run=opts.dry_run,
                 yes=True, message=opts.message, lock_wait=opts.lock_wait) as s:  # fmt: skip
        s.execute(backup.backup_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"백업 파일: {backup.backup_file(s.view)}")
    return s


def restore_host(host: Host, secrets: Secrets, source: str | None, opts: Options) -> Session:
    """Restore the DB from a backup (the newest unless named), after a safety backup."""
    source = values.restore_source(source) if source else source
    with session("restore", "database", host, secrets, title="DB 복원", dry_run=opts.dry_run,
                 yes=opts.yes, message=opts.message, lock_wait=opts.lock_wait) as s:  # fmt: skip
        st = host.settings
        if not source and not opts.dry_run:
            source = s.query(
                f"ls -1t -- {q(st.backup_dir)}/{backup.PREFIX}*.sql.gz 2>/dev/null | head -1"
            )
            if not source:
                raise ConfigError(f"{host.alias}의 {st.backup_dir}에 백업이 없습니다 (no backup)",
                                  f"먼저 `fab -H {host.alias} backup-db`를 실행하십시오")  # fmt: skip
        if source:
            s.set(restore_from=source)
        safety = backup.backup_file(s.view)
        s.set_recovery(f"fab -H {host.alias} restore-db --backup={safety}")
        question = f"{st.db_name} 데이터베이스를 {source or '최신 백업'}(으)로 덮어씁니까?"
        if not opts.dry_run and not checklist.ask(question, opts.yes)[0]:
            raise ConfigError(
                "복원을 취소했습니다 (restore declined)", "아무것도 바꾸지 않았습니다"
            )
        with admin_steps(s.remote, host, secrets, s.view.run_id):  # D4: the admin's, as root
            s.execute(backup.restore_plan(s.view))
        if not opts.dry_run:
            s.console.out(f"복원 전 데이터: {safety} (되돌리려면 --backup 으로 지정)")
    return s
