"""Every deploy and rollback task's help (`fab --help <task>`) describes the default
strategy first: `release`, its downtime and what a rollback does, then `manual`."""

from __future__ import annotations

import pytest

from tasks import ns
from tasks.hosts.settings import Settings

TASKS = [
    f"{kind}-{comp}" for kind in ("deploy", "rollback") for comp in ("frontend", "backend", "ai")
]


def test_release_is_the_default_setting():
    assert Settings().strategy == "release"


@pytest.mark.parametrize("name", TASKS)
def test_help_describes_release_first(name):
    text = " ".join((ns[name].__doc__ or "").split())
    release, manual = text.find("release (the default"), text.find("manual (--strategy=manual)")
    assert 0 < release < manual, f"{name}: release must come first, then manual"
    assert "Downtime: " in text[release:manual], f"{name}: the default's downtime"
    if name.startswith("rollback-"):
        assert "previous good release" in text[release:manual]
