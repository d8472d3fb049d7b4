"""The ``dojangkok`` command: Fabric's ``fab`` with this tool's tasks built in.

``pipx install .`` (or ``pip install .``, ``uv tool install .``) installs it; it takes the
same tasks and flags as ``fab`` in a clone (``dojangkok -H cpu deploy-backend --dry-run``)
and needs no fabfile: the collection is bundled, so it runs from any directory, e.g. the
operator's own one holding ``hosts.ini`` and ``.env`` (tasks/hosts/inventory.py and
secrets.py say how those are found). Both commands run tasks through :class:`Executor`
(``fab`` through the ``tasks.executor_class`` setting in the clone's ``fabric.yaml``).
"""

from __future__ import annotations

import os
import re
import sys

from fabric import Config
from fabric import Executor as FabricExecutor
from fabric.main import Fab
from invoke import Argument, Call, Exit, ParseError, Task

from tasks import cli, ns, suggest, targets
from tasks.errors import ConfigError
from tasks.hosts import environment, inventory
from tasks.procedures.run import COMMAND_KEY, HOSTS_KEY

NAME = "dojangkok"
#: the program-level option that names the environment (tasks/hosts/environment.py)
ENV_FLAG = "env"
ENV_HELP = (
    "환경 이름: hosts.NAME.ini와 .env.NAME을 씁니다 (DOJANGKOK_ENVIRONMENT=NAME과 같음; "
    "DOJANGKOK_HOSTS / DOJANGKOK_ENV가 지정한 파일이 우선)"
)
#: the task a command after ``--`` runs through (``fab -H cpu -- CMD`` is ``fab -H cpu run -- CMD``)
RUN_TASK = "run"


class Executor(FabricExecutor):
    """Fabric's executor, with the -H list checked as a whole before any task runs
    (tasks/targets.py): hosts outside a task's group refused, duplicates run once."""

    def execute(self, *tasks):
        """A named environment whose files are missing is refused before any task runs."""
        try:
            missing = environment.missing_files()
        except ConfigError as exc:  # DOJANGKOK_ENVIRONMENT with a name no file can take
            missing = exc
        if missing is not None:
            raise Exit(f"\nERROR: {missing}", code=1)
        return super().execute(*tasks)

    def expand_calls(self, calls, apply_hosts=True):
        if apply_hosts:
            calls = self._remainder_to_run(calls)
            self._check_hosts(calls)
            if calls and all(_name(c) == RUN_TASK for c in calls):
                # one call for every host -H names: the run task goes through them itself
                # (a prefix per host, the worst exit status; Fabric would stop at the first)
                self.config[HOSTS_KEY] = self.core[0].args.hosts.value or ""
                return super().expand_calls(calls, apply_hosts=False)
        return super().expand_calls(calls, apply_hosts)

    def _remainder_to_run(self, calls):
        """The command after ``--`` goes to the run task (the inventory's connection, the
        lock's rules, the record), never to Fabric's own anonymous task (a bare connection
        to the -H text, which ignores hosts.ini). ``fab -H cpu -- CMD`` is ``fab -H cpu run
        -- CMD``; with another task it is refused."""
        remainder = self.core.remainder
        others = [_name(c) for c in calls if _name(c) != RUN_TASK]
        if remainder and others:
            raise Exit(
                f"\nERROR: `--` 뒤의 명령은 run 작업만 받습니다 ({', '.join(others)}은(는) 받지 "
                f"않습니다)\n  → 명령은 따로 실행하십시오: fab -H <호스트> run -- {remainder}",
                code=1,
            )
        self.config[COMMAND_KEY] = remainder
        self.core.remainder = ""  # Fabric's executor would add its anonymous task for it
        if remainder and not calls:
            calls = [Call(ns[RUN_TASK])]
        return calls

    def _check_hosts(self, calls) -> None:
        arg = self.core[0].args.hosts
        if not arg.value:
            return
        tasks = [c if isinstance(c, Task) else c.task for c in calls]
        asked = [(t.name.replace("_", "-"), targets.rule_of(t.body)) for t in tasks]
        try:
            suggest.check_targets(arg.value, _inventory)
            arg.value, twice = targets.checked(arg.value, asked, _inventory)
        except ConfigError as exc:
            dry = any(getattr(c, "kwargs", {}).get("dry_run") for c in calls)
            if not dry:
                cli.record_refusal(asked[0][0] if asked else "", arg.value, exc)
            raise Exit(f"\nERROR: {exc}", code=1) from None
        if twice:
            print(
                f"참고: -H가 {', '.join(twice)}을(를) 두 번 이상 가리킵니다: 한 번씩만 실행합니다."
            )


