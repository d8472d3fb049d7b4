"""Which kind of build an app makes (tasks/apps/base.py JAR, TREE, WHEELHOUSE): what the
local build's modules ask instead of the app's name."""

from __future__ import annotations

from tasks.apps import registry
from tasks.apps.base import JAR, TREE, WHEELHOUSE, App, BuildOutput
from tasks.engine.view import RunView

__all__ = ["JAR", "TREE", "WHEELHOUSE", "app", "output", "kind"]


def app(v: RunView) -> App:
    return registry.get(v.component)


def output(v: RunView) -> BuildOutput:
    """What the view's app builds, with the view's settings."""
    return app(v).build_output(v.s)


def kind(v: RunView) -> str:
    """The kind of build the view's app makes ("" for a view of no app: a preflight's)."""
    found = registry.APPS.get(v.component)
    return found.build_output(v.s).kind if found is not None else ""
