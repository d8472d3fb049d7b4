"""Each app's release-strategy plans (tasks/apps/<app>/release.py), by the app."""

from __future__ import annotations

from types import ModuleType

from tasks.apps.base import App


def of(app: App) -> ModuleType:
    return app.plans("release")
