"""The session around every task, on a scripted host: lock, record, notice, Ctrl-C."""

from __future__ import annotations

import contextlib
import json

import pytest

from tasks.apps.backend import BACKEND
from tasks.apps.database import backup
from tasks.engine import lock as locks
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.lock import LockHeld, LockInfo
from tasks.engine.session import session
from tasks.errors import StepFailed
from tasks.hosts.secrets import Secrets
from tasks.strategies import deploy, firstlook, full
from tasks.strategies.deploy import Options

from .conftest import SECRETS, make_host, make_view
from .fakes import FakeRemote

HEAD, ORIGIN = "1" * 40, "2" * 40
GIT = [
    (r"rev-parse FETCH_HEAD", 0, ORIGIN),
    (r"rev-parse HEAD", 0, HEAD),
    (r"@\.service|WorkingDirectory|readlink", 1, ""),  # not converted to the release strategy
]


@pytest.fixture
def history(tmp_path, monkeypatch):
    path = tmp_path / "history.jsonl"
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(path))
    return lambda: [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def notices(monkeypatch):
    sent = []
    monkeypatch.setattr("tasks.engine.notify.send", lambda url, text: sent.append(text) or "ok")
    return sent


def connect_to(remote: FakeRemote):
    return lambda host, secrets, label="": remote


def deploy_backend(remote, monkeypatch, **opts):
    monkeypatch.setattr("tasks.engine.session.ssh_connect", connect_to(remote))
    return deploy.deploy_host(BACKEND, make_host(), Secrets(dict(SECRETS)),
                              Options(yes=True, strategy="manual", **opts))  # fmt: skip


def test_a_deploy_takes_the_lock_first_releases_it_last_and_records(monkeypatch, history):
    remote = FakeRemote(GIT)
    s = deploy_backend(remote, monkeypatch, message="hotfix 42")
    lock_at = remote.index(r"mkdir -- /var/lib/dojangkok-deploy/deploy\.lock")
    assert lock_at >= 0 and lock_at < remote.index("git -C /app/backend rev-parse HEAD")
    assert (
        remote.index(r"rm -rf -- /var/lib/dojangkok-deploy/deploy\.lock") == len(remote.calls) - 1
    )
    info = json.loads(
        remote.calls[lock_at][1].split("printf '%s\\n' ")[1].split(" > ")[0].strip("'")
    )
    assert info["message"] == "hotfix 42" and info["task"] == "deploy"
    (rec,) = history()
    assert rec["operator_message"] == "hotfix 42"  # `fab history`'s message column
    assert rec["result"] == "ok" and rec["kind"] == "deploy" and rec["strategy"] == "manual"
    assert rec["from"] == HEAD and rec["to"] == HEAD and rec["run_id"] == s.view.run_id
    # the manual's 12 steps, 0, 6a and 6b (.env mode), and L3 (the host build's runtime check)
    assert rec["operator"] and len([st for st in rec["steps"]]) == 16


def test_a_held_lock_refuses_with_the_holder_and_the_way_out(monkeypatch, history):
    holder = LockInfo("20260101_000000_000_beef", "alice", "laptop", 4242, "deploy", "backend",
                      "c" * 40, "migrating", 1.0e9)  # fmt: skip
    remote = FakeRemote([(r"mkdir -- .*deploy\.lock", 1, "exists"),
                         (r"cat -- .*deploy\.lock/info\.json", 0, holder.to_json())])  # fmt: skip
    with pytest.raises(LockHeld) as err:
        deploy_backend(remote, monkeypatch)
    text = str(err.value)
    assert "alice" in text and "laptop" in text and "migrating" in text and "STALE" in text
    assert "cpu의 배포 잠금을 다른 작업이 잡고 있습니다" in text and "오래된 잠금" in text
    assert "fab -H cpu unlock" in text and "--lock-wait" in text
    assert "systemctl" not in remote.commands() and "git" not in remote.commands()
    assert "rm -rf" not in remote.commands()  # someone else's lock is never touched
    with pytest.raises(FileNotFoundError):
        history()  # nothing happened: nothing to record


def test_every_exit_path_releases_the_lock(monkeypatch, history, notices):
    remote = FakeRemote([*GIT, ("backend && ./gradlew", 1, "BUILD FAILED")])
    with pytest.raises(StepFailed):
        deploy_backend(remote, monkeypatch)
    assert "rm -rf -- /var/lib/dojangkok-deploy/deploy.lock" in remote.calls[-1][1]
    (rec,) = history()
    assert rec["result"] == "rolled-back"
    assert [s["number"] for s in rec["steps"] if s["phase"] == "rollback"] == [
        "R1", "R2", "R3", "R4", "R5", "R6"]  # fmt: skip
    assert notices and "롤백됨" in notices[-1] and "cpu" in notices[-1]


def test_ctrl_c_during_the_build_rolls_back_and_records_interrupted(monkeypatch, history):
    def press(fake, command):
        INTERRUPT.press()
        return 0

    remote = FakeRemote([*GIT, ("backend && ./gradlew", press, "")])
    with pytest.raises(StepFailed):
        deploy_backend(remote, monkeypatch)
    (rec,) = history()
    assert rec["result"] == "interrupted" and rec["interrupted"] and rec["rolled_back"]
    assert "rm -rf -- /var/lib/dojangkok-deploy/deploy.lock" in remote.calls[-1][1]


def test_dry_run_takes_no_lock_and_writes_no_record(monkeypatch, history):
    monkeypatch.setattr(
        "tasks.engine.session.ssh_connect", lambda *a, **k: pytest.fail("connected")
    )
    s = deploy.deploy_host(
        BACKEND, make_host(), Secrets({}), Options(dry_run=True, strategy="manual")
    )
    assert s.report.result == "planned"
    with pytest.raises(FileNotFoundError):
        history()


def test_run_ids_do_not_collide():
    from tasks.engine.view import new_run_id

    ids = {new_run_id() for _ in range(2000)}
    assert len(ids) == 2000


def test_lock_info_round_trip_and_staleness():
    info = LockInfo("r", "bob", "m", 1, "deploy", "ai", "d" * 40, "", 1000.0)
    assert LockInfo.from_json(info.to_json()) == info
    assert "STALE" in info.describe(stale_after=60, now=1000.0 + 61)
    assert "STALE" not in info.describe(stale_after=60, now=1000.0 + 59)
    assert locks.parse("") == (False, None)
    assert locks.parse("{}") == (True, None)


def test_parallel_full_deploy_ctrl_c_stops_every_chain(monkeypatch, history, tmp_path):
    """Ctrl-C in one chain stops the other chain too, and each rolls back or stops."""
    from tasks.hosts import inventory

    inv = inventory.parse(
        "[cpu]\ncpu ansible_host=10.0.0.2\n[gpu]\ngpu ansible_host=10.0.0.3\n", tmp_path / "h.ini"
    )

    def press(fake, command):
        INTERRUPT.press()
        return 0

    remotes = {"cpu": FakeRemote([*GIT, ("npm run build", press, "")]), "gpu": FakeRemote(GIT)}
    with pytest.raises(StepFailed):
        full.full_deploy(inv, Secrets(dict(SECRETS)), Options(yes=True, strategy="manual"), parallel=True,
                         connect_host=lambda host, secrets, label="": remotes[host.alias])  # fmt: skip
    results = {(r["component"], r["result"]) for r in history()}
    assert ("frontend", "interrupted") in results
    assert ("backend", "interrupted") not in results  # the cpu chain stopped after frontend
    for remote in remotes.values():  # both locks released
        assert "rm -rf -- /var/lib/dojangkok-deploy/deploy.lock" in remote.commands()


def test_a_weak_secret_is_refused_before_any_host_naming_only_its_key(monkeypatch):
    """The manual's DB name as the password would be unmasked in every path and unit name."""
    monkeypatch.setattr(
        "tasks.engine.session.ssh_connect", lambda *a, **k: pytest.fail("connected")
    )
    from tasks.errors import ConfigError

    secrets = Secrets({"DB_BACKUP_PASSWORD": "dojangkok"})
    with pytest.raises(ConfigError, match="DB_BACKUP_PASSWORD") as err:
        deploy.preflight(BACKEND, [make_host()], secrets, Options(yes=True, strategy="manual"))
    assert "dojangkok" not in str(err.value)


def test_a_task_that_deploys_no_revision_records_none(history):
    from tasks.engine.history import revisions as _revisions

    with session("config", "config", make_host(), Secrets(dict(SECRETS)), title="push-config",
                 yes=True, remote=FakeRemote(), lock=False):  # fmt: skip
        pass
    (rec,) = history()
    assert (rec["from"], rec["to"], rec["result"]) == ("", "", "ok")
    assert _revisions(rec) == "-"
    assert _revisions({"from": HEAD, "to": ORIGIN}) == "1111111 → 2222222"
    assert _revisions({"from": "<배포 전 리비전>", "to": "<배포할 리비전>"}) == "-"


def test_a_free_lock_is_taken_in_one_command():
    remote = FakeRemote()
    locks.HostLock.take(remote, make_view(), "")
    assert (
        len(remote.calls) == 1
        and "mkdir -- /var/lib/dojangkok-deploy/deploy.lock" in (remote.calls[0][1])
    )


def test_a_missing_state_dir_is_made_then_the_lock_taken():
    remote = FakeRemote([(r"mkdir -- .*deploy\.lock", [1, 0], ""),
                         (r"^test -d /var/lib/dojangkok-deploy -a -w", 1, "")])  # fmt: skip
    locks.HostLock.take(remote, make_view(), "")
    kinds = [(kind, c.split()[0]) for kind, c in remote.calls]
    assert kinds == [("run", "mkdir"), ("run", "test"), ("sudo", "own()"), ("run", "mkdir")]
    # made as root without following a link (tasks/engine/safepath.py)
    assert remote.calls[2][1].endswith("; own dir /var/lib/dojangkok-deploy 755 deploy ''")


class LocalBash:
    """Runs commands here, with bash, as the host would."""

    alive = True

    def __init__(self):
        self.calls = 0

    def run(self, command, sudo=False, **kw):
        import subprocess

        from tasks.hosts.remote import Result

        self.calls += 1
        r = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                           text=True)  # fmt: skip
        return Result(r.returncode == 0, r.returncode, r.stdout, r.stderr)