def _name(call) -> str:
    return (call if isinstance(call, Task) else call.task).name.replace("_", "-")


def _inventory():

    return inventory.load()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dojangkok-deploy")
    except PackageNotFoundError:  # a clone that was never installed
        return "unknown"


class Program(Fab):
    """Fabric's ``fab`` program with the tool's collection bundled; a task or flag it does not
    know is said in Korean with the closest names (tasks/suggest.py), never Fabric's bare
    "No idea what ... is!"."""

    def core_args(self):
        """Fabric's own options, but ``-d`` is no ``--debug``: given before the task name
        (``fab -d -H cpu deploy-backend``) it would deploy for real, with debug output, to an
        operator who meant ``--dry-run`` (the tasks' ``-d``). It is refused there instead.
        And ``--env NAME``: the environment (tasks/hosts/environment.py)."""
        args = super().core_args()
        for arg in args:
            if arg.name == "debug":
                arg.names = tuple(n for n in arg.names if n != "d")
        return [*args, Argument(names=(ENV_FLAG,), help=ENV_HELP)]

    def parse_core(self, argv):
        """``--env NAME`` becomes ``DOJANGKOK_ENVIRONMENT=NAME`` before anything else runs
        (loading the collection, any task): every module only reads that variable."""
        super().parse_core(argv)
        self._set_environment()

    def _set_environment(self) -> None:
        chosen = self.args[ENV_FLAG].value
        if chosen is None:
            return
        try:
            os.environ[environment.KEY] = environment.checked(chosen.strip())
        except ConfigError as exc:
            raise Exit(f"ERROR: {exc}", code=1) from None

    def parse_tasks(self):
        try:
            super().parse_tasks()
        except ParseError as exc:
            raise self._unknown(exc) from None
        # invoke takes a core option after the task's name too (`deploy-backend --env prod`),
        # into the same core arguments: it must choose the environment just the same
        self._set_environment()

    def parse_cleanup(self):
        try:
            super().parse_cleanup()
        except ParseError as exc:  # `--help <typo>`
            raise self._unknown(exc) from None

    def _unknown(self, exc: ParseError) -> Exception:
        found = UNKNOWN.fullmatch(str(exc))
        if not found:
            return exc
        token = found.group(1)
        context = getattr(exc, "context", None)
        if token in ("-d", "--dry-run") and not getattr(context, "name", None):
            return Exit(
                f"ERROR: {token}: -d와 --dry-run은 작업의 옵션이라 작업 이름 뒤에 씁니다 (아무것도 "
                "실행하지 않았습니다)\n  → 예: fab -H cpu deploy-backend -d",
                code=1,
            )
        if token.startswith("-"):
            task = getattr(context, "name", None) or ""
            flags = list(getattr(context, "flags", {}) or {})
            problem, fix = suggest.unknown_flag(token, task, flags)
        else:
            problem, fix = suggest.unknown_task(token, self._task_names())
        return Exit(f"ERROR: {problem}\n  → {fix}", code=1)

    def _task_names(self) -> list[str]:
        names = []
        for name in self.collection.task_names:
            names.append(name)
            names.extend(self.collection.task_names[name])
        return names


#: how invoke's parser says it met a word it does not know
UNKNOWN = re.compile(r"No idea what '(.+)' is!")


def make_program() -> Fab:
    return Program(name="dojangkok-deploy", version=_version(), namespace=ns,
                   executor_class=Executor, config_class=Config, binary_names=[NAME])  # fmt: skip


def main() -> None:
    """The console script ``dojangkok`` (pyproject.toml)."""
    try:
        make_program().run()
    except BrokenPipeError:  # `fab settings | head`: the reader is gone, nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # as a shell reports a command ended by SIGPIPE
