"""Helpers for the pure-logic tests (no host, no lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.context import Run
from tasks.inventory import Host
from tasks.secrets import Secrets
from tasks.settings import Settings


def make_run(component="backend", settings: Settings | None = None, **kw) -> Run:
    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), settings or Settings())
    run = Run(component, host, Secrets({"MYSQL_ROOT_PASSWORD": "hunter2-secret"}), **kw)
    run.stamp = "20260101_120000"
    run.from_rev = "a" * 40
    run.to_rev = "b" * 40
    return run


@pytest.fixture
def inventory_file(tmp_path: Path):
    def write(text: str) -> Path:
        p = tmp_path / "hosts.ini"
        p.write_text(text)
        return p

    return write
