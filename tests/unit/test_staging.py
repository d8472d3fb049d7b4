"""A root step's files (tasks/engine/staging.py): on the root command's standard input, into a
directory only root can read, in the same command that then uses them; run here for real
(bash), and through the runner on a scripted host."""

from __future__ import annotations

import hashlib
import stat
import subprocess
from pathlib import Path

import pytest

from tasks.config import plan as config_plan
from tasks.config import render, state
from tasks.engine import staging
from tasks.engine.console import Console
from tasks.engine.session import Session
from tasks.engine.steps import Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.errors import StepFailed
from tasks.hosts.inventory import Host
from tasks.hosts.remote import UploadFailed
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.setup import detect, setup
from tests.unit.fakes import FakeRemote

SITE = "dojangkok.example.com"  # a DNS name: the site's certificate comes by ACME (tls empty)
SECRET = "s3cret-value"
FILES = {  # name: (mode, text)
    "helper": ("644", "#!/usr/bin/env python3\nprint('héllo')\n"),
    "db.sql": ("600", f"ALTER USER 'x' IDENTIFIED BY '{SECRET}';\n" * 3000),  # > a pipe
    "tail.txt": ("600", "no newline at the end: 한글"),
}


def uploads() -> tuple[Upload, ...]:
    return tuple(Upload(staging.path(n), mode, n, lambda secrets, t=text: t)
                 for n, (mode, text) in FILES.items())  # fmt: skip


def run(script: str, stream: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], input=stream, capture_output=True)


@pytest.fixture
def under(tmp_path, monkeypatch) -> Path:
    """The directory's parent (root's /run on a host) in tmp_path."""
    monkeypatch.setattr(staging, "TEMPLATE", f"{tmp_path}/dojangkok-stage.XXXXXXXXXX")
    return tmp_path


def test_the_files_arrive_whole_in_a_private_directory_the_command_then_reads(under):
    listing = (
        'stat -c "%a %n" -- "$STAGE"; cd -- "$STAGE"; for f in *; do '
        'printf "%s %s %s\\n" "$f" "$(stat -c %a -- "$f")" "$(sha256sum < "$f" | cut -c1-64)"; done'
    )
    script = staging.script(uploads(), listing)
    res = run(script, staging.stream([t for _, t in FILES.values()]).encode())
    assert res.returncode == 0, res.stderr
    first, *rest = res.stdout.decode().splitlines()
    mode, directory = first.split(" ", 1)
    assert mode == "700" and directory.startswith(f"{under}/dojangkok-stage.")
    assert sorted(rest) == sorted(f"{n} {m} {hashlib.sha256(t.encode()).hexdigest()}"
                                  for n, (m, t) in FILES.items())  # fmt: skip
    assert not Path(directory).exists(), "removed when the command ends"
    # nothing of the files on the command line: no text, no size, no digest
    plain = script.replace(str(under), "/run")  # (tmp_path's digits are no size)
    for _, text in FILES.values():
        assert str(len(text.encode())) not in plain
    assert SECRET not in plain and "sha256" not in staging.script(uploads(), "true")


def test_a_file_cut_short_is_named_and_the_command_does_not_run(under):
    ran = under / "ran"
    script = staging.script(uploads(), f"touch {ran}")
    stream = staging.stream([t for _, t in FILES.values()]).encode()
    res = run(script, stream[:-5])  # the last file's end never came
    assert res.returncode != 0 and not ran.exists()
    assert staging.failed(res.stderr.decode()) == "tail.txt"
    assert list(under.glob("dojangkok-stage.*")) == [], "removed all the same"
    # a command's own trap and exit stay its own: the directory still goes
    res = run(staging.script(uploads(), "trap 'echo bye' EXIT; exit 3"), stream)
    assert res.returncode == 3 and res.stdout == b"bye\n"
    assert list(under.glob("dojangkok-stage.*")) == []


def test_a_root_upload_lands_only_in_the_private_directory():
    assert staging.path("sudo.json") == "$STAGE/sudo.json"
    for bad in ("../x", "a/b", "", "-x", "a b", "$x"):
        with pytest.raises(ValueError):
            staging.path(bad)
    with pytest.raises(ValueError, match="root-only directory"):
        staging.script((Upload("/var/lib/dojangkok-deploy/x", "600", "x", str),), "true")


