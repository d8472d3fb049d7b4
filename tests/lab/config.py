"""Settings, paths and small helpers shared by the lab modules."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

HOSTS = ("cpu", "gpu")
APPS = ("frontend", "backend", "ai")
BRIDGE = "dklab0"
MIRROR = "http://deb.debian.org/debian"
#: the Debian releases the lab boots its hosts from (DOJANGKOK_LAB_SUITE, `make LAB_SUITE=`):
#: suite -> (Debian version, its python3: the gpu host's wheelhouse must match it)
SUITES = {"bookworm": ("12", "3.11"), "trixie": ("13", "3.13")}
DEFAULT_SUITE = "bookworm"
PROVISION_DIR = Path(__file__).resolve().parent / "provision"
# Files skipped when hashing or committing the sample apps (build output, caches).
APP_IGNORE = {"node_modules", "build", ".gradle", "venv", ".venv", "__pycache__", ".git"}


class LabError(RuntimeError):
    """A problem the operator can fix; the message names the fix."""


def run(cmd, *, check=True, capture=True, timeout=None, **kw) -> subprocess.CompletedProcess:
    """subprocess.run with text output; a failure raises LabError with the output."""
    res = subprocess.run(cmd, text=True, capture_output=capture, timeout=timeout, **kw)
    if check and res.returncode != 0:
        out = ((res.stdout or "") + (res.stderr or "")).strip()[-3000:]
        raise LabError(f"command failed ({res.returncode}): {' '.join(map(str, cmd))}\n{out}")
    return res


def cmdline(pid: int) -> list[str]:
    """A process's arguments ([] when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def processes():
    """(pid, arguments) of every live process on this machine."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            cmd = cmdline(int(entry))
            if cmd:
                yield int(entry), cmd


def hash_paths(*paths: Path, extra: str = "") -> str:
    """A short, stable hash over file names, modes and contents (dirs walked sorted)."""
    h = hashlib.sha256(extra.encode())
    for base in paths:
        files = [base] if base.is_file() else sorted(_walk(base))
        for f in files:
            rel = f.relative_to(base.parent if base.is_file() else base)
            h.update(f"{rel}\0{f.stat().st_mode & 0o111}\0".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _walk(base: Path):
    if not base.exists():
        return
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d not in APP_IGNORE]
        for name in filenames:
            p = Path(dirpath, name)
            if p.is_file() and not p.is_symlink():
                yield p


@dataclass
class Settings:
    root: Path
    subnet: ipaddress.IPv4Network = field(init=False)
    cache: Path = field(init=False)
    rundir: Path = field(init=False)
    suite: str = field(init=False)

    def __post_init__(self):
        raw = os.environ.get("DOJANGKOK_LAB_SUBNET", "10.77.0.0/24")
        try:
            self.subnet = ipaddress.IPv4Network(raw, strict=True)
        except ValueError as exc:
            raise LabError(f"DOJANGKOK_LAB_SUBNET={raw!r} is not an IPv4 network: {exc}") from exc
        if self.subnet.prefixlen != 24:
            raise LabError(f"DOJANGKOK_LAB_SUBNET={raw!r} must be a /24 (e.g. 10.77.0.0/24)")
        self.cache = Path(os.environ.get("DOJANGKOK_LAB_CACHE", "/var/cache/dojangkok-lab"))
        self.rundir = Path(os.environ.get("DOJANGKOK_LAB_RUNDIR", "/var/lib/dojangkok-lab"))
        self.suite = os.environ.get("DOJANGKOK_LAB_SUITE") or DEFAULT_SUITE
        if self.suite not in SUITES:
            raise LabError(
                f"DOJANGKOK_LAB_SUITE={self.suite!r} is not a suite the lab knows: "
                f"use one of {', '.join(SUITES)} (e.g. make demo LAB_SUITE=trixie)"
            )

    @property
    def debian_version(self) -> str:
        return SUITES[self.suite][0]

    @property
    def python_version(self) -> str:
        """The hosts' python3 (X.Y): the AI wheelhouse is downloaded for it."""
        return SUITES[self.suite][1]

    @property
    def state(self) -> Path:
        return self.root / ".lab"

    @property
    def operator_ip(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def addresses(self) -> dict[str, str]:
        return {h: str(self.subnet.network_address + 2 + i) for i, h in enumerate(HOSTS)}

    @property
    def apps_dir(self) -> Path:
        return Path(os.environ.get("DOJANGKOK_LAB_APPS", self.root / "tests" / "apps"))


def layer_suite(layer: Path) -> str:
    """The suite a cached layer was made for (its `suite` file; none: made before the lab
    knew suites, so bookworm)."""
    try:
        return (layer / "suite").read_text().strip() or DEFAULT_SUITE
    except FileNotFoundError:
        return DEFAULT_SUITE


def stale_layers(cache: Path, prefix: str, suite: str, keep: int) -> list[Path]:
    """The layers ``<prefix>-*`` of ``suite`` to delete before a new one is renamed into
    place, so that ``keep`` remain (the newest): each suite keeps its own, so a trixie run
    never pushes bookworm's layers out of the cache, nor the reverse."""
    mine = [d for d in cache.glob(f"{prefix}-*") if layer_suite(d) == suite]
    return sorted(mine, key=lambda d: d.stat().st_mtime, reverse=True)[keep - 1 :]


def check_prereqs(build: bool = True) -> None:
    """Fail early with the fix for a missing tool or a non-root user (build: up's tools)."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, overlayfs, nspawn): run as root")
    need = {
        "debootstrap": "apt-get install debootstrap",
        "systemd-nspawn": "apt-get install systemd-container",
        "ip": "apt-get install iproute2",
        "git": "apt-get install git",
        "ssh": "apt-get install openssh-client",
        "ssh-keygen": "apt-get install openssh-client",
        "pebble": "apt-get install pebble",  # the lab's ACME server (tests/lab/acme.py)
        "openssl": "apt-get install openssl",
    }
    if not build:
        need = {k: v for k, v in need.items() if k in ("ip", "systemd-nspawn")}
    missing = [f"{tool} (fix: {fix})" for tool, fix in need.items() if not shutil.which(tool)]
    if missing:
        raise LabError("missing tools: " + ", ".join(missing))
