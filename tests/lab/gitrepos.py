"""Operator-side bare repos .lab/git/<app>.git and the read-only git daemon serving them.

The initial commit of each app is deterministic (fixed author "lab", dates and message
"v<VERSION>"), so re-creating the repos (reset_git) yields the very commit the cached setup
layer's clones were made from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .config import APP_IGNORE, APPS, LabError, Settings, processes, run

GIT_ENV = {
    "GIT_AUTHOR_NAME": "lab",
    "GIT_AUTHOR_EMAIL": "lab@dojangkok.lab",
    "GIT_COMMITTER_NAME": "lab",
    "GIT_COMMITTER_EMAIL": "lab@dojangkok.lab",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
FIXED_DATE = {
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def git(*args, cwd=None, env=None) -> str:
    full = {**os.environ, **GIT_ENV, **(env or {})}
    return run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=full).stdout.strip()


def git_dir(s: Settings) -> Path:
    return s.state / "git"


def create_repos(s: Settings) -> dict[str, str]:
    """(Re)create every bare repo from tests/apps with its initial commit; returns shas."""
    shas = {}
    for app in APPS:
        src = s.apps_dir / app
        if not src.is_dir():
            raise LabError(f"sample app {src} is missing (tests/apps/{app})")
        version = (src / "VERSION").read_text().strip() if (src / "VERSION").exists() else "0"
        bare = git_dir(s) / f"{app}.git"
        with tempfile.TemporaryDirectory(prefix=f"dklab-{app}-") as tmp:
            work = Path(tmp) / app
            shutil.copytree(src, work, ignore=shutil.ignore_patterns(*APP_IGNORE))
            git("init", "-q", "-b", "main", cwd=work)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", f"v{version}", cwd=work, env=FIXED_DATE)
            new = Path(tmp) / f"{app}.git"
            git("clone", "-q", "--bare", str(work), str(new))
            git("remote", "remove", "origin", cwd=new)
            shas[app] = git("rev-parse", "HEAD", cwd=new)
            git_dir(s).mkdir(parents=True, exist_ok=True)
            old = bare.with_name(f"{app}.git.old")
            shutil.rmtree(old, ignore_errors=True)
            if bare.exists():
                bare.rename(old)
            shutil.move(str(new), bare)
            shutil.rmtree(old, ignore_errors=True)
    return shas


def push_app(s: Settings, app: str, files: dict[str, str | None], message: str) -> str:
    """Commit files (path -> content, None deletes) on main of app's bare repo; return sha."""
    bare = git_dir(s) / f"{app}.git"
    if not bare.is_dir():
        raise LabError(f"no repo {bare}: run `python -m tests.lab up`")
    with tempfile.TemporaryDirectory(prefix=f"dklab-push-{app}-") as tmp:
        work = Path(tmp) / app
        git("clone", "-q", "-b", "main", str(bare), str(work))
        for rel, content in files.items():
            path = work / rel
            if content is None:
                if path.exists():
                    git("rm", "-q", "-r", "--", rel, cwd=work)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
            git("add", "--", rel, cwd=work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
        git("push", "-q", "origin", "main", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)


def daemon_pids(s: Settings, any_checkout: bool = False) -> list[int]:
    """git daemons serving this checkout's repos (or, any_checkout: any on the lab address).

    The lab's address is global, so a daemon left by another checkout's lab blocks ours.
    """
    mine = f"--base-path={git_dir(s)}"
    found = []
    for pid, cmd in processes():
        theirs = any_checkout and f"--listen={s.operator_ip}" in cmd
        if "daemon" in cmd and (mine in cmd or theirs):
            found.append(pid)
    return found


def start_daemon(s: Settings) -> None:
    if daemon_pids(s):
        return
    cmd = [
        "git",
        "daemon",
        "--reuseaddr",
        "--export-all",
        f"--base-path={git_dir(s)}",
        f"--listen={s.operator_ip}",
        "--port=9418",
    ]
    with open(s.state / "git-daemon.log", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (s.state / "git-daemon.pid").write_text(f"{proc.pid}\n")
    time.sleep(0.2)
    if proc.poll() is not None:
        raise LabError(f"git daemon exited: {(s.state / 'git-daemon.log').read_text()[-500:]}")


def stop_daemon(s: Settings) -> None:
    pids = daemon_pids(s, any_checkout=True)
    for p in pids:
        try:
            if os.getpgid(p) == p:
                os.killpg(p, signal.SIGTERM)
            else:
                os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + 5
    while time.monotonic() < end and any(Path(f"/proc/{p}").exists() for p in pids):
        for p in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, os.WNOHANG)
        time.sleep(0.05)
    (s.state / "git-daemon.pid").unlink(missing_ok=True)