# --- through the runner ------------------------------------------------------------------
def session(remote, secrets=None) -> tuple[Session, list[str]]:
    out: list[str] = []
    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings())
    view = RunView("setup", "setup", host, "RUN")
    secrets = secrets or Secrets({"PW": SECRET})
    return Session(view, secrets, yes=True, console=Console(secrets, write=out.append),
                   remote=remote, title="test"), out  # fmt: skip


def root_plan(sudo: bool = True, path: str = "") -> Plan:
    ups = lambda v: (  # noqa: E731
        Upload(path or staging.path("pw.cnf"), "600", "비밀번호 파일",
               lambda secrets: f"password={secrets.require('PW', 'x')}\n"),
    )  # fmt: skip
    step = Step("1", "root 단계", "1초", "중단", Policy.ABORT, uploads=ups, sudo=sudo,
                command=lambda v: f'install -m 600 -- "{staging.path("pw.cnf")}" /etc/x.cnf')  # fmt: skip
    return Plan("setup", "S", "t", "", "", "", (step,))


def test_a_root_step_is_one_root_command_with_its_files_on_standard_input():
    remote = FakeRemote()
    s, out = session(remote)
    s.execute(root_plan())
    ((kind, command),) = remote.calls
    step = root_plan().steps[0]
    assert kind == "sudo" and command == step.render(s.view)
    assert command.startswith("STAGE=$(mktemp -d /run/dojangkok-stage.XXXXXXXXXX) ")
    assert command.endswith('( install -m 600 -- "$STAGE/pw.cnf" /etc/x.cnf )')
    assert remote.uploads == {"$STAGE/pw.cnf": f"password={SECRET}\n"}
    assert SECRET not in command and SECRET not in "".join(out)
    # what is shown is what runs: the upload's landing place, then the exact command
    assert "↑ $STAGE/pw.cnf (600: 비밀번호 파일)" in "\n".join(out)
    assert f"$ [sudo] {command}" in "\n".join(out)


def test_a_file_that_did_not_arrive_is_a_refusal_naming_it():
    failed = f"head: error reading\n{staging.FAILED} pw.cnf\n"
    remote = FakeRemote([(r"^STAGE=", 1, failed)])
    s, out = session(remote)
    with pytest.raises(StepFailed) as exc:
        s.execute(root_plan())
    detail = s.report.steps[-1].detail
    assert "업로드 실패: $STAGE/pw.cnf (비밀번호 파일)" in detail and "df -h /run" in detail
    assert "S1 root 단계 실패" in exc.value.problem and "Traceback" not in "\n".join(out)


def test_a_login_s_upload_that_did_not_arrive_is_a_refusal_naming_it(monkeypatch):
    """A step's files written as the deploy login (no root): a write that fails, or a file
    whose size is not what was sent, fails the step, named, with what to check."""
    remote = FakeRemote()

    def put_texts(files, then="", **run):
        raise UploadFailed(files[0][1], "")

    monkeypatch.setattr(remote, "put_texts", put_texts)
    s, out = session(remote)
    with pytest.raises(StepFailed):
        s.execute(root_plan(sudo=False, path="/var/lib/dojangkok-deploy/pw.cnf"))
    detail = s.report.steps[-1].detail
    assert detail.startswith("업로드 실패: /var/lib/dojangkok-deploy/pw.cnf (비밀번호 파일): ")
    assert "ps -u" in detail and remote.calls == []  # its command did not run


# --- every root step with files ------------------------------------------------------------
def root_steps_with_files():
    for group in ("cpu", "gpu"):
        host = detect.offline(
            Host(group, "h", "deploy", 22, None, (group,), Settings(server_name=SITE))
        )
        view = RunView("setup", "setup", host, "RUN", dry_run=True)
        yield from (
            (view, s) for s in setup.plan(view).steps if s.sudo and s.uploads and s.uploads(view)
        )
        rendered = render.render(host)
        found = state.changes(rendered, {f.key: "absent" for f in rendered}, host.settings)
        plan, _ = config_plan.push_plan(found)
        yield from ((view, s) for s in plan.steps if s.sudo and s.uploads and s.uploads(view))


