"""A scripted stand-in for a Fabric Connection, for testing the runner's policies."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class FakeResult:
    exited: int
    stdout: str = ""
    stderr: str = ""


class FakeConnection:
    """Answers commands by the first matching pattern; records everything it was asked."""

    def __init__(self, rules: list[tuple[str, int | list[int], str]] | None = None):
        self.rules = [(re.compile(p), codes, out) for p, codes, out in (rules or [])]
        self.calls: list[tuple[str, str]] = []
        self.uploads: dict[str, bytes] = {}

    def _answer(self, how: str, command: str) -> FakeResult:
        self.calls.append((how, command))
        for pattern, codes, out in self.rules:
            if pattern.search(command):
                if isinstance(codes, list):  # a sequence of exit codes, one per call
                    code = codes.pop(0) if len(codes) > 1 else codes[0]
                else:
                    code = codes
                return FakeResult(code, out if code == 0 else "", "" if code == 0 else out)
        return FakeResult(0)

    def run(self, command, **kw):
        return self._answer("run", command)

    def sudo(self, command, **kw):
        return self._answer("sudo", command)

    def put(self, fh, remote):
        self.uploads[remote] = fh.read()

    def commands(self) -> str:
        return "\n".join(c for _, c in self.calls)
