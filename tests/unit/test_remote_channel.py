"""Remote.run's reading loop against a scripted SSH channel: how a command's end is told
apart from a lost connection (a race found by CI: exit status and close arriving between
two checks was taken for a dropped connection, and a failed config push rolled back as
"interrupted")."""

from __future__ import annotations

import os

import pytest

from tasks.hosts.remote import ConnectionLost, Remote


class ScriptedChannel:
    """A channel whose exit status turns ready, and which closes, right after the loop
    has asked ``exit_status_ready()``: the interleaving the transport thread can produce."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.asked = 0
        self.closed = False

    def exec_command(self, command):
        pass

    def shutdown_write(self):
        pass

    def recv_ready(self):
        return False

    def recv_stderr_ready(self):
        return False

    def fileno(self):  # select() on it: always readable
        if not hasattr(self, "_pipe"):
            self._pipe = os.pipe()
            os.write(self._pipe[1], b"x")
        return self._pipe[0]

    def exit_status_ready(self):
        self.asked += 1
        if self.asked == 1:
            self.closed = True  # status and close land just after this answer
            return False
        return True

    def recv_exit_status(self):
        return self.status

    def close(self):
        self.closed = True


class Transport:
    def __init__(self, channel, active=True):
        self.channel, self.active = channel, active

    def open_session(self):
        return self.channel

    def is_active(self):
        return self.active

    def set_keepalive(self, seconds):
        pass


class Conn:
    gateway = None

    def __init__(self, transport):
        self.transport = transport
        self.connect_kwargs = {"sock": object()}  # its socket given: Remote makes none

    def open(self):
        pass


@pytest.mark.parametrize("status", [0, 3])
def test_a_command_that_ends_between_two_checks_is_its_exit_status(status):
    channel = ScriptedChannel(status)
    remote = Remote(lambda: Conn(Transport(channel)))
    res = remote.run("true")
    assert (res.ok, res.exit) == (status == 0, status)


def test_a_dead_transport_is_a_lost_connection():
    channel = ScriptedChannel(0)
    transport = Transport(channel)
    remote = Remote(lambda: Conn(transport))
    transport.active = False
    with pytest.raises(ConnectionLost):
        remote.run("true")


class Sock:
    def __init__(self):
        self.options = {}

    def setsockopt(self, level, name, value):
        self.options[(level, name)] = value


def test_the_connection_s_socket_sends_and_acknowledges_at_once():
    """TCP_NODELAY from the first byte, TCP_QUICKACK after every read: with Nagle's
    algorithm on one side and a delayed ACK on the other, the SSH handshake and the first
    channel each waited ~40 ms for an ACK (three times per connection, seen with tcpdump)."""
    import socket
    import threading

    from tasks.hosts import remote

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer():
        peer, _ = server.accept()
        peer.sendall(b"SSH-2.0-x\r\n")
        peer.close()

    threading.Thread(target=answer, daemon=True).start()
    sock = remote.tcp_connect("127.0.0.1", port, 5)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        assert sock.recv(64).startswith(b"SSH-2.0")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
    finally:
        sock.close()
        server.close()
    with pytest.raises(OSError):  # nothing listens there any more
        remote.tcp_connect("127.0.0.1", port, 5)


def test_a_fabric_connection_gets_such_a_socket_unless_it_has_one():
    made = []
    transport = Transport(ScriptedChannel(0))
    conn = Conn(transport)
    conn.connect_kwargs, conn.host, conn.port, conn.connect_timeout = {}, "h", 22, 15
    import tasks.hosts.remote as remote

    original, remote.tcp_connect = remote.tcp_connect, lambda *a: made.append(a) or "sock"
    try:
        Remote(lambda: conn)
        assert made == [("h", 22, 15)] and conn.connect_kwargs["sock"] == "sock"
        conn.gateway, conn.connect_kwargs, made[:] = "a gateway", {}, []
        Remote(lambda: conn)  # a gateway's channel is the socket: none is made
        assert made == [] and "sock" not in conn.connect_kwargs
    finally:
        remote.tcp_connect = original


def test_a_connection_without_a_tcp_socket_opens_all_the_same():
    transport = Transport(ScriptedChannel(0))
    transport.sock = object()  # e.g. a gateway's channel
    Remote(lambda: Conn(transport)).run("true")


class EndlessChannel(ScriptedChannel):
    """A command that prints a line, then runs on (``tail -F`` of a live file)."""

    def __init__(self):
        super().__init__(0)
        self.data = [b"done\n"]

    def recv_ready(self):
        return bool(self.data)

    def recv(self, n):
        return self.data.pop(0)

    def exit_status_ready(self):
        return False


def test_until_returns_once_the_caller_has_what_it_waited_for():
    channel = EndlessChannel()
    remote = Remote(lambda: Conn(Transport(channel)))
    seen = []
    res = remote.run("tail -F status", on_output=seen.append, until=lambda: "done\n" in seen)
    assert res.ok and res.stdout == "done\n" and channel.closed


class InputChannel(ScriptedChannel):
    """Records the command, what was sent on its stdin, and when stdin was closed."""

    def __init__(self):
        super().__init__(0)
        self.command, self.sent, self.events = "", b"", []

    def exec_command(self, command):
        self.command = command

    def sendall(self, data):
        self.sent += data
        self.events.append("data")

    def shutdown_write(self):
        self.events.append("eof")


def test_a_file_is_written_in_one_command_its_text_on_stdin():
    channel = InputChannel()
    remote = Remote(lambda: Conn(Transport(channel)))
    remote.put_text("DB_PASSWORD=s3cret-value\n", "/app/shared/.env", mode="640")
    assert channel.sent == b"DB_PASSWORD=s3cret-value\n" and channel.events == ["data", "eof"]
    assert "s3cret-value" not in channel.command  # never on a command line
    # created with its final mode before any byte is in it, then filled
    assert "install -D -m 640 /dev/null /app/shared/.env && cat > /app/shared/.env" in (
        channel.command
    )


class LocalChannel(ScriptedChannel):
    """Runs the command here (bash), with what was sent as its stdin, once stdin is closed:
    the files it writes are real, and so are its exit status and output. Every command is
    kept, with its stdin."""

    def __init__(self, stdin_limit: int | None = None):
        super().__init__(0)
        self.commands, self.sent, self.stdin_limit = [], b"", stdin_limit
        self.out, self.err = [], []

    def exec_command(self, command):
        self.commands.append(command)
        self.sent = b""

    def sendall(self, data):
        self.sent += data

    def shutdown_write(self):
        import subprocess

        stdin = self.sent if self.stdin_limit is None else self.sent[: self.stdin_limit]
        res = subprocess.run(["bash", "-c", self.commands[-1]], input=stdin, capture_output=True)
        self.status, self.out, self.err = res.returncode, [res.stdout], [res.stderr]
        self.asked, self.closed = 1, True

    def recv_ready(self):
        return bool(self.out and self.out[0])

    def recv(self, n):
        return self.out.pop(0)

    def recv_stderr_ready(self):
        return bool(self.err and self.err[0])

    def recv_stderr(self, n):
        return self.err.pop(0)


def test_a_step_s_uploads_are_written_in_one_command_each_exactly_its_bytes(tmp_path):
    channel = LocalChannel()
    remote = Remote(lambda: Conn(Transport(channel)))
    files = [
        ("#!/usr/bin/env python3\nprint('héllo')\n", tmp_path / "run/hostrun.py", "644"),
        ("12\nno newline at the end: 한글", tmp_path / "run/policy.py", "644"),
        ('{"secret": "s3cret-value"}\n' * 3000, tmp_path / "run/plan.json", "600"),  # > a pipe
    ]
    remote.put_texts([(text, str(path), mode) for text, path, mode in files])
    assert len(channel.commands) == 1  # one round trip
    for text, path, mode in files:
        assert path.read_text() == text
        assert oct(path.stat().st_mode & 0o777) == f"0o{mode}"
    command = channel.commands[0]
    assert "s3cret-value" not in command and "한글" not in command  # never on a command line
    assert str(len(files[2][0])) not in command  # nor a size


def test_uploads_cut_short_fail_instead_of_leaving_a_short_file(tmp_path):
    channel = LocalChannel(stdin_limit=60)  # the stream ends inside the last file's text
    remote = Remote(lambda: Conn(Transport(channel)))
    with pytest.raises(OSError, match="cannot write"):
        remote.put_texts([("a" * 10, str(tmp_path / "a"), "644"),
                          ("b" * 100, str(tmp_path / "b"), "644")])  # fmt: skip


def test_a_written_file_s_next_command_runs_in_the_same_round_trip(tmp_path):
    channel = LocalChannel()
    remote = Remote(lambda: Conn(Transport(channel)))
    tmp, final = tmp_path / "stack.json.tmp", tmp_path / "stack.json"
    res = remote.put_text('{"deployed": []}\n', str(tmp), "644", then=f"mv -f -- {tmp} {final}")
    assert res.ok and len(channel.commands) == 1
    assert final.read_text() == '{"deployed": []}\n' and not tmp.exists()
    # a failed write raises, and its next command does not run
    (tmp_path / "a-file").write_text("")
    marker = tmp_path / "ran"
    with pytest.raises(OSError, match="cannot write") as failed:
        remote.put_text("x", str(tmp_path / "a-file/f"), "644", then=f"touch {marker}")
    assert not marker.exists() and "@@" not in str(failed.value)
    # the next command's own failure is its result (the caller decides)
    res = remote.put_text("x", str(tmp), "644", then="exit 3")
    assert not res.ok and res.exit == 3 and tmp.read_text() == "x"


class LateOutputChannel(ScriptedChannel):
    """The exit status comes first; the last line and EOF a moment later (OpenSSH does so)."""

    def __init__(self):
        super().__init__(0)
        self.data, self.eof_received, self.polls = [b"first\n"], False, 0

    def recv_ready(self):
        return bool(self.data)

    def recv(self, n):
        return self.data.pop(0)

    def exit_status_ready(self):
        self.polls += 1
        if self.polls == 3:  # after the status was seen: the rest of the output, then EOF
            self.data.append(b"last\n")
        if self.polls == 4:
            self.eof_received = True
        return True


def test_the_output_is_read_to_its_end_when_the_exit_status_comes_first():
    channel = LateOutputChannel()
    res = Remote(lambda: Conn(Transport(channel))).run("echo first; echo last")
    assert res.ok and res.stdout == "first\nlast\n"


def test_a_step_s_uploads_and_its_command_are_one_round_trip(tmp_path):
    channel = LocalChannel()
    remote = Remote(lambda: Conn(Transport(channel)))
    files = [("print('hi')\n", str(tmp_path / "run/a.py"), "644"),
             ('{"k": "s3cret-value"}\n', str(tmp_path / "run/plan.json"), "600")]  # fmt: skip
    seen = []
    res = remote.put_texts(files, then=f"cat {tmp_path}/run/a.py; echo done >&2; exit 3",
                           on_output=seen.append)  # fmt: skip
    assert len(channel.commands) == 1 and "s3cret-value" not in channel.commands[0]
    assert (res.exit, res.stdout, res.stderr.strip()) == (3, "print('hi')\n", "done")
    assert "print('hi')" in "".join(seen)
    # a failed write raises, and the command does not run
    (tmp_path / "a-file").write_text("")
    marker = tmp_path / "ran"
    with pytest.raises(OSError, match="cannot write"):
        remote.put_texts([("x", str(tmp_path / "a-file/f"), "644"), ("y", str(tmp_path / "g"), "644")],
                         then=f"touch {marker}")  # fmt: skip
    assert not marker.exists()