def test_every_root_step_receives_its_files_itself():
    """No root step reads a file the deploy login wrote (it could have changed it): each
    one's files land in its own root-only directory, in its own command."""
    steps = list(root_steps_with_files())
    titles = {s.title for _, s in steps}
    assert {"데이터베이스와 계정", "방화벽 (nftables)", "최소 권한 sudo (배포 계정)",
            "설정 파일 스테이징 (root 전용 디렉터리)"} <= titles  # fmt: skip
    for view, step in steps:
        assert all(u.path.startswith("$STAGE/") for u in step.uploads(view)), step.title
        assert step.render(view).startswith("STAGE=$(mktemp -d /run/"), step.title
        assert view.s.state_dir + "/" not in step.render(view), step.title


def test_push_config_stages_backs_up_and_restores_in_root_s_own_directory():
    from tasks.config import commands

    host = detect.offline(
        Host("cpu", "h", "deploy", 22, None, ("cpu",), Settings(server_name=SITE))
    )
    view = RunView("config", "config", host, "RUN", dry_run=True)
    rendered = render.render(host)
    found = state.changes(rendered, {f.key: "644\nold" for f in rendered}, host.settings)
    plan, rollback = config_plan.push_plan(found)
    # (step 0 makes the state directory the deploy login's, as root: it holds no file root uses)
    text = "\n".join(s.render(view) for s in [*plan.steps[1:], *rollback(view).steps])
    assert f"{commands.ROOT_DIR}/config-staging" in text
    assert f"{commands.ROOT_DIR}/config-backup/RUN" in text
    assert "/var/lib/dojangkok-deploy/" not in text and "-o deploy" not in text
    stage = plan.steps[1].render(view)
    assert stage.index(commands.root_dir_ready()) < stage.index(
        f"rm -rf -- {commands.ROOT_DIR}/config-staging"
    )


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        ("", False),
        ("mkdir -m 700 {d}", False),
        ("mkdir -m 755 {d}", True),
        ("mkdir -m 700 {d}.real && ln -s {d}.real {d}", True),
        ("ln -s {d}.nowhere {d}", True),
        ("touch {d}", True),
    ],  # fmt: skip
)
def test_root_s_directory_is_made_or_refused(tmp_path, monkeypatch, make, refused):
    from tasks.config import commands

    d = tmp_path / "root-dir"
    monkeypatch.setattr(commands, "ROOT_DIR", str(d))
    if make:
        subprocess.run(["bash", "-c", make.format(d=d)], check=True)
    if not refused and subprocess.run(["id", "-u"], capture_output=True, text=True).stdout != "0\n":
        pytest.skip("install -o root needs root")
    res = subprocess.run(["bash", "-c", commands.root_dir_ready()], capture_output=True, text=True)
    assert (res.returncode != 0) == refused, res.stderr
    if refused:
        assert "root 소유의 0700 디렉터리가 아닙니다" in res.stderr
    else:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700 and not d.is_symlink()


def test_a_file_written_outside_a_step_that_did_not_arrive_is_a_refusal_too(tmp_path, monkeypatch):
    """e.g. the release record a deploy writes before its plan: named, with what to check,
    recorded; never a traceback."""
    from tasks.engine.session import session as task_session

    history = tmp_path / "history.jsonl"
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(history))
    host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings())
    path = "/var/lib/dojangkok-deploy/releases/backend.json.tmp"
    console = Console(Secrets({}), write=str)
    with (
        pytest.raises(StepFailed) as exc,
        task_session(
            "deploy",
            "backend",
            host,
            Secrets({}),
            title="t",
            yes=True,
            remote=FakeRemote(),
            lock=False,
            console=console,
        ),  # fmt: skip
    ):
        raise UploadFailed(path, "No space left on device")
    assert exc.value.problem == f"업로드 실패: {path} (호스트: No space left on device)"
    assert "df -h" in exc.value.fix and "ps -u" in exc.value.fix
    assert '"result": "failed"' in history.read_text()
