"""Commands on a host over one SSH connection: streamed, cancellable, aware of a lost link.

Fabric's ``Connection.run`` blocks until the command ends and cannot be told to stop; a
dropped connection can leave it waiting forever. A deploy needs more: the operator sees the
output while a 3-minute build runs, Ctrl-C stops the command *on the host* (not only the
local wait), and a lost connection is noticed at once so the session can reconnect and roll
back. So this module drives paramiko channels itself, on the connection Fabric opened
(host key checking, keys and sudo password come from tasks/hosts/connect.py).

Every command runs as ``bash -o pipefail -c <command> <marker>``: the marker (bash's ``$0``)
names the run and the command, so :meth:`Remote.stop` finds and ends the command's process
group on the host (``pgrep -f``), as root when it ran under sudo.

A sudo password goes to sudo alone: sudo prints a prompt of this run's own (random), and
the command, once sudo started it, first prints a start line of this run's own on stderr.
Only sudo's prompt before that line is answered (:class:`_SudoGate`); the command's own
output can never ask for the password, whatever it prints. A command's standard input
(``input``) is sent once the command runs, after the password.
"""

from __future__ import annotations

import codecs
import contextlib
import secrets
import select
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from tasks.durations import duration_text

#: seconds a finished command's output may take to reach its end (EOF) after its exit status
EOF_WAIT = 2.0
#: said (on stderr), with the file's path, by a put_text whose write failed
WRITE_FAILED = "@@dojangkok-write-failed"


@dataclass
class Result:
    ok: bool
    exit: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 15) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


class ConnectionLost(Exception):
    """The SSH connection dropped while a command ran (or could not be used at all)."""


class Interrupted(Exception):
    """The command was stopped because the operator asked (Ctrl-C)."""


class UploadFailed(OSError):
    """A file did not arrive whole on the host (``put_text``/``put_texts``): ``path``, and
    what the host said (``detail``; empty when only its size was wrong)."""

    def __init__(self, path: str, detail: str = "") -> None:
        super().__init__(f"cannot write {path}" + (f": {detail}" if detail else ""))
        self.path, self.detail = path, detail


def q(value: object) -> str:
    return shlex.quote(str(value))


def never() -> bool:
    return False


class QuickSocket(socket.socket):
    """The TCP socket a connection runs on: it sends at once (TCP_NODELAY, as OpenSSH) and
    acknowledges what it receives at once (TCP_QUICKACK after every read, on Linux). The SSH
    handshake and a connection's first channel are runs of small messages one way; with
    Nagle's algorithm on the sending side and a delayed ACK (40 ms) on the other, each run
    waited for an ACK: three times per connection (key exchange, login, the first channel;
    the last one is sshd's own Nagle, so only quick ACKs from here help), about 125 ms of
    every fab run, measured with tcpdump on the lab."""

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        data = super().recv(bufsize, flags)
        if QUICKACK is not None:
            with contextlib.suppress(OSError):
                self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return data


QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def tcp_connect(host: str, port: int, timeout: float | None) -> QuickSocket:
    """A :class:`QuickSocket` connected to ``host:port`` (the first address that answers)."""
    problem: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = QuickSocket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            problem = exc
    raise problem or OSError(f"no address for {host}")


