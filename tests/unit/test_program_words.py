"""The program's words: a typo'd task, flag or -H value gets the closest names in Korean (no
traceback, exit 1), and a command after `--` goes to the run task over the inventory (never
Fabric's bare connection to the -H text)."""

from __future__ import annotations

import pytest

from tasks import program, suggest
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.procedures import run as run_proc

INI = "[cpu]\ncpu ansible_host=10.0.0.2 ansible_user=deploy\n[gpu]\ngpu ansible_host=10.0.0.3\n"


@pytest.fixture
def operator_dir(tmp_path, monkeypatch):
    (tmp_path / "hosts.ini").write_text(INI)
    env = tmp_path / ".env"
    env.write_text("")
    env.chmod(0o600)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "hosts.ini"))
    monkeypatch.setenv("DOJANGKOK_ENV", str(env))
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "history.jsonl"))
    return tmp_path


def fab(*argv: str) -> int:
    try:
        program.make_program().run(["dojangkok", *argv])
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_the_closest_task_names_are_offered():
    tasks = ["deploy-frontend", "deploy-backend", "deploy-ai", "full-deploy", "deploy-status"]
    assert suggest.closest("deploy-bakend", tasks) == ["deploy-backend"]
    assert suggest.closest("deploy", tasks) == ["deploy-frontend", "deploy-backend", "deploy-ai"]
    assert suggest.closest("zzz", tasks) == []


def test_a_typo_d_task_says_did_you_mean_in_korean_and_exits_1(operator_dir, capsys):
    assert fab("deploy-bakend") == 1
    err = capsys.readouterr().err
    assert "'deploy-bakend' 작업이 없습니다. 비슷한 작업: `deploy-backend`" in err
    assert "Traceback" not in err and "No idea" not in err


def test_help_of_a_typo_d_task_and_a_typo_d_flag_too(operator_dir, capsys):
    assert fab("--help", "rollback-bakend") == 1
    assert "`rollback-backend`" in capsys.readouterr().err
    assert fab("deploy-backend", "--dryrun") == 1
    err = capsys.readouterr().err
    assert "deploy-backend 작업은 --dryrun 옵션을 받지 않습니다. 비슷한 옵션: `--dry-run`" in err


def test_an_unknown_host_is_named_in_korean_with_the_inventory_s_names(operator_dir):
    with pytest.raises(ConfigError) as err:
        suggest.check_targets("cpu,gpux", lambda: inventory.load())
    assert "'gpux' 호스트나 그룹이 없습니다. 비슷한 이름: `gpu`" in str(err.value)
    assert "all, cpu, gpu" in str(err.value)
    suggest.check_targets("cpu,gpu", lambda: inventory.load())  # known: nothing said


@pytest.fixture
def ran(monkeypatch):
    """What the run task was asked to run (no connection)."""
    calls = []

    def fake(hosts, command, secrets, *, read_only, **kw):
        calls.append(([h.alias for h in hosts], command, read_only))
        return 0

    monkeypatch.setattr(run_proc, "run_on_hosts", fake)
    return calls


def test_fabric_s_own_remainder_runs_through_the_inventory(operator_dir, ran):
    assert fab("-H", "cpu,gpu", "--", "hostname", "-f") == 0
    assert ran == [(["cpu", "gpu"], "hostname -f", False)], "once, for every host, locked"


def test_the_run_task_takes_the_remainder_and_read_only(operator_dir, ran):
    assert fab("-H", "cpu", "run", "--read-only", "--", "uptime") == 0
    assert ran == [(["cpu"], "uptime", True)]


def test_a_remainder_beside_another_task_is_refused(operator_dir, ran, capsys):
    assert fab("-H", "cpu", "releases", "--", "ls") == 1
    assert "`--` 뒤의 명령은 run 작업만 받습니다" in capsys.readouterr().err and not ran


def test_run_without_a_command_or_hosts_names_the_fix(operator_dir, ran, capsys):
    assert fab("-H", "cpu", "run") == 1
    assert "실행할 명령이 없습니다" in capsys.readouterr().err
    assert fab("run", "--", "uptime") == 1
    assert "-H로 호스트나 그룹을 주십시오" in capsys.readouterr().err
    assert fab("-H", "nope", "--", "uptime") == 1
    assert "'nope' 호스트나 그룹이 없습니다" in capsys.readouterr().err
    assert not ran


def test_d_before_the_task_is_refused_never_a_real_deploy_with_debug_output(operator_dir, capsys):
    """Fabric's own -d is --debug: `fab -d -H cpu deploy-backend` deployed for real."""
    assert fab("-d", "-H", "cpu", "deploy-backend") == 1
    err = capsys.readouterr().err
    assert "-d와 --dry-run은 작업의 옵션이라 작업 이름 뒤에 씁니다" in err
    assert fab("health", "-d") == 1
    assert "health 작업은 -d 옵션을 받지 않습니다" in capsys.readouterr().err
