"""The runner's policies on a scripted connection (the lab tests prove them on real hosts)."""

import pytest

from tasks import backend, frontend
from tasks.errors import StepFailed
from tasks.runner import Runner
from tasks.secrets import Secrets

from .conftest import make_run
from .fakes import FakeConnection


def runner_for(conn, lines):
    return Runner(
        conn,
        Secrets({"MYSQL_ROOT_PASSWORD": "hunter2-secret"}),
        out=lines.append,
        sleep=lambda s: None,
    )


def test_happy_path_runs_every_step_in_order_and_measures_downtime():
    conn, lines = FakeConnection(), []
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    report = run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert report.result == "ok"
    numbers = [s.number for s in report.steps]
    assert numbers == ["0", "1", "2", "3", "4", "5", "6", "6a", "7", "8", "9", "10", "11", "12"]
    assert report.downtime is not None
    text = conn.commands()
    assert text.index("systemctl stop") < text.index("gradlew") < text.index("systemctl start")
    assert any(how == "sudo" and "systemctl stop" in c for how, c in conn.calls)
    assert lines[0].startswith("[1/14] (B0)")


def test_password_never_on_a_command_line_nor_in_output():
    conn, lines = FakeConnection(), []
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert "hunter2-secret" not in conn.commands()
    assert "hunter2-secret" not in "\n".join(lines)
    # it travelled in an uploaded option file instead
    (opt,) = [v for k, v in conn.uploads.items() if ".my.cnf" in k]
    assert b'password="hunter2-secret"' in opt


def test_backup_failure_stops_before_the_service_is_touched():
    conn, lines = FakeConnection([("mysqldump", 1, "Access denied")]), []
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed, match="B3 MySQL 백업 실패") as err:
        run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert "systemctl stop" not in conn.commands()
    assert err.value.report.result == "failed"
    assert "백업 실패 시 배포 중단" in err.value.fix


def test_build_failure_while_down_rolls_back_to_the_kept_jar():
    conn, lines = FakeConnection([("backend && ./gradlew", 1, "BUILD FAILED")]), []
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed) as err:
        run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert err.value.rolled_back is True
    text = conn.commands()
    after = text[text.index("gradlew") :]
    assert "git reset -q --hard " + "a" * 40 in after
    assert "backend-" + "a" * 40 + ".jar" in after
    assert "systemctl restart" in after
    assert err.value.report.result == "rolled-back"


def test_failed_rollback_is_loud():
    conn, lines = (
        FakeConnection(
            [("backend && ./gradlew", 1, "BUILD FAILED"), ("systemctl restart", 1, "unit failed")]
        ),
        [],
    )
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed, match="롤백도 실패") as err:
        run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert err.value.rolled_back is False
    assert "서비스가 내려가 있을 수 있습니다" in err.value.fix


def test_health_polls_until_it_passes():
    conn, lines = (
        FakeConnection(
            [("curl -fsS --max-time 10 http://localhost:8080/health", [1, 1, 0], "refused")]
        ),
        [],
    )
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    report = run.runner.execute(backend.plan(), run, backend.rollback_plan)
    health = [s for s in report.steps if s.number == "10"][0]
    assert health.status == "ok" and "3/12" in health.detail
    assert sum("대기 중" in line for line in lines) == 2


def test_retry_runs_the_cleanup_then_tries_again():
    conn, lines = FakeConnection([("&& npm ci", [1, 0], "EINTEGRITY")]), []
    run = make_run("frontend", yes=True)
    run.runner = runner_for(conn, lines)
    report = run.runner.execute(frontend.plan(), run, frontend.rollback_plan)
    assert report.result == "ok"
    assert "rm -rf node_modules" in conn.commands()


def test_frontend_build_failure_needs_no_rollback():
    conn, lines = FakeConnection([("npm run build", 1, "Failed to compile")]), []
    run = make_run("frontend", yes=True)
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed) as err:
        run.runner.execute(frontend.plan(), run, frontend.rollback_plan)
    assert err.value.rolled_back is None
    assert "rm -rf /var/www/dojangkok" not in conn.commands()


def test_dry_run_touches_nothing():
    lines = []
    run = make_run(yes=True, dry_run=True)
    run.runner = Runner(None, Secrets({}), out=lines.append)
    report = run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert report.result == "planned"
    assert all(s.status == "planned" for s in report.steps)
    assert any("./gradlew clean build -x test" in line for line in lines)


def test_failed_health_shows_the_journal_then_rolls_back():
    conn, lines = (
        FakeConnection(
            [
                ("localhost:8080/health", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], "refused"),
                ("journalctl", 0, "Caused by: java.net.BindException"),
            ]
        ),
        [],
    )
    run = make_run(yes=True)
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed, match="B10 헬스체크 실패") as err:
        run.runner.execute(backend.plan(), run, backend.rollback_plan)
    assert err.value.rolled_back is True
    text = "\n".join(lines)
    assert "journalctl -u dojangkok -n 30" in text and "BindException" in text


def test_a_failing_rollback_task_says_the_service_is_down():
    conn, lines = FakeConnection([("systemctl restart", 1, "unit failed")]), []
    run = make_run(yes=True, kind="rollback")
    run.runner = runner_for(conn, lines)
    with pytest.raises(StepFailed, match="BR3 서비스 재시작 실패") as err:
        run.runner.execute(backend.rollback_plan(run), run)
    assert "서비스가 내려가 있습니다" in err.value.fix
