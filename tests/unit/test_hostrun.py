"""The host-side executor of the critical section (tasks/onhost/hostrun.py), run for real here.

It is the second executor of the failure policy, so it gets the same cases as the runner:
a pass, a failure that rolls back, a retry, Ctrl-C (a cancel file), and finishing up alone
when the operator's side is gone.
"""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from tasks.engine import hostscript
from tasks.engine.steps import Plan, Step
from tasks.onhost.policy import Policy

from .conftest import make_session, make_view

HERE = Path(hostscript.__file__).resolve().parent.parent / "onhost"


def plan(*steps: Step, section: str = "B") -> Plan:
    return Plan("backend", section, "test", "", "", "", steps)


def sh(number: str, command: str, policy: Policy = Policy.ROLLBACK, **kw) -> Step:
    return Step(number, f"step {number}", "1초", "-", policy, command=lambda v: command, **kw)


def run_host(tmp_path: Path, steps: Plan, back: Plan, ack: bool = True, during=None):
    """Compile, place the files as the launch step would, run hostrun.py; the events."""
    d = tmp_path / "run"
    d.mkdir()
    view = make_view()
    entry = {"run_id": view.run_id, "kind": "deploy", "steps": [{"number": "8", "phase": "deploy"}]}
    doc = json.loads(hostscript.compile_plan(steps, back, view, entry))
    doc["ack_wait"] = 1
    doc["record"]["path"] = str(tmp_path / "history.jsonl")
    doc["unlock"] = f"touch {tmp_path / 'unlocked'}"
    (d / "plan.json").write_text(json.dumps(doc))
    shutil.copy(HERE / "hostrun.py", d)
    shutil.copy(HERE / "policy.py", d)
    if ack:
        (d / "ack").touch()
    # as the root helper starts it (tasks/onhost/roothelper.py): isolated, no site
    proc = subprocess.Popen([sys.executable, "-IS", str(d / "hostrun.py"), str(d)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    if during:
        threading.Thread(target=during, args=(d,), daemon=True).start()
    _, err = proc.communicate(timeout=60)
    assert not err.strip(), err
    events = [json.loads(x) for x in (d / "status.jsonl").read_text().splitlines()]
    return proc.returncode, events


def test_the_plan_names_no_user_and_no_sudo():
    """The host run is the deploy login's own: plan.json says nothing of users or sudo."""
    view = make_view()
    doc = json.loads(
        hostscript.compile_plan(plan(sh("9", "true")), plan(sh("R1", "true")), view, {})
    )
    assert "login_user" not in doc
    assert all("sudo" not in st for st in doc["steps"] + doc["rollback"])
    assert "sudo" not in (HERE / "hostrun.py").read_text().replace(
        "sudo -n /usr/local/sbin/dojangkok-root", ""
    )


def test_a_sudo_step_cannot_run_on_the_host():
    import pytest

    view = make_view()
    with pytest.raises(ValueError, match="root helper"):
        hostscript.compile_plan(plan(sh("9", "true", sudo=True)), plan(), view, {})
    with pytest.raises(ValueError, match="root helper"):
        hostscript.compile_plan(plan(), plan(sh("R1", "true", sudo=True)), view, {})


def test_steps_run_as_the_user_running_the_host_run(tmp_path):
    rc, events = run_host(tmp_path, plan(sh("9", 'id -un; echo "$USER"')), plan())
    assert rc == 0
    assert [e["line"] for e in events if e["ev"] == "out"] == [getpass.getuser()] * 2


def done(events):
    return [e for e in events if e["ev"] == "done"][0]


def ends(events):
    return [(e["phase"], e["number"], e["status"]) for e in events if e["ev"] == "end"]


def test_every_step_in_order(tmp_path):
    rc, events = run_host(tmp_path, plan(sh("9", "echo started"), sh("10", "echo healthy")), plan())
    assert rc == 0 and done(events)["result"] == "ok"
    assert ends(events) == [("deploy", "9", "ok"), ("deploy", "10", "ok")]
    assert {"ev": "out", "line": "healthy"}.items() <= [e for e in events if e["ev"] == "out"][
        1
    ].items()


def test_a_failure_rolls_back_on_the_host(tmp_path):
    rc, events = run_host(
        tmp_path,
        plan(sh("9", "true"), sh("10", "echo unhealthy >&2; exit 1"), sh("11", "echo never")),
        plan(sh("R1", "echo switched back", Policy.ABORT)),
    )
    d = done(events)
    assert rc == 1 and d["result"] == "rolled-back" and d["rolled_back"] is True
    assert ends(events) == [
        ("deploy", "9", "ok"),
        ("deploy", "10", "failed"),
        ("rollback", "R1", "ok"),
    ]
    assert "B10 step 10 실패" in d["problem"]


def test_a_failed_rollback_is_said(tmp_path):
    rc, events = run_host(tmp_path, plan(sh("9", "exit 1")), plan(sh("R1", "exit 3", Policy.ABORT)))
    assert done(events)["result"] == "rollback-failed"


def test_retry_runs_the_cleanup(tmp_path):
    flag = tmp_path / "cleaned"
    step = sh("4", f"test -e {flag}", Policy.RETRY, cleanup=lambda v: f"touch {flag}",
              then=Policy.ROLLBACK)  # fmt: skip
    rc, events = run_host(tmp_path, plan(step), plan())
    assert rc == 0 and ends(events) == [("deploy", "4", "ok")]


def test_a_cancel_file_stops_the_step_and_rolls_back_once_committed(tmp_path):
    def cancel(d: Path):
        time.sleep(1)
        (d / "cancel").touch()

    t0 = time.monotonic()
    rc, events = run_host(tmp_path, plan(sh("9", "sleep 20"), sh("10", "echo never")),
                          plan(sh("R1", "echo back", Policy.ABORT)), during=cancel)  # fmt: skip
    assert time.monotonic() - t0 < 10  # the sleep was ended, not waited for
    d = done(events)
    assert d["result"] == "interrupted" and d["interrupted"] and d["rolled_back"]
    assert ends(events) == [("deploy", "9", "interrupted"), ("rollback", "R1", "ok")]


def test_without_the_operator_the_host_records_and_unlocks(tmp_path):
    rc, events = run_host(tmp_path, plan(sh("9", "true")), plan(), ack=False)
    assert events[-1]["ev"] == "recorded"
    (rec,) = [json.loads(x) for x in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rec["result"] == "ok" and "operator's side was gone" in rec["recorded_by"]
    assert [s["number"] for s in rec["steps"]] == [
        "8",
        "9",
    ]  # the operator's steps, then the host's
    assert (tmp_path / "unlocked").exists()


def test_with_the_operator_the_host_leaves_the_record_and_the_lock(tmp_path):
    run_host(tmp_path, plan(sh("9", "true")), plan(), ack=True)
    assert not (tmp_path / "history.jsonl").exists() and not (tmp_path / "unlocked").exists()


def test_the_operator_rebuilds_the_report_from_the_events(tmp_path):
    rc, events = run_host(tmp_path, plan(sh("9", "true"), sh("10", "exit 1")),
                          plan(sh("R1", "true", Policy.ABORT)))  # fmt: skip
    lines = []
    s = make_session(None, lines=lines)
    follow = hostscript._Follow(s)
    follow.feed("".join(json.dumps(e) + "\n" for e in events))
    assert follow.done["result"] == "rolled-back"
    assert [(st.number, st.status, st.phase) for st in s.report.steps] == [
        ("9", "ok", "deploy"), ("10", "failed", "deploy"), ("R1", "ok", "rollback")]  # fmt: skip
    assert any("롤백 시작 (호스트에서)" in line for line in lines)
    import pytest

    from tasks.errors import StepFailed

    with pytest.raises(StepFailed) as err:
        hostscript.settle(s, follow.done)
    assert err.value.rolled_back is True and s.report.result == "rolled-back"


def test_a_step_skipped_by_its_rule_is_skipped_on_the_host_too(tmp_path):
    """skip_if is the step loop's, in both executors: a host-run step it skips never runs."""
    flag = tmp_path / "ran"
    step = sh("9", f"touch {flag}", skip_if=lambda v: "not configured")
    rc, events = run_host(tmp_path, plan(step, sh("10", "true")), plan())
    assert rc == 0 and ends(events) == [("deploy", "9", "skipped"), ("deploy", "10", "ok")]
    assert not flag.exists()
    assert [e["detail"] for e in events if e["ev"] == "end"][0] == "not configured"


def test_the_rollback_s_cleanup_is_not_stopped_by_the_first_ctrl_c(tmp_path):
    """Ctrl-C (the cancel file) stops the deploy's steps; the rollback it starts runs to its
    end, its retry's cleanup included (only the deploy's commands are stopped by it)."""
    flag = tmp_path / "cleaned"
    back = sh("R1", f"test -e {flag}", Policy.RETRY, cleanup=lambda v: f"sleep 1; touch {flag}",
              then=Policy.ABORT)  # fmt: skip

    def cancel(d: Path):
        time.sleep(1)
        (d / "cancel").touch()

    rc, events = run_host(tmp_path, plan(sh("9", "sleep 20")), plan(back), during=cancel)
    d = done(events)
    assert d["result"] == "interrupted" and d["rolled_back"] is True, d
    assert ends(events) == [("deploy", "9", "interrupted"), ("rollback", "R1", "ok")]


def test_one_loop_one_policy_in_both_executors():
    """The in-process runner imports the host's loop, and both read the one policy module
    (as tasks.onhost.hostrun: the policy's Outcome is the runner's, not a second copy)."""
    from tasks.engine import runner
    from tasks.onhost import hostrun, policy

    assert hostrun.rules is policy
    assert runner.Loop is hostrun.Loop


def test_hostrun_imports_beside_policy_alone(tmp_path):
    """Uploaded, hostrun.py finds policy.py beside it, with no ``tasks`` package around."""
    shutil.copy(HERE / "hostrun.py", tmp_path)
    shutil.copy(HERE / "policy.py", tmp_path)
    code = "import sys; sys.path.insert(0, '.'); import hostrun; print(hostrun.rules.__name__)"
    # -I: no PYTHONPATH, no user site, not this checkout: as on a host
    res = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True,
                         text=True)  # fmt: skip
    assert res.returncode == 0 and res.stdout.strip() == "policy", res.stderr
