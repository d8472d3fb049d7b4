"""Run one deploy command, streaming its output with a timestamp per line, and find the
lines that start a step ("marks") so the timeline can show which step was running."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Mark:
    t: float
    label: str


@dataclass
class CommandRun:
    shown: str  # the command as the report shows it (no secrets)
    t0: float
    t1: float = 0.0
    rc: int | None = None
    lines: list[tuple[float, str]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.t1 - self.t0

    def tail(self, n: int = 40) -> str:
        return "\n".join(text for _, text in self.lines[-n:])


# -- marks ------------------------------------------------------------------------------
_HOST = r"^(?:\[[A-Za-z][\w.:-]*\] )?"  # `full-deploy --parallel`: "[cpu] ", "[cpu:backend] "
_FAB_STEP = re.compile(_HOST + r"\[(\d+)/(\d+)\] \(([^)]+)\) (.+?)\s+\(예상 .*\)$")
_FAB_STAGE = re.compile(
    _HOST + r"\[(\d+)/(\d+)\] ([^(].*)$"
)  # full-deploy: "[2/3] Spring Boot 배포..."
_FAB_FAIL = re.compile(_HOST + r"!!! (.+?)(?: \(매뉴얼.*)?$")


def fab_mark(line: str) -> str | None:
    """`[10/14] (B8) Gradle 빌드  (예상 3분+)` → `B8 Gradle 빌드`; full-deploy stages and
    `!!! … → 롤백 시작` lines are marks too."""
    if m := _FAB_STEP.match(line):
        return f"{m.group(3)} {m.group(4)}"
    if m := _FAB_STAGE.match(line):
        return m.group(3).strip()
    if m := _FAB_FAIL.match(line):
        return m.group(1).strip()
    return None


_ECHO = re.compile(r'^\s*echo "([^"]*)"', re.M)


def echo_prefixes(scripts: Iterable[str]) -> list[str]:
    """The literal start of every `echo "…"` in the scripts (up to the first `$`); an echo
    of the time (`현재 시간: $(date)`) is no step."""
    out = []
    for text in scripts:
        for body in _ECHO.findall(text):
            if "$(date" in body:
                continue
            prefix = body.split("$", 1)[0]
            if len(prefix.strip()) >= 3 and prefix not in out:
                out.append(prefix)
    return sorted(out, key=len, reverse=True)  # the most specific first


def script_marker(scripts: Iterable[str]) -> Callable[[str], str | None]:
    """A mark for each line the scripts' own echo statements print."""
    prefixes = echo_prefixes(scripts)

    def mark(line: str) -> str | None:
        return next((line.strip() for p in prefixes if line.startswith(p)), None)

    return mark


def first_marks(lines: list[tuple[float, str]], mark: Callable[[str], str | None]) -> list[Mark]:
    """Marks of the lines, keeping only the first of a repeated one (a wait loop's
    `대기 중... (3/12)` marks the start of the wait, not each turn)."""
    out, seen = [], set()
    for t, line in lines:
        label = mark(line)
        if label is None:
            continue
        key = re.sub(r"\d+", "#", label)
        if key in seen:
            continue
        seen.add(key)
        out.append(Mark(t, label))
    return out


def masker(secrets: Iterable[str]) -> Callable[[str], str]:
    """Replaces every secret (of 4+ characters) in a text with ****."""
    values = sorted((v for v in secrets if len(v) >= 4), key=len, reverse=True)

    def mask(text: str) -> str:
        for v in values:
            text = text.replace(v, "****")
        return text

    return mask


# -- running ----------------------------------------------------------------------------
def run(
    argv: list[str],
    shown: str,
    *,
    mark: Callable[[str], str | None],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin_text: str | None = None,
    mask: Callable[[str], str] = lambda s: s,
    timeout: float = 900,
) -> CommandRun:
    """Run argv to its end; stdout and stderr as one stream of timestamped lines.
    `stdin_text` (e.g. a secret for the remote `read`) never appears in argv."""
    result = CommandRun(shown, time.monotonic())
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if stdin_text is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin_text.encode())
        proc.stdin.close()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            text = mask(raw.decode(errors="replace").rstrip("\r\n"))
            result.lines.append((time.monotonic(), text))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        result.rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        result.rc = proc.wait()
        result.lines.append((time.monotonic(), f"[bench] killed after {timeout:.0f} s"))
    result.t1 = time.monotonic()
    reader.join(timeout=5)
    result.marks = first_marks(result.lines, mark)
    return result
