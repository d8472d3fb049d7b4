"""full-deploy: when the hosts go at the same time, and what each line says about downtime."""

from __future__ import annotations

import dataclasses

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.strategies import full
from tasks.strategies.deploy import Options

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
    with pytest.raises(ConfigError, match="함께 쓸 수 없습니다"):
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


def test_a_release_host_deploys_its_components_at_the_same_time(todo):
    """The release strategy: frontend and backend on [cpu] are chains of their own (they share
    nothing on the host); the manual strategy keeps [cpu]'s manual order."""
    jobs = todo()
    names = lambda groups: [[j.component.name for j in g] for g in groups]  # noqa: E731
    release = full.chains(jobs, Options(strategy="release"))
    assert names(release) == [["frontend"], ["backend"], ["ai"]]
    assert [full._prefix(g, release) for g in release] == [
        "[cpu:frontend] ", "[cpu:backend] ", "[gpu] "
    ]  # fmt: skip
    manual = full.chains(jobs, Options(strategy="manual"))
    assert names(manual) == [["frontend", "backend"], ["ai"]]
    assert [full._prefix(g, manual) for g in manual] == ["[cpu] ", "[gpu] "]


def test_each_chain_has_its_own_connection_and_the_host_one_lock(tmp_path, monkeypatch):
    from tasks.hosts.secrets import Secrets

    from .fakes import FakeRemote

    inv = inventory.parse(INI, tmp_path / "h.ini")
    opened: list[tuple[str, FakeRemote]] = []

    def connect(host, secrets, label=""):
        opened.append((host.alias, FakeRemote()))
        return opened[-1][1]

    used: dict[str, object] = {}

    class Done:
        class report:  # noqa: N801
            result, downtime = "ok", 0.0

    def deploy(comp, host, secrets, opts, console=None, remote=None):
        used[comp.name] = remote
        return Done

    monkeypatch.setattr(full, "deploy_host", deploy)
    monkeypatch.setattr(full, "preflight", lambda *a, **k: None)
    # one by one (the manual strategy): one chain, each job on its own host's connection
    full.full_deploy(inv, Secrets({}), Options(yes=True, strategy="manual"), connect_host=connect)
    assert [a for a, _ in opened] == ["cpu", "gpu"]
    assert used == {"frontend": opened[0][1], "backend": opened[0][1], "ai": opened[1][1]}
    opened.clear()
    full.full_deploy(inv, Secrets({}), Options(yes=True, strategy="release"), connect_host=connect)
    assert [a for a, _ in opened] == ["cpu", "gpu", "cpu"]
    assert len({id(r) for r in used.values()}) == 3  # a connection per chain
    assert used["ai"] is opened[1][1]
    cpu_lock, _, cpu_second = (r for _, r in opened)
    assert "mkdir -- /var/lib/dojangkok-deploy/deploy.lock" in cpu_lock.commands()
    assert "deploy.lock" not in cpu_second.commands()  # the host's lock is taken once
    assert all(r.closed for _, r in opened)
