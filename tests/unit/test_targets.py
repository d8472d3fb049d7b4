"""-H checked as a whole before any task runs (tasks/targets.py, tasks/program.py): a host
outside the task's group is refused naming the group, a host named twice runs once, a task
that picks its own hosts refuses -H; `fab` in a clone gets the same check (fabric.yaml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import cli, targets
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.program import make_program

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = """
[cpu]
cpu ansible_host=10.0.0.2 ansible_user=deploy

[gpu]
gpu ansible_host=10.0.0.3 ansible_user=deploy
"""


@pytest.fixture
def inv_path(inventory_file, tmp_path, monkeypatch) -> Path:
    path = inventory_file(INVENTORY)
    env = tmp_path / ".env"
    env.write_text("MYSQL_ROOT_PASSWORD=a-long-enough-secret-1\nDB_PASSWORD=another-secret-22\n")
    env.chmod(0o600)
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(path))
    monkeypatch.setenv("DOJANGKOK_ENV", str(env))
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "history.jsonl"))
    return path


def check(inv_path: Path, value: str, *tasks: tuple[str, str | None]):
    return targets.checked(value, list(tasks), lambda: inventory.load(inv_path))


def test_a_host_outside_the_tasks_group_is_refused_naming_the_group(inv_path):
    with pytest.raises(ConfigError, match=r"deploy-backend.*\[cpu\].*gpu") as err:
        check(inv_path, "gpu", ("deploy-backend", "cpu"))
    assert "-H cpu" in err.value.fix
    # a group that holds a host outside it, too (all = cpu + gpu)
    with pytest.raises(ConfigError, match=r"\[gpu\].*cpu"):
        check(inv_path, "all", ("deploy-ai", "gpu"))
    assert check(inv_path, "cpu", ("deploy-backend", "cpu")) == ("cpu", [])


def test_a_host_named_twice_runs_once(inv_path):
    assert check(inv_path, "cpu,cpu", ("setup", None)) == ("cpu", ["cpu"])
    assert check(inv_path, "cpu,all", ("setup", None)) == ("cpu,gpu", ["cpu"])
    assert check(inv_path, "gpu, cpu,", ("setup", None)) == ("gpu,cpu", [])
    # one group stays one task (as without -H)
    assert check(inv_path, "all", ("setup", None)) == ("all", [])


def test_a_name_the_inventory_lacks_is_refused_before_anything(inv_path):
    with pytest.raises(ConfigError, match="'gpx'"):
        check(inv_path, "cpu,gpx", ("setup", None))


def test_tasks_that_pick_their_own_hosts_refuse_h(inv_path):
    with pytest.raises(ConfigError, match="full-deploy.*-H") as err:
        check(inv_path, "cpu", ("full-deploy", targets.NO_HOSTS))
    assert "fab full-deploy" in err.value.fix


def test_every_component_task_is_bound_to_its_group():
    from tasks import ns

    rules = {name: targets.rule_of(ns[name].body) for name in ns.task_names}
    for comp, group in (("frontend", "cpu"), ("backend", "cpu"), ("ai", "gpu")):
        assert rules[f"deploy-{comp}"] == group
        assert rules[f"rollback-{comp}"] == group
    assert rules["backup-db"] == rules["restore-db"] == "cpu"
    for name in ("full-deploy", "health", "history"):
        assert rules[name] == targets.NO_HOSTS


def run_program(*argv: str) -> int:
    try:
        make_program().run(["dojangkok", *argv])
    except SystemExit as done:
        return done.code
    return 0


def test_a_mixed_list_is_refused_with_one_message_before_any_task(inv_path, capsys):
    assert run_program("-H", "cpu,gpu", "deploy-frontend", "--dry-run") == 1
    out = capsys.readouterr()
    assert out.err.count("ERROR:") == 1
    assert "[cpu]" in out.err and "gpu" in out.err
    assert "도장콕" not in out.out  # no banner: no task started


def test_duplicates_run_once_through_the_program(inv_path, capsys):
    assert run_program("-H", "cpu,cpu", "deploy-frontend", "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.count("=== 도장콕 프론트엔드 배포") == 1
    assert "두 번 이상" in out


def test_a_task_called_without_the_executor_checks_its_group(inv_path):
    class Conn:
        original_host = "all"

    with pytest.raises(ConfigError, match=r"backup-db.*\[cpu\].*gpu"):
        cli.hosts(Conn(), "cpu", task="backup-db")
    assert [h.alias for h in cli.hosts(Conn(), None)] == ["cpu", "gpu"]


def test_fab_in_a_clone_uses_the_same_executor(inv_path):
    res = subprocess.run(
        [str(Path(sys.executable).parent / "fab"), "-H", "cpu,gpu", "deploy-frontend", "--dry-run"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=dict(os.environ),
    )  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "[cpu]" in res.stderr and "도장콕" not in res.stdout
