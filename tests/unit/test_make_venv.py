"""`make venv` needs Python >= 3.11 and no system package (the lab's packages are installed
only for the lab's targets); scripts/pick-python finds that Python or says how to get one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PICK = ROOT / "scripts" / "pick-python"


def make_dry(target: str) -> str:
    if not shutil.which("make"):
        pytest.skip("make is not installed here")
    return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60).stdout  # fmt: skip


def test_make_venv_installs_no_system_package():
    assert "install-system-packages" not in make_dry("venv")
    assert "install-system-packages" in make_dry("lab-up")


def fake_python(tmp: Path, name: str, version: tuple[int, int]) -> str:
    path = tmp / name
    path.write_text(
        "#!/bin/sh\n"
        f'case "$2" in *print*) echo {version[0]}.{version[1]};; '
        f"*exit*) exit {int(version < (3, 11))};; esac\n"
    )
    path.chmod(0o755)
    return str(path)


def pick(*candidates: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOJANGKOK_PYTHONS": " ".join(candidates)}
    return subprocess.run([str(PICK)], capture_output=True, text=True, env=env, timeout=30)


def test_pick_python_takes_the_first_that_is_new_enough(tmp_path):
    old = fake_python(tmp_path, "python3", (3, 10))
    new = fake_python(tmp_path, "python3.12", (3, 12))
    got = pick(old, str(tmp_path / "missing"), new)
    assert (got.returncode, got.stdout.strip()) == (0, new)


def test_pick_python_says_how_to_get_one(tmp_path):
    got = pick(fake_python(tmp_path, "python3", (3, 10)))
    assert got.returncode == 1 and got.stdout == ""
    assert "3.11 or newer" in got.stderr and "(3.10)" in got.stderr
    assert "python3.11-venv" in got.stderr and "pipx install ." in got.stderr
