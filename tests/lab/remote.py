"""Commands on the hosts over ssh (.lab/ssh_config: key login, strict host key checking)."""

from __future__ import annotations

import contextlib
import shlex
import socket
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
    via: str = "admin",
) -> subprocess.CompletedProcess:
    """Run a bash command on host as user: deploy as itself, root and others through
    ``via``'s NOPASSWD sudo (admin: the deploy login has only the tool's root helper once
    `fab setup` ran; provisioning, before admin exists, goes through deploy's)."""
    envs = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
    inner = shlex.join([*envs, "bash", "-lc", command])
    if login or user == "deploy":
        remote, via = inner, login or "deploy"
    elif user == "root":
        remote = f"sudo -n -H {inner}"
    else:
        remote = f"sudo -n -H -u {shlex.quote(user)} {inner}"
    argv = ssh_argv(s, host, via) + ["--", remote]
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


@contextlib.contextmanager
def tunnel(s: Settings, via: str, target: str, port: int, timeout: float = 15):
    """``ssh -L`` through ``via`` to ``target:port``; yields the local ``127.0.0.1:<port>``.

    The way an operator reaches a port setup's firewall opens only to another host (the GPU
    host's AI server, open to the CPU host alone): every connection to the local port is
    made from ``via``.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        local = probe.getsockname()[1]
    argv = ssh_argv(s, via) + ["-N", "-o", "ExitOnForwardFailure=yes",
                               "-L", f"127.0.0.1:{local}:{target}:{port}"]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        end = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise LabError(f"ssh -L through {via} to {target}:{port} failed: "
                               f"{proc.stderr.read().strip()}")  # fmt: skip
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), 1):
                break
            if time.monotonic() > end:
                raise LabError(f"ssh -L through {via} to {target}:{port}: no local port")
            time.sleep(0.05)
        yield f"127.0.0.1:{local}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