def test_a_batch_of_reads_is_one_round_trip_each_with_its_own_output_and_status():
    from .conftest import make_session

    remote = LocalBash()
    s = make_session(remote)
    got = s.batch(["echo a; echo b", "false", "printf 'no newline'", "exit 3",
                   "cd /tmp && pwd # a comment", "echo after"])  # fmt: skip
    assert got == [(True, "a\nb"), (False, ""), (True, "no newline"), (False, ""),
                   (True, "/tmp"), (True, "after")]  # fmt: skip
    assert remote.calls == 1


RELEASES_LISTED = (
    f"@@release 20260101_000000_000000_aaaa-1111111 ready - 1 {HEAD}\n"
    f"@@release 20260102_000000_000000_bbbb-2222222 ready current 2 {ORIGIN}\n"
)


@pytest.mark.parametrize("warm", [True, False])
def test_a_release_rollback_reads_the_host_in_one_round_trip_before_its_host_run(
    monkeypatch, history, warm
):
    """The checks, the checkout's HEAD, the stack, the releases with their revisions and
    what runs on each port, in one batch; then the host run."""
    from .test_follow import EVENTS, lines

    state = "active" if warm else "inactive"
    remote = FakeRemote([
        (r"@@release", 0, RELEASES_LISTED),
        (r"@@slot", 0, f"@@slot 8081 {state} 20260101_000000_000000_aaaa-1111111\n"
                       "@@slot 8082 active 20260102_000000_000000_bbbb-2222222\n"),
        (r"dojangkok-upstream\.conf", 0, "8082"),  # the live port
        (r"rev-parse HEAD", 0, HEAD),
        (r"tail ", 0, lines(EVENTS)),
        (r"backend\.json", 0, json.dumps({"deployed": [ORIGIN, HEAD]})),
    ])  # fmt: skip
    monkeypatch.setattr("tasks.engine.session.ssh_connect", connect_to(remote))
    deploy.rollback_host(BACKEND, make_host(), Secrets(dict(SECRETS)),
                         Options(yes=True, strategy="release"))  # fmt: skip
    launch = remote.index("systemd-run")
    before = [c for _, c in remote.calls[:launch]]
    reads = [c for c in before if "@@dojangkok-batch" in c]
    assert len(reads) == 1, before
    first = reads[0]
    assert "missing: " in first and "rev-parse HEAD" in first and "backend.json" in first
    assert "@@release" in first and "@@slot" in first
    # the lock's info names the target: written with the launch, not in a round trip of its own
    assert [c for c in before if "info.json" in c] == [before[0]]  # taking the lock
    (paths, _) = next(w for w in remote.writes if "systemd-run" in w[1] or "hostrun" in w[1])
    info = next(p for p in paths if p.endswith("deploy.lock/info.json"))
    assert json.loads(remote.uploads[info])["revision"] == HEAD
    plan = next(text for path, text in remote.uploads.items() if path.endswith("plan.json"))
    kind = "전환만 (이전 인스턴스가 켜져 있음)" if warm else "시작 후 전환"
    assert kind in remote.commands() and ("systemctl start" in plan) is not warm
    (rec,) = history()
    assert rec["result"] == "ok" and rec["kind"] == "rollback"
    assert (rec["from"], rec["to"]) == (ORIGIN, HEAD)  # the releases' own revisions
    # after the host run: its acknowledgement, the stack, the record and the unlock, at once
    follow = max(i for i, (_, c) in enumerate(remote.calls) if " tail " in c)
    (end,) = [c for _, c in remote.calls[follow + 1 :]]
    assert end.index("/ack") < end.index("mv -f") < end.index("history.jsonl") < end.index("rm -rf")
    stack = next(t for p, t in remote.uploads.items() if "backend.json" in p)
    assert json.loads(stack) == {"deployed": [HEAD]}


