"""What the operator sees: Korean text lines up, secrets never show, progress lines."""

from __future__ import annotations

from rich.cells import cell_len

from tasks.engine import console as console_module
from tasks.engine.console import Console, render_table
from tasks.hosts.secrets import Secrets


def test_tables_align_korean_by_display_width():
    text = render_table(("단계", "작업", "결과"), [("B8", "Gradle 빌드", "ok"),
                                                 ("B10", "헬스체크", "failed")])  # fmt: skip
    rows = [line for line in text.splitlines() if "ok" in line or "failed" in line]
    # the third column starts at the same display column on every row
    starts = [cell_len(line[: line.index("ok" if "ok" in line else "failed")]) for line in rows]
    assert len(set(starts)) == 1, text


def test_output_is_masked():
    lines = []
    Console(Secrets({"K": "s3cret-value-x"}), write=lines.append).out("pw=s3cret-value-x")
    assert lines == ["pw=******"]


def test_a_long_command_prints_a_plain_progress_line_without_a_terminal(monkeypatch):
    lines = []
    monkeypatch.setattr(console_module, "PLAIN_EVERY", 0.05)
    c = Console(Secrets({}), prefix="[cpu] ", write=lines.append)
    with c.progress("(B8) Gradle 빌드", "3분+") as p:
        p.feed("> Task :compileJava\n> Task :bootJar")
        import time

        time.sleep(0.2)
    assert any("예상 3분+" in line and "> Task :bootJar" in line for line in lines), lines
    assert all(line.startswith("[cpu] ") for line in lines)


def test_display_width_is_rich_s():
    """The tables' own width count agrees with rich's (which draws the live lines)."""
    for text in (
        "단계",
        "B8 Gradle 빌드",
        "❌ 실패",
        "✓ ok",
        "e\u0301x",
        "ｆｕｌｌ",
        "",
        "a\u200bb",
    ):
        assert console_module.cell_len(text) == cell_len(text), text


def test_printing_lines_and_tables_needs_no_rich():
    """rich is ~50 ms of every start-up: only a live line (a terminal, a long step) loads it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from tasks.engine.console import Console\n"
        "from tasks.hosts.secrets import Secrets\n"
        "c = Console(Secrets({}))\n"
        "c.out('[1/2] (B7) 기존 서비스 중지\\x07\\r')\n"
        "c.table(('단계', '결과'), [('B7', 'ok')])\n"
        "print('rich' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.splitlines() == ["[1/2] (B7) 기존 서비스 중지\\x07", "단계   결과", "───────────",
                                "B7     ok", "False"]  # fmt: skip
