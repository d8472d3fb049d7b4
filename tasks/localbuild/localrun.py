"""Commands on this machine (the operator's side) for a local build: streamed, cancellable.

A local build step's command is shell text, shown before it runs and run as shown, with
``bash -o pipefail -c``. Its output feeds the step's progress line (masked like the host's);
the first Ctrl-C ends the command's process group here, as :mod:`tasks.hosts.remote` ends a
host's. The tool's own interpreter comes first on ``PATH``, so ``python3 -m pip`` is the pip
this tool was installed with.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tasks.engine.interrupt import INTERRUPT
from tasks.hosts.remote import Interrupted


@dataclass
class Done:
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output.strip().splitlines()[-lines:])


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_TERMINAL_PROMPT"] = "0"  # an origin that asks for a password fails, never hangs
    return env


def query(command: str, timeout: float = 120) -> Done:
    """A short command's exit status and output (stdout and stderr together)."""
    res = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                         text=True, env=environment(), timeout=timeout, check=False)  # fmt: skip
    return Done(res.returncode, (res.stdout + res.stderr))


def stream(s, command: str, label: str, expected: str) -> Done:
    """Run ``command`` here with a progress line; Ctrl-C ends it (raises Interrupted)."""
    proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=environment(), start_new_session=True)  # fmt: skip
    lines: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        for line in iter(proc.stdout.readline, b""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    masker, parts, ended = s.secrets.stream_masker(), [], False
    with s.console.progress(label, expected) as progress:
        while not ended:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                line = b""
            if line is None:
                ended = True
            elif line:
                text = line.decode("utf-8", "replace")
                parts.append(text)
                progress.feed(masker.feed(text))
            if INTERRUPT.cancel.is_set() and proc.poll() is None:
                stop(proc)
                raise Interrupted(command)
    return Done(proc.wait(), "".join(parts))


def stop(proc: subprocess.Popen) -> None:
    """TERM the process group, KILL it after 5 s."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            return
