"""`fab health` (tasks/procedures/health.py): past a host it cannot reach, recording nothing."""

from __future__ import annotations

import pytest
from invoke import Exit

from tasks.engine import records
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.hosts.secrets import Secrets
from tasks.procedures import health

from .fakes import FakeRemote

#: port 1 of this machine: nothing listens, a connection is refused at once
UNREACHABLE = """[cpu]
cpu ansible_host=127.0.0.1 ansible_port=1 ansible_user=deploy
[gpu]
gpu ansible_host=127.0.0.1 ansible_port=1 ansible_user=deploy
"""


def test_a_host_that_cannot_be_reached_is_a_row_and_the_others_are_checked(tmp_path):
    inv = inventory.parse(UNREACHABLE.replace("[cpu]", "[all:vars]\nserver_name=dojangkok.example.com\n[cpu]"),
                          tmp_path / "hosts.ini")  # fmt: skip
    remotes: list[FakeRemote] = []

    def connect(host, secrets):
        if host.alias == "gpu":
            raise ConfigError("cannot reach gpu (deploy@127.0.0.1:1): Connection refused")
        remotes.append(FakeRemote())
        return remotes[-1]

    site = health.Answer("https://dojangkok.example.com/", 200, 60)
    lines: list[str] = []
    healthy = health.check_all(inv, Secrets({}), Console(Secrets({}), write=lines.append),
                               connect_host=connect, ask=lambda url: site)  # fmt: skip
    assert healthy is False
    rows = [line.split(None, 2) for line in lines[0].splitlines()[2:]]
    assert [(r[0], r[1]) for r in rows] == [
        ("cpu", "frontend"), ("cpu", "backend"), ("cpu", "site"), ("gpu", "ai")
    ]  # fmt: skip
    assert [r[2].split()[0] for r in rows] == ["정상", "정상", "(이", "연결"]
    assert "연결 안 됨  호스트에 접속하지 못해 확인하지 못했습니다 (cannot reach gpu" in rows[3][2]
    assert "정상  https://dojangkok.example.com/  인증서 60일 남음" in lines[0]
    assert len(remotes[0].calls) == 2 and remotes[0].closed  # cpu checked, its connection closed


def test_fab_health_records_nothing_when_a_host_cannot_be_reached(tmp_path, monkeypatch, capsys):
    """It used to stop at the first such host and leave a "refused" record in history."""
    import tasks

    (tmp_path / "hosts.ini").write_text(UNREACHABLE)
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "hosts.ini"))
    monkeypatch.setenv("DOJANGKOK_ENV", str(tmp_path / "missing.env"))
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "history.jsonl"))
    monkeypatch.setattr(records, "written", 0)
    with pytest.raises(Exit) as err:
        tasks.health.body(None)
    assert err.value.code == 1
    out = capsys.readouterr().out
    for app in ("frontend", "backend", "ai"):  # every host and app tried, each said
        assert any(app in line and "연결 안 됨" in line for line in out.splitlines()), out
    assert not (tmp_path / "history.jsonl").exists()
    monkeypatch.setenv("DOJANGKOK_ENV", str(tmp_path))  # a .env it cannot read: refused...
    with pytest.raises(Exit) as err:
        tasks.health.body(None)
    assert (
        err.value.code == 1
        and "비밀값 파일" in str(err.value.message)
        and "읽지 못했습니다" in str(err.value.message)
    )
    assert not (tmp_path / "history.jsonl").exists()  # ... and still no record
