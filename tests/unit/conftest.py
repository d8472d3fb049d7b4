"""Helpers for the pure-logic and flow tests (no host, no lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.engine.console import Console
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.session import Session
from tasks.engine.view import RunView
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings

SECRET = "hunter2-secret"  # the backup account's: what a deploy's backup step sends
ROOT_SECRET = "root-admin-secret"  # the database admin's: a deploy never needs it
SECRETS = {"DB_BACKUP_PASSWORD": SECRET, "MYSQL_ROOT_PASSWORD": ROOT_SECRET}
FROM, TO = "a" * 40, "b" * 40


#: the site's name on the unit tests' CPU host (setup needs one: tasks/hosts/site.py)
SITE = "dojangkok.example.com"


def make_host(settings: Settings | None = None, alias="cpu", group="cpu") -> Host:
    return Host(alias, "10.0.0.2", "deploy", 22, None, (group,),
                settings or Settings(server_name=SITE))  # fmt: skip


def make_view(component="backend", settings: Settings | None = None, task="deploy",
              dry_run=False, **kw) -> RunView:  # fmt: skip
    host = make_host(settings, *(("gpu", "gpu") if component == "ai" else ()))
    kw.setdefault("from_rev", FROM)
    kw.setdefault("to_rev", TO)
    return RunView(task, component, host, "20260101_120000_000000_abcd", dry_run=dry_run, **kw)


def make_session(remote, component="backend", yes=True, lines=None, **kw) -> Session:
    secrets = Secrets(dict(SECRETS))
    lines = lines if lines is not None else []
    console = Console(secrets, write=lines.append)
    return Session(make_view(component, **kw), secrets, yes=yes, console=console, remote=remote,
                   title="test")  # fmt: skip


@pytest.fixture(autouse=True)
def fresh_interrupt():
    INTERRUPT.reset()
    yield
    INTERRUPT.reset()


@pytest.fixture
def inventory_file(tmp_path: Path):
    def write(text: str) -> Path:
        p = tmp_path / "hosts.ini"
        p.write_text(text)
        return p

    return write
