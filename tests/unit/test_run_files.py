"""The files the tool writes on a host for itself are the deploy login's alone (0600, 0700).

Records, the deployed-revision stack, the deploy lock and its info, a host run's directory,
its status lines and the record it writes when the operator's side is gone: the commands
that write them run for real here (bash through tasks/hosts/remote.py's Remote, and
hostrun.py itself), over files an older tool left readable (0644), and the modes are read
from the disk. The lab's leak tests check the host history's mode on real hosts.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tasks.engine import hostscript, records
from tasks.engine.lock import HostLock, lock_dir
from tasks.hosts.remote import Remote
from tasks.hosts.settings import Settings

from .conftest import make_session, make_view
from .test_hostrun import plan, run_host, sh
from .test_remote_channel import Conn, LocalChannel, Transport


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):o}"


def local_remote() -> Remote:
    channel = LocalChannel()
    return Remote(lambda: Conn(Transport(channel)))


def test_the_host_s_history_and_revision_stack_are_0600(tmp_path, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "local" / "history.jsonl"))
    state = tmp_path / "state"
    state.mkdir()
    history = state / "history.jsonl"
    history.write_text('{"old": "record"}\n')
    history.chmod(0o644)  # as an older tool (0640) or a copy left it
    s = make_session(local_remote(), settings=Settings(state_dir=str(state)))
    records.write_stack(s, ["a" * 40, "b" * 40])
    records.append(s, {"component": "backend", "result": "ok"})
    assert len(history.read_text().splitlines()) == 2  # appended
    assert mode(history) == "600"
    assert mode(state / "backend.json") == "600"
    assert not list(state.glob("*.tmp"))
    assert mode(tmp_path / "local" / "history.jsonl") == "600"


def test_the_deploy_lock_and_its_info_are_the_deploy_login_s(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    view = make_view(settings=Settings(state_dir=str(state)))
    lock = HostLock.take(local_remote(), view, message="a message")
    d = Path(lock_dir(view.s))
    assert mode(d) == "700" and mode(d / "info.json") == "600"
    lock.update(revision="c" * 40)
    assert mode(d / "info.json") == "600" and "c" * 40 in (d / "info.json").read_text()
    assert lock.update(now=False, message="later") is None and lock.upload().mode == "600"
    lock.release()
    assert not d.exists()


def test_a_host_run_s_directory_status_and_record_are_private(tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text("")
    history.chmod(0o644)
    code, events = run_host(tmp_path, plan(sh("9", "echo step output")), plan(), ack=False)
    assert code == 0 and events[-1]["ev"] == "recorded"
    run = tmp_path / "run"
    assert mode(run / "status.jsonl") == "600"
    assert mode(run) == "700" and mode(tmp_path) == "700"  # <state_dir>/hostrun/<run id>
    assert mode(history) == "600" and history.read_text().strip()


def test_the_host_run_s_uploads_are_0600():
    view = make_view(strategy="release")
    step = hostscript.launch_step(plan(sh("9", "true")), plan(), lambda v: {})
    assert {u.mode for u in step.uploads(view)} == {"600"}


def test_the_build_manifest_and_the_drift_record_are_0600(tmp_path):
    from tasks.localbuild import plans
    from tasks.strategies import drift

    view = make_view("frontend", build_on="local")
    assert {u.mode for u in plans.verify_step("3").uploads(view)} == {"600"}
    state = tmp_path / "state"
    s = make_session(local_remote(), settings=Settings(state_dir=str(state)))
    drift.write(s, "backend", {"revisions": {}})
    assert mode(Path(drift.record_path(s.view.s, "backend"))) == "600"
