"""Shared fixtures: the local lab (two real hosts, see tests/lab) and testinfra hosts on it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` (not `python -m pytest`) from anywhere
    sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402


def lab_unavailable() -> str | None:
    """Why this machine cannot run the lab at all, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (namespaces, overlayfs, systemd-nspawn): run pytest as root"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is missing: apt-get install systemd-container"
    return None


@pytest.fixture(scope="session")
def lab() -> Lab:
    """The lab, brought up when it is not up; left up at the end for the next run."""
    reason = lab_unavailable()
    if reason:
        pytest.skip(reason)
    lab = Lab.from_repo()
    if not lab.is_up():
        lab.up()
    return lab


@pytest.fixture
def fresh_lab(lab: Lab) -> Lab:
    """Both hosts back to the freshly provisioned state, git repos back to tests/apps."""
    lab.reset()
    return lab


def _testinfra_host(lab: Lab, name: str):
    import testinfra

    return testinfra.get_host(f"ssh://{name}", ssh_config=str(lab.ssh_config), sudo=True)


@pytest.fixture
def cpu_host(lab: Lab):
    """pytest-testinfra host for cpu (ssh as deploy via .lab/ssh_config, sudo to root)."""
    return _testinfra_host(lab, "cpu")


@pytest.fixture
def gpu_host(lab: Lab):
    """pytest-testinfra host for gpu (ssh as deploy via .lab/ssh_config, sudo to root)."""
    return _testinfra_host(lab, "gpu")
