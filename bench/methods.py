"""Deploy methods (the report's columns): how each one deploys, rolls back and fully deploys
a component on the lab.

- `script`: the manual's own scripts (bench/manual_scripts/, verbatim), run over ssh as the
  login user `deploy` from /app/scripts on the host the manual runs them on.
- any other name: `fab … --strategy=<name>`. When fab has no `--strategy` option yet, the
  method `manual` runs fab without it (it is the only strategy then) and other names are
  skipped with a note.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench import commands, manual

HOST = {"frontend": "cpu", "backend": "cpu", "ai": "gpu"}
FAB_TASKS = {
    "deploy": "deploy-{c}",
    "rollback": "rollback-{c}",
    "full": "full-deploy",
}
SCRIPTS = {
    ("deploy", "frontend"): "deploy_frontend.sh",
    ("deploy", "backend"): "deploy_backend.sh",
    ("deploy", "ai"): "deploy_ai_server.sh",
    ("rollback", "frontend"): "rollback_frontend.sh",
    ("rollback", "backend"): "rollback.sh",
    ("rollback", "ai"): "rollback_ai.sh",
    ("full", None): "deploy_all.sh",
}
# Scripts that read the DB password from their environment (deploy_all.sh runs the
# backend's). It travels on ssh's stdin into a `read`, never on a command line.
NEEDS_DB_PASSWORD = {"deploy_backend.sh", "deploy_all.sh"}
DB_PASSWORD_KEY = "MYSQL_ROOT_PASSWORD"
# Host-side preparation (not a change to any script), listed in the report.
SCRIPT_PREP = [
    "copied the scripts to `/app/scripts/` (mode 755, owner deploy): the AI scripts on gpu, "
    "the others on cpu, where the manual's header comments put them",
    "gave `deploy` on cpu an ssh key that gpu accepts and the alias `ai-server` → gpu, "
    "for `deploy_all.sh`'s `ssh ai-server '/app/scripts/deploy_ai_server.sh'`",
    "gave `deploy` passwordless sudo as the scripts assume (`/etc/sudoers.d/95-bench-script`, "
    "only while a script cell runs: the tool's setup leaves it the root helper alone)",
    "nothing else: `/app/backups` (deploy_backend.sh) already exists on the lab's cpu. "
    "`/var/www/backup`, where "
    "rollback_frontend.sh looks for backups, is not made: no step of the manual writes one, "
    'so the script\'s own "백업 파일을 찾을 수 없습니다" is what gets measured',
]


@dataclass
class Command:
    argv: list[str]
    shown: str
    env: dict[str, str] | None = None
    stdin_text: str | None = None
    cwd: Path | None = None


class Method:
    name: str
    note: str = ""

    def available(self, lab, action: str, component: str | None) -> tuple[bool, str]:
        raise NotImplementedError

    def prepare_hosts(self, lab) -> None:
        """After every reset, before anything runs (hosts are fresh then)."""

    def prepare_tool(self) -> None:
        """Once, before the first measurement."""

    def command(self, lab, action: str, component: str | None, settings=()) -> Command:
        raise NotImplementedError

    def marker(self):
        raise NotImplementedError

    def run(
        self, lab, action: str, component: str | None, mask, settings=()
    ) -> commands.CommandRun:
        cmd = self.command(lab, action, component, settings)
        return commands.run(
            cmd.argv,
            cmd.shown,
            mark=self.marker(),
            cwd=cmd.cwd,
            env=cmd.env,
            stdin_text=cmd.stdin_text,
            mask=mask,
        )


class ScriptMethod(Method):
    name = "script"

    def __init__(self):
        self.scripts = manual.stored()
        self.note = "the manual's scripts, unchanged, over ssh as `deploy`"

    def available(self, lab, action, component):
        return (action, component) in SCRIPTS, "the manual has no script for it"

    def marker(self):
        return commands.script_marker(self.scripts.values())

    def prepare_hosts(self, lab) -> None:
        for name, text in self.scripts.items():
            host = "gpu" if "_ai" in name else "cpu"
            path = f"{manual.REMOTE_DIR}/{name}"
            res = lab.run(
                host,
                f"install -d -m 755 -o deploy -g deploy {manual.REMOTE_DIR} && "
                f"install -m 755 -o deploy -g deploy /dev/null {path} && cat > {path}",
                input=text,
                timeout=30,
            )
            if res.returncode != 0:
                raise RuntimeError(f"cannot place {name} on {host}: {res.stderr.strip()}")
        for host in ("cpu", "gpu"):  # the manual's operator has full sudo (cells reset hosts)
            res = lab.run(host, "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/95-bench-script "
                          "&& chmod 440 /etc/sudoers.d/95-bench-script && visudo -cq", timeout=30)  # fmt: skip
            if res.returncode != 0:
                raise RuntimeError(f"cannot give deploy sudo on {host}: {res.stderr.strip()}")
        self._ai_server_alias(lab)

    @staticmethod
    def _ai_server_alias(lab) -> None:
        made = lab.run(
            "cpu",
            "test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f ~/.ssh/id_ed25519"
            " && cat ~/.ssh/id_ed25519.pub",
            user="deploy",
            timeout=30,
        )
        pub = made.stdout.strip().splitlines()[-1]
        lab.run("gpu", "cat >> ~/.ssh/authorized_keys", user="deploy", input=pub + "\n")
        gpu_key = next(
            line.split(" ", 1)[1]
            for line in Path(lab.known_hosts).read_text().splitlines()
            if line.split(" ", 1)[0].split(",")[0] == "gpu"
        )
        config = "Host ai-server\n    HostName gpu\n    HostKeyAlias ai-server\n"
        res = lab.run(
            "cpu",
            "umask 077 && cat >> ~/.ssh/config && "
            f"echo {shlex.quote('ai-server ' + gpu_key)} >> ~/.ssh/known_hosts",
            user="deploy",
            input=config,
        )
        if res.returncode != 0:
            raise RuntimeError(f"cannot set up ssh ai-server on cpu: {res.stderr.strip()}")

    def command(self, lab, action, component, settings=()):
        name = SCRIPTS[(action, component)]
        host = "gpu" if "_ai" in name else "cpu"
        path = f"{manual.REMOTE_DIR}/{name}"
        shown = f"ssh -F .lab/ssh_config {host} {path}"
        if name in NEEDS_DB_PASSWORD:
            remote = f"IFS= read -r {DB_PASSWORD_KEY} && export {DB_PASSWORD_KEY} && exec {path}"
            secret = lab.env()[DB_PASSWORD_KEY]
            return Command(
                lab.ssh_command(host) + ["--", remote],
                f"{shown}  ({DB_PASSWORD_KEY} from .lab/.env on stdin)",
                stdin_text=secret + "\n",
            )
        return Command(lab.ssh_command(host) + ["--", path], shown)


@dataclass
class FabMethod(Method):
    """`fab … --strategy=<name>`; `root` is the checkout whose fab runs."""

    name: str
    root: Path
    fab: Path = field(default_factory=lambda: Path(sys.executable).parent / "fab")
    history: Path | None = None
    #: settings every run of this method gets (e.g. the AI's start-up delay in its ai_env)
    extra: tuple = ()

    def __post_init__(self):
        self._help: dict[str, str] = {}
        self._ok: dict[str, tuple[bool, str]] = {}
        self.note = ""

    def env(self, lab, settings=()) -> dict[str, str]:
        settings = (*self.settings, *settings)
        env = {
            **os.environ,
            "DOJANGKOK_HOSTS": str(self.inventory(lab, settings)),
            "DOJANGKOK_ENV": str(lab.env_file),
            "PYTHONUNBUFFERED": "1",
        }
        if self.history:
            env["DOJANGKOK_HISTORY"] = str(self.history)
        return env

    def help(self, task: str) -> str:
        if task not in self._help:
            res = subprocess.run(
                [str(self.fab), "--help", task], cwd=self.root, capture_output=True, text=True
            )
            self._help[task] = res.stdout + res.stderr
        return self._help[task]

    def has_strategy(self, task: str) -> bool:
        return "--strategy" in self.help(task)

    @property
    def strategy(self) -> str:
        return VARIANTS.get(self.name, (self.name, ()))[0]

    @property
    def settings(self) -> tuple:
        return (*VARIANTS.get(self.name, (self.name, ()))[1], *self.extra)

    def flags(self, task: str) -> list[str]:
        return [f"--strategy={self.strategy}"] if self.has_strategy(task) else []

    def _task(self, action, component) -> str:
        return FAB_TASKS[action].format(c=component)

    def _host(self, action, component) -> list[str]:
        return [] if component is None else ["-H", HOST[component]]

    def available(self, lab, action, component):
        """`manual` always (fab's only strategy before --strategy existed); others when
        fab's help for the deploy task lists --strategy and a dry run accepts the name."""
        if self.name == "release-bluegreen" and component != "ai":
            return False, "the same as `release` here (ai_switch only changes the AI server)"
        deploy = self._task("full" if component is None else "deploy", component)
        if deploy in self._ok:
            return self._ok[deploy]
        if not self.has_strategy(deploy):
            ok = self.name == "manual"
            why = "" if ok else "fab has no `--strategy` option yet"
            if ok:
                self.note = "fab has no `--strategy` yet: its only strategy is the manual's"
        else:
            argv = [str(self.fab), *self._host("deploy", component), deploy, "--dry-run"]
            res = subprocess.run(
                [*argv, "--yes", f"--strategy={self.strategy}"],
                cwd=self.root,
                env=self.env(lab),
                capture_output=True,
                text=True,
            )
            ok = res.returncode == 0
            last = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or [""]
            why = "" if ok else f"`{deploy} --strategy={self.name} --dry-run` refused: {last[0]}"
        self._ok[deploy] = (ok, why)
        return ok, why

    def marker(self):
        return commands.fab_mark

    def command(self, lab, action, component, settings=()):
        task = self._task(action, component)
        args = [*self._host(action, component), task, "--yes", *self.flags(task)]
        shown = "fab " + " ".join(args)
        if settings:
            shown += "  (" + ", ".join(f"{k}={v}" for k, v in settings) + ")"
        return Command([str(self.fab), *args], shown, env=self.env(lab, settings), cwd=self.root)

    def inventory(self, lab, settings=()) -> Path:
        """The lab's inventory; with ``settings``, a copy with them in last sections."""
        if not settings:
            return lab.inventory
        extra = "".join(f"{k}={v}\n" for k, v in settings)
        path = lab.state_dir / "bench-hosts.ini"
        return lab.write_inventory(path, f"\n[cpu:vars]\n{extra}\n[gpu:vars]\n{extra}")

    def prepare_tool(self) -> None:
        """fab's own modules byte-compiled, as an installed tool's are (pip compiles on
        install): with PYTHONDONTWRITEBYTECODE set, as in some CI shells, every fab run
        would compile about 65 modules again (0.2 s of each command's wall time)."""
        subprocess.run([sys.executable, "-m", "compileall", "-q", "tasks", "fabfile.py"],
                       cwd=self.root, check=True)  # fmt: skip
        if not self.note:
            self.note = "fab's modules byte-compiled first, as on an installed tool"

    def prepare_hosts(self, lab) -> None:
        """The release strategy works on hosts `fab setup` prepared (and converted)."""
        if self.strategy != "release" or not self.has_strategy("deploy-backend"):
            return
        env = self.env(lab, (("swap_size", "64M"),))
        for host in ("cpu", "gpu"):
            res = subprocess.run([str(self.fab), "-H", host, "setup", "--yes"], cwd=self.root,
                                 env=env, capture_output=True, text=True)  # fmt: skip
            if res.returncode != 0:
                raise RuntimeError(
                    f"fab -H {host} setup failed:\n{res.stdout[-2000:]}{res.stderr[-2000:]}"
                )


#: methods that are a strategy with settings: name → (strategy, settings)
VARIANTS = {
    "release-bluegreen": ("release", (("ai_switch", "blue-green"),)),
}


def make(names: list[str], root: Path, history: Path | None = None,
         extra: tuple = ()) -> list[Method]:  # fmt: skip
    return [ScriptMethod() if n == "script" else FabMethod(n, root, history=history, extra=extra)
            for n in names]  # fmt: skip


def ai_env_with_delay(lab, seconds: float) -> str:
    """The lab inventory's ai_env with the sample AI's STARTUP_DELAY_SECONDS set (JSON): what
    every fab run (setup's .env too) writes, so each start takes that long."""
    m = re.search(r"^ai_env=(.*)$", lab.inventory.read_text(), re.M)
    values = json.loads(m.group(1)) if m else {}
    return json.dumps({**values, "STARTUP_DELAY_SECONDS": f"{seconds:g}"}, ensure_ascii=False)
