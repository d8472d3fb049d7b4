import json

from tasks.engine import history, records

from .conftest import SECRET, make_session
from .fakes import FakeRemote


def test_stack_push_and_previous():
    assert records.pushed([], "a", "b") == ["a", "b"]
    assert records.pushed(["a", "b"], "b", "c") == ["a", "b", "c"]
    assert records.pushed(["a", "b"], "x", "c") == [
        "a",
        "b",
        "x",
        "c",
    ]  # deployed by hand meanwhile
    assert records.pushed(["a", "b"], "b", "b") == ["a", "b"]  # redeploy of the same revision
    assert records.previous(["a", "b", "c"], "c") == "b"
    assert records.previous(["a"], "a") is None


def test_stack_pop_after_rollback():
    assert records.popped(["a", "b", "c"], "c", "b") == ["a", "b"]
    assert records.popped(["a", "b", "c"], "c", "a") == ["a"]
    assert records.popped(["a", "b"], "b", "z") == ["z"]


def test_records_are_masked_locally_and_on_the_host(tmp_path, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "h.jsonl"))
    remote = FakeRemote()
    records.append(
        make_session(remote), {"note": f"password {SECRET} leaked?", "component": "backend"}
    )
    (line,) = (tmp_path / "h.jsonl").read_text().splitlines()
    assert SECRET not in line and json.loads(line)["component"] == "backend"
    assert history.read_local_file(20)[0]["component"] == "backend"  # as `fab history` reads it
    (uploaded,) = remote.uploads.values()
    assert SECRET not in uploaded and "history.jsonl" in remote.commands()


def test_a_host_record_that_cannot_be_written_is_said(tmp_path, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "h.jsonl"))
    remote, lines = FakeRemote([("history.jsonl", 1, "No such file or directory")]), []
    records.append(make_session(remote, lines=lines), {"component": "backend"})
    assert (tmp_path / "h.jsonl").exists()
    assert any("배포 기록을 쓰지 못했습니다" in line for line in lines)


def test_history_files_are_private(tmp_path, monkeypatch):
    """Locally 0600 in a 0700 directory, even over a file left readable; on the host, 0600
    (the command says so; tests/unit/test_run_files.py runs it)."""
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "state" / "h.jsonl"))
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "h.jsonl").write_text("")
    (tmp_path / "state" / "h.jsonl").chmod(0o644)
    remote = FakeRemote()
    records.append(make_session(remote), {"component": "backend"})
    assert oct((tmp_path / "state" / "h.jsonl").stat().st_mode)[-3:] == "600"
    assert oct((tmp_path / "state").stat().st_mode)[-3:] == "700"
    assert "chmod 600 -- /var/lib/dojangkok-deploy/history.jsonl" in remote.commands()


def test_the_stack_goes_to_the_host_with_the_record_in_one_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "h.jsonl"))
    remote = FakeRemote()
    s = make_session(remote)
    records.write_stack(s, ["a", "b"])
    assert remote.calls == []  # nothing yet: it waits for the record
    records.append(s, {"component": "backend"}, unlock="true")
    ((paths, then),) = remote.writes
    stack = next(p for p in paths if p.endswith(".tmp") and "backend.json" in p)
    assert json.loads(remote.uploads[stack]) == {"deployed": ["a", "b"]}
    # the stack moved into place, then the record, then the lock released: one command
    assert (
        then.index("mv -f") < then.index("history.jsonl") < then.index("echo @@dojangkok-unlocked")
    )
    assert s.with_record == []


def test_what_could_not_go_with_the_record_is_said_each_on_its_own(tmp_path, monkeypatch):
    from tasks.hosts.remote import Result

    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "h.jsonl"))
    lines: list[str] = []
    remote = FakeRemote()
    s = make_session(remote, lines=lines)
    s.with_record.append(records.WithRecord("touch ack", "the ack"))
    records.write_stack(s, ["a"])
    # the host: the first leftover (the ack) done, the second (the stack's move) failed
    remote.put_texts = lambda files, then="": Result(True, 0, "", f"{records.NOT_DONE}1\n")
    records.append(s, {"component": "backend"})
    said = "\n".join(lines)
    assert "배포 리비전 목록" in said and "the ack" not in said
    assert "배포 기록을 쓰지 못했습니다" not in said  # the record itself was written
    # no connection: nothing went, each is said
    lines.clear()
    s.with_record.append(records.WithRecord("touch ack", "the ack"))
    records.write_stack(s, ["a"])
    remote.alive = False
    records.append(s, {"component": "backend"})
    said = "\n".join(lines)
    assert "the ack" in said and "배포 리비전 목록" in said and "로컬 기록은 남았습니다" in said
