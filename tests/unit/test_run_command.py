"""`fab run -- CMD`: the command checked, its output masked line by line and prefixed, the lock
and the record for a run that may change things, neither for --read-only; the worst exit
status over the hosts. The lab test (tests/test_run_lab.py) runs it on real hosts."""

from __future__ import annotations

import json
import re

import pytest

from tasks import ns
from tasks.engine import lock as locks
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts.secrets import Secrets
from tasks.procedures import run
from tests.unit.conftest import SECRET, SECRETS, make_host
from tests.unit.fakes import FakeRemote


@pytest.fixture
def history(tmp_path, monkeypatch):
    path = tmp_path / "history.jsonl"
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(path))
    return path


def console_lines():
    lines: list[str] = []
    return Console(Secrets(dict(SECRETS)), write=lines.append), lines


@pytest.mark.parametrize(("remainder", "target", "says"), [
    ("", "cpu", "실행할 명령이 없습니다"),
    ("   ", "cpu", "실행할 명령이 없습니다"),
    ("uptime", None, "-H로 호스트나 그룹을 주십시오"),
    ("ls\nrm -rf /", "cpu", "여러 줄"),
])  # fmt: skip
def test_bad_input_is_refused_in_korean_naming_the_fix(remainder, target, says):
    with pytest.raises(ConfigError) as err:
        run.command_of(remainder, target)
    assert says in str(err.value) and "fab -H" in str(err.value)


def test_a_command_is_kept_as_written():
    assert (
        run.command_of("  systemctl status nginx | head ", "cpu") == "systemctl status nginx | head"
    )


def test_output_is_printed_by_whole_lines_so_a_secret_split_across_reads_is_masked():
    console, lines = console_lines()
    out = run.Lines(console)
    for chunk in ("pass=hunt", "er2-sec", "ret ok\nsecond", " line"):
        out.feed(chunk)
    out.flush()
    assert lines == ["pass=****** ok", "second line"]
    assert SECRET not in "".join(lines)


def test_an_exit_status_outside_0_255_counts_as_not_run():
    assert [run.exit_status(c) for c in (0, 3, 255, -1)] == [0, 3, 255, run.NOT_RUN]


def hosts_and_fakes(*aliases, rules=None):
    fakes = {a: FakeRemote(rules) for a in aliases}
    hosts = [make_host(alias=a, group=a) for a in aliases]

    def connect(host, secrets, label=""):
        return fakes[host.alias]

    return hosts, fakes, connect


def test_read_only_takes_no_lock_and_records_nothing(history):
    hosts, fakes, connect = hosts_and_fakes("cpu", rules=[(r"^uptime$", 0, "up 3 days\n")])
    console, lines = console_lines()
    code = run.run_on_hosts(hosts, "uptime", Secrets(dict(SECRETS)), read_only=True,
                            console=console, connect_host=connect)  # fmt: skip
    assert code == 0 and lines == ["up 3 days"]
    assert fakes["cpu"].commands() == "uptime" and fakes["cpu"].closed
    assert not history.exists()


def test_a_run_takes_the_lock_and_is_recorded_with_the_command_masked(history):
    command = f"echo {SECRET} | wc -c"
    hosts, fakes, connect = hosts_and_fakes("cpu", rules=[(r"wc -c$", 0, "15\n")])
    console, lines = console_lines()
    code = run.run_on_hosts(hosts, command, Secrets(dict(SECRETS)), read_only=False,
                            message="why", console=console, connect_host=connect)  # fmt: skip
    fake = fakes["cpu"]
    assert code == 0 and "15" in lines
    take, ran = fake.index(r"mkdir -- .*deploy\.lock"), fake.index(r"wc -c$")
    assert 0 <= take < ran, "the lock first"
    assert SECRET not in fake.calls[take][1], "the lock's info holds the command masked"
    assert "run" in fake.calls[take][1]
    record = json.loads(history.read_text().splitlines()[-1])
    assert record["kind"] == "run" and record["host"] == "cpu" and record["result"] == "ok"
    assert record["steps"][0]["title"] == "$ echo ****** | wc -c"
    assert record["message"] == "why"
    assert SECRET not in history.read_text()
    host_record = next(t for p, t in fake.uploads.items() if "history.jsonl" in p)
    assert '"kind": "run"' in host_record and SECRET not in host_record