def test_one_batch_judges_the_checks_first_then_the_checkout(monkeypatch):
    from tasks.errors import ConfigError

    from .conftest import make_session

    remote = FakeRemote([(r"missing: ", 0, "missing: 사용자 dojangkok (backend 서비스의 실행 사용자)"),
                         (r"rev-parse HEAD", 1, "fatal: not a git repository")])  # fmt: skip
    s = make_session(remote, task="rollback")
    with pytest.raises(
        ConfigError,
        match="rollback을\\(를\\) 할 준비가 되어 있지 않습니다. 없는 것: 사용자 dojangkok",
    ):
        firstlook.read(s, BACKEND, {"also": "echo also"})
    remote = FakeRemote([(r"rev-parse HEAD", 1, "fatal: not a git repository")])
    s = make_session(remote, task="rollback")
    with pytest.raises(ConfigError, match="git 체크아웃이 아닙니다: fatal: not a git repository"):
        firstlook.read(s, BACKEND)
    remote = FakeRemote([(r"rev-parse HEAD", 0, f"warning: a warning\n{HEAD}"),
                         (r"echo also", 0, "also")])  # fmt: skip
    s = make_session(remote, task="rollback", strategy="release")
    first = firstlook.read(s, BACKEND, {"also": "echo also"})
    assert first.stack == () and first.answers == {"also": (True, "also")}
    assert len(remote.calls) == 1
    assert s.view.from_rev == HEAD  # no stack: the checkout's HEAD (git's warning left out)
    remote = FakeRemote([(r"backend\.json", 0, json.dumps({"deployed": [ORIGIN, HEAD]}))])
    first = firstlook.read(make_session(remote, task="rollback"), BACKEND)
    assert first.stack == (ORIGIN, HEAD) and first.answers == {}


