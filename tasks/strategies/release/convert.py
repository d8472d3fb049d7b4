"""A manual-strategy host becomes a release-strategy host, once, while it keeps serving.

What serves now is adopted as the first ("legacy") release, so a rollback can go back to it;
each app says how (its release plans, tasks/apps/<app>/release.py: ``convert``):
- frontend: the web root's files become a release; the web root becomes a symlink;
- backend: the running jar becomes a release; the switch table (switchtable.py) sends nginx's upstream port to the manual unit's port, the template unit
  and the site with its ``include`` are pushed (validated first); the release starts on the
  first blue/green port, the switch moves to it (the root helper's, no reload), then the
  manual unit stops;
- AI: the served revision is built as a release (its own venv) and ``current`` points at it;
  the unit that runs ``current`` is pushed (one restart, gated on health, rolled back on
  failure).
The first release deploy does it (and says so); ``fab setup`` does it too.
"""

from __future__ import annotations

import dataclasses

from tasks.apps.base import App
from tasks.config.push import push_on
from tasks.engine.session import Session
from tasks.engine.view import RunView, earlier_run_id
from tasks.strategies.release import plans, switchtable


def is_converted(comp: App, v: RunView) -> str:
    """A command that succeeds when ``comp`` already runs the release strategy's way,
    decided from what root made in the conversion (never from the deploy login's files):
    the app says what (its release plans' ``converted``: the blue/green template unit and
    the nginx upstream file; the web root's link; the AI unit's working directory)."""
    return plans.of(comp).converted(v)


def _release_settings(s: Session):
    """The host, as the release strategy renders its config."""
    host = s.view.host
    return dataclasses.replace(host, settings=host.settings.replace(strategy="release"))


def convert(s: Session, comp: App) -> None:
    """The app's own conversion (its release plans' ``convert``), given the release that
    served before this run and the config push, rendered for the release strategy."""

    # the release that served before this run sorts before the release it makes
    legacy = s.view.but(run_id=earlier_run_id(s.view.run_id), to_rev=s.view.from_rev)
    host = _release_settings(s)
    plans.of(comp).convert(s, legacy, host.settings, lambda only: _push(s, host, only, comp))


def _push(s: Session, host, only: set[str], comp: App) -> list:
    """A conversion's config push. The release site includes every blue/green pair's nginx
    upstream file: while another app's pair on this host is not laid out yet (setup taking a
    new host to releases, one app after another), the site waits for the conversion that
    lays out the last one (setup pushes everything once more at its end); the rest goes
    now. (``comp``'s own pair its conversion laid out before it pushes the site.)"""
    if "nginx" in only and not s.view.dry_run:
        view = s.view.but(host=host)
        waiting = [p for p in switchtable.converted_pairs(view)
                   if p.component.name != comp.name and not s.sh(p.laid_out(host.settings)).ok]  # fmt: skip
        if waiting:
            names = ", ".join(p.component.label for p in waiting)
            s.console.out(
                f"사이트(nginx)는 {names}의 전환 뒤에 바꿉니다 (upstream 파일이 아직 없음)"
            )
            only = set(only) - {"nginx"}
            if not only:
                return []
    return push_on(s, host, only=only)
