"""What a release rollback promises, checked (tasks/strategies/release/verify.py), and what a
failed one says serves (release_flow.serving_now): pure builders, a scripted host."""

from __future__ import annotations

import json
import subprocess

import pytest

from tasks.apps import registry
from tasks.engine import hostscript
from tasks.errors import StepFailed
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.strategies.release import flow as release_flow
from tasks.strategies.release import verify as release_verify
from tasks.strategies.release.flow import HostState

from .conftest import SITE, make_session, make_view
from .fakes import FakeRemote

VERSIONED = Settings(
    server_name=SITE,
    frontend_version_url=f"https://{SITE}/",
    frontend_version_match='regex:content="([^"]+)"',
    backend_version_url=f"https://{SITE}/api/version",
    backend_smoke=[{"method": "GET", "path": "/api/version"}],
    ai_version_url="http://localhost:8000/health",
    ai_smoke=[{"method": "POST", "path": "/api/v1/analyze", "body": {"text": "x"}}],
    ai_switch="restart",
)
TARGET, LEFT = "20260101_110000_000000_aaaa-1111111", "20260101_120000_000000_bbbb-2222222"


def view(component: str, settings: Settings = VERSIONED):
    return make_view(component, settings, task="rollback").but(strategy="release")


def rollback(component: str, settings: Settings = VERSIONED, warm: bool = True):
    comp = registry.get(component)
    state = HostState([], True, 8082, 8081)
    return release_flow.rollback_plans(view(component, settings), comp, state, TARGET, LEFT, warm)[
        0
    ]


@pytest.mark.parametrize(("component", "warm", "smoke_port"), [
    ("frontend", False, None), ("backend", True, 8081), ("backend", False, 8081),
    ("ai", False, 8000),
])  # fmt: skip
def test_every_release_rollback_ends_with_its_smoke_tests_and_the_version_check(
    component, warm, smoke_port
):
    plan = rollback(component, warm=warm)
    v = view(component)
    *_, version = plan.steps
    assert version.title.startswith("제공 버전 확인") and version.policy is Policy.ABORT
    text = version.render(v)
    assert f"/{TARGET}" in text and f"/var/lib/dojangkok-deploy/releases/{component}.json" in text
    numbers = [s.number for s in plan.steps]
    assert numbers == [
        f"R{i}" for i in range(int(numbers[0][1:]), int(numbers[0][1:]) + len(numbers))
    ]
    if smoke_port:  # the instance that serves after the switch
        smoke = plan.steps[-2]
        assert smoke.title.startswith("기능 테스트") and smoke.policy is Policy.ABORT
        assert f"http://localhost:{smoke_port}/api/" in smoke.render(v)
    # no version url, no smoke requests: nothing to check, no step (a host run cannot skip)
    bare = rollback(component, Settings(server_name=SITE, ai_switch="restart", ai_smoke=[]), warm)
    assert [s.title for s in bare.steps] == [s.title for s in plan.steps[: len(bare.steps)]]
    assert not any(s.title.startswith(("제공 버전", "기능 테스트 (롤백")) for s in bare.steps)


def test_a_deploy_records_the_version_the_new_release_serves_and_the_old_one_s_when_missing():
    comp = registry.get("backend")
    v = make_view("backend", VERSIONED).but(strategy="release")
    switch, _ = release_flow.deploy_plans(v, comp, HostState([], True, 8081, 8082))
    first, last = switch.steps[0], switch.steps[-1]
    assert first.number == "V0" and last.number == "V1"
    assert first.policy is Policy.WARN and last.policy is Policy.WARN
    assert "/app/releases/backend/current/.served-version" in first.render(v)
    assert f"/app/releases/backend/releases/{v.run_id}-bbbbbbb/.served-version" in last.render(v)
    plain = make_view("backend", Settings(server_name=SITE)).but(strategy="release")
    switch, _ = release_flow.deploy_plans(plain, comp, HostState([], True, 8081, 8082))
    assert not {"V0", "V1"} & {s.number for s in switch.steps}


def run_bash(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


def test_the_recorded_version_is_the_release_s_own_else_the_record_of_its_revision(tmp_path):
    """What the version check compares with: .served-version in the target release, else the
    manual strategy's record (drift.py) of its revision (.release.json's; a legacy release
    has only the short one in its name)."""
    v = view("backend", VERSIONED.replace(releases_root=str(tmp_path / "r"),
                                          state_dir=str(tmp_path / "state")))  # fmt: skip
    rel = tmp_path / "r/backend/releases" / TARGET
    rel.mkdir(parents=True)
    record = tmp_path / "state/releases/backend.json"
    record.parent.mkdir(parents=True)
    full = "1111111" + "f" * 33
    record.write_text(json.dumps({"current": full, "revisions": {full: {"version": "1.0.0"}}}))
    got = lambda: run_bash(release_verify.recorded(v, TARGET)).stdout.strip()  # noqa: E731
    assert got() == "1.0.0"  # by the short revision in the name
    (rel / ".release.json").write_text(json.dumps({"revision": "9" * 40}))
    assert got() == ""  # its full revision has no record
    (rel / ".served-version").write_text("1.1.0\n")
    assert got() == "1.1.0"


def checked(tmp_path, served: str, recorded: str | None) -> subprocess.CompletedProcess:
    v = view("ai", VERSIONED.replace(releases_root=str(tmp_path / "r"),
                                     state_dir=str(tmp_path / "state")))  # fmt: skip
    rel = tmp_path / "r/ai/releases" / TARGET
    rel.mkdir(parents=True, exist_ok=True)
    if recorded is not None:
        (rel / ".served-version").write_text(recorded + "\n")
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "curl").write_text(f'#!/bin/sh\necho \'{{"version": "{served}"}}\'\n')
    (fake / "curl").chmod(0o755)
    command = release_verify.check_command(v, TARGET)
    return run_bash(f"PATH={fake}:$PATH; {command}")


