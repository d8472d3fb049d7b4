"""What the operator sees: masked lines, aligned tables and live progress, through rich.

Everything printed goes through :meth:`Console.out`, which masks secrets first. Tables are
drawn by rich, which measures East Asian width (a Hangul syllable takes two columns), so
Korean titles line up. A command that runs longer than :data:`LIVE_AFTER` seconds gets a
progress line: on a terminal a live line (elapsed time against the manual's estimate, and the
command's last output line) that disappears when the step ends; without a terminal (CI,
logs) a plain line every :data:`PLAIN_EVERY` seconds instead.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Sequence

from rich import box
from rich.console import Console as RichConsole
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tasks.hosts.secrets import Secrets

LIVE_AFTER = 2.0
PLAIN_EVERY = 15.0

_PRINT = threading.Lock()
_RICH = RichConsole(highlight=False, emoji=False, soft_wrap=True)


def is_terminal() -> bool:
    return _RICH.is_terminal


class Console:
    """One task's (or one parallel chain's) output: masked, optionally prefixed."""

    def __init__(self, secrets: Secrets, prefix: str = "", write=None):
        self.secrets = secrets
        self.prefix = prefix
        self._write = write  # tests capture lines here

    def out(self, text: str = "") -> None:
        masked = self.secrets.mask(text)
        lines = masked.split("\n") if masked else [""]
        text = "\n".join(f"{self.prefix}{line}" if line else line for line in lines)
        if self._write is not None:
            self._write(text)
            return
        with _PRINT:
            _RICH.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]],
              right: Sequence[int] = ()) -> None:  # fmt: skip
        """A table with columns aligned by display width; ``right``: right-aligned columns."""
        self.out(render_table(headers, rows, right))

    def child(self, prefix: str) -> Console:
        return Console(self.secrets, self.prefix + prefix, self._write)

    def progress(self, label: str, expected: str) -> Progress:
        return Progress(self, label, expected)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[int] = ()) -> str:  # fmt: skip
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if i in right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(str(c)) for c in row))
    buf = io.StringIO()
    RichConsole(file=buf, width=240, color_system=None, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").split("\n"))


class Progress:
    """The progress of one running command: use as a context manager, ``feed`` its output."""

    def __init__(self, console: Console, label: str, expected: str):
        self.console, self.label, self.expected = console, label, expected
        self.last = ""
        self._partial = ""
        self._started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=2)
        _BOARD.remove(self)

    def feed(self, chunk: str) -> None:
        text = self._partial + chunk
        *complete, self._partial = text.split("\n")
        for line in reversed([*complete, self._partial]):
            line = line.strip()
            if line:
                self.last = line[-160:]
                break

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def line(self) -> str:
        last = self.console.secrets.mask(self.last)
        return (
            f"{self.console.prefix}      … {self.elapsed:5.1f}s / 예상 {self.expected}  {self.label}"
            + (f"  │ {last}" if last else "")
        )

    def _tick(self) -> None:
        if is_terminal() and self.console._write is None:
            if not self._done.wait(LIVE_AFTER):
                _BOARD.add(self)
            return
        while not self._done.wait(PLAIN_EVERY):
            last = f": {self.last}" if self.last else ""
            self.console.out(
                f"      … {self.elapsed:.0f}s 경과 (예상 {self.expected}) {self.label}{last}"
            )


class _Board:
    """The live progress lines of every running command (one rich Live for all chains)."""

    def __init__(self) -> None:
        self.lines: list[Progress] = []
        self.lock = threading.Lock()
        self.live: Live | None = None

    def render(self) -> Group:
        return Group(*(Text(p.line(), no_wrap=True, overflow="ellipsis") for p in list(self.lines)))

    def add(self, p: Progress) -> None:
        with self.lock:
            self.lines.append(p)
            if self.live is None:
                self.live = Live(get_renderable=self.render, console=_RICH, transient=True,
                                 refresh_per_second=4, redirect_stdout=False)  # fmt: skip
                self.live.start()

    def remove(self, p: Progress) -> None:
        with self.lock:
            if p in self.lines:
                self.lines.remove(p)
            if not self.lines and self.live is not None:
                self.live.stop()
                self.live = None


_BOARD = _Board()


def plain(text: str) -> None:
    """Print outside any task's console (no secrets involved)."""
    with _PRINT:
        print(text, file=sys.stdout, flush=True)
