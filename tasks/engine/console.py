"""What the operator sees: masked lines, aligned tables and live progress.

Everything printed goes through :meth:`Console.out`, which masks secrets first, then makes the
text safe for a terminal (tasks/terminal.py: no escape sequence, carriage return or
other control character of a host's output acts on it; the live line's text too). Tables are
aligned by display width (a Hangul syllable takes two columns: :func:`cell_len`), so Korean
titles line up. A command that runs longer than :data:`LIVE_AFTER` seconds gets a progress
line: on a terminal a live line drawn by rich (elapsed time against the manual's estimate,
and the command's last output line) that disappears when the step ends; without a terminal
(CI, logs) a plain line every :data:`PLAIN_EVERY` seconds instead. rich is imported only for
a live line (its import is ~50 ms of every start-up, a tenth of a warm rollback's wall time);
plain lines and tables are written directly.
"""

from __future__ import annotations

import sys
import threading
import time
import unicodedata
from collections.abc import Sequence
from functools import cache

from tasks.durations import duration_text
from tasks.hosts.secrets import Secrets
from tasks.terminal import safe

LIVE_AFTER = 2.0
PLAIN_EVERY = 15.0

_PRINT = threading.Lock()


@cache
def _rich():
    """The rich console that draws live lines (imported on first use: rich.console is
    ~15 ms of a start-up, rich.live ~22 ms, `python -X importtime`; most tasks' dry runs
    and refusals draw no live line)."""
    from rich.console import Console as RichConsole

    return RichConsole(highlight=False, emoji=False, soft_wrap=True)


def is_terminal() -> bool:
    return sys.stdout.isatty()


class Console:
    """One task's (or one parallel chain's) output: masked, optionally prefixed."""

    def __init__(self, secrets: Secrets, prefix: str = "", write=None):
        self.secrets = secrets
        self.prefix = prefix
        self._write = write  # tests capture lines here

    def out(self, text: str = "") -> None:
        masked = safe(self.secrets.mask(text))
        lines = masked.split("\n") if masked else [""]
        text = "\n".join(f"{self.prefix}{line}" if line else line for line in lines)
        if self._write is not None:
            self._write(text)
            return
        with _PRINT:
            if _BOARD.live is not None:  # above the live lines, which rich redraws below
                _rich().print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
            else:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]],
              right: Sequence[int] = ()) -> None:  # fmt: skip
        """A table with columns aligned by display width; ``right``: right-aligned columns."""
        self.out(render_table(headers, rows, right))

    def child(self, prefix: str) -> Console:
        return Console(self.secrets, self.prefix + prefix, self._write)

    def progress(self, label: str, expected: str) -> Progress:
        return Progress(self, label, expected)


def cell_len(text: str) -> int:
    """Display columns: East Asian wide and full-width characters take two, combining marks
    and other zero-width characters none."""
    n = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 right: Sequence[int] = ()) -> str:  # fmt: skip
    """Columns three spaces apart, each as wide as its widest cell; a rule under the
    headers; ``right``: right-aligned columns."""
    table = [[str(h) for h in headers], *([safe(str(c)) for c in r] for r in rows)]
    widths = [max(cell_len(r[i]) for r in table) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (width - cell_len(cell))
            out.append(pad + cell if i in right else cell + pad)
        return "   ".join(out).rstrip()

    rule = "─" * (sum(widths) + 3 * (len(widths) - 1))
    return "\n".join([line(table[0]), rule, *(line(r) for r in table[1:])])


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
        # a carriage return ends a line too (a progress bar's "50%\r60%": the last is shown)
        text = (self._partial + chunk).replace("\r\n", "\n").replace("\r", "\n")
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
        last = safe(self.console.secrets.mask(self.last))
        return (
            f"{self.console.prefix}      … {duration_text(self.elapsed):>7} / 예상 {self.expected}  "
            f"{self.label}" + (f"  │ {last}" if last else "")
        )

    def _tick(self) -> None:
        if is_terminal() and self.console._write is None:
            if not self._done.wait(LIVE_AFTER):
                _BOARD.add(self)
            return
        while not self._done.wait(PLAIN_EVERY):
            last = f": {self.last}" if self.last else ""  # (out() masks it, makes it safe)
            self.console.out(
                f"      … {duration_text(self.elapsed)} 경과 (예상 {self.expected}) {self.label}{last}"
            )


class _Board:
    """The live progress lines of every running command (one rich Live for all chains)."""

    def __init__(self) -> None:
        self.lines: list[Progress] = []
        self.lock = threading.Lock()
        self.live = None  # a rich Live while any line shows

    def render(self):
        from rich.console import Group
        from rich.text import Text

        return Group(*(Text(p.line(), no_wrap=True, overflow="ellipsis") for p in list(self.lines)))

    def add(self, p: Progress) -> None:
        with self.lock:
            self.lines.append(p)
            if self.live is None:
                from rich.live import Live

                self.live = Live(get_renderable=self.render, console=_rich(), transient=True,
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
    """Print outside any task's console (no secrets involved; made safe all the same)."""
    with _PRINT:
        print(safe(text), file=sys.stdout, flush=True)
