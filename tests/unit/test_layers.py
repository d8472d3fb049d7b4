"""The layering rule (docs/developing.md), held by reading every module's imports.

    hosts ← engine ← apps.base ← {apps, strategies, config, setup, localbuild} ← tasks

A module imports only from its own layer or the layers to its left; no two modules import each other, even through others (type-only
imports count: they tie the files just the same); imports sit at the top of a module;
tasks/onhost/ is the standard library only.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tasks"

#: the layers, lowest first: a module's layer is the first whose prefix names it (longest
#: prefix wins: tasks.apps.base is "apps.base", tasks.apps.backend "features")
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("tasks.errors", "tasks.resources", "tasks.terminal", "tasks.durations"),
    "hosts": ("tasks.hosts", "tasks.shell", "tasks.hostfacts"),
    "engine": ("tasks.engine",),
    "apps.base": ("tasks.apps.base", "tasks.apps"),
    "features": (
        "tasks.apps.",
        "tasks.strategies",
        "tasks.config",
        "tasks.setup",
        "tasks.localbuild",
    ),
    "tasks": (
        "tasks",
        "tasks.cli",
        "tasks.flags",
        "tasks.program",
        "tasks.suggest",
        "tasks.runbook",
        "tasks.targets",
        "tasks.procedures",
    ),
}
ORDER = list(LAYERS)
ONHOST = "tasks.onhost"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    best, length = "", -1
    for layer, prefixes in LAYERS.items():
        for p in prefixes:
            if p == "tasks":  # the package itself (tasks/__init__.py), not all below it
                hit = module == p
            elif p.endswith("."):
                hit = module.startswith(p)
            else:
                hit = module == p or module.startswith(p + ".")
            if hit and len(p) > length:
                best, length = layer, len(p)
    return best


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(TASKS.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(module of this tree it names, line, at module level) for each import of one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    # an `if TYPE_CHECKING:` or try/except at the top is still the module's top
    for n in tree.body:
        if isinstance(n, (ast.If, ast.Try)):
            top |= {id(c) for c in ast.walk(n)}
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            # the longest known module the name starts with (a name may be an attribute)
            while n and n not in known:
                n = n.rpartition(".")[0]
            if n and n != "tasks" or (n == "tasks" and isinstance(node, ast.Import)):
                out.append((n, node.lineno, id(node) in top))
    return out


GRAPH = {
    m: sorted({t for t, _, _ in imports(p, set(modules())) if t != m}) for m, p in modules().items()
}


def test_every_module_has_a_layer():
    assert [m for m in GRAPH if not m.startswith(ONHOST) and not layer_of(m)] == []


def test_no_module_imports_a_layer_above_its_own():
    wrong = [
        f"{m} ({layer_of(m)}) imports {t} ({layer_of(t)})"
        for m, targets in GRAPH.items()
        if not m.startswith(ONHOST)
        for t in targets
        if not t.startswith(ONHOST) and ORDER.index(layer_of(t)) > ORDER.index(layer_of(m))
    ]
    assert wrong == []


def _circles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_two_modules_import_each_other_even_through_others():
    # a package's __init__ importing its own modules is how a package is made, not a circle
    graph = {m: [t for t in ts if not m.startswith(t + ".")] for m, ts in GRAPH.items()}
    assert _circles(graph) == []


def test_imports_sit_at_the_top_of_a_module():
    """One inside a function only where start-up time needs it: then its line says so
    (``# start-up: <measured>``)."""
    inside = []
    for p in modules().values():
        lines = p.read_text(encoding="utf-8").splitlines()
        for target, line, at_top in imports(p, set(GRAPH)):
            if not at_top and "start-up:" not in lines[line - 1]:
                inside.append(f"{p.relative_to(ROOT)}:{line} imports {target}")
    assert inside == []


@pytest.mark.parametrize("name", sorted(p.name for p in (TASKS / "onhost").glob("*.py")))
def test_what_is_shipped_to_hosts_is_the_standard_library_only(name):
    tree = ast.parse((TASKS / "onhost" / name).read_text(encoding="utf-8"))
    siblings = {p.stem for p in (TASKS / "onhost").glob("*.py")}
    named = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            named.add(node.module)
    # a sibling by its bare name (uploaded beside it) or as tasks.onhost.<it> (imported here)
    foreign = {
        n
        for n in named
        if n.split(".")[0] not in set(sys.stdlib_module_names) | siblings | {"__future__"}
        and not (n == ONHOST or n.startswith(ONHOST + "."))
    }
    assert foreign == set()


def test_the_rule_above_is_the_one_the_docs_state():
    rule = "hosts ← engine ← apps.base ← {apps, strategies, config, setup, localbuild} ← tasks"
    assert rule in (ROOT / "docs" / "developing.md").read_text(encoding="utf-8")
    assert rule in __doc__
