"""Remote.run under a sudo that asks for a password, against a real process: the channel runs
the command here (bash, with a stand-in ``sudo`` first on PATH that prompts on stderr and
reads the password line from standard input, a byte at a time, as sudo -S does).

The password goes to sudo alone: only sudo's prompt (this run's own, random) before the
command's start line is answered; a command that prints the prompt text gets nothing; a
command's standard input reaches it whole, after the password.
"""

from __future__ import annotations

import os
import select
import subprocess
from pathlib import Path

import pytest

from tasks.hosts.remote import Remote

PASSWORD = "s3cret-sudo-pw"

#: sudo -S -p PROMPT -H -- COMMAND...: ask (FAKE_SUDO_ASK=1) up to three times, then run it
FAKE_SUDO = """#!/bin/bash
[ "$1 $2 $4 $5" = "-S -p -H --" ] || { echo "fake sudo: unexpected arguments: $*" >&2; exit 2; }
prompt=$3; shift 5
if [ "$FAKE_SUDO_ASK" = 1 ]; then
  for _ in 1 2 3; do
    printf '%s' "$prompt" >&2
    IFS= read -r pw || exit 1
    [ "$pw" = "$FAKE_SUDO_PASSWORD" ] && exec "$@"
    echo "Sorry, try again." >&2
  done
  echo "sudo: 3 incorrect password attempts" >&2; exit 1
fi
exec "$@"
"""


class ProcessChannel:
    """A paramiko channel stand-in over a local process: what the loop reads is what the
    process wrote, when it wrote it; what the loop sends is the process's standard input."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.proc, self.closed, self.eof_received = env, None, False, False
        self.sent = b""
        self._fileno = None

    def exec_command(self, command):
        self.command = command
        self.proc = subprocess.Popen(["bash", "-c", command], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env)  # fmt: skip
        self.open = {self.proc.stdout.fileno(), self.proc.stderr.fileno()}

    def _ready(self, f) -> bool:
        fd = f.fileno()
        return fd in self.open and bool(select.select([fd], [], [], 0)[0])

    def _read(self, f, n: int) -> bytes:
        data = os.read(f.fileno(), n)
        if not data:
            self.open.discard(f.fileno())
            self.eof_received = not self.open
        return data

    def recv_ready(self):
        return self._ready(self.proc.stdout)

    def recv(self, n):
        return self._read(self.proc.stdout, n)

    def recv_stderr_ready(self):
        return self._ready(self.proc.stderr)

    def recv_stderr(self, n):
        return self._read(self.proc.stderr, n)

    def sendall(self, data):
        self.sent += data
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def shutdown_write(self):
        self.proc.stdin.close()

    def exit_status_ready(self):
        return self.proc.poll() is not None

    def recv_exit_status(self):
        return self.proc.wait()

    def fileno(self):  # select() on it: the process's output
        if self._fileno is None:
            self._fileno = os.pipe()
            os.write(self._fileno[1], b"x")
        return self._fileno[0]

    def close(self):
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Transport:
    def __init__(self, env):
        self.env, self.channels = env, []

    def open_session(self):
        self.channels.append(ProcessChannel(self.env))
        return self.channels[-1]

    def is_active(self):
        return True

    def set_keepalive(self, seconds):
        pass


class Conn:
    gateway = None

    def __init__(self, transport):
        self.transport, self.connect_kwargs = transport, {"sock": object()}

    def open(self):
        pass


@pytest.fixture
def host(tmp_path: Path):
    """(a Remote whose sudo asks for PASSWORD, its transport) with the stand-in sudo."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "sudo").write_text(FAKE_SUDO)
    (bin_ / "sudo").chmod(0o755)

    def make(ask: bool = True, password: str = PASSWORD):
        env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}",
               "FAKE_SUDO_ASK": "1" if ask else "0", "FAKE_SUDO_PASSWORD": PASSWORD}  # fmt: skip
        transport = Transport(env)
        return Remote(lambda: Conn(transport), sudo_password=password), transport

    return make


def test_input_reaches_the_command_whole_after_the_password(host):
    remote, transport = host()
    text = "line one\nno newline at the end: 한글" * 500  # more than a pipe holds
    res = remote.run("cat; echo done >&2", sudo=True, input=text)
    assert res.ok, res.stderr
    assert res.stdout == text  # the password went to sudo, not to the command
    assert res.stderr.strip() == "done"  # neither the prompt nor the start line is shown
    (chan,) = transport.channels
    assert chan.sent.startswith(f"{PASSWORD}\n".encode())
    assert PASSWORD not in chan.command  # never on a command line


def test_a_sudo_that_does_not_ask_gets_no_password(host):
    remote, transport = host(ask=False)
    res = remote.run("cat", sudo=True, input="data\n")
    assert res.ok and res.stdout == "data\n"
    assert PASSWORD.encode() not in transport.channels[0].sent


@pytest.mark.parametrize("asks", [True, False], ids=["sudo asks", "sudo does not ask"])
def test_the_prompt_printed_by_the_command_itself_gets_no_password(host, asks):
    """A command (or anything it runs) that prints this run's prompt, once it runs, gets
    nothing: only sudo's prompt before the command's start line is answered, whether or not
    sudo asked first."""
    remote, transport = host(ask=asks)
    prompt = remote.sudo_prompt
    to_sudo = f"{PASSWORD}\n".encode() if asks else b""
    read = 'IFS= read -r got; echo "got:$got"'
    for command in (f"printf '%s' {prompt!r} >&2; {read}",  # its first output
                    f"echo started; sleep 0.2; printf '%s' {prompt!r} >&2; sleep 0.2; {read}"):  # fmt: skip
        res = remote.run(command, sudo=True)
        assert res.ok, res.stderr
        assert res.stdout.endswith("got:\n") and PASSWORD not in res.stdout
        assert transport.channels[-1].sent == to_sudo  # at most once, to sudo
        assert prompt in res.stderr  # the command's own output is shown as it is


def test_the_prompt_is_this_run_s_own(host):
    one, two = host()[0], host()[0]
    assert one.sudo_prompt != two.sudo_prompt and one.started != two.started
    assert "dojangkok" in one.sudo_prompt
    wrapped = one.wrap("true", True, "m")
    assert one.sudo_prompt in wrapped and one.started in wrapped
    assert one.sudo_prompt not in one.wrap("true", False, "m")


def test_a_wrong_password_is_said_and_nothing_runs(host, tmp_path):
    remote, transport = host(password="wrong")
    ran = tmp_path / "ran"
    res = remote.run(f"touch {ran}", sudo=True, input="x")
    assert not res.ok and "incorrect password" in res.stderr
    assert not ran.exists() and b"x" not in transport.channels[0].sent.replace(b"wrong\n", b"")


def test_what_sudo_says_when_it_refuses_is_kept(host, tmp_path):
    bin_ = tmp_path / "bin"
    (bin_ / "sudo").write_text("#!/bin/sh\necho 'deploy is not in the sudoers file.' >&2; exit 1\n")
    remote, _ = host()
    res = remote.run("true", sudo=True, input="x")
    assert not res.ok and "is not in the sudoers file" in res.stderr
