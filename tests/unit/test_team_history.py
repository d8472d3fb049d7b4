"""`fab history`: the hosts' records merged with this machine's (tasks/engine/history.py)."""

from __future__ import annotations

import json
import subprocess

import pytest
from invoke import Exit

from tasks.engine import history as team
from tasks.engine import records
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.hosts.secrets import Secrets

from .fakes import FakeRemote

INVENTORY = """[cpu]
cpu ansible_host=10.0.0.2 ansible_user=deploy
[gpu]
gpu ansible_host=10.0.0.3 ansible_user=deploy
"""


def rec(run_id: str, time: str, **more) -> dict:
    return {"run_id": run_id, "time": time, "operator": "kim", "kind": "deploy",
            "component": "backend", "host": "cpu", "result": "ok", **more}  # fmt: skip


def lines(*recs: dict) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)


@pytest.fixture
def local(tmp_path, monkeypatch):
    path = tmp_path / "history.jsonl"
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(path))
    monkeypatch.setattr(records, "written", 0)
    return path


def hosts_answering(answers: dict[str, str | Exception]):
    """A connect() whose hosts answer the history read with ``answers[alias]`` (an
    exception: that host cannot be reached); the commands each was asked, kept."""
    asked: dict[str, list[str]] = {}

    def connect(host, secrets, label=""):
        got = answers[host.alias]
        if isinstance(got, Exception):
            raise got
        remote = FakeRemote([("history.jsonl", 0, got)])
        asked[host.alias] = remote.calls
        return remote

    return connect, asked


def test_records_merge_one_per_run_newest_first_across_time_zones():
    mine = rec("20261207_120000_000000_aaaa", "2026-12-07T12:03:03+09:00", operator="kim")
    theirs = rec("20261207_040000_000000_bbbb", "2026-12-07T04:05:00+00:00", operator="lee")
    copy = {**mine, "operator": "planted"}  # the same run, as a host has it
    old = rec("20261201_090000_000000_cccc", "2026-12-01T09:00:00+09:00")
    merged = team.merge([mine], [copy, old], [theirs])
    # 04:05 UTC is 13:05 in Seoul: the teammate's deploy is the newest
    assert [r["operator"] for r in merged] == ["lee", "kim", "kim"]
    assert merged[1] is mine  # this machine's copy of a run wins over a host's


def test_a_host_s_lines_are_text_to_show_never_to_act_on():
    text = '{"run_id": "x", "operator": "a\\u001b]52;c;b2s=\\u0007"}\nnot json\n[1, 2]\n{"cut'
    (got,) = team.parse(text)
    assert "\x1b" not in got["operator"] and "\x07" not in got["operator"]


def test_duration_is_from_the_run_s_start_to_its_record_in_korean():
    r = rec("20261207_120000_000000_aaaa", "2026-12-07T12:03:03+09:00")
    assert team.run_seconds(r) == 183
    assert team.duration_text(team.run_seconds(r)) == "3분 3초"
    assert [team.duration_text(s) for s in (0.4, 42, 120, 3900, None)] == [
        "0.4초", "42초", "2분", "1시간 5분", "-"
    ]  # fmt: skip
    # a record the host wrote (the operator's side was gone) carries the launch's time: the
    # steps' sum is the longer, and the truer
    late = {**r, "time": "2026-12-07T12:00:10+09:00", "steps": [{"seconds": 95.0}]}
    assert team.run_seconds(late) == 95.0
    # a refusal: written at once (its time has no fraction of a second)
    assert team.run_seconds(rec("20261207_120000_700000_aaaa", "2026-12-07T12:00:00+09:00")) == 0


def test_a_row_says_the_result_in_korean_and_the_operator_s_message():
    r = rec("20261207_120000_000000_aaaa", "2026-12-07T12:03:03+09:00", result="rolled-back",
            operator_message="핫픽스 " + "x" * 60, downtime_seconds=0.0, **{"from": "a" * 40, "to": "b" * 40})  # fmt: skip
    row = dict(zip(team.HEADERS, team.row(r), strict=True))
    assert row["결과"] == "롤백됨" and row["작업"] == "배포" and row["소요"] == "3분 3초"
    assert row["리비전"] == "aaaaaaa → bbbbbbb" and row["다운타임"] == "0.0초"
    assert row["메시지"].startswith("핫픽스 xx") and row["메시지"].endswith("…")
    assert [team.RESULTS[x] for x in ("ok", "failed", "refused")] == ["성공", "실패", "거부됨"]


