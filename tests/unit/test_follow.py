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
    with pytest.raises(hostscript.StepFailed, match="결과 없이 끝났습니다"):
        hostscript.follow(s)


@pytest.mark.parametrize("result", ["ok", "rolled-back"])
def test_a_deploy_s_acknowledgement_carries_the_cleanup_s_listing(result):
    """After the host run: one round trip acknowledges it and lists the releases (however
    it ended); the cleanup deletes from that listing, with no second look."""
    from tasks.apps.frontend import release as release_frontend
    from tasks.errors import StepFailed
    from tasks.strategies.release import flow as release_flow
    from tasks.strategies.release import layout as release

    names = [f"2026010{i}_000000_000000_aaaa-111111{i}" for i in range(1, 8)]
    listing = "".join(f"@@release {n} ready {'current' if n == names[-1] else '-'} {i} -\n"
                      for i, n in enumerate(names, 1))  # fmt: skip
    done = {**EVENTS[-1], "result": result, "rolled_back": result != "ok"}
    remote = FakeRemote([("@@release", 0, listing), (" tail ", 0, lines([*EVENTS[:-1], done]))])
    s = make_session(remote, component="frontend", strategy="release")
    plan = release_frontend.switch_plan(s.view)
    back = release_frontend.switch_back_plan(s.view, names[-2])
    reads = (release.list_command(s.view),)
    if result != "ok":
        with pytest.raises(StepFailed):
            release_flow._host_part(s, plan, back, reads=reads)
    else:
        listed = release_flow._host_part(s, plan, back, reads=reads)
        release_flow._cleanup(s, listed[0][1])
    after = [c for _, c in remote.calls[remote.index("dojangkok-watch") + 1 :]]
    assert "/ack" in after[0] and "@@release" in after[0]  # one round trip, both
    if result == "ok":
        (clean,) = after[1:]  # the cleanup itself: no listing of its own
        assert "@@release" not in clean and "rm -rf" in clean
        assert f"releases/{names[0]}" in clean and f"releases/{names[-3]}" not in clean
    else:
        assert after[1:] == []
