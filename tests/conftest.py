"""Shared fixtures: the local lab (two real hosts, see tests/lab) and testinfra hosts on it.

The lab's hosts boot bare (a cloud image). ``fresh_lab`` gives bare hosts; ``served_lab``
gives hosts as `fab setup` left them (the real setup, run once and cached as a layer by
tests/lab/served.py), with every sample app answering. The whole session holds the
machine's lab lock (tests/lab/lock.py; re-entrant under `scripts/lab-lock` or `flock`).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) from anywhere
    sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402
from tests.lab.lock import LabLock  # noqa: E402
from tests.lab.site import site  # noqa: E402


def lab_unavailable() -> str | None:
    """Why this machine cannot run the lab at all, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (namespaces, overlayfs, systemd-nspawn): run pytest as root"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is missing: run scripts/install-system-packages (as root)"
    return None


@pytest.fixture(scope="session")
def lab():
    """The lab, brought up when it is not up; left up at the end for the next run."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    held = LabLock()
    try:
        lab = Lab.from_repo()
        if not lab.is_up():
            lab.up()
        yield lab
    finally:
        held.release()


@pytest.fixture
def fresh_lab(lab: Lab) -> Lab:
    """Both hosts bare (as a cloud image gives them), git repos back to tests/apps."""
    lab.reset()
    return lab


def served(lab: Lab, timeout: float = 90) -> dict[str, str]:
    """Wait until every sample app answers; the version each serves."""
    import requests

    ca = site(lab).ca
    deadline = time.monotonic() + timeout
    # the AI server is open to the CPU host only (setup's firewall): asked through it
    with lab.tunnel("cpu", "gpu", 8000) as ai:
        while True:
            try:
                page = requests.get(site(lab).url, verify=ca, timeout=10)
                version = page.text.split('name="dojangkok-version" content="')[1].split('"')[0]
                backend = requests.get(site(lab, "/api/version").url, verify=ca, timeout=10)
                return {
                    "frontend": version,
                    "backend": backend.json()["version"],
                    "ai": requests.get(f"http://{ai}/health", timeout=10).json()["version"],
                }
            except (requests.RequestException, IndexError, KeyError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


@pytest.fixture
def served_lab(lab: Lab) -> Lab:
    """Both hosts as `fab setup` left them (cached), every app answering, git repos reset."""
    lab.reset(setup=True)
    served(lab)
    return lab


def _testinfra_host(lab: Lab, name: str):
    import testinfra

    # as admin: the deploy login has only the tool's root helper once setup ran
    return testinfra.get_host(f"ssh://admin@{name}", ssh_config=str(lab.ssh_config), sudo=True)


@pytest.fixture
def cpu_host(lab: Lab):
    """pytest-testinfra host for cpu (ssh as admin via .lab/ssh_config, sudo to root)."""
    return _testinfra_host(lab, "cpu")


@pytest.fixture
def gpu_host(lab: Lab):
    """pytest-testinfra host for gpu (ssh as admin via .lab/ssh_config, sudo to root)."""
    return _testinfra_host(lab, "gpu")
