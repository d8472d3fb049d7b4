"""The README is the operator's manual: every command and flag it shows must exist as shown,
it stays short (the rest is in docs/developing.md), and it states the same layering rule as
docs/developing.md. Pure text checks against the task collection (no host, no lab)."""

from __future__ import annotations

import re
from pathlib import Path

from tasks import ns

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEVELOPING = (ROOT / "docs" / "developing.md").read_text(encoding="utf-8")

#: the import rule both documents state (issue 20); a module imports only from its left
LAYERS = "hosts ← engine ← apps.base ← {apps, strategies, config, setup, localbuild} ← tasks"
#: Fabric's own options the README uses (no task needed), and the program's --env
CORE = {"--list", "--help", "--env"}
#: commands of other tools the README shows (the install): their flags are not ours
OTHER_TOOLS = ("pipx ", "uv ", "pip ", "git ", "make ", "mkdir ", "cp ", "ssh-keyscan ")
MAX_LINES = 220


def _commands(text: str) -> list[str]:
    """What the text shows as a command of this tool: code spans and lines of fenced blocks
    that start with `dojangkok`, `fab` or `-H`, and the code spans of the tasks table's first
    column (`full-deploy`, `-H cpu setup`); comments cut."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [ln for block in fenced for ln in block.splitlines()]
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", prose)
    first_cells = re.findall(r"^\| *([^|]*`[^|]*) \|", prose, flags=re.M)
    table = [s for cell in first_cells for s in re.findall(r"`([^`]+)`", cell)]
    shown = table[:]
    for cmd in lines + spans:
        for part in cmd.split("&&"):
            part = part.split("#", 1)[0].strip()
            if re.match(r"(dojangkok|fab) |-H \w+ ", part):
                shown.append(part)
    return shown


def _flags(task: str) -> set[str]:
    return {f"--{a.names[0]}" for a in ns[task].get_arguments()}


def _check(command: str) -> list[str]:
    """What is wrong with one shown command: an unknown task, or a flag it does not take."""
    words = command.split()
    if words[0] in ("dojangkok", "fab"):
        words = words[1:]
    if words[:1] == ["-H"]:
        words = words[2:]
    if words[0].startswith("--"):
        flag = words[0].split("=")[0]
        return [] if flag in CORE else [f"{command}: {flag} is no option of fab"]
    task, *rest = words
    if task.rstrip(",") not in ns.task_names:
        return [f"{command}: no task {task!r}"]
    task = task.rstrip(",")
    return [
        f"{command}: {task} takes no {w.split('=')[0]}"
        for w in rest
        if w.startswith("--") and w.split("=")[0] not in _flags(task)
    ]


def test_every_command_the_readme_shows_is_a_task_taking_those_flags():
    shown = _commands(README)
    assert len(shown) >= 20, shown  # the tasks table, the first deploy, the summary
    problems = [p for cmd in shown for p in _check(cmd)]
    assert not problems, "\n".join(problems)


def test_every_flag_the_readme_names_is_taken_by_a_task():
    ours = set().union(*(_flags(t) for t in ns.task_names)) | CORE
    spans = re.findall(r"`([^`\n]+)`", README)
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", README, flags=re.S | re.M)
    texts = spans + [ln for block in fenced for ln in block.splitlines()]
    named = {
        flag
        for text in texts
        if not text.lstrip().startswith(OTHER_TOOLS)
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", text)
    }
    assert named, "the README names no flag?"
    assert not named - ours, f"flags no task takes: {sorted(named - ours)}"


def test_the_readme_stays_an_operator_s_page():
    lines = README.count("\n")
    assert lines <= MAX_LINES, (
        f"README.md has {lines} lines (at most {MAX_LINES}): it is for operators; move design "
        "and developers' material to docs/developing.md, measurements to docs/benchmarks.md"
    )
    assert "docs/developing.md" in README and "docs/runbook.md" in README


def test_readme_and_developing_state_the_same_layering_rule():
    flat = " ".join(README.split())
    assert LAYERS in flat, "README: the layering rule, as docs/developing.md states it"
    assert LAYERS in DEVELOPING, "docs/developing.md: the layering rule"
