"""Host output never drives the operator's terminal: the raw bytes fab writes carry no escape
sequence, carriage return, C1 control or bidi override of the host's (tasks/terminal.py).

The payload is what a host that was taken over (or a hostile file name) would print: OSC 52
(puts text on the operator's clipboard, for the next paste into a root shell), a window title,
clear-screen and cursor moves over the lines already shown, a carriage return that prints one
line over another, CSI as the C1 control U+009B, and a right-to-left override. Each path that
prints host text runs for real in a child process and its raw output is read: a terminal (a
pty: the live progress line is drawn there) and a pipe (`fab history`, an error's message).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tasks.engine.console import render_table
from tasks.terminal import safe

ROOT = Path(__file__).resolve().parents[2]
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # clipboard := "rm -rf ~"
HOSTILE = (
    f"ok{OSC52} \x1b]0;title\x07 \x1b[2J\x1b[H fake ✓ \rover\x1b[1A \u009b31m c1 "
    "\u202eevil\u202c \x08\x00\x7f end"
)
#: what the payload must never put on the terminal as bytes
ACTING = [b"\x1b]52", b"\x1b]0;", b"\x1b[2J", b"\x1b[H", b"\x1b[1A", b"\x07", b"\xc2\x9b",
          "\u202e".encode(), b"\x08", b"\x00", b"\x7f", b"\rover"]  # fmt: skip


def test_safe_keeps_text_tab_and_newline_and_shows_every_other_control():
    assert safe("배포 완료\tok\n") == "배포 완료\tok\n"
    assert safe("a\r\nb\rc") == "a\nbc"
    assert safe(OSC52) == "\\x1b]52;c;cm0gLXJmIH4K\\x07"
    assert safe("\u009b31m \u202eevil\u202c \u2066x\u2069") == (
        "\\x9b31m \\u202eevil\\u202c \\u2066x\\u2069"
    )
    out = safe(HOSTILE)
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in out)
    assert not any(0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E for c in out)
    assert "\u200f" in safe("\u200fשלום")  # a plain direction mark stays (it reorders nothing)


def test_a_table_is_aligned_as_printed():
    """A cell's width is counted on its safe text (an escape shows as four characters)."""
    text = safe(render_table(("release", "status"), [("r1\x1b[2J", "ok"), ("r2", "failed")]))
    first, second = text.splitlines()[2:]
    assert first.index("ok") == second.index("failed"), text


SCRIPT = f"""
import json, sys, time
from tasks.engine import console as console_module
from tasks.engine.checklist import ask
from tasks.engine.console import Console
from tasks.engine.lock import LockInfo
from tasks.hosts.remote import Result
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.hosts.inventory import Host
from tasks.procedures.locking import lock_status

HOSTILE = {HOSTILE!r}
console_module.LIVE_AFTER = 0.05
c = Console(Secrets({{}}), prefix="[cpu] ")
c.out("step output: " + HOSTILE)                             # a step's lines, its error tail
c.table(("release", "status"), [("r1", HOSTILE)])             # fab releases
with c.progress("(B8) build", "3분+") as p:                   # the live line, on a terminal
    p.feed("compiling " + HOSTILE + "\\n")
    time.sleep(0.8)
info = LockInfo("r", HOSTILE, "m", 1, "deploy", "backend", "b" * 40, HOSTILE, time.time())

class Remote:                                                # the host's info.json
    def run(self, command):
        return Result(True, 0, info.to_json() + "\\n", "")
    def close(self):
        pass

host = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), Settings())
lock_status(host, Secrets({{}}), c, connect_host=lambda h, s: Remote())
print("answer:", ask("overwrite with " + HOSTILE + "?", False))  # restore-db names the file
"""


def test_host_text_reaches_a_terminal_as_text():
    """Console lines, a table, the live progress line, lock-status, a checklist prompt."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, stdin=child, stdout=child,
                            stderr=child, env={**os.environ, "COLUMNS": "400"})  # fmt: skip
    os.close(child)
    raw, answered, deadline = b"", False, time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([main], [], [], 0.1)[0]:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child is gone (EIO)
                break
            if not data:
                break
            raw += data
        if not answered and b"(y/n)" in raw:
            os.write(main, b"y\n")
            answered = True
        if proc.poll() is not None and not select.select([main], [], [], 0.2)[0]:
            break
    os.close(main)
    assert proc.wait(timeout=10) == 0, raw.decode(errors="replace")
    text = raw.decode(errors="replace")
    assert "answer: (True, 'operator')" in text
    # every path printed the payload, as visible text ...
    for seen in ("step output: ok\\x1b]52;c;", "r1", "잠김", "overwrite with ok\\x1b]52"):
        assert seen in text, seen
    # the live line (drawn by rich): a carriage return ends a line there, the last is shown
    assert "(B8) build  │ over\\x1b[1A \\x9b31m" in text
    # ... and none of it as bytes a terminal acts on (rich's own cursor codes are allowed)
    found = [bytes(a) for a in ACTING if a in raw]
    assert not found, found


def test_history_and_an_error_s_message_carry_no_control_bytes(tmp_path):
    """`fab history` (table and --json) over a record that quotes a host, and the
    message of a run refused with a host's output in it, as fab prints them to a pipe."""
    history = tmp_path / "history.jsonl"
    record = {"time": "2026-01-01T00:00:00+09:00", "operator": HOSTILE, "kind": "deploy",
              "component": "backend", "host": "cpu", "result": HOSTILE,
              "steps": [{"detail": HOSTILE}]}  # fmt: skip
    history.write_text(json.dumps(record, ensure_ascii=False) + "\n")
    history.chmod(0o600)
    env = {
        **os.environ,
        "DOJANGKOK_HISTORY": str(history),
        "DOJANGKOK_ENV": str(tmp_path / "e"),
        "DOJANGKOK_HOSTS": str(tmp_path / "no-inventory.ini"),
    }  # this machine's records only
    fab = [sys.executable, "-c", "from fabric.main import program; program.run()"]
    outs = []
    for args in (["history"], ["history", "--json"]):
        res = subprocess.run([*fab, *args], cwd=ROOT, env=env, capture_output=True, timeout=60)
        assert res.returncode == 0, res.stderr
        outs.append(res.stdout)
    refused = (
        "from invoke import Collection, Program, task\n"
        "from tasks.cli import operator_task\n"
        "from tasks.errors import HostCommandFailed\n"
        "@task\n@operator_task\ndef evil(c):\n"
        f"    raise HostCommandFailed('cpu', 'cat x', {HOSTILE!r})\n"
        "Program(namespace=Collection(evil), name='fab').run(['fab', 'evil'])\n"
    )
    res = subprocess.run([sys.executable, "-c", refused], cwd=ROOT, env=env, capture_output=True,
                         timeout=60)  # fmt: skip
    said = "ERROR: cpu에서 읽기에 실패했습니다".encode()
    assert res.returncode == 1 and said in res.stderr, res.stderr
    outs.append(res.stderr)
    for raw in outs:
        assert b"ok\\x1b]52" in raw or b"ok\\\\x1b]52" in raw, raw  # printed, as text
        found = [bytes(a) for a in [*ACTING, b"\x1b", b"\r"] if a in raw]
        assert not found, (found, raw)