def test_the_lock_is_released_with_the_record_in_one_round_trip_or_after_it(monkeypatch, history):
    remote = FakeRemote(GIT)
    deploy_backend(remote, monkeypatch)
    (last,) = [c for _, c in remote.calls if "deploy.lock" in c and "rm -rf" in c]
    assert last == remote.calls[-1][1] and "history.jsonl" in last  # the record's command
    assert last.index("history.jsonl") < last.index("rm -rf")  # the record first
    (rec,) = history()
    assert rec["result"] == "ok"
    # the host did not confirm the release with the record: released on its own after it
    remote = FakeRemote(GIT)
    remote.refuse_unlock = True
    deploy_backend(remote, monkeypatch)
    releases = [c for _, c in remote.calls if "deploy.lock" in c and "rm -rf" in c]
    assert len(releases) == 2 and "history.jsonl" not in releases[-1]
    assert releases[-1] == remote.calls[-1][1]


def test_a_failure_s_record_is_written_before_its_notice_is_sent(monkeypatch, history):
    """The record's round trip carries what the host still waits for (a host run's
    acknowledgement): a slow webhook must not hold it up."""
    order = []
    monkeypatch.setattr("tasks.engine.notify.send",
                        lambda url, text: order.append(("notice", len(history()))) or "ok")  # fmt: skip
    remote = FakeRemote([*GIT, (r"gradlew", 1, "BUILD FAILED")])
    with pytest.raises(StepFailed):
        deploy_backend(remote, monkeypatch)
    assert order == [("notice", 1)]  # the record was there when the notice went