class Remote:
    """One host's SSH connection. ``connect`` makes a fresh Fabric Connection (reconnects)."""

    def __init__(self, connect: Callable[[], object], sudo_password: str | None = None,
                 label: str = "dojangkok", root: Remote | None = None) -> None:  # fmt: skip
        """``root``: a second login (the ``admin_user``) that runs the commands that need
        root; this one, the deploy login, runs everything else (setup and push-config)."""
        self._connect = connect
        self.sudo_password = sudo_password
        self.label = label
        self.root = root
        token = secrets.token_hex(8)  # this run's: sudo's prompt, the command's start line
        self.sudo_prompt = f"[sudo] dojangkok-deploy {token} password: "
        self.started = f"@@dojangkok-started-{token}"
        self._seq = 0
        self.conn = None
        self.open()

    # --- the connection -------------------------------------------------------------
    def open(self) -> None:
        conn = self._connect()
        if not conn.gateway and "sock" not in conn.connect_kwargs:  # quick from the first byte
            conn.connect_kwargs["sock"] = tcp_connect(conn.host, conn.port, conn.connect_timeout)
        conn.open()
        conn.transport.set_keepalive(10)
        self.conn = conn

    def reconnect(self) -> None:
        self.close()
        self.open()
        if self.root is not None:
            self.root.reconnect()

    @property
    def alive(self) -> bool:
        t = self.conn.transport if self.conn is not None else None
        return bool(t and t.is_active())

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a dead connection may fail to close: it is
                self.conn.close()
        if self.root is not None:
            self.root.close()

    # --- commands -------------------------------------------------------------------
    def marker(self) -> str:
        self._seq += 1
        return f"dojangkok-run:{self.label}:{self._seq}"

    def wrap(self, command: str, sudo: bool, marker: str) -> str:
        if sudo and self.sudo_password:  # the command's first line: it runs, sudo is done
            command = f"printf '%s\\n' {q(self.started)} >&2; {command}"
        inner = f"bash -o pipefail -c {q(command)} {q(marker)}"
        if not sudo:
            return inner
        if self.sudo_password:
            return f"sudo -S -p {q(self.sudo_prompt)} -H -- {inner}"
        return f"sudo -n -H -- {inner}"

    def _gate(self, sudo: bool) -> _SudoGate | None:
        return _SudoGate(self.sudo_prompt, self.started) if sudo and self.sudo_password else None

    def run(
        self,
        command: str,
        sudo: bool = False,
        *,
        stop: Callable[[], bool] = never,
        on_output: Callable[[str], None] | None = None,
        timeout: float | None = None,
        until: Callable[[], bool] | None = None,
        input: str | None = None,  # noqa: A002 - subprocess's name for it
    ) -> Result:
        """Run ``command``; never raises on a non-zero exit.

        Raises :class:`Interrupted` when ``stop()`` turns true (the command is ended on the
        host first) and :class:`ConnectionLost` when the connection drops. ``until()``
        turning true (the caller read what it waited for) returns at once, a success: the
        channel is closed and the command left to end by itself (e.g. ``tail --pid``).
        ``input``: the command's standard input (under a sudo that asks for a password:
        sent once the command runs, after the password).
        """
        if sudo and self.root is not None:
            return self.root.run(command, True, stop=stop, on_output=on_output, timeout=timeout,
                                 until=until, input=input)  # fmt: skip
        marker = self.marker()
        try:
            chan = self.conn.transport.open_session()
            chan.exec_command(self.wrap(command, sudo, marker))
        except (paramiko.SSHException, OSError, EOFError, AttributeError) as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
        gate = self._gate(sudo)
        if gate is None:
            self._send(chan, input)
        out, err = _Stream(on_output), _Stream(on_output)
        started = time.monotonic()
        exited = None  # when the exit status came without the end of the output
        try:
            while True:
                readable = chan.recv_ready() or chan.recv_stderr_ready()
                if not readable:
                    select.select([chan], [], [], 0.1)
                while chan.recv_ready():
                    data = chan.recv(65536)
                    if gate is not None and not gate.open:  # sudo prints nothing there
                        err.feed(gate.close())
                        self._send(chan, input)
                    out.feed(data)
                while chan.recv_stderr_ready():
                    data = chan.recv_stderr(65536)
                    if gate is None or gate.open:
                        err.feed(data)
                        continue
                    asked, own = gate.feed(data)
                    if asked > 1:  # asked again: the password was wrong
                        chan.close()
                        return Result(False, -1, out.text, "sudo: incorrect password (AuthFailure)")
                    if asked and not gate.answered:
                        chan.sendall(f"{self.sudo_password}\n".encode())
                        gate.answered = True
                    if gate.open:
                        err.feed(own)
                        self._send(chan, input)
                if until is not None and until():
                    chan.close()
                    return Result(True, 0, out.finish(), err.finish())
                if (
                    chan.exit_status_ready()
                    and not chan.recv_ready()
                    and not chan.recv_stderr_ready()
                ):
                    # OpenSSH sends the exit status when the process ends, while its last
                    # output may still be on the way: the output is complete at EOF (a batch
                    # of reads lost its last status line). Not waited for long: a child the
                    # command left running may hold the output open.
                    if chan.closed or getattr(chan, "eof_received", False):
                        break
                    exited = exited if exited is not None else time.monotonic()
                    if time.monotonic() - exited > EOF_WAIT:
                        break
                if not self.alive:
                    raise ConnectionLost("the SSH connection dropped")
                if chan.closed:
                    # The command ended between the two checks above: its exit status and
                    # close arrived together. The next pass drains and breaks (a closed
                    # channel's status is always ready: -1 when the process died by a
                    # signal). Not a lost connection while the transport lives.
                    continue
                if stop():
                    chan.close()
                    self.stop(marker, sudo)
                    raise Interrupted(command)
                if timeout is not None and time.monotonic() - started > timeout:
                    chan.close()
                    self.stop(marker, sudo)
                    return Result(
                        False,
                        -1,
                        out.text,
                        err.text
                        + f"\n시간 초과: {duration_text(timeout)} 안에 끝나지 않았습니다 (timed out)",
                    )
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
        if gate is not None and not gate.open:  # sudo refused: what it said
            err.feed(gate.close())
        code = chan.recv_exit_status()
        if code == -1 and not self.alive:
            raise ConnectionLost("the SSH connection dropped")
        return Result(code == 0, code, out.finish(), err.finish())

    def _send(self, chan, data: str | None) -> None:
        """The command's standard input, then its end (nothing: at its end at once)."""
        try:
            if data is not None:
                chan.sendall(data.encode())
            chan.shutdown_write()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            if not self.alive:
                raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
            # the command ended before reading it all: its exit status says how

    def stop(self, marker: str, sudo: bool) -> None:
        """End a running command's process group on the host (TERM, then KILL after 5 s)."""
        pattern = q(marker[:-1] + f"[{marker[-1]}]")  # [x]: pgrep must not match itself
        script = (
            f"groups() {{ for p in $(pgrep -f -- {pattern}); do ps -o pgid= -p $p; done | sort -u; }}; "
            "for g in $(groups); do kill -TERM -- -$g 2>/dev/null; done; "
            'for _ in $(seq 50); do [ -z "$(groups)" ] && exit 0; sleep 0.1; done; '
            "for g in $(groups); do kill -KILL -- -$g 2>/dev/null; done; exit 0"
        )
        try:
            chan = self.conn.transport.open_session()
            chan.exec_command(self.wrap(script, sudo, self.marker()))
            gate = self._gate(sudo)
            if gate is None:
                chan.shutdown_write()
            deadline = time.monotonic() + 10
            while not chan.exit_status_ready() and time.monotonic() < deadline:
                while gate is not None and not gate.open and chan.recv_stderr_ready():
                    asked, _ = gate.feed(chan.recv_stderr(65536))
                    if asked and not gate.answered:
                        chan.sendall(f"{self.sudo_password}\n".encode())
                        gate.answered = True
                    if gate.open or asked > 1:
                        chan.shutdown_write()
                time.sleep(0.05)
        except (paramiko.SSHException, OSError, EOFError, AttributeError):
            pass  # the connection is gone: so is the command's session, or it will be

    # --- files ---------------------------------------------------------------------
    def put_text(self, text: str, remote_path: str, mode: str = "600", then: str = "") -> Result:
        """Write a file, created with its final mode before any byte is in it. One command:
        the text goes on its standard input (never on a command line); SFTP after an
        ``install`` took two round trips and three SFTP requests per file. ``then``: a
        command run once the file is written, in the same round trip (e.g. moving it into
        place); its result is returned. A failed write raises :class:`UploadFailed`
        (``then`` is not run)."""
        path = q(remote_path)
        write = f"{{ install -D -m {mode} /dev/null {path} && cat > {path}; }} || {_failed(remote_path)}"
        return self._write(write, text, remote_path, then)

    def put_texts(self, files: list[tuple[str, str, str]], then: str = "", **run) -> Result:
        """Write several files (text, path, mode) in one command (a step's uploads: one round
        trip instead of one each). Every file is created with its final mode first, then each
        is filled from standard input in turn: its size in bytes on a line of its own (read
        by ``read``, a byte at a time), then its text (``head -c``, which reads no more than
        it is asked), and its size checked. No text and no size is ever on a command line.
        ``then``: a command run once every file is written, in the same round trip (a step's
        own command after its uploads), with :meth:`run`'s keywords ``run``; its result is
        returned. A file that did not arrive whole raises :class:`UploadFailed` naming it
        (``then`` is not run)."""
        if len(files) == 1 and not then:
            return self.put_text(files[0][0], files[0][1], files[0][2])
        make = [f"{{ install -D -m {mode} /dev/null {q(path)} || {_failed(path)}; }}"
                for _, path, mode in files]  # fmt: skip
        fill = [
            f'{{ IFS= read -r n && head -c "$n" > {q(path)} && [ "$(stat -c %s -- {q(path)})" = "$n" ] '
            f"|| {_failed(path)}; }}"
            for _, path, _ in files
        ]
        stream = "".join(f"{len(text.encode())}\n{text}" for text, _, _ in files)
        names = ", ".join(path for _, path, _ in files)
        return self._write("; ".join(make + fill), stream, names, then, **run)

    def _write(self, write: str, stream: str, names: str, then: str, **run) -> Result:
        """Run ``write`` (each of its failures says :data:`WRITE_FAILED` and the file, and
        exits) with ``stream`` on its standard input, then ``then`` in the same round trip;
        a failed write raises :class:`UploadFailed` (``then`` is not run)."""
        res = self.run(f"{write}; {then}" if then else write, input=stream, **run)
        lines = res.stderr.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(WRITE_FAILED + " "):
                said = "; ".join(x.strip() for x in lines[:i] if x.strip())[-300:]
                raise UploadFailed(line[len(WRITE_FAILED) + 1 :], said)
        if not then and not res.ok:
            raise UploadFailed(names, res.tail(3))
        return res


