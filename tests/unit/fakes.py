"""A scripted stand-in for a host's Remote, for testing the engine's flows without a host."""

from __future__ import annotations

import re

from tasks.engine import staging
from tasks.engine.records import UNLOCKED
from tasks.hosts.remote import ConnectionLost, Interrupted, Result, never
from tasks.setup import privilege

#: one read of a Session.batch script: its command and the batch's mark
BATCH = re.compile(r"\( (.*?)\n\); printf '\\n(@@dojangkok-batch-\S+) %s\\n' \$\?", re.S)


class FakeRemote:
    """Answers commands by the first matching rule; records everything it was asked.

    A rule is (regex, answer, output). The answer is an exit code, a list of exit codes (one
    per call, the last repeating), or a callable(fake, command) returning an exit code (it
    may press Ctrl-C or drop the connection, as a real host would).
    """

    def __init__(self, rules=None):
        self.rules = [(re.compile(p), answer, out) for p, answer, out in (rules or [])]
        self.calls: list[tuple[str, str]] = []
        self.uploads: dict[str, str] = {}
        #: each put_texts: the paths it wrote and the command run after them, if any
        self.writes: list[tuple[list[str], str]] = []
        self.alive = True
        self.reconnects = 0
        self.closed = False
        self.refuse_reconnect = False
        #: the lock's release, run with the record (records.append), fails on the host
        self.refuse_unlock = False

    def answer(self, command) -> tuple[int, str]:
        for pattern, answer, text in self.rules:
            if pattern.search(command):
                if callable(answer):
                    code = answer(self, command)
                elif isinstance(answer, list):
                    code = answer.pop(0) if len(answer) > 1 else answer[0]
                else:
                    code = answer
                return code, text
        if command.startswith(f"sha256sum -- {privilege.HELPER} "):
            return 0, privilege.helper_digest()  # a host set up by this version
        return 0, ""

    def run(self, command, sudo=False, *, stop=never, on_output=None, timeout=None,
            until=None, input=None) -> Result:  # fmt: skip
        if not self.alive:
            raise ConnectionLost("the SSH connection dropped")
        self.calls.append(("sudo" if sudo else "run", command))
        if input is not None and command.startswith(f"{staging.VAR}=$(mktemp "):
            self.receive(command, input)
        parts = BATCH.findall(command)
        if parts:  # Session.batch: one round trip, each read answered by the rules
            out = ""
            for read, mark in parts:
                code, text = self.answer(read)
                out += f"{text}\n{mark} {code}\n"
            return Result(True, 0, out, "")
        code, out = self.answer(command)
        if f"echo {UNLOCKED}" in command and not self.refuse_unlock:
            out = f"{out}\n{UNLOCKED}\n" if out else f"{UNLOCKED}\n"  # the record's unlock ran
        if on_output and out:
            on_output(out)  # as a real host: the output arrives, then the stop is noticed
        if not self.alive:
            raise ConnectionLost("the SSH connection dropped")
        if stop():
            raise Interrupted(command)
        return Result(code == 0, code, out if code == 0 else "", "" if code == 0 else out)

    def receive(self, command, stream):
        """A root step's files, read from its standard input as the host would (each: its
        size in bytes on a line, then its text), kept as uploads at ``$STAGE/<name>``."""
        names = re.findall(r"; put (\S+) [0-7]+", command)
        data, paths = stream.encode(), []
        for name in names:
            size, _, data = data.partition(b"\n")
            text, data = data[: int(size)], data[int(size) :]
            self.uploads[staging.path(name)] = text.decode()
            paths.append(staging.path(name))
        assert data == b"", "the stream holds more than its files"
        self.writes.append((paths, command))

    def put_text(self, text, path, mode="600", then=""):
        if not self.alive:
            raise ConnectionLost("the SSH connection dropped")
        self.uploads[path] = text
        return self.run(then) if then else Result(True, 0, "", "")

    def put_texts(self, files, then="", **run):
        self.writes.append(([path for _, path, _ in files], then))  # one round trip each
        for text, path, mode in files:
            self.put_text(text, path, mode)
        return self.run(then, **run) if then else Result(True, 0, "", "")

    def reconnect(self):
        if self.refuse_reconnect:
            raise OSError("connection refused")
        self.reconnects += 1
        self.alive = True

    def close(self):
        self.closed = True

    def commands(self) -> str:
        return "\n".join(c for _, c in self.calls)

    def index(self, pattern: str) -> int:
        """The position of the first call matching ``pattern`` (-1: none)."""
        for i, (_, c) in enumerate(self.calls):
            if re.search(pattern, c):
                return i
        return -1
