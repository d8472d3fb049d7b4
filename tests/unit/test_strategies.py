"""The Strategy interface (tasks/apps/base.py): the registry, what each strategy answers,
and the first round trip's answers by name (tasks/strategies/firstlook.py)."""

from __future__ import annotations

import contextlib
import types

import pytest

from tasks.apps import registry
from tasks.apps.ai import AI
from tasks.apps.backend import BACKEND
from tasks.apps.base import Strategy, strategy_for
from tasks.apps.frontend import FRONTEND
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.strategies import firstlook, full
from tasks.strategies.manual import MANUAL
from tasks.strategies.registry import STRATEGIES
from tasks.strategies.release import convert, flow
from tasks.strategies.release.bluegreen import SLOT_MARK
from tasks.strategies.release.strategy import RELEASE

from .conftest import FROM, TO, make_host, make_session, make_view
from .fakes import FakeRemote

FLOWS = ("plans", "read_state", "deployed_from", "deploy", "rollback")


def test_a_strategy_is_found_by_its_name_or_a_hosts_settings():
    assert list(STRATEGIES) == ["release", "manual"]  # the default setting's first
    assert strategy_for("release") is RELEASE and strategy_for("manual") is MANUAL
    assert strategy_for(Settings(strategy="manual")) is MANUAL
    assert strategy_for(Settings(strategy="release")) is RELEASE
    with pytest.raises(ConfigError, match="알 수 없는 배포 전략입니다: 'blue'") as err:
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


def test_a_full_deploy_says_each_apps_downtime_as_its_strategy_and_app_answer_it():
    notes = {
        (app, strategy, switch): full._note(registry.get(app), strategy,
                                            make_host(Settings(ai_switch=switch)))
        for app in ("frontend", "backend", "ai")
        for strategy in ("manual", "release")
        for switch in ("blue-green", "restart", "auto")
    }  # fmt: skip
    assert notes["frontend", "manual", "auto"] == "다운타임 없음"
    assert notes["backend", "manual", "auto"] == "서비스 중단이 발생합니다."
    assert notes["ai", "manual", "blue-green"] == "별도 인스턴스, 다운타임 1-2분"
    assert notes["frontend", "release", "auto"] == "release: 다운타임 없음 (current 교체)"
    assert notes["backend", "release", "restart"] == "release: 다운타임 없음 (blue/green)"
    assert notes["ai", "release", "blue-green"] == "release: 다운타임 없음 (blue/green)"
    assert notes["ai", "release", "restart"] == "release: 재시작, 시작하는 동안 중단"
    assert notes["ai", "release", "auto"] == (
        "release: blue/green 또는 재시작 (ai_switch=auto: 호스트의 GPU를 보고 정함)"
    )


def test_a_release_served_by_one_unit_is_said_with_that_units_state():
    remote = FakeRemote([
        (r"readlink -- /app/releases/ai/current", 0, "r2"),
        (r"systemctl is-active -- fastapi", 0, "failed"),
    ])  # fmt: skip
    s = make_session(remote, "ai", settings=Settings(ai_switch="restart"))
    said = flow.serving_now(s, AI, target="r2")
    assert said.startswith("지금 서비스 중: current → 릴리스 r2, fastapi failed (롤백 대상)")
    # nginx serves the frontend's files: no unit to ask
    s = make_session(FakeRemote(), "frontend")
    flow.serving_now(s, FRONTEND)
    assert not [c for c in s.remote.commands() if "systemctl" in c]


class _Converting:
    """A session that records what a conversion runs (plans, with the view they ran in)."""

    def __init__(self, view, served_releases=False):
        self.view, self.done, self.served_releases = view, [], served_releases

    def execute(self, plan, rollback=None):
        self.done.append((plan.title, self.view.to_rev, rollback is not None))

    @contextlib.contextmanager
    def viewing(self, view):
        before, self.view = self.view, view
        try:
            yield
        finally:
            self.view = before

    def sh(self, command):
        return types.SimpleNamespace(ok=self.served_releases)

    def query(self, command):
        return ""


def test_each_app_converts_its_own_way_with_the_release_strategys_config(monkeypatch):
    pushed = []
    monkeypatch.setattr(convert, "push_on", lambda s, host, only: pushed.append(
        (s.done[-1][0], host.settings.strategy, sorted(only))))  # fmt: skip

    def converted(app, **settings):
        pushed.clear()
        s = _Converting(make_view(app, Settings(strategy="manual", **settings)))
        convert.convert(s, registry.get(app))
        return s.done, list(pushed)

    done, pushes = converted("frontend")
    assert [t for t, _, _ in done] == ["Frontend release 방식 전환"] and pushes == []
    done, pushes = converted("backend")
    assert done == [
        ("Backend release 방식 전환", TO, False),
        ("Backend release 방식 전환", TO, True),
    ]
    assert pushes == [("Backend release 방식 전환", "release", ["backend", "nginx"])]
    done, pushes = converted("ai", ai_switch="restart")
    assert [(t, rev) for t, rev, _ in done] == [
        ("AI release 방식 전환", TO),
        ("FastAPI 배포 (release)", FROM),
        ("AI release 방식 전환", TO),
    ]  # the served revision (``from``) is built as the first release
    assert pushes == [("AI release 방식 전환", "release", ["ai"])]
    done, pushes = converted("ai", ai_switch="blue-green")
    assert [t for t, _, _ in done][-4:] == [
        "AI release 방식 전환",
        "AI blue/green 준비",
        "AI blue/green 전환",
        "AI blue/green 전환",
    ]
    assert pushes == [("AI blue/green 준비", "release", ["ai"]),
                      ("AI blue/green 전환", "release", ["ai-proxy"])]  # fmt: skip


def test_the_release_strategys_first_look_lets_the_app_decide_on_the_host_first():
    """The AI's ai_switch=auto is decided before the reads are built: a pair's reads."""
    remote = FakeRemote([(r"nvidia-smi", 0, "gpu=none\npair=no")])
    s = make_session(remote, "ai", strategy="release")
    reads = RELEASE.reads(s, AI)
    assert s.view.s.ai_switch == "blue-green" and {"live_port", "slots"} <= set(reads)
    s = make_session(FakeRemote(), "frontend", strategy="release")
    assert set(RELEASE.reads(s, FRONTEND)) == {"releases", "converted"}
    assert s.remote.calls == []  # nothing of the frontend's is decided on the host


def test_the_first_look_says_what_recovers_the_host_and_prints_its_state():
    s = make_session(FakeRemote(), dry_run=True)
    firstlook.read(s, BACKEND)
    assert s.recovery() == "fab -H cpu rollback-backend"
    assert s.state_command == BACKEND.plans("manual").state_command(s.view) != ""
    remote = FakeRemote([(r"backend\.json", 0, '{"deployed": ["' + FROM + '"]}')])
    s = make_session(remote, task="rollback", strategy="release")
    firstlook.read(s, BACKEND)
    assert s.recovery() == f"fab -H cpu rollback-backend --to={FROM[:12]}"
