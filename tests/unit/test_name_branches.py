"""No code branches on an app's name outside tasks/apps/, nor on a strategy's name outside
tasks/strategies/ (issue 20): everything else asks the App or the Strategy (tasks/apps/base.py).

Read from every module's syntax tree: a comparison (``==``, ``!=``, ``in``, ``is``) with a
name or a tuple, list or set holding one, a dict key, a ``case`` value, the first argument of
``startswith``/``endswith``/``get``, a subscript by a name, and a loop over names written out. Passing a name along (a call's
argument, a default, a settings group's header) is not a branch. The names come from the
registries, so a new app or strategy is held too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tasks.apps import registry
from tasks.apps.base import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tasks"

#: every app's name, and every package under tasks/apps/ (the database's too)
APP_NAMES = frozenset(registry.APPS) | {
    p.name for p in (TASKS / "apps").iterdir() if (p / "__init__.py").is_file()
}
STRATEGY_NAMES = frozenset(STRATEGIES)

#: (file, name): why it may stay. Keep it short: a new entry needs a reason as good.
ALLOWED = {
    ("tasks/apps/base.py", "manual"): "strategy_for's fallback for Settings built past "
    "validation (the hostile-value tests); the strategy setting's own rule refuses an "
    "unknown name before any session",
}


def _names_in(node: ast.AST | None, names: frozenset[str]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [n for e in node.elts for n in _names_in(e, names)]
    return []


def branches(source: str, names: frozenset[str]) -> list[tuple[int, str, str]]:
    """(line, name, the code) for each place ``source`` branches on one of ``names``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        hits: list[str] = []
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                hits += _names_in(side, names)
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                hits += _names_in(key, names)
        elif isinstance(node, ast.MatchValue):
            hits += _names_in(node.value, names)
        elif isinstance(node, ast.Subscript):
            hits += _names_in(node.slice, names)
        elif isinstance(node, ast.For | ast.comprehension) and isinstance(
            node.iter, ast.Tuple | ast.List | ast.Set
        ):  # a loop over the apps written out: (("backend", ...), ("ai", ...))
            hits += [n for part in ast.walk(node.iter) for n in _names_in(part, names)
                     if isinstance(part, ast.Constant)]  # fmt: skip
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("startswith", "endswith", "get") and node.args):  # fmt: skip
            hits += _names_in(node.args[0], names)
        at = node.iter if isinstance(node, ast.comprehension) else node  # one has no line
        found += [(at.lineno, name, ast.unparse(node)[:100]) for name in hits]
    return found


def names_for(rel: str) -> frozenset[str]:
    """The names ``rel`` must not branch on: the apps' outside tasks/apps/, the strategies'
    outside tasks/strategies/."""
    apps = frozenset() if rel.startswith("tasks/apps/") else APP_NAMES
    strategies = frozenset() if rel.startswith("tasks/strategies/") else STRATEGY_NAMES
    return apps | strategies


def all_branches() -> list[str]:
    out = []
    for path in sorted(TASKS.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, name, code in branches(path.read_text(encoding="utf-8"), names_for(rel)):
            if (rel, name) not in ALLOWED:
                out.append(f"{rel}:{line}: {name!r} in {code}")
    return out


def test_no_code_branches_on_an_app_or_strategy_name_outside_its_home():
    assert all_branches() == [], (
        "ask the App or the Strategy (tasks/apps/base.py) instead of testing its name"
    )


def test_the_registries_name_the_apps_and_strategies():
    assert {"frontend", "backend", "ai", "database"} <= APP_NAMES
    assert {"manual", "release"} <= STRATEGY_NAMES


def test_every_allowed_place_still_branches_there():
    """An entry of ALLOWED whose branch is gone is dead: remove it."""
    for rel, name in ALLOWED:
        source = (ROOT / rel).read_text(encoding="utf-8")
        assert [b for b in branches(source, frozenset({name}))], (rel, name)


def test_each_kind_of_branch_is_seen():
    names = frozenset({"ai", "release"})
    seen = {
        'if s.strategy == "release": pass': 1,
        'x = comp != "ai"': 1,
        'if name in ("backend", "ai"): pass': 1,
        'x = name not in {"ai"}': 1,
        'rules = {"ai": 1, "other": 2}': 1,
        'match name:\n    case "ai":\n        pass': 1,
        'x = name.startswith("ai")': 1,
        'x = table.get("release")': 1,
        'x = table["ai"]': 1,
        'for comp, d in (("backend", 1), ("ai", 2)): pass': 1,
        'x = [c for c in ("ai", "x")]': 1,
        # passing a name along is no branch
        'x = app.plans("release")': 0,
        'x = Group("ai", "C. AI 서버", view=True)': 0,
        'def f(strategy="release"): pass': 0,
        'x = v.but(strategy="release")': 0,
        'if name == "backends": pass': 0,
    }
    assert {code: len(branches(code, names)) for code in seen} == seen
