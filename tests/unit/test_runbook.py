"""docs/runbook.md (the incident runbook) and docs/runbook-reference.md (every step) are
generated from the step definitions (tasks/runbook.py): both fresh, the runbook short with
장애 대응 first, every command cell short and exactly as run, every `fab ...` shown a real
task with real flags."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from invoke.exceptions import ParseError
from invoke.parser import Parser, ParserContext

from tasks import ns, runbook
from tasks.program import make_program

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNBOOK = DOCS / "runbook.md"
REFERENCE = DOCS / "runbook-reference.md"
MAX_LINES = 200


@pytest.fixture(scope="module")
def text() -> str:
    return runbook.render()


@pytest.fixture(scope="module")
def reference() -> str:
    return runbook.render_reference()


def test_runbook_is_up_to_date(text):
    assert RUNBOOK.read_text(encoding="utf-8") == text, (
        "docs/runbook.md is out of date: run `make runbook` and commit it"
    )


def test_reference_is_up_to_date(reference):
    assert REFERENCE.read_text(encoding="utf-8") == reference, (
        "docs/runbook-reference.md is out of date: run `make runbook` and commit it"
    )


def test_runbook_is_short_and_puts_incidents_before_the_daily_commands(text):
    lines = text.splitlines()
    assert len(lines) <= MAX_LINES, f"docs/runbook.md has {len(lines)} lines (at most {MAX_LINES})"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:3] == ["## 0. 준비 (처음 한 번)", "## 1. 장애 대응", "## 2. 평소에 쓰는 명령"]
    incident = lines.index("## 1. 장애 대응")
    # the first screen: the health check's row a few lines into the section, which starts
    # after a short 준비
    row = next(i for i, line in enumerate(lines) if line.startswith("| 헬스체크 실패"))
    assert incident < row < 25 and row - incident < 10, (incident, row)
    assert "(runbook-reference.md)" in text
    # the tool's own words on a failed rollback send the operator to "수동 복구"
    # (tasks/engine/runner.py): the incident section names it
    section = "\n".join(lines[incident : lines.index("## 2. 평소에 쓰는 명령")])
    for words in (
        "헬스체크 실패",
        "배포가 중간에 실패",
        "잠금이 남아",
        "503",
        "DB 복구",
        "수동 복구",
    ):
        assert words in section, words


def test_the_reference_keeps_every_section(reference):
    for title in ("## A. Frontend 배포", "## B. Backend 배포", "## C. FastAPI (AI Server) 배포",
                  "## D. 전체 배포 (Full Deploy)", "## 0. 서버 준비 (`fab setup`)",
                  "## R. release 방식 (기본)", "## L. 배포 방식 2", "## 수동 복구"):  # fmt: skip
        assert title in reference
    assert "| 12 | 디코 완료 공지 |" in reference
    assert "| 7 | AI 기능 테스트 |" in reference
    assert "./gradlew clean build -x test" in reference


def test_the_runbook_has_a_table_per_app_with_its_checklist(text):
    for section, task in (("A", "deploy-frontend"), ("B", "deploy-backend"), ("C", "deploy-ai")):
        start = text.index(f"\n### {section}. ")
        part = text[start : text.index("\n#", start + 1)]
        assert task in part.splitlines()[1]
        for phase in ("배포 전", "배포 중", "배포 후"):
            assert f"- **{phase}**: " in part, (section, phase)
        assert "| 단계 | 작업 | 명령 |" in part


# --- command cells -----------------------------------------------------------------------


def command_cells(markdown: str) -> list[str]:
    """Every cell of a table's 명령/명령어 column."""
    out, column = [], None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if column is None:
            column = next((i for i, c in enumerate(cells) if c in ("명령", "명령어")), -1)
        elif column >= 0 and not set(cells[0]) <= set(":-"):
            out.append(cells[column])
    return out


def rendered_commands() -> set[str]:
    """Every command (exactly as run, [sudo] in front of a root one) of every plan the two
    documents show."""
    out = set()
    for plan, view in runbook.plans_shown():
        out.update(runbook.command_of(step, view) for step in plan.steps
                   if not (step.skip_if and step.skip_if(view)))  # fmt: skip
    return out


def test_command_cells_are_short(text, reference):
    for name, doc in (("runbook", text), ("reference", reference)):
        long = [c for c in command_cells(doc) if len(c) > runbook.CELL_LIMIT]
        assert long == [], f"{name}: {len(long)} command cells over {runbook.CELL_LIMIT} characters"
    assert len(command_cells(text)) > 30