def test_a_restore_loads_the_dump_as_the_admin_over_the_admin_login(monkeypatch, history):
    """restore-db's one root step (D4) runs over admin_user's login with the admin's option
    file; the dump is read with the deploy login's rights; every other step, the safety dump
    included, is the deploy login's."""
    from tasks.hosts.settings import Settings

    class Remote(FakeRemote):
        root = None  # admin_steps attaches the admin's login here
        over_admin: list = []

        def run(self, command, sudo=False, **kw):
            if sudo:
                self.over_admin.append(self.root is not None)
            return super().run(command, sudo, **kw)

    class Admin:
        def close(self):
            pass

    monkeypatch.setattr("tasks.hosts.connect._admin", lambda *a: Admin())
    remote = Remote()
    monkeypatch.setattr("tasks.engine.session.ssh_connect", connect_to(remote))
    host = make_host(Settings(admin_user="admin"))
    deploy.restore_host(host, Secrets(dict(SECRETS)), "/app/backups/backup_x.sql.gz",
                        Options(yes=True))  # fmt: skip
    (d4,) = [c for how, c in remote.calls if how == "sudo"]
    assert remote.over_admin == [True]
    assert "runuser -u deploy -- cat -- /app/backups/backup_x.sql.gz | gzip -dc | mysql" in d4
    # the client takes the dump as SQL alone: no \! shell command, no LOAD DATA LOCAL INFILE
    assert 'mysql --defaults-extra-file="$opt" --binary-mode --local-infile=0 -- ' in d4
    (opt,) = [text for path, text in remote.uploads.items() if path == backup.admin_option_file()]
    assert 'user="root"' in opt and SECRETS["MYSQL_ROOT_PASSWORD"] in opt  # D4's, the last
    assert any("mysqldump" in c for how, c in remote.calls if how == "run")  # D2: deploy's
    assert remote.root is None  # the admin's login is closed again


def test_a_lock_left_to_the_host_stays_when_this_side_ends_inside_and_returns_after(history):
    """While the host's critical section runs on its own (Session.lock_left_to_host, the
    release flow's host part), this side ending leaves the deploy lock to the host: the
    session's end does not release it. A block that ends well gives the lock back."""

    def run(fail: bool) -> FakeRemote:
        remote = FakeRemote()
        refused = pytest.raises(StepFailed) if fail else contextlib.nullcontext()
        opened = session("deploy", "backend", make_host(), Secrets(dict(SECRETS)), title="t",
                         connect=connect_to(remote))  # fmt: skip
        with refused, opened as s, s.lock_left_to_host():
            if fail:
                raise StepFailed("the connection broke while following", "see the host")
        return remote

    assert "rm -rf -- /var/lib/dojangkok-deploy/deploy.lock" in run(fail=False).commands()
    assert "deploy.lock" in run(fail=True).commands()  # taken ...
    assert "rm -rf -- /var/lib/dojangkok-deploy/deploy.lock" not in run(fail=True).commands()
