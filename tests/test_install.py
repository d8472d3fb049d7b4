"""The operator's install: the tool from this checkout into a fresh venv, as `pip install .`
does it (no make, no root, no system package), then run from a directory holding only
`hosts.ini` and `.env`, as an operator keeps them apart from the tool.

Dependencies come from PyPI through pip's own cache (the dev venv downloaded the same
pinned versions), so a warm run takes some seconds. No lab: a dry run touches no host.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP_TIMEOUT = 600


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with `pip install <source>` (not editable): its bin directory. The source
    is a copy of what a build may read (pyproject.toml, tasks/, templates/): the package
    needs nothing else of the checkout, and pip's build leaves nothing in it."""
    base = tmp_path_factory.mktemp("operator")
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("tasks", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    res = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(source)],
        capture_output=True, text=True, timeout=PIP_TIMEOUT, env=_clean_env(),
    )  # fmt: skip
    assert res.returncode == 0, f"pip install . failed:\n{res.stdout}\n{res.stderr}"
    return venv / "bin"


@pytest.fixture
def operator_dir(tmp_path: Path) -> Path:
    """The operator's own directory: the shipped example inventory and a .env, nothing else."""
    # as an operator fills the example's "setup 전에 필수" block: the site's name at least
    example = (ROOT / "hosts.ini").read_text(encoding="utf-8")
    assert "# server_name=dojangkok.example.com" in example
    (tmp_path / "hosts.ini").write_text(
        example.replace("# server_name=dojangkok.example.com", "server_name=dojangkok.example.com"),
        encoding="utf-8",
    )
    env = tmp_path / ".env"
    env.write_text(
        f"MYSQL_ROOT_PASSWORD={secrets.token_hex(12)}\nDB_PASSWORD={secrets.token_hex(12)}\n"
        f"DB_BACKUP_PASSWORD={secrets.token_hex(12)}\n"
    )
    env.chmod(0o600)
    return tmp_path


def _clean_env() -> dict[str, str]:
    """The environment without anything that points back at this checkout or the lab."""
    drop = ("PYTHONPATH", "DOJANGKOK_HOSTS", "DOJANGKOK_ENV", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "dojangkok"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=_clean_env())  # fmt: skip


def test_installed_command_runs_from_the_operators_directory(installed, operator_dir):
    assert sorted(p.name for p in operator_dir.iterdir()) == [".env", "hosts.ini"]

    listed = _run(installed, operator_dir, "--list")
    assert listed.returncode == 0, listed.stderr
    for name in ("deploy-backend", "rollback-backend", "full-deploy", "setup", "health"):
        assert name in listed.stdout

    dry = _run(installed, operator_dir, "-H", "cpu", "deploy-backend", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "=== 도장콕 백엔드 배포 (release): cpu" in dry.stdout
    assert "DRY RUN" in dry.stdout and "결과: 계획 (dry-run)" in dry.stdout
    assert "Traceback" not in dry.stdout + dry.stderr

    # the templates are the installed package's, not this checkout's
    where = subprocess.run(
        [str(installed / "python"), "-c", "from tasks.resources import TEMPLATES; print(TEMPLATES)"],
        cwd=operator_dir, capture_output=True, text=True, env=_clean_env(), check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(installed.parent), where
    rendered = _run(installed, operator_dir, "-H", "cpu", "render-config", "--out", "out")
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    site = operator_dir / "out" / "cpu" / "etc" / "nginx" / "sites-available" / "dojangkok"
    assert "server_name" in site.read_text()

    refused = _run(installed, operator_dir, "-H", "gpu", "deploy-backend", "--dry-run")
    assert refused.returncode == 1
    assert "[cpu]" in refused.stderr and "Traceback" not in refused.stderr