def test_command_cells_are_commands_exactly_as_run(reference, text):
    """No cell is empty, and a cell's code is one whole command as it runs, never one that a
    table flattened (a multi-line Python snippet on one line is no longer valid)."""
    commands = rendered_commands()
    elsewhere = (runbook.SEE_DRY_RUN, runbook.UNDER_TABLE, runbook.SKIPPED)
    for doc in (text, reference):
        for cell in command_cells(doc):
            assert cell not in ("", "``"), "an empty command cell"
            if cell.startswith(elsewhere + ("`fab ",)):  # a fab command: checked below
                continue
            code = re.fullmatch(r"`` (.+) ``|`([^`]+)`", cell.split("<br>")[-1])
            assert code, cell
            assert (code[1] or code[2]).replace("\\|", "|") in commands, cell
    # and every command too long for a cell is under its table, whole, with its newlines
    for command in commands:
        if "\n" in command or len(command) > runbook.CELL_LIMIT:
            assert f"\n{command}\n```" in reference, command[:80]


def test_a_step_the_defaults_skip_says_so_instead_of_a_command(reference):
    """The manual rollback's smoke test has no request by default (backend_smoke is empty):
    its cell was an empty code span."""
    assert "| R5 | 기능 테스트 | 건너뜀 (기본 설정: 스모크 요청 설정이 비어 있음) |" in reference


# --- every `fab ...` shown is a real task with real flags ----------------------------------


def contexts() -> list[ParserContext]:
    return ns.to_contexts()


def fab_commands(markdown: str) -> list[str]:
    """Every `fab ...` (or `dojangkok ...`) the document shows: in code spans and in fenced
    blocks, each command of an ``&&`` chain on its own, comments left off."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        pieces = [line] if fenced else re.findall(r"`` (.+?) ``|`([^`]+)`", line)
        for piece in pieces:
            piece = piece if isinstance(piece, str) else (piece[0] or piece[1])
            for part in piece.replace("\\|", "|").split("&&"):
                part = part.strip()
                if re.match(r"(fab|dojangkok) ", part) and "..." not in part:  # not `fab ...`
                    found.append(part)
    return found


def parse_problem(command: str) -> str:
    """What the ``fab`` program would refuse in ``command`` ("" when it parses), read as the
    program reads it: Fabric's own options first, then the tasks and their flags."""
    words = shlex.split(command, comments=True)
    if "--" in words:
        words = words[: words.index("--")]
    tasks, core_args = contexts(), make_program().core_args()
    try:
        core = Parser(initial=ParserContext(args=core_args), ignore_unknown=True)
        found = core.parse_argv(words[1:])
        asked = found[0].args
        if isinstance(asked.help.value, str):  # `fab --help TASK`
            return "" if asked.help.value in {c.name for c in tasks} else "no such task"
        if asked.list.value:
            return ""
        # Fabric's options may follow a task too (`fab settings -H cpu`)
        result = Parser(initial=ParserContext(args=core_args), contexts=tasks).parse_argv(
            found.unparsed
        )
    except ParseError as exc:
        return str(exc)
    if not any(ctx.name for ctx in result):
        return "no task named"
    return ""


def test_every_fab_command_shown_is_a_real_task_with_real_flags(text, reference):
    for name, doc in (("runbook", text), ("reference", reference)):
        commands = fab_commands(doc)
        assert len(commands) > 20, name
        wrong = {c: p for c in commands if (p := parse_problem(c))}
        assert wrong == {}, name


def test_the_command_check_refuses_what_is_not_a_task_or_a_flag():
    assert parse_problem("fab -H cpu rollback-backend --to=<리비전>") == ""
    assert parse_problem('fab -H cpu maintenance on --message="점검 중입니다"') == ""
    assert parse_problem("fab -H cpu logs backend -n 100") == ""
    assert parse_problem("fab -H cpu rollback-backend --revision=abc") != ""
    assert parse_problem("fab -H cpu rollback-backnd") != ""
    assert parse_problem("fab -H cpu") == "no task named"
    assert parse_problem("fab --help deploy-backend") == ""
    assert parse_problem("fab --help deploy-backnd") != ""
    assert parse_problem("fab settings -H cpu") == ""
