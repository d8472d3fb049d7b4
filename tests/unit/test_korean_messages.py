"""Operators read Korean: an error they can meet is written in Korean (HELPERS.md).

Reads every module under tasks/ and finds the messages of the errors an operator meets
(``ConfigError``, ``StepFailed``, invoke's ``Exit``, and the problems and names the setting
checks of tasks/hosts/values.py put into theirs): a message written out in the call (a
string or an f-string, pieces joined with +) must hold Hangul. A message built elsewhere (a
variable, another error's text) is not judged here. Internal errors (a bug in the tool, not
the operator's doing) are listed in :data:`INTERNAL`, each with why.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tasks"

#: call -> the positions of its arguments that are operator-facing text
CALLS = {
    "ConfigError": (0,),
    "StepFailed": (0,),
    "DeployToolError": (0,),
    "Exit": (0,),
    "_error": (3,),  # tasks/hosts/values.py: _error(name, where, value, problem, fix)
    "_pattern": (4,),  # tasks/hosts/values.py: _pattern(regex, value, name, where, what, fix)
}

#: files whose messages are not scanned (none: every file in tasks/ is)
OWNED_ELSEWHERE: set[str] = set()

#: the prefix of an error whose own text is checked: where the tool prints one
PREFIXED = {"tasks/__init__.py": ["\nERROR: {}"], "tasks/cli.py": ["\nERROR: {}"],
            "tasks/program.py": ["\nERROR: {}", "ERROR: {}", "ERROR: {}\n  → {}"]}  # fmt: skip
#: (file, message as read: each {} a value) -> why it may stay as it is
INTERNAL = {
    ("tasks/config/state.py", "no state read for {}"): "a bug in the tool: every file is read",
    **{(file, prefix): "the prefix of an error whose own text is checked"
       for file, prefixes in PREFIXED.items() for prefix in prefixes},
}  # fmt: skip

HANGUL = re.compile(r"[\uac00-\ud7a3]")
WORD = re.compile(r"[A-Za-z]{2,}")


def text_of(node: ast.AST) -> str | None:
    """A message written out in the call, each value in it as ``{}``; None when it is built
    elsewhere (a name, a call, another error's text)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = text_of(node.left), text_of(node.right)
        if left is None and right is None:
            return None
        return (left or "{}") + (right or "{}")
    return None


def called(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def english_messages(source: str, path: str) -> list[tuple[str, int, str]]:
    """(file, line, message) for each operator-facing message in ``source`` with no Hangul."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or called(node) not in CALLS:
            continue
        for i in CALLS[called(node)]:
            text = text_of(node.args[i]) if i < len(node.args) else None
            if text is None or HANGUL.search(text) or not WORD.search(text):
                continue
            if (path, text) not in INTERNAL:
                found.append((path, node.lineno, text))
    return found


def scanned() -> list[Path]:
    return [
        p
        for p in sorted(TASKS.rglob("*.py"))
        if p.relative_to(ROOT).as_posix() not in OWNED_ELSEWHERE
    ]


def test_every_operator_facing_error_is_korean():
    found = []
    for p in scanned():
        found += english_messages(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())
    assert not found, "English messages an operator can meet:\n" + "\n".join(
        f"  {path}:{line}: {text!r}" for path, line, text in found
    )


@pytest.mark.parametrize(
    ("source", "english"),
    [
        ('raise ConfigError(f"cannot read {p}", "fix it")', True),
        ('raise ConfigError(f"{p}을 읽지 못했습니다 (cannot read)", "고치십시오")', False),
        ('raise ConfigError("cannot " + f"read {x}", "")', True),
        ("raise ConfigError(exc.problem, exc.fix)", False),  # built elsewhere: not judged
        ('raise Exit(f"{exc}")', False),  # no words of its own
        ('return _error(name, where, value, "is empty", "예: /app")', True),
        ('raise StepFailed("설정 적용을 취소했습니다", "그대로입니다")', False),
    ],
)
def test_the_scan_tells_english_from_korean(source, english):
    assert bool(english_messages(source, "tasks/x.py")) is english


def test_the_lists_name_files_that_exist():
    """A stale entry would hide nothing, and say something untrue."""
    for path in OWNED_ELSEWHERE | {path for path, _ in INTERNAL}:
        assert (ROOT / path).is_file() or path in {
            "tasks/procedures/status.py",
            "tasks/procedures/logs.py",
        }, path
