"""The Strategy interface (tasks/apps/base.py): the registry, what each strategy answers,
and the first round trip's answers by name (tasks/strategies/firstlook.py)."""

from __future__ import annotations

import pytest

from tasks.apps.backend import BACKEND
from tasks.apps.base import Strategy, strategy_for
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.strategies import firstlook
from tasks.strategies.manual import MANUAL
from tasks.strategies.registry import STRATEGIES
from tasks.strategies.release import flow
from tasks.strategies.release.bluegreen import SLOT_MARK
from tasks.strategies.release.strategy import RELEASE

from .conftest import make_session
from .fakes import FakeRemote

FLOWS = ("plans", "read_state", "deployed_from", "deploy", "rollback")


def test_a_strategy_is_found_by_its_name_or_a_hosts_settings():
    assert list(STRATEGIES) == ["release", "manual"]  # the default setting's first
    assert strategy_for("release") is RELEASE and strategy_for("manual") is MANUAL
    assert strategy_for(Settings(strategy="manual")) is MANUAL
    assert strategy_for(Settings(strategy="release")) is RELEASE
    with pytest.raises(ConfigError, match="unknown strategy 'blue'") as err:
        strategy_for("blue")
    assert "release, manual" in err.value.fix


def test_every_strategy_implements_the_flows_and_answers_the_questions():
    for strategy in STRATEGIES.values():
        for name in FLOWS:
            assert getattr(type(strategy), name) is not getattr(Strategy, name), (strategy, name)
    # what the rest of the tool asks instead of comparing the name
    asked = ("keeps_releases", "runs_blue_green", "pulls_branch_head", "deploys_without_outage")
    assert [getattr(RELEASE, a) for a in asked] == [True, True, False, True]
    assert [getattr(MANUAL, a) for a in asked] == [False, False, True, False]


def test_the_release_state_is_read_by_name_whatever_the_order_of_the_answers():
    s = make_session(FakeRemote(), strategy="release")
    reads = flow.state_reads(s, BACKEND)
    assert set(reads) == {"releases", "converted", "live_port", "slots"}
    answers = {
        "slots": (True, f"{SLOT_MARK} 8082 active r2\n{SLOT_MARK} 8081 inactive r1"),
        "live_port": (True, "8082"),
        "converted": (False, ""),
        "releases": (True, ""),
    }
    state = flow.state_from(s, BACKEND, answers)
    assert (state.live, state.other, state.converted) == (8082, 8081, False)
    assert state.warm(8082, "r2") and not state.warm(8081, "r1")


def test_a_strategys_read_may_not_shadow_a_shared_one():
    s = make_session(FakeRemote(), strategy="release")
    with pytest.raises(ValueError, match="head"):
        firstlook.read(s, BACKEND, {"head": "true"})
