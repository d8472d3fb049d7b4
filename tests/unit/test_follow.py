"""Following the host's critical section from the operator's side (tasks/engine/hostscript.py):
the stream, Ctrl-C forwarded to the host, a dropped connection resumed, detaching."""

from __future__ import annotations

import json

import pytest

from tasks.engine import hostscript
from tasks.engine.interrupt import INTERRUPT

from .conftest import make_session
from .fakes import FakeRemote

EVENTS = [
    {"ev": "start"},
    {"ev": "step", "phase": "deploy", "k": 1, "total": 1, "n": "B9", "title": "start", "expected": "1초"},
    {"ev": "end", "section": "B", "number": "9", "title": "start", "expected": "1초",
     "status": "ok", "seconds": 0.2, "detail": "", "phase": "deploy"},
    {"ev": "done", "result": "ok", "rolled_back": None, "interrupted": False, "problem": "",
     "downtime": None},
]  # fmt: skip


def lines(events) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def tails(remote: FakeRemote) -> list[str]:
    return [c for _, c in remote.calls if " tail " in c]


def test_the_stream_becomes_the_report_and_is_acknowledged():
    remote = FakeRemote([("tail", 0, lines(EVENTS))])
    s = make_session(remote)
    done = hostscript.follow(s)
    assert done["result"] == "ok"
    assert [(st.number, st.status) for st in s.report.steps] == [("9", "ok")]
    tail = tails(remote)[0]
    assert "systemctl show -p MainPID" in tail and "dojangkok-watch:" in tail
    # while the unit runs: its pid read on the host, polled finely where inotify is not
    assert '--pid="$p" -F -s 0.02 -n +1' in tail
    assert remote.commands().rstrip().endswith("/ack")


def test_ctrl_c_asks_the_host_to_stop_and_keeps_following():
    calls = {"n": 0}

    def tail(fake, command):
        calls["n"] += 1
        if calls["n"] == 1:
            INTERRUPT.press()
        return 0

    remote = FakeRemote([("tail -", tail, lines(EVENTS[:2]))])
    s = make_session(remote)
    # the second tail (after the cancel) brings the rest, from line 3 on
    original = remote.run

    def run(command, *a, **kw):
        if " tail " in command and "+3" in command:
            kw["on_output"](lines(EVENTS[2:]))
            kw["on_output"] = None
        return original(command, *a, **kw)

    remote.run = run
    done = hostscript.follow(s)
    assert done["result"] == "ok"
    assert any(c.startswith("touch -- ") and c.endswith("/cancel") for _, c in remote.calls)
    assert "-n +3" in tails(remote)[-1]


def test_a_dropped_connection_resumes_where_it_stopped():
    state = {"dropped": False}

    def tail(fake, command):
        if not state["dropped"]:
            state["dropped"] = True
            fake.alive = False
        return 0

    remote = FakeRemote([("tail -", tail, lines(EVENTS[:2]))])
    s = make_session(remote)
    original = remote.run

    def run(command, *a, **kw):
        if " tail " in command and "+3" in command:
            kw["on_output"](lines(EVENTS[2:]))
            kw["on_output"] = None
        return original(command, *a, **kw)

    remote.run = run
    assert hostscript.follow(s)["result"] == "ok"
    assert remote.reconnects == 1 and "-n +3" in tails(remote)[-1]


def test_a_second_ctrl_c_detaches_and_hands_the_lock_to_the_host():
    def tail(fake, command):
        INTERRUPT.press()
        INTERRUPT.press()
        return 0

    remote = FakeRemote([("tail -", tail, lines(EVENTS[:2]))])
    s = make_session(remote)
    with pytest.raises(hostscript.Detached, match="Ctrl-C"):
        hostscript.follow(s)
    assert s.lock_handed_over and s.report.result == "detached"
    assert not remote.commands().rstrip().endswith("/ack")  # the host finishes up itself


def test_a_unit_that_ends_without_a_result_is_an_error():
    remote = FakeRemote([("tail -", 0, lines(EVENTS[:2]))])
    s = make_session(remote)
    with pytest.raises(hostscript.StepFailed, match="ended without a result"):
        hostscript.follow(s)
