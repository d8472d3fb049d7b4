"""The installed package holds the whole tool: every package of tasks/, every directory of
templates/ (as tasks/templates/, pyproject.toml), found by tasks/resources.py.
tests/test_install.py installs it for real."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tasks import resources

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_lists_every_package_and_template_directory():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    code = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tasks").rglob("__init__.py")
    }
    templates = {
        ".".join(("tasks", *d.relative_to(ROOT).parts))
        for d in [ROOT / "templates", *(ROOT / "templates").rglob("*")]
        if d.is_dir() and d.name != "__pycache__"
    }
    assert sorted(config["packages"]) == sorted(code | templates)
    assert config["package-dir"] == {"tasks.templates": "templates"}


def test_a_clone_uses_its_own_templates():
    assert resources.TEMPLATES == ROOT / "templates"
    assert (resources.TEMPLATES / "nginx" / "site.conf.j2").is_file()
