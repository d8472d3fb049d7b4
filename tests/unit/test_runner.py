"""The runner's policies on a scripted host (the lab tests prove them on real hosts)."""

import pytest

from tasks.apps.backend import manual as backend
from tasks.apps.frontend import manual as frontend
from tasks.engine.interrupt import INTERRUPT
from tasks.errors import StepFailed
from tasks.hosts.settings import Settings

from .conftest import FROM, ROOT_SECRET, SECRET, make_session
from .fakes import FakeRemote

#: a deploy's root actions: calls of the root helper, run without the runner's sudo
ROOT = "sudo -n /usr/local/sbin/dojangkok-root"


def run_backend(remote, lines=None, **kw):
    s = make_session(remote, lines=lines, **kw)
    s.execute(backend.plan(s.view), backend.rollback_plan)
    return s


def test_happy_path_runs_every_step_in_order_and_measures_downtime():
    remote, lines = FakeRemote(), []
    s = run_backend(remote, lines)
    assert s.report.result == "ok"
    numbers = [st.number for st in s.report.steps]
    assert numbers == ["0", "1", "2", "3", "4", "5", "6", "6a", "6b", "7", "8", "9", "10", "11",
                       "12"]  # fmt: skip
    assert s.report.downtime is not None
    assert (
        remote.index("systemctl stop") < remote.index("gradlew") < remote.index("systemctl start")
    )
    assert ("run", f"{ROOT} systemctl stop dojangkok") in remote.calls
    assert [c for how, c in remote.calls if how == "sudo"] == []  # no free shell as root
    assert lines[0].startswith("[1/15] (B0)")


def test_what_is_shown_is_what_runs_with_sudo_marked():
    remote, lines = FakeRemote(), []
    run_backend(remote, lines)
    shown = [line.strip()[2:] for line in lines if line.strip().startswith("$ ")]
    ran = [("[sudo] " if how == "sudo" else "") + c for how, c in remote.calls]
    for command in shown:
        assert command in ran, command


def test_password_never_on_a_command_line_nor_in_output():
    remote, lines = FakeRemote(), []
    run_backend(remote, lines)
    assert SECRET not in remote.commands()
    assert SECRET not in "\n".join(lines)
    # it travelled in an uploaded 0600 option file instead, shown as an upload
    (opt,) = [v for k, v in remote.uploads.items() if ".my.cnf" in k]
    assert f'password="{SECRET}"' in opt and 'user="dojangkok_backup"' in opt
    # the database admin's password never reaches the deploy login (no upload holds it)
    assert not any(ROOT_SECRET in v for v in remote.uploads.values())
    assert any(line.strip().startswith("↑ ") and ".my.cnf" in line for line in lines)


def test_a_step_s_uploads_and_its_command_are_one_round_trip():
    remote = FakeRemote()
    run_backend(remote)
    ((paths, then),) = [w for w in remote.writes if any(".my.cnf" in p for p in w[0])]
    assert "mysqldump" in then  # the backup ran right after its option file was written
    assert [c for _, c in remote.calls].count(then) == 1


def test_backup_failure_stops_before_the_service_is_touched():
    remote = FakeRemote([("mysqldump", 1, "Access denied")])
    with pytest.raises(StepFailed, match="B3 MySQL 백업 실패") as err:
        run_backend(remote)
    assert "systemctl stop" not in remote.commands()
    assert err.value.report.result == "failed"
    assert "백업 실패 시 배포 중단" in err.value.fix


def test_build_failure_while_down_rolls_back_to_the_kept_jar():
    remote = FakeRemote([("backend && ./gradlew", 1, "BUILD FAILED")])
    with pytest.raises(StepFailed) as err:
        run_backend(remote)
    assert err.value.rolled_back is True
    after = remote.commands()[remote.commands().index("gradlew") :]
    assert f"--verify --end-of-options '{FROM}^{{commit}}'" in after
    assert 'git reset -q --hard "$rev" --' in after
    # the kept jar of FROM is the one the release record names (by checksum), checked
    assert f"releases/backend.json {FROM} artifact" in after and 'backend-"$sum".jar' in after
    assert "systemctl restart" in after
    report = err.value.report
    assert report.result == "rolled-back"
    # the record keeps the rollback's steps too (smoke and version: skipped, not configured)
    assert [st.number for st in report.steps if st.phase == "rollback"] == [
        "R1", "R2", "R3", "R4", "R5", "R6"]  # fmt: skip


def test_failed_rollback_is_loud_and_keeps_its_steps():
    remote = FakeRemote([("backend && ./gradlew", 1, "BUILD FAILED"),
                         ("systemctl restart", 1, "unit failed")])  # fmt: skip
    with pytest.raises(StepFailed, match="롤백도 실패") as err:
        run_backend(remote)
    assert err.value.report.rolled_back is False
    assert "서비스가 내려가 있을 수 있습니다" in err.value.fix
    statuses = [(st.number, st.status) for st in err.value.report.steps if st.phase == "rollback"]
    assert statuses == [("R1", "ok"), ("R2", "ok"), ("R3", "failed")]


def test_health_is_polled_on_the_host_with_the_manuals_schedule():
    remote = FakeRemote()
    run_backend(remote)
    (health,) = [c for _, c in remote.calls if "localhost:8080/health" in c]
    assert "seq 1 24" in health and "sleep 5" in health


def test_health_follows_the_port_and_path():
    remote = FakeRemote()
    run_backend(
        remote, settings=Settings(backend_port=9090, backend_health_path="/actuator/health")
    )
    assert "http://localhost:9090/actuator/health" in remote.commands()


