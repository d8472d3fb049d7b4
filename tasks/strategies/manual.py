"""The manual strategy: the manual's steps, in place (each app's plans: tasks/apps/<app>/
manual.py), a rollback by the deployed-revision stack, and the drift check (drift.py).

deploy:   배포 전 checklist → steps (policies, rollback) → 배포 중/후 checklist → the stack
rollback: the previously deployed revision (or ``--to``) → the rollback plan → the stack
"""

from __future__ import annotations

from tasks import shell
from tasks.apps.base import App, FirstLook, Strategy
from tasks.engine import checklist, records
from tasks.engine.session import Session
from tasks.engine.steps import Plan
from tasks.engine.view import TARGET_PLACEHOLDER, RunView
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.strategies import drift, hooks
from tasks.strategies.release.convert import is_converted


class Manual(Strategy):
    name = "manual"
    pulls_branch_head = True

    def plans(self, app: App, view: RunView, task: str = "deploy") -> list[Plan]:
        proc = app.plans("manual")
        found = [proc.plan(view), proc.rollback_plan(view)]
        return found if task == "deploy" else found[1:]

    def downtime_note(self, app: App, s: Settings) -> str:
        return app.manual_downtime

    def read_state(self, s: Session, app: App, first: FirstLook) -> None:
        """The deployed-revision stack (in ``first``) is all this strategy keeps."""
        return None

    def deployed_from(self, s: Session, app: App, first: FirstLook) -> str:
        return drift.reconcile(s, app, list(first.stack), first.head)

    def refuse_before_prepare(self, s: Session, app: App) -> None:
        refuse_if_converted(s, app)

    def deploy(self, s: Session, app: App, first: FirstLook, state: object) -> None:
        proc = app.plans("manual")
        plan = proc.plan(s.view)
        if hooks.ignored(s.view):
            s.console.out(hooks.ignored(s.view))
        checklist.run_phase(plan, s, checklist.BEFORE)
        s.execute(plan, rollback=proc.rollback_plan)
        checklist.during_and_after(
            plan, s, lambda no: s.rollback(proc.rollback_plan(s.view, no), no)
        )
        if not s.view.dry_run:
            s.set(to_rev=s.query(shell.git_head(app.checkout(s.view.s))))
            records.write_stack(s, records.pushed(list(first.stack), s.view.from_rev,
                                                  s.view.to_rev))  # fmt: skip
            drift.remember(s, app, s.view.to_rev)

    def rollback(self, s: Session, app: App, first: FirstLook, state: object,
                 to: str | None) -> None:  # fmt: skip
        refuse_if_converted(s, app)
        v, stack = s.view, list(first.stack)
        target = to or (records.previous(stack, v.from_rev) if not v.dry_run else "")
        if not target and not v.dry_run:
            raise ConfigError(
                f"{v.host.alias}에 이전에 배포한 {app.name} 리비전 기록이 없습니다",
                "--to=<리비전>을 주십시오 (`fab history`나 호스트의 `git log`로 찾을 수 있습니다)",
            )
        s.set(target=target or TARGET_PLACEHOLDER)
        s.set_recovery(f"fab -H {v.host.alias} rollback-{app.name} --to={s.view.back_to[:12]}")
        s.console.out(f"롤백 대상: {s.view.from_rev[:12]} → {s.view.back_to[:12]}")
        s.execute(app.plans("manual").rollback_plan(s.view, "operator"))
        if not v.dry_run:
            records.write_stack(s, records.popped(stack, s.view.from_rev, s.view.back_to))
            drift.remember(s, app, s.view.back_to)


def refuse_if_converted(s: Session, comp: App) -> None:
    """The manual strategy on a host converted to releases would change what does not serve."""
    if not s.view.dry_run and s.sh(is_converted(comp, s.view)).ok:
        raise ConfigError(
            f"{s.view.host.alias}의 {comp.label}은(는) release 전략으로 돌고 있습니다 "
            "(releases_root 아래 release): manual 전략은 더 이상 서비스하지 않는 파일을 바꾸게 "
            "됩니다 (runs the release strategy)",
            "--strategy=release(기본 설정)로 배포하고, 롤백은 "
            f"`fab -H {s.view.host.alias} rollback-{comp.name}`으로 하십시오",
        )


MANUAL = Manual()