def _failed(path: str) -> str:
    """Say which file failed (WRITE_FAILED) and stop the command."""
    return f"{{ echo {q(f'{WRITE_FAILED} {path}')} >&2; exit 1; }}"


class _SudoGate:
    """What arrives on stderr before the command's own start line (:attr:`Remote.started`):
    sudo's. A prompt there (this run's own, :attr:`Remote.sudo_prompt`) is sudo asking for
    the password; from the start line on, nothing is: the command's output is its own,
    whatever it prints, and never gets the password."""

    def __init__(self, prompt: str, started: str) -> None:
        self.prompt, self.started = prompt.encode(), started.encode() + b"\n"
        self.held = b""
        self.asked = 0
        self.answered = False
        self.open = False

    def feed(self, data: bytes) -> tuple[int, bytes]:
        """Take stderr bytes: (how often sudo asked so far, the bytes that are no prompt
        once the start line came: sudo's other words before it, the command's after it)."""
        self.held += data
        head, found, tail = self.held.partition(self.started)
        self.asked += head.count(self.prompt)
        head = head.replace(self.prompt, b"")
        if not found:
            self.held = head
            return self.asked, b""
        self.open, self.held = True, b""
        return self.asked, head + tail

    def close(self) -> bytes:
        """The command's output began (or the command ended) before its start line came:
        no prompt is taken any more; what was held (sudo's refusal, if any) is returned."""
        self.open = True
        held, self.held = self.held, b""
        return held


class _Stream:
    """Decodes a channel's bytes (UTF-8 may split across reads) and passes lines on."""

    def __init__(self, on_output: Callable[[str], None] | None):
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []
        self._on_output = on_output

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, data: bytes) -> None:
        chunk = self._decoder.decode(data)
        if chunk:
            self._parts.append(chunk)
            if self._on_output is not None:
                self._on_output(chunk)

    def finish(self) -> str:
        self._parts.append(self._decoder.decode(b"", final=True))
        return self.text
