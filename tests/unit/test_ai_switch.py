"""ai_switch=auto (tasks/apps/ai/release.py): blue/green when the host can hold a second
instance, a drained restart otherwise, said with the reason; the pair without room stops its
old instance first."""

from __future__ import annotations

import subprocess

import pytest

from tasks.apps import registry
from tasks.apps.ai import release as release_ai
from tasks.apps.ai.release import BLUE_GREEN, DRAINED, RESTART
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.setup import detect
from tasks.strategies.release import flow as release_flow
from tasks.strategies.release.flow import HostState, example_plans

from .conftest import make_host, make_session, make_view
from .fakes import FakeRemote


@pytest.mark.parametrize(("setting", "free", "need", "laid_out", "mode", "said"), [
    ("auto", None, 0, False, BLUE_GREEN, "GPU 없음"),
    ("auto", None, 0, True, BLUE_GREEN, "GPU 없음"),
    ("auto", 9000, 8000, False, BLUE_GREEN, "9000 MiB > ai_gpu_memory_mb 8000 MiB"),
    ("auto", 8000, 8000, False, RESTART, "8000 MiB ≤ ai_gpu_memory_mb 8000 MiB"),
    ("auto", 3000, 8000, True, DRAINED, "둘 자리가 없습니다"),
    ("auto", 20000, 0, False, RESTART, "ai_gpu_memory_mb=0"),
    ("auto", "error", 8000, False, RESTART, "nvidia-smi가"),
    ("restart", None, 0, True, RESTART, "ai_switch=restart (설정)"),
    ("blue-green", 10, 8000, False, BLUE_GREEN, "ai_switch=blue-green (설정)"),
])  # fmt: skip
def test_auto_chooses_blue_green_only_where_a_second_instance_fits(
    setting, free, need, laid_out, mode, said
):
    got, why = release_ai.choose(setting, free, need, laid_out)
    assert got == mode and said in why


def facts_on(tmp_path, gpu_output: str | None) -> str:
    """release_ai.switch_facts run by bash, with a fake nvidia-smi (None: none installed)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir(exist_ok=True)
    smi = bin_ / "nvidia-smi"
    if gpu_output is None:
        smi.unlink(missing_ok=True)
    else:
        smi.write_text(f"#!/bin/sh\nprintf '{gpu_output}'\n")
        smi.chmod(0o755)
    command = release_ai.switch_facts(Settings(systemd_dir=str(tmp_path)))
    res = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                         env={"PATH": f"{bin_}:/usr/bin:/bin"})  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_the_host_says_its_free_gpu_memory_and_whether_it_runs_a_pair(tmp_path):
    assert release_ai.parse_switch_facts(facts_on(tmp_path, None)) == (None, False)
    assert release_ai.parse_switch_facts(facts_on(tmp_path, "6000\\n15000\\n")) == (6000, False)
    assert release_ai.parse_switch_facts(facts_on(tmp_path, "")) == ("error", False)
    # the template unit alone (no upstream file, root's) is no pair
    (tmp_path / "fastapi@.service").write_text("[Service]\n")
    assert release_ai.parse_switch_facts(facts_on(tmp_path, None))[1] is False


def test_setup_and_settings_resolve_auto_from_the_host(tmp_path):
    host = make_host(Settings(), "gpu", "gpu")
    seen = detect.Facts("debian", "12", "amd64", "", "3.11", gpu="none", pair="no")
    resolved, why = detect.with_facts(host, seen)
    assert resolved.settings.ai_switch == BLUE_GREEN and "GPU 없음" in why["ai_switch"]
    full = detect.Facts("ubuntu", "24.04", "arm64", "", "3.12", gpu="3000", pair="yes")
    needs = make_host(Settings(ai_gpu_memory_mb=8000), "gpu", "gpu")
    assert detect.with_facts(needs, full)[0].settings.ai_switch == DRAINED
    assert detect.offline(host).settings.ai_switch == RESTART  # no host asked: the manual's GPU
    cpu = make_host(Settings(), "cpu", "cpu")
    assert detect.with_facts(cpu, seen)[0].settings.ai_switch == "auto"  # not the AI's host
    manual = make_host(Settings(strategy="manual"), "gpu", "gpu")  # one unit, no switch to say
    assert detect.with_facts(manual, seen)[0].settings.ai_switch == "auto"


def test_a_deploy_with_auto_reads_the_host_and_says_which_switch_and_why():
    remote = FakeRemote([(r"nvidia-smi", 0, "gpu=none\npair=no")])
    lines: list[str] = []
    s = make_session(remote, "ai", lines=lines)
    s.view = s.view.but(strategy="release")
    release_ai.resolve_on(s)
    assert s.view.s.ai_switch == BLUE_GREEN
    assert any(line.startswith("AI 전환 방식 (ai_switch=auto): blue/green") and "GPU 없음" in line
               for line in lines)  # fmt: skip


def test_without_room_the_pair_drains_its_old_instance_before_the_new_one_starts():
    v = make_view("ai", Settings(ai_switch=DRAINED, ai_smoke=[])).but(strategy="release")
    comp = registry.get("ai")
    switch, back = release_flow.deploy_plans(v, comp, HostState([], True, 8001, 8002))
    text = [s.render(v) for s in switch.steps]
    stop = next(i for i, c in enumerate(text) if "systemctl stop fastapi@8001" in c)
    start = next(i for i, c in enumerate(text) if "systemctl start fastapi@8002" in c)
    health = next(i for i, c in enumerate(text) if "localhost:8002/health" in c)
    up = next(i for i, c in enumerate(text) if "switch ai 8002" in c)
    assert stop < start < health < up
    assert switch.steps[stop].down and switch.steps[up].up
    assert all(s.policy is Policy.ROLLBACK for s in switch.steps[stop : up + 1])
    assert not any(s.number == "4b" for s in release_ai.build_plan(v).steps)  # no room: no check
    again = [s.render(v) for s in back.steps]
    assert any("systemctl start fastapi@8001" in c for c in again)
    assert any("switch ai 8001" in c for c in again)
    # a cold rollback stops first too, and its failure brings the stopped instance back
    state = HostState([], True, 8002, 8001)
    plan, undo = release_flow.rollback_plans(v, comp, state, "1-aaaaaaa", "2-bbbbbbb", False)
    assert "systemctl stop fastapi@8002" in plan.steps[0].render(v) and plan.steps[0].down
    assert any("systemctl start fastapi@8002" in s.render(v) for s in undo.steps)
    warm, _ = release_flow.rollback_plans(v, comp, state, "1-aaaaaaa", "2-bbbbbbb", True)
    assert not any("systemctl stop fastapi@8002" in s.render(v) for s in warm.steps[:2])


def test_the_runbook_and_the_preflight_see_every_switch_auto_may_choose():
    v = make_view("ai").but(strategy="release")
    titles = [p.title for p in example_plans(registry.get("ai"), v)]
    assert "AI 서버 전환 (blue/green)" in titles and "FastAPI 전환" in titles
    assert "AI 서버 전환 (이전 인스턴스를 먼저 멈춤)" in titles
    assert "AI 서버 롤백 (release: 이전 인스턴스를 먼저 멈춤)" in titles
    assert sum("배포 (release)" in t for t in titles) == 1  # one build
