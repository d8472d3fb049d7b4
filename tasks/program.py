"""The ``dojangkok`` command: Fabric's ``fab`` with this tool's tasks built in.

``pipx install .`` (or ``pip install .``, ``uv tool install .``) installs it; it takes the
same tasks and flags as ``fab`` in a clone (``dojangkok -H cpu deploy-backend --dry-run``)
and needs no fabfile: the collection is bundled, so it runs from any directory, e.g. the
operator's own one holding ``hosts.ini`` and ``.env`` (tasks/hosts/inventory.py and
secrets.py say how those are found). Both commands run tasks through :class:`Executor`
(``fab`` through the ``tasks.executor_class`` setting in the clone's ``fabric.yaml``).
"""

from __future__ import annotations

from fabric import Config
from fabric import Executor as FabricExecutor
from fabric.main import Fab
from invoke import Exit, Task

from tasks import targets
from tasks.errors import ConfigError

NAME = "dojangkok"


class Executor(FabricExecutor):
    """Fabric's executor, with the -H list checked as a whole before any task runs
    (tasks/targets.py): hosts outside a task's group refused, duplicates run once."""

    def expand_calls(self, calls, apply_hosts=True):
        if apply_hosts:
            self._check_hosts(calls)
        return super().expand_calls(calls, apply_hosts)

    def _check_hosts(self, calls) -> None:
        arg = self.core[0].args.hosts
        if not arg.value:
            return
        tasks = [c if isinstance(c, Task) else c.task for c in calls]
        asked = [(t.name.replace("_", "-"), targets.rule_of(t.body)) for t in tasks]
        try:
            arg.value, twice = targets.checked(arg.value, asked, _inventory)
        except ConfigError as exc:
            from tasks import cli

            dry = any(getattr(c, "kwargs", {}).get("dry_run") for c in calls)
            if not dry:
                cli.record_refusal(asked[0][0] if asked else "", arg.value, exc)
            raise Exit(f"\nERROR: {exc}", code=1) from None
        if twice:
            print(
                f"참고: -H가 {', '.join(twice)}을(를) 두 번 이상 가리킵니다: 한 번씩만 실행합니다."
            )


def _inventory():
    from tasks.hosts import inventory

    return inventory.load()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dojangkok-deploy")
    except PackageNotFoundError:  # a clone that was never installed
        return "unknown"


def make_program() -> Fab:
    from tasks import ns

    return Fab(name="dojangkok-deploy", version=_version(), namespace=ns,
               executor_class=Executor, config_class=Config, binary_names=[NAME])  # fmt: skip


def main() -> None:
    """The console script ``dojangkok`` (pyproject.toml)."""
    make_program().run()
