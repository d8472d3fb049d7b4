"""The release strategy as a Strategy (tasks/apps/base.py): a new directory per release,
switched to (blue/green for an app with a pair); the flows are in flow.py, the conversion
of a manual host in convert.py."""

from __future__ import annotations

from tasks.apps.base import App, FirstLook, Strategy
from tasks.engine import records
from tasks.engine.session import Session
from tasks.engine.steps import Plan
from tasks.engine.view import RunView
from tasks.hosts.settings import Settings
from tasks.strategies.release import flow, plans


class Release(Strategy):
    name = "release"
    keeps_releases = True
    runs_blue_green = True
    deploys_without_outage = True

    def plans(self, app: App, view: RunView, task: str = "deploy") -> list[Plan]:
        return flow.example_plans(app, view)

    def downtime_note(self, app: App, s: Settings) -> str:
        return app.release_downtime(s)

    def health_command(self, app: App, s: Settings) -> str:
        """A blue/green pair's: the instance the switch sends requests to."""
        pair = plans.of(app).pair(s)
        return pair.live_health(s) if pair is not None else app.health(s, None).command()

    def reads(self, s: Session, app: App) -> dict[str, str]:
        plans.of(app).resolve_on(s)  # what the app decides on the host (ai_switch=auto), said
        return flow.state_reads(s, app)

    def deployed_from(self, s: Session, app: App, first: FirstLook) -> str:
        """Releases are their own record (release.info): the stack's top, else HEAD."""
        return first.stack[-1] if first.stack else first.head

    def read_state(self, s: Session, app: App, first: FirstLook) -> flow.HostState:
        return flow.state_from(s, app, first.answers)

    def deploy(self, s: Session, app: App, first: FirstLook, state: object) -> None:
        flow.deploy_on(s, app, list(first.stack), state)

    def rollback(self, s: Session, app: App, first: FirstLook, state: object,
                 to: str | None) -> None:  # fmt: skip
        flow.roll_back(s, app, to, state=state)
        if not s.view.dry_run:
            records.write_stack(s, records.popped(list(first.stack), s.view.from_rev,
                                                  s.view.back_to))  # fmt: skip


RELEASE = Release()
