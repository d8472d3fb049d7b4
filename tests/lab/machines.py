"""Hosts as systemd-nspawn --boot containers on overlayfs (layers: [golden:]base + upper).

PID 1 here is not systemd, so nspawn runs with --register=no --keep-unit (no machined, no
scope unit) as a detached process of ours: pid in .lab/<host>.pid, console in .lab/<host>.log.
A fast stop SIGKILLs the container's init (the kernel then tears down its PID and network
namespaces and nspawn exits); a clean stop sends SIGTERM to nspawn (orderly poweroff).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .config import BRIDGE, LabError, Settings, cmdline, processes, run


def machine(host: str) -> str:
    return f"dk-{host}"


def layer_dirs(s: Settings, host: str) -> dict[str, Path]:
    base = s.rundir / host
    return {"upper": base / "upper", "work": base / "work", "merged": base / "merged"}


def mounts_under(*prefixes: Path) -> list[str]:
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mnt = line.split()[1].replace("\\040", " ")
        if any(mnt == str(p) or mnt.startswith(f"{p}/") for p in prefixes):
            out.append(mnt)
    return out


def mount(lowers: list[Path], upper: Path, work: Path, merged: Path) -> None:
    for d in (upper, work, merged):
        d.mkdir(parents=True, exist_ok=True)
    opts = (
        f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={work},"
        "index=off,redirect_dir=on,metacopy=off"
    )
    run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)])


def umount_all(*prefixes: Path) -> None:
    for mnt in sorted(mounts_under(*prefixes), key=len, reverse=True):
        if run(["umount", mnt], check=False).returncode != 0:
            run(["umount", "-l", mnt], check=False)


def nspawn_pids(host: str | None = None) -> list[int]:
    """Every live systemd-nspawn of a lab machine (all lab machines when host is None)."""
    found = []
    for pid, cmd in processes():
        if not cmd[0].endswith("systemd-nspawn"):
            continue
        names = [a.split("=", 1)[1] for a in cmd if a.startswith("--machine=")]
        if names and (names[0] == machine(host) if host else names[0].startswith("dk-")):
            found.append(pid)
    return found


def is_running(host: str) -> bool:
    return bool(nspawn_pids(host))


def cgroups(host: str) -> list[Path]:
    """Per-host cgroups (named systemd v1 + unified v2): with --keep-unit nspawn nests its
    supervisor/payload groups under its own cgroup, so two hosts must not share one."""
    root = Path("/sys/fs/cgroup")
    dirs = [root / h for h in ("systemd", "unified") if (root / h / "cgroup.procs").exists()]
    if not dirs and (root / "cgroup.procs").exists():  # pure cgroup v2 host
        dirs = [root]
    return [d / "dojangkok-lab" / host for d in dirs]


def _rm_cgroups(host: str) -> None:
    for top in cgroups(host):
        if not top.is_dir():
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


def start(s: Settings, host: str, merged: Path, binds: dict[str, str] | None = None) -> int:
    if is_running(host):
        raise LabError(f"{machine(host)} is already running: run `python -m tests.lab down`")
    cmd = [
        "systemd-nspawn",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--quiet",
        f"--machine={machine(host)}",
        f"--hostname={host}",
        "-D",
        str(merged),
        f"--network-bridge={BRIDGE}",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--console=read-only",
    ]
    for src, dst in (binds or {}).items():
        cmd.append(f"--bind-ro={src}:{dst}")
    s.state.mkdir(parents=True, exist_ok=True)
    _rm_cgroups(host)
    procs = []
    for cg in cgroups(host):
        cg.mkdir(parents=True, exist_ok=True)
        procs.append(str(cg / "cgroup.procs"))

    def enter_cgroups() -> None:  # runs in the child, before exec
        for f in procs:
            with open(f, "w") as fh:
                fh.write("0")

    with open(s.state / f"{host}.log", "wb") as log:
        proc = subprocess.Popen(
            cmd,
            preexec_fn=enter_cgroups,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (s.state / f"{host}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def _children(pid: int) -> list[int]:
    kids = []
    for t in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(FileNotFoundError):
            kids += [int(x) for x in t.read_text().split()]
    return kids


def _wait_gone(pids: list[int], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in pids:  # reap our own children, if they are ours
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, os.WNOHANG)
        if not any(cmdline(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def stop(s: Settings, host: str, clean: bool = False, timeout: float = 90) -> None:
    """Stop a host (clean: orderly poweroff, else kill) and unmount its root."""
    pids = nspawn_pids(host)
    if pids and clean:
        for p in pids:
            os.kill(p, signal.SIGTERM)
        _wait_gone(pids, timeout)
        pids = [p for p in pids if cmdline(p)]
    for p in pids:
        for child in _children(p):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
    if pids and not _wait_gone(pids, 10):
        for p in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        _wait_gone(pids, 5)
    run(["ip", "link", "del", f"vb-{machine(host)}"[:15]], check=False)
    (s.state / f"{host}.pid").unlink(missing_ok=True)
    umount_all(s.rundir / host)
    _rm_cgroups(host)


def wipe(s: Settings, host: str) -> None:
    """Drop a stopped host's throw-away layer."""
    umount_all(s.rundir / host)
    shutil.rmtree(s.rundir / host, ignore_errors=True)