def test_a_failing_command_is_its_exit_status_and_a_failed_record(history):
    hosts, _, connect = hosts_and_fakes("cpu", rules=[(r"^false$", 3, "")])
    code = run.run_on_hosts(hosts, "false", Secrets(dict(SECRETS)), read_only=False,
                            console=console_lines()[0], connect_host=connect)  # fmt: skip
    record = json.loads(history.read_text().splitlines()[-1])
    assert code == 3 and record["result"] == "failed" and record["steps"][0]["detail"] == "exit 3"


def test_a_held_lock_refuses_in_korean_naming_the_holder_and_runs_nothing(history):
    holder = locks.LockInfo("r1", "kim", "laptop", 1, "deploy", "backend", "abc", "", 0.0)
    hosts, fakes, connect = hosts_and_fakes("cpu", rules=[
        (r"mkdir -- .*deploy\.lock", 1, ""), (r"^test -d", 0, ""),
        (r"cat -- .*info\.json", 0, holder.to_json()),
    ])  # fmt: skip
    console, lines = console_lines()
    refused = []
    code = run.run_on_hosts(hosts, "touch /tmp/x", Secrets(dict(SECRETS)), read_only=False,
                            console=console, connect_host=connect,
                            refused=lambda h, e: refused.append(h.alias))  # fmt: skip
    text = "\n".join(lines)
    assert code == run.NOT_RUN and refused == ["cpu"]
    assert "배포 잠금을 다른 작업이 쥐고 있어" in text and "kim" in text and "--read-only" in text
    assert fakes["cpu"].index(r"^touch /tmp/x$") == -1, "the command never ran"


def test_lock_wait_waits_for_a_held_lock_then_runs(history, monkeypatch):
    monkeypatch.setattr(locks, "WAIT_POLL", 0.01)
    holder = locks.LockInfo("r1", "kim", "laptop", 1, "deploy", "backend", "abc", "", 0.0)
    hosts, fakes, connect = hosts_and_fakes("cpu", rules=[
        (r"^mkdir -- .*deploy\.lock", [1, 1, 0], ""), (r"^test -d", 0, ""),
        (r"cat -- .*info\.json", 0, holder.to_json()),
    ])  # fmt: skip
    console, lines = console_lines()
    code = run.run_on_hosts(hosts, "touch /tmp/x", Secrets(dict(SECRETS)), read_only=False,
                            console=console, connect_host=connect, lock_wait=5)  # fmt: skip
    text = "\n".join(lines)
    assert code == 0 and "최대 5초 기다립니다" in text and "kim" in text
    assert fakes["cpu"].index(r"^touch /tmp/x$") != -1, "the command ran once the lock was free"


def test_setup_and_run_take_lock_wait_like_the_deploys():
    for name in ("setup", "push-config", "run", "deploy-backend", "rollback-ai", "backup-db"):
        flags = {n for a in ns.tasks[name].get_arguments() for n in a.names}
        assert "lock-wait" in flags, name


def test_several_hosts_are_prefixed_and_the_worst_exit_status_wins(history):
    hosts, fakes, connect = hosts_and_fakes("cpu", "gpu")
    fakes["cpu"].rules = [(re.compile("^hostname$"), 2, "no\n")]
    fakes["gpu"].rules = [(re.compile("^hostname$"), 0, "gpu-1\n")]
    console, lines = console_lines()
    code = run.run_on_hosts(hosts, "hostname", Secrets(dict(SECRETS)), read_only=True,
                            console=console, connect_host=connect)  # fmt: skip
    assert code == 2, "the worst, though the last host succeeded"
    assert "[cpu] no" in lines and "[cpu] 종료 코드 2" in lines and "[gpu] gpu-1" in lines


def test_an_unreachable_host_is_said_and_the_others_still_run(history):
    hosts, fakes, connect = hosts_and_fakes("cpu", "gpu", rules=[(r"^uptime$", 0, "up\n")])

    def flaky(host, secrets, label=""):
        if host.alias == "cpu":
            raise ConfigError("cannot reach cpu", "check the address")
        return connect(host, secrets, label)

    console, lines = console_lines()
    code = run.run_on_hosts(hosts, "uptime", Secrets(dict(SECRETS)), read_only=True,
                            console=console, connect_host=flaky)  # fmt: skip
    assert code == run.NOT_RUN and "[gpu] up" in lines
    assert any(line.startswith("[cpu] ERROR: cannot reach cpu") for line in lines)