def test_the_version_check_passes_only_when_the_target_s_version_serves(tmp_path):
    same = checked(tmp_path, "1.0.0", "1.0.0")
    assert (
        same.returncode == 0 and f"제공 버전 1.0.0: {TARGET}이(가) 기록될 때와 같음" in same.stdout
    )
    other = checked(tmp_path, "1.2.0", "1.0.0")
    assert other.returncode == 1 and "롤백한 버전이 아닙니다" in other.stderr
    assert "1.2.0" in other.stderr and "1.0.0" in other.stderr
    (tmp_path / "r/ai/releases" / TARGET / ".served-version").unlink()
    unknown = checked(tmp_path, "1.2.0", None)
    assert unknown.returncode == 0 and "비교하지 않음" in unknown.stdout


def test_a_failed_rollback_says_what_serves_now_not_that_nothing_changed():
    """The frontend rollback whose page check failed after its switch used to say "서비스는
    그대로입니다 (전환 전에 멈췄습니다)": it had switched. Now the host is read and said."""
    remote = FakeRemote([
        (r"readlink -- /app/releases/frontend/current", 0, TARGET),
        (r"curl -fsSL", 0, "1.0.0"),
    ])  # fmt: skip
    s = make_session(remote, "frontend", settings=VERSIONED)
    s.recover_with = "fab -H cpu rollback-frontend --to=2222222"
    done = {"result": "failed", "rolled_back": None, "problem": "AR3 메인 페이지 확인 실패"}
    comp = registry.get("frontend")
    with pytest.raises(StepFailed) as failed:
        hostscript.settle(s, done, lambda: release_flow.serving_now(s, comp, TARGET, LEFT))
    fix = failed.value.fix
    assert "전환 전에 멈췄습니다" not in fix
    assert f"지금 서비스 중: current → 릴리스 {TARGET} (롤백 대상); 제공 버전 1.0.0" in fix
    assert "fab -H cpu rollback-frontend --to=2222222" in fix


def test_a_blue_green_host_says_which_instance_nginx_sends_requests_to():
    remote = FakeRemote([
        (r"127\\.0\\.0\\.1", 0, "8081"),
        (r"mapfile", 0, f"@@slot 8081 active {LEFT}\n@@slot 8082 failed {TARGET}"),
        (r"curl -fsSL", 1, ""),
    ])  # fmt: skip
    s = make_session(remote, "backend", settings=VERSIONED)
    said = release_flow.serving_now(s, registry.get("backend"), TARGET, LEFT)
    assert said == (
        f"지금 서비스 중: nginx upstream → dojangkok@8081 (active), 릴리스 {LEFT} (롤백 전 그대로); "
        f"제공 버전을 읽지 못함 (https://{SITE}/api/version)"
    )


@pytest.mark.parametrize("component", ["frontend", "backend", "ai"])
def test_the_preflight_renders_the_checks_with_its_placeholder_view(component):
    """The preflight shows every plan with a view whose component is a placeholder ("-"):
    each check names its component itself."""
    from tasks.engine.session import plan_text
    from tasks.engine.view import RunView, new_run_id
    from tasks.strategies import deploy

    comp = registry.get(component)
    host = make_view(component, VERSIONED).host
    placeholder = RunView("deploy", "-", host, new_run_id(), dry_run=True)
    url = getattr(VERSIONED, f"{component}_version_url")
    checks = 0
    for task in ("deploy", "rollback"):
        for plan in deploy.plans(comp, host, task, "release"):
            plan_text(plan, placeholder)  # renders (it raised, reading "-_version_url")
            for step in plan.steps:
                if step.number in ("V0", "V1") or step.title.startswith("제공 버전"):
                    assert url in step.render(placeholder), step.title
                    checks += 1
    assert checks >= 3


def test_a_rollback_to_an_adopted_release_records_its_revision_not_its_name():
    """The frontend's adopted (legacy) release has no .release.json: the deployed-revision
    stack got its name, and the next run refused it ("not a commit id")."""
    legacy = "20261206_232835_000000_13c0-22f9ffd-legacy"
    built = {"release": TARGET, "revision": "1" * 40, "status": "ready", "current": False,
             "switched": 1}  # fmt: skip
    state = HostState([{"release": legacy, "revision": "", "status": "ready", "current": False,
                        "switched": 1}, built])  # fmt: skip
    assert state.rollback_target(legacy) == "22f9ffd"
    assert state.rollback_target(TARGET) == "1" * 40
    assert state.rollback_target(release_flow.PREVIOUS) == release_flow.PREVIOUS  # a dry run
