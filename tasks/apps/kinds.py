"""An app whose kind a setting chooses: the one place that picks the App for a host.

The registry lists one app per name (the task names stay ``deploy-<name>``); where a setting
chooses how that app is built and served (``frontend_kind``: the manual's static build, or a
Node server), the registry's entry is a :class:`ByKind`. Every question that takes the
host's settings is answered by the kind those settings choose (:meth:`ByKind.of`); its plans
(``plans(strategy)``) are the chosen kind's plan module, picked by the settings each plan
builder is given (a Settings, a RunView's, a Session's). Nothing outside this module asks
which kind an app is.

A kind says itself what it is where it cannot serve yet (the Node frontend under the manual
strategy, before a host is converted, answers as the static site that still serves, and has
no manual deploy: tasks/apps/frontend_node/).
"""

from __future__ import annotations

from types import ModuleType

from tasks.apps.base import App
from tasks.engine.view import RunView
from tasks.hosts.settings import Settings

#: App methods whose first argument is the host's Settings: asked of the chosen kind
BY_SETTINGS = (
    "checkout", "service", "health", "setup_units", "port", "pair_ports", "instance",
    "serving", "needs", "env", "service_user", "writable", "first_build_command",
    "manual_paths", "build_output", "built", "config_files", "facts_command", "decide",
    "served_file", "smoke", "release_unit", "release_downtime", "serves_yet",
)  # fmt: skip


def settings_of(arg: object) -> Settings:
    """The settings a plan builder's first argument carries: a Settings, a RunView's, a Session's."""
    if isinstance(arg, Settings):
        return arg
    if isinstance(arg, RunView):
        return arg.s
    view = getattr(arg, "view", None)  # a Session (or what stands for one)
    if isinstance(view, RunView):
        return view.s
    raise TypeError(f"no settings in {type(arg).__name__}: cannot tell the app's kind")


class ByKind(App):
    """One app name, several kinds; ``setting`` names the kind (its first value the default)."""

    def __init__(self, setting: str, kinds: dict[str, App]):
        default = next(iter(kinds.values()))
        if any(k.name != default.name or k.group != default.group for k in kinds.values()):
            raise ValueError("every kind of an app has its name and group")
        self.setting, self.kinds, self.default = setting, kinds, default
        # what is asked without settings (names, help, the manual's words) is the default's
        for attr in ("name", "label", "section", "manual_title", "group", "deploy_help",
                     "rollback_help", "first_build", "serves_its_checkout", "manual_downtime"):  # fmt: skip
            setattr(self, attr, getattr(default, attr))
        # push-config's files whose reload any kind's health check proves
        self.config_keys = tuple(dict.fromkeys(k for a in kinds.values() for k in a.config_keys))

    def chosen(self, s: Settings) -> str:
        return str(getattr(s, self.setting))

    def of(self, s: Settings) -> App:
        """The kind these settings choose."""
        return self.kinds.get(self.chosen(s), self.default)

    def plans(self, strategy: str) -> ModuleType:
        return KindPlans(self, strategy)  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"<app {self.name} by {self.setting}>"


def _delegate(name: str):
    def method(self: ByKind, s: Settings, *args, **kwargs):
        return getattr(self.of(s), name)(s, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = getattr(App, name).__doc__
    return method


for _name in BY_SETTINGS:
    setattr(ByKind, _name, _delegate(_name))


class KindPlans:
    """The plans of a :class:`ByKind` app for one strategy: each plan builder is the chosen
    kind's (by the settings of its first argument); a value (``SECTION``, a blue/green
    ``PAIR``) is the default kind's, else the first kind's that has one (as the AI's pair is
    set up whatever ai_switch says, so choosing the kind needs no new root config)."""

    def __init__(self, app: ByKind, strategy: str):
        self._app, self._strategy = app, strategy

    def __getattr__(self, name: str):
        modules = [k.plans(self._strategy) for k in (self._app.default, *self._app.kinds.values())]
        found = [getattr(m, name) for m in modules if hasattr(m, name)]
        if not found:
            raise AttributeError(name)
        if not callable(found[0]):
            return found[0]

        def chosen(first, *args, **kwargs):
            module = self._app.of(settings_of(first)).plans(self._strategy)
            return getattr(module, name)(first, *args, **kwargs)

        chosen.__name__ = name
        return chosen
