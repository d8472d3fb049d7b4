"""full-deploy: when the hosts go at the same time, and what each line says about downtime."""

from __future__ import annotations

import dataclasses

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.procedures import full
from tasks.procedures.deploy import Options

INI = "[cpu]\ncpu ansible_host=10.0.0.2\n[gpu]\ngpu ansible_host=10.0.0.3\n"


@pytest.fixture
def todo(tmp_path):
    def make(extra: str = ""):
        return full.jobs(inventory.parse(INI + extra, tmp_path / "h.ini"))

    return make


def test_every_host_on_release_goes_at_the_same_time(todo):
    assert full.runs_in_parallel(todo("[all:vars]\nstrategy=release\n"), Options(), False, False)
    assert full.runs_in_parallel(todo(), Options(strategy="release"), False, False)


def test_one_manual_host_keeps_the_manual_order(todo):
    jobs = todo("[all:vars]\nstrategy=release\n[gpu:vars]\nstrategy=manual\n")
    assert not full.runs_in_parallel(jobs, Options(), False, False)
    assert not full.runs_in_parallel(todo(), Options(strategy="manual"), False, False)


def test_the_operator_decides_when_told(todo):
    release = todo("[all:vars]\nstrategy=release\n")
    assert not full.runs_in_parallel(release, Options(), False, True)
    assert full.runs_in_parallel(todo(), Options(strategy="manual"), True, False)
    with pytest.raises(ConfigError, match="contradict"):
        full.runs_in_parallel(release, Options(), True, True)


def test_the_downtime_note_follows_the_strategy_and_the_ai_switch(todo):
    notes = {j.component.name: full._note(j.component, "manual", j.host) for j in todo()}
    assert notes["backend"] == "서비스 중단이 발생합니다."
    jobs = {j.component.name: j for j in todo()}
    assert "blue/green" in full._note(jobs["backend"].component, "release", jobs["backend"].host)
    ai = jobs["ai"]
    assert "재시작" in full._note(ai.component, "release", ai.host)
    bg = dataclasses.replace(ai.host, settings=ai.host.settings.replace(ai_switch="blue-green"))
    assert "blue/green" in full._note(ai.component, "release", bg)