def test_the_host_read_is_the_newest_records_of_the_state_dir_s_history(tmp_path):
    def read(app=None):
        command = team.host_read_command(str(tmp_path), 2, app)
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout

    assert read() == ""  # nothing at all on a host never deployed to
    recs = [
        rec(f"r{i}", "t", component=c) for i, c in enumerate(["ai", "backend", "ai", "frontend"])
    ]
    (tmp_path / "history.jsonl").write_text(lines(*recs))
    assert [r["run_id"] for r in team.parse(read())] == ["r2", "r3"]
    assert [r["run_id"] for r in team.parse(read("ai"))] == ["r0", "r2"]
    assert [r["run_id"] for r in team.read_local_file(2, "ai", tmp_path / "history.jsonl")] == [
        "r0", "r2"
    ]  # fmt: skip


def test_show_merges_every_host_and_names_the_one_it_could_not_reach(local, tmp_path):
    local.write_text(lines(rec("20261207_100000_000000_aaaa", "2026-12-07T10:01:00+09:00",
                               operator="kim", operator_message="첫 배포")))  # fmt: skip
    theirs = rec("20261207_110000_000000_bbbb", "2026-12-07T11:00:30+09:00", operator="lee",
                 component="frontend", result="failed")  # fmt: skip
    inv = inventory.parse(INVENTORY, tmp_path / "hosts.ini")
    down = ConfigError("cannot reach gpu (deploy@10.0.0.3:22): timed out")
    connect, asked = hosts_answering({"cpu": lines(theirs), "gpu": down})
    out: list[str] = []
    shown = team.show(inv, Secrets({}), connect=connect, console=Console(Secrets({}), write=out.append))  # fmt: skip
    assert [r["operator"] for r in shown] == ["lee", "kim"]
    assert len(asked["cpu"]) == 1  # one command on the host
    text = "\n".join(out)
    assert "! gpu: 호스트에 연결하지 못해 그 호스트의 기록은 빠졌습니다 (cannot reach gpu" in text
    assert "실패" in text and "성공" in text and "첫 배포" in text
    # --app and --limit
    assert team.show(inv, Secrets({}), app="backend", connect=connect, console=Console(Secrets({}), write=out.append)) == shown[1:]  # fmt: skip
    assert len(team.show(inv, Secrets({}), limit=1, connect=connect, console=Console(Secrets({}), write=out.append))) == 1  # fmt: skip


def test_show_says_when_there_is_nothing(local, tmp_path):
    out: list[str] = []
    inv = inventory.parse(INVENTORY, tmp_path / "hosts.ini")
    connect, _ = hosts_answering({"cpu": "", "gpu": ""})
    assert team.show(inv, Secrets({}), connect=connect, console=Console(Secrets({}), write=out.append)) == []  # fmt: skip
    assert out == ["(기록 없음)"]


def test_fab_history_json_without_an_inventory_and_bad_options(
    local, tmp_path, monkeypatch, capsys
):
    import tasks

    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "missing.ini"))
    monkeypatch.setenv("DOJANGKOK_ENV", str(tmp_path / "missing.env"))
    local.write_text(lines(rec("20261207_100000_000000_aaaa", "2026-12-07T10:01:00+09:00")))
    tasks.history.body(None, json=True)
    got = capsys.readouterr()
    assert json.loads(got.out)[0]["run_id"] == "20261207_100000_000000_aaaa"
    assert "인벤토리를 읽지 못해 이 컴퓨터의 기록만 보입니다" in got.err  # JSON stays JSON
    for bad in ({"app": "db"}, {"limit": "0"}):
        with pytest.raises(Exit) as err:
            tasks.history.body(None, **bad)
        assert err.value.code == 1 and "→" in str(err.value.message)
    assert len(local.read_text().splitlines()) == 1  # a read records nothing, refused or not
