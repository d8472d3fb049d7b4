"""Each app's release-strategy plans (tasks/apps/<app>/release.py), by the app."""

from __future__ import annotations

from types import ModuleType

from tasks.apps.ai import release as release_ai
from tasks.apps.backend import release as release_backend
from tasks.apps.base import App
from tasks.apps.frontend import release as release_frontend

RELEASES = {"frontend": release_frontend, "backend": release_backend, "ai": release_ai}


def of(app: App) -> ModuleType:
    return RELEASES[app.name]