def test_retry_runs_the_cleanup_then_tries_again():
    remote = FakeRemote([("&& npm ci", [1, 0], "EINTEGRITY")])
    s = make_session(remote, "frontend")
    s.execute(frontend.plan(s.view), frontend.rollback_plan)
    assert s.report.result == "ok"
    assert "rm -rf node_modules" in remote.commands()


def test_frontend_build_failure_needs_no_rollback():
    remote = FakeRemote([("npm run build", 1, "Failed to compile")])
    s = make_session(remote, "frontend")
    with pytest.raises(StepFailed) as err:
        s.execute(frontend.plan(s.view), frontend.rollback_plan)
    assert err.value.rolled_back is None
    assert "rm -rf /var/www/dojangkok" not in remote.commands()


def test_dry_run_touches_nothing():
    lines = []
    s = make_session(None, lines=lines, dry_run=True)
    s.execute(backend.plan(s.view), backend.rollback_plan)
    assert s.report.result == "planned"
    assert all(st.status == "planned" for st in s.report.steps)
    assert any("./gradlew clean build -x test" in line for line in lines)
    assert any(f"$ {ROOT} systemctl stop dojangkok" in line for line in lines)
    assert not any("[sudo]" in line for line in lines)


def test_failed_health_shows_the_journal_then_rolls_back():
    remote = FakeRemote([("localhost:8080/health", [1, 0], "refused"),
                         ("journalctl", 0, "Caused by: java.net.BindException")])  # fmt: skip
    lines = []
    with pytest.raises(StepFailed, match="B10 헬스체크 실패") as err:
        run_backend(remote, lines)
    assert err.value.rolled_back is True
    text = "\n".join(lines)
    assert "로그: journalctl -u dojangkok -n 30" in text and "BindException" in text
    assert "[sudo] journalctl" not in text  # the deploy login reads the journal itself
    assert any(how == "run" and c.startswith("journalctl -u dojangkok") for how, c in remote.calls)


def test_a_failing_rollback_task_says_the_service_is_down():
    remote = FakeRemote([("systemctl restart", 1, "unit failed")])
    s = make_session(remote, task="rollback")
    with pytest.raises(StepFailed, match="BR3 서비스 재시작 실패") as err:
        s.execute(backend.rollback_plan(s.view))
    assert "서비스가 내려가 있습니다" in err.value.fix


# --- Ctrl-C and lost connections -------------------------------------------------------
def press_during(pattern):
    def answer(fake, command):
        INTERRUPT.press()
        return 0

    return (pattern, _once(answer), "")


def test_ctrl_c_during_the_build_rolls_back_like_a_failure():
    remote, lines = FakeRemote([press_during("backend && ./gradlew")]), []
    with pytest.raises(StepFailed) as err:
        run_backend(remote, lines)
    # the stopped step is shown as the host run's follower shows one (runner.report_step)
    assert "      | Ctrl-C로 중단됨" in lines
    report = err.value.report
    assert report.result == "interrupted" and report.interrupted and report.rolled_back
    assert ("run", f"{ROOT} systemctl restart dojangkok") in remote.calls
    assert [st.status for st in report.steps if st.number == "8"] == ["interrupted"]
    assert "systemctl start dojangkok" not in remote.commands()  # B9 never ran


def test_ctrl_c_before_anything_serving_changed_only_stops():
    remote = FakeRemote([press_during("git pull")])
    with pytest.raises(StepFailed, match="중단") as err:
        run_backend(remote)
    assert err.value.report.result == "interrupted"
    assert err.value.report.rolled_back is None
    assert "systemctl" not in remote.commands().split("git pull")[1]


def test_second_ctrl_c_stops_the_rollback_and_says_how_to_recover():
    def twice(fake, command):
        INTERRUPT.press()
        return 0

    remote = FakeRemote([("backend && ./gradlew", twice, ""), ("git reset", twice, ""),
                         ("is-active", 0, "dojangkok: inactive")])  # fmt: skip
    s = make_session(remote)
    s.state_command = backend.state_command(s.view)
    s.recover_with = "fab -H cpu rollback-backend --to=aaaaaaa"
    with pytest.raises(StepFailed, match="롤백이 멈췄습니다") as err:
        s.execute(backend.plan(s.view), backend.rollback_plan)
    assert "dojangkok: inactive" in err.value.fix
    assert "fab -H cpu rollback-backend --to=aaaaaaa" in err.value.fix
    assert "systemctl restart" not in remote.commands()


def test_a_dropped_connection_during_health_reconnects_and_rolls_back():
    def drop(fake, command):
        fake.alive = False
        return -1

    remote = FakeRemote([("localhost:8080/health", _once(drop), "")])
    with pytest.raises(StepFailed) as err:
        run_backend(remote)
    assert remote.reconnects == 1
    assert err.value.report.result == "interrupted" and err.value.report.rolled_back
    assert ("run", f"{ROOT} systemctl restart dojangkok") in remote.calls


def test_a_connection_that_stays_down_is_loud():
    def drop(fake, command):
        fake.alive = False
        fake.refuse_reconnect = True
        return -1

    remote = FakeRemote([("systemctl start", drop, "")])
    s = make_session(remote)
    s.recover_with = "fab -H cpu rollback-backend --to=aaaaaaa"
    import tasks.engine.live as live_module

    live_module.RECONNECT_WITHIN = 0.5
    try:
        with pytest.raises(StepFailed, match="다시 연결하지 못했습니다") as err:
            s.execute(backend.plan(s.view), backend.rollback_plan)
    finally:
        live_module.RECONNECT_WITHIN = 30.0
    assert "내려가 있을 수 있습니다" in err.value.fix and "rollback-backend" in err.value.fix
    assert err.value.report.result == "connection-lost"


def _once(action):
    state = {"done": False}

    def answer(fake, command):
        if state["done"]:
            return 0
        state["done"] = True
        return action(fake, command)

    return answer
