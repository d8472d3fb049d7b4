"""Environments (--env), the typed confirmation, --lock-wait and no-op deploys: the pure parts
(the lab's: tests/test_envs_lab.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import cli
from tasks.engine import lock as locks
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.lock import HostLock, LockHeld, LockInfo
from tasks.errors import ConfigError
from tasks.hosts import environment
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.strategies import confirm, noop
from tasks.strategies.noop import Facts

from .conftest import make_host, make_view
from .fakes import FakeRemote

ROOT = Path(__file__).resolve().parents[2]
DOJANGKOK = Path(sys.executable).parent / "dojangkok"
REV, OTHER = "a" * 40, "b" * 40


@pytest.fixture
def no_env(monkeypatch):
    for key in (environment.KEY, environment.HOSTS_KEY, environment.SECRETS_KEY):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


# --- the files an environment chooses -------------------------------------------------------
def test_an_environment_chooses_its_files_and_explicit_files_still_win(no_env):
    assert (environment.inventory_path(), environment.secrets_path()) == (
        Path("hosts.ini"), Path(".env"))  # fmt: skip
    assert environment.current() == "" and environment.label() == ""
    no_env.setenv(environment.KEY, "staging")
    assert (environment.inventory_path(), environment.secrets_path()) == (
        Path("hosts.staging.ini"), Path(".env.staging"))  # fmt: skip
    assert environment.label() == "[staging] "
    no_env.setenv(environment.HOSTS_KEY, "/ops/other.ini")
    no_env.setenv(environment.SECRETS_KEY, "/ops/other.env")
    assert (environment.inventory_path(), environment.secrets_path()) == (
        Path("/ops/other.ini"), Path("/ops/other.env"))  # fmt: skip


@pytest.mark.parametrize("name", ["../prod", "prod/x", "Prod", "a b", ".hidden", "x" * 33])
def test_a_name_no_file_can_take_is_refused(no_env, name):
    no_env.setenv(environment.KEY, name)
    with pytest.raises(ConfigError, match="환경 이름"):
        environment.inventory_path()


def test_a_named_environment_s_missing_files_are_named_with_the_fix(no_env, tmp_path):
    no_env.chdir(tmp_path)
    no_env.setenv(environment.KEY, "prdo")
    err = environment.missing_files()
    assert err is not None
    text = str(err)
    assert (
        "hosts.prdo.ini" in text and ".env.prdo" in text and "cp hosts.ini hosts.prdo.ini" in text
    )
    # the loaders say the same, not "no secrets" nor another environment's file
    with pytest.raises(ConfigError, match="환경 prdo의 파일이 없습니다"):
        Secrets.load()
    (tmp_path / "hosts.prdo.ini").write_text("[cpu]\ncpu\n")
    (tmp_path / ".env.prdo").write_text("")
    (tmp_path / ".env.prdo").chmod(0o600)
    assert environment.missing_files() is None
    assert Secrets.load().path == Path(".env.prdo")
    # files named explicitly are the loaders' to check, not the environment's
    no_env.setenv(environment.HOSTS_KEY, str(tmp_path / "nope.ini"))
    no_env.setenv(environment.SECRETS_KEY, str(tmp_path / "nope.env"))
    assert environment.missing_files() is None


def _dojangkok(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOJANGKOK_")}
    return subprocess.run([str(DOJANGKOK), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.mark.skipif(not DOJANGKOK.exists(), reason="the dojangkok command is not installed")
def test_env_is_a_program_option_before_or_after_the_task_name(tmp_path):
    (tmp_path / "hosts.ini").write_text("[cpu]\ncpu ansible_host=192.0.2.1\n")  # prod's
    for argv in (("--env", "staging", "-H", "cpu", "deploy-frontend"),
                 ("-H", "cpu", "deploy-frontend", "--env=staging")):  # fmt: skip
        res = _dojangkok(tmp_path, *argv)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "환경 staging의 파일이 없습니다: hosts.staging.ini, .env.staging" in res.stderr
        assert "Traceback" not in res.stderr and "192.0.2.1" not in res.stdout + res.stderr
    res = _dojangkok(tmp_path, "--env", "../prod", "settings")
    assert res.returncode == 1 and "환경 이름 '../prod'" in res.stderr


# --- the typed confirmation --------------------------------------------------------------
def test_the_decision_a_careful_operator_wants():
    d = confirm.decide
    assert d(False, False, False, True) == confirm.SKIP  # the setting is off
    assert d(True, True, False, True) == confirm.SKIP  # a dry run changes nothing
    assert d(True, False, True, True) == confirm.ASK  # --yes at a terminal: still typed
    assert d(True, False, False, True) == confirm.ASK
    assert d(True, False, True, False) == confirm.BY_YES  # a script's --yes
    assert d(True, False, False, False) == confirm.REFUSE  # a script without --yes


def _prod_hosts():
    return [make_host(Settings(confirm_deploy="yes")), make_host(alias="gpu", group="gpu")]


def test_confirmation_asks_for_the_environment_s_name(no_env):
    no_env.setenv(environment.KEY, "prod")
    said: list[str] = []
    confirm.confirm(_prod_hosts(), "deploy-backend", dry_run=False, yes=True, terminal=True,
                    ask=lambda q: " prod\n", say=said.append)  # fmt: skip
    assert "--yes는 체크리스트에만 답합니다" in said[0] and said[-1] == "환경 확인: prod (입력함)"
    with pytest.raises(ConfigError, match="'staging'은\\(는\\) 환경 이름 prod"):
        confirm.confirm(_prod_hosts(), "deploy-backend", dry_run=False, yes=False, terminal=True,
                        ask=lambda q: "staging", say=said.append)  # fmt: skip
    with pytest.raises(ConfigError, match="입력할 터미널이 없습니다"):
        confirm.confirm(_prod_hosts(), "deploy-backend", dry_run=False, yes=False, terminal=False,
                        ask=lambda q: pytest.fail("asked"), say=said.append)  # fmt: skip
    confirm.confirm(_prod_hosts(), "deploy-backend", dry_run=False, yes=True, terminal=False,
                    ask=lambda q: pytest.fail("asked"), say=said.append)  # fmt: skip
    assert "--yes로 확인했습니다" in said[-1]
    # hosts that do not want it are never asked about
    confirm.confirm([make_host()], "deploy-backend", dry_run=False, yes=False, terminal=True,
                    ask=lambda q: pytest.fail("asked"), say=said.append)  # fmt: skip


def test_without_an_environment_the_inventory_file_s_name_is_typed(no_env):
    assert confirm.name_to_type() == "hosts.ini"


def test_the_setting_takes_yes_or_no_only():
    with pytest.raises(ConfigError, match="confirm_deploy"):
        Settings.from_vars({"confirm_deploy": "True"}, where="hosts.ini")
    assert Settings.from_vars({"confirm_deploy": "true"}, where="x").confirm_deploy == "true"


# --- --lock-wait -------------------------------------------------------------------------
HOLDER = LockInfo("20260101_000000_000_beef", "alice", "laptop", 4242, "deploy", "backend",
                  "c" * 40, "migrating", 1.0e9)  # fmt: skip


def test_lock_wait_takes_whole_seconds_within_a_bound():
    assert cli.lock_wait_seconds(None) == 0 and cli.lock_wait_seconds("30") == 30
    for bad in ("-1", "1.5", "abc", str(cli.LOCK_WAIT_MAX + 1)):
        with pytest.raises(ConfigError, match="--lock-wait"):
            cli.lock_wait_seconds(bad)


def _held_for(tries: int) -> FakeRemote:
    """A host whose lock is held for the first ``tries`` attempts to take it."""
    return FakeRemote([(r"^mkdir -- .*deploy\.lock", [1] * tries + [0], "exists"),
                       (r"cat -- .*deploy\.lock/info\.json", 0, HOLDER.to_json())])  # fmt: skip


def test_a_waiting_task_says_who_holds_the_lock_and_takes_it_when_freed(monkeypatch):
    monkeypatch.setattr(locks, "WAIT_POLL", 0.01)
    said: list[str] = []
    taken = HostLock.take(_held_for(3), make_view(), wait=5, say=said.append)
    assert taken.info.run_id == make_view().run_id
    assert "alice" in said[0] and "최대 5초 기다립니다" in said[0]
    assert said[-1].startswith("cpu의 배포 잠금을 잡았습니다 (") and "alice (laptop)" in said[-1]


def test_a_waiting_task_gives_up_with_the_usual_message_and_how_long(monkeypatch):
    monkeypatch.setattr(locks, "WAIT_POLL", 0.01)
    with pytest.raises(LockHeld) as err:
        HostLock.take(_held_for(10**6), make_view(), wait=0.05, say=lambda text: None)
    text = str(err.value)
    assert "locked by another deploy" in text and "alice" in text
    assert "--lock-wait: 0초 기다렸습니다" in text and "fab -H cpu unlock" in text
    with pytest.raises(LockHeld):  # no wait: refused at once, nothing said
        HostLock.take(_held_for(1), make_view(), say=lambda text: pytest.fail(text))


def test_ctrl_c_stops_the_wait(monkeypatch):
    monkeypatch.setattr(locks, "WAIT_POLL", 0.01)
    INTERRUPT.cancel.set()
    try:
        with pytest.raises(LockHeld, match="기다리다 멈췄습니다"):
            HostLock.take(_held_for(10**6), make_view(), wait=60, say=lambda text: None)
    finally:
        INTERRUPT.reset()


# --- no-op deploys ---------------------------------------------------------------------
OK_LAST = {"kind": "deploy", "result": "ok", "to": REV, "run_id": "r1"}


def test_only_the_same_revision_by_a_full_id_or_a_long_enough_prefix():
    assert noop.same_revision(REV, REV) and noop.same_revision("AAAAAAA", REV)
    assert not noop.same_revision("aaaaaa", REV) and not noop.same_revision(OTHER, REV)
    assert not noop.same_revision(REV, "")


def _release(**kw) -> Facts:
    base = dict(target=REV, serving=REV, keeps_releases=True, release="r-aaaaaaa",
                release_status="ready", healthy=True, served_version="1.0",
                recorded_version="1.0", last=OK_LAST)  # fmt: skip
    return Facts(**{**base, **kw})


def test_a_release_that_serves_well_is_skipped_and_any_doubt_deploys():
    assert noop.reasons_to_deploy(_release()) == []
    assert noop.reasons_to_deploy(_release(recorded_version="")) == []  # nothing to compare
    doubts = {
        "전환되지 않은": _release(converted=False),
        "상태가 failed": _release(release_status="failed"),
        "인스턴스가": _release(live_runs_release=False),
        "헬스 체크": _release(healthy=False),
        "제공 버전 1.1": _release(served_version="1.1"),
        "배포 기록이 없습니다": _release(last=None),
        "결과가 rolled-back": _release(last={**OK_LAST, "result": "rolled-back"}),
        "결과가 detached": _release(last={**OK_LAST, "result": "detached"}),
    }
    for said, facts in doubts.items():
        (reason,) = noop.reasons_to_deploy(facts)
        assert said in reason, (said, reason)


def test_the_manual_strategy_skips_only_what_the_tool_deployed_from_its_checkout():
    manual = dict(target=REV, serving=REV, keeps_releases=False, head=REV, healthy=True,
                  last=OK_LAST)  # fmt: skip
    assert noop.reasons_to_deploy(Facts(**manual)) == []
    assert "checkout" in noop.reasons_to_deploy(Facts(**{**manual, "head": OTHER}))[0]
    assert "drift" in noop.reasons_to_deploy(Facts(**{**manual, "tool_deployed": False}))[0]
    record = {"current": REV, "revisions": {REV: {"how": "deployed"}}}
    assert noop._tool_deployed((True, json.dumps(record)), REV)
    record["revisions"][REV]["how"] = "found"
    assert not noop._tool_deployed((True, json.dumps(record)), REV)


def test_the_last_run_that_ran_anything_decides():
    lines = [{"kind": "deploy", "result": "skipped"}, {"kind": "run", "result": "failed"},
             {"kind": "deploy", "result": "refused"}, {"kind": "rollback", "result": "ok"},
             {"kind": "deploy", "result": "failed"}]  # fmt: skip
    text = "garbage\n" + "\n".join(json.dumps(x) for x in lines)
    assert noop.last_run(text) == {"kind": "rollback", "result": "ok"}
    assert noop.last_run("") is None


def test_the_host_history_read_is_filtered_and_compact(tmp_path):
    history = tmp_path / "history.jsonl"
    recs = [{"component": "backend", "kind": "deploy", "result": "ok", "to": REV, "run_id": "1",
             "steps": ["x" * 5000]},
            {"component": "frontend", "kind": "deploy", "result": "failed", "run_id": "2"}]  # fmt: skip
    history.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    command = noop.last_runs_command(Settings(state_dir=str(tmp_path)), "backend")
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout
    assert json.loads(out) == {"kind": "deploy", "result": "ok", "to": REV, "run_id": "1"}
    empty = noop.last_runs_command(Settings(state_dir=str(tmp_path / "none")), "backend")
    assert subprocess.run(["bash", "-c", empty], capture_output=True, text=True).stdout == ""


def test_blue_green_the_live_port_must_run_the_current_release():
    from tasks.strategies.release.flow import HostState

    state = HostState([], True, 8081, 8082, {8081: ("active", "r1"), 8082: ("active", "r0")})
    assert noop._live_runs(state, "r1") and not noop._live_runs(state, "r0")
    state.slots[8081] = ("failed", "r1")
    assert not noop._live_runs(state, "r1")
    assert noop._live_runs(HostState([], True), "r1")  # no pair: one unit, nothing to compare


def test_deploy_and_rollback_tasks_confirm_after_the_preflight_before_any_host(monkeypatch):
    import io

    import tasks

    calls: list[str] = []
    host = make_host(Settings(confirm_deploy="yes"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script: no terminal
    monkeypatch.setattr(tasks.cli, "component_hosts", lambda c, name, task: (None, [host]))
    monkeypatch.setattr(tasks.cli, "secrets", lambda: None)
    monkeypatch.setattr(tasks.deploy, "preflight", lambda *a, **k: calls.append("preflight"))
    for name in ("deploy_host", "rollback_host"):
        monkeypatch.setattr(tasks.deploy, name, lambda *a, name=name, **k: calls.append(name))
    for run in (lambda yes: tasks._deploy(None, "frontend", False, yes, "", None),
                lambda yes: tasks._rollback(None, "frontend", None, False, yes, "", None)):  # fmt: skip
        calls.clear()
        with pytest.raises(ConfigError, match="입력할 터미널이 없습니다"):
            run(False)
        assert calls == ["preflight"]
        run(True)
        assert calls[-1] in ("deploy_host", "rollback_host")
