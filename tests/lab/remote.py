"""Commands on the hosts over ssh (.lab/ssh_config: key login, strict host key checking)."""

from __future__ import annotations

import shlex
import subprocess
import time

from .config import LabError, Settings


def ssh_argv(s: Settings, host: str, login: str = "deploy") -> list[str]:
    return ["ssh", "-F", str(s.state / "ssh_config"), "-o", "BatchMode=yes", "-l", login, host]


def run_on(
    s: Settings,
    host: str,
    command: str,
    user: str = "root",
    *,
    login: str | None = None,
    timeout: float = 600,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run a bash command on host as user (root and others via deploy's NOPASSWD sudo)."""
    envs = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
    inner = shlex.join([*envs, "bash", "-lc", command])
    if login or user == "deploy":
        remote = inner
    elif user == "root":
        remote = f"sudo -n -H {inner}"
    else:
        remote = f"sudo -n -H -u {shlex.quote(user)} {inner}"
    argv = ssh_argv(s, host, login or "deploy") + ["--", remote]
    return subprocess.run(
        argv,
        text=True,
        capture_output=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def system_state(s: Settings, host: str, timeout: float = 10) -> str:
    try:
        res = run_on(s, host, "systemctl is-system-running", user="deploy", timeout=timeout)
    except subprocess.TimeoutExpired:
        return "unreachable"
    out = res.stdout.strip()
    return out or "unreachable"


def wait_ready(s: Settings, host: str, timeout: float = 120) -> str:
    """Wait until ssh answers and systemd finished booting; returns the final state."""
    end = time.monotonic() + timeout
    state = "unreachable"
    while time.monotonic() < end:
        state = system_state(s, host)
        if state in ("running", "degraded"):
            return state
        if state in ("starting", "initializing"):
            run_on(
                s,
                host,
                "systemctl is-system-running --wait",
                user="deploy",
                timeout=max(1, end - time.monotonic()),
            )
            continue
        time.sleep(0.3)
    raise LabError(
        f"{host} did not boot within {timeout:.0f}s (last state: {state}); see .lab/{host}.log"
    )
