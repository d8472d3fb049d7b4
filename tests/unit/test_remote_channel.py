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
    def __init__(self, transport):
        self.transport = transport

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


def test_the_connection_sends_small_commands_at_once():
    """TCP_NODELAY: without it each command waited for the host's delayed ACK (~40 ms)."""
    import socket

    transport = Transport(ScriptedChannel(0))
    transport.sock = Sock()
    Remote(lambda: Conn(transport))
    assert transport.sock.options == {(socket.IPPROTO_TCP, socket.TCP_NODELAY): 1}


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
