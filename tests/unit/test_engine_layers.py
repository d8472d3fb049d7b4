"""The engine's imports point one way (no circle, type-only imports included), and what is
shipped to hosts (tasks/onhost/) needs nothing but the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import stands (a function, a TYPE_CHECKING
    block, a branch): a type-only import is an arrow too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def modules(package: str) -> dict[str, Path]:
    where = ROOT / package.replace(".", "/")
    return {f"{package}.{p.stem}": p for p in sorted(where.glob("*.py")) if p.stem != "__init__"}


def test_the_engine_has_no_import_circle():
    engine = modules("tasks.engine")
    arrows = {m: sorted(imports(p) & engine.keys() - {m}) for m, p in engine.items()}
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, "import circle: " + " -> ".join((*path[path.index(m) :], m))
        if m in done:
            return
        for n in arrows[m]:
            visit(n, (*path, m))
        done.add(m)

    for m in engine:
        visit(m, ())
    # the run's lower half never reaches back up to the session that uses it
    assert not [m for m, to in arrows.items() if "tasks.engine.session" in to]


def test_what_goes_to_the_hosts_is_standard_library_only():
    for name, path in modules("tasks.onhost").items():
        outside = {
            i for i in imports(path)
            if i.split(".")[0] not in sys.stdlib_module_names and not i.startswith("tasks.onhost")
            and i != "policy"  # hostrun.py beside policy.py, uploaded
        }  # fmt: skip
        assert not outside, f"{name} imports {sorted(outside)}"
