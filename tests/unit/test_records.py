import json

from tasks import records

from .conftest import make_run


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


def test_local_record_is_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "h.jsonl"))
    run = make_run(dry_run=True)
    records.append(run, {"note": "password hunter2-secret leaked?", "component": "backend"})
    (line,) = (tmp_path / "h.jsonl").read_text().splitlines()
    assert "hunter2-secret" not in line and json.loads(line)["component"] == "backend"
    assert records.read_local()[0]["component"] == "backend"
