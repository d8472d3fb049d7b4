"""What an app is lives in its package (tasks/apps/<app>/): the rest of the tool asks the App."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tasks.apps import registry
from tasks.apps.base import JAR, TREE, WHEELHOUSE, App, AppEnv, BuildOutput, FirstBuild
from tasks.hosts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
#: modules that ask the App and never name one (the strategies' own are theirs to clear)
ASKING = [
    *sorted((ROOT / "tasks/localbuild").glob("*.py")),
    ROOT / "tasks/__init__.py",
    ROOT / "tasks/runbook.py",
    ROOT / "tasks/cli.py",
    ROOT / "tasks/targets.py",
    ROOT / "tasks/setup/privilege.py",
    ROOT / "tasks/config/commands.py",
    ROOT / "tasks/apps/env.py",
]


def app_names_in(path: Path) -> list[str]:
    """Where ``path``'s code (not its docstrings) holds an app's name as a string."""
    tree = ast.parse(path.read_text())
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in registry.APPS and id(node) not in docs
    ]


def test_the_modules_that_ask_the_app_never_name_one():
    found = [hit for path in ASKING for hit in app_names_in(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("app", registry.ORDER, ids=lambda a: a.name)
def test_every_app_answers_the_whole_interface(app: App):
    s = Settings()
    assert isinstance(app.env(s), AppEnv) and app.env(s).component == app.name
    assert isinstance(app.first_build, FirstBuild) and app.first_build_command(s)
    assert app.built(s).startswith("/")
    out = app.build_output(s)
    assert isinstance(out, BuildOutput) and out.kind in (JAR, TREE, WHEELHOUSE) and out.path
    assert all(p.startswith("/") for p in app.writable(s))
    assert app.setup_units(s, paired=False)
    assert app.config_keys and app.deploy_help and app.rollback_help
    assert app.deploy_help.splitlines()[2].strip().startswith(f"Usage: fab -H {app.group} ")
    manual, release = app.plans("manual"), app.plans("release")
    assert manual.__name__ == f"tasks.apps.{app.name}.manual" and callable(manual.plan)
    assert callable(manual.rollback_plan) and callable(release.build_plan)


def test_an_unknown_app_is_refused_by_name_not_taken_for_another():
    from tasks.apps import env
    from tasks.errors import ConfigError

    with pytest.raises(ConfigError, match="알 수 없는 앱입니다: 'web'"):
        env.of("web", Settings())  # was: the AI server's .env


def test_the_fab_tasks_of_each_app_come_from_the_registry():
    import tasks

    names = set(tasks.ns.task_names)
    for app in registry.ORDER:
        for kind in ("deploy", "rollback"):
            assert f"{kind}-{app.name}" in names
            body = tasks.ns[f"{kind}-{app.name}"].body
            assert body.__doc__ == getattr(app, f"{kind}_help")


@pytest.mark.parametrize(
    ("strategy", "name", "expected"),
    [
        ("manual", "frontend", ["git 체크아웃 /app/frontend", "웹 루트 /var/www/dojangkok"]),
        ("manual", "backend",
         ["git 체크아웃 /app/backend", "유닛 dojangkok.service와 그 실행 사용자"]),
        ("manual", "ai", ["git 체크아웃 /app/ai-server", "venv /app/ai-server/venv/bin/python",
                          "유닛 fastapi.service와 그 실행 사용자"]),
        ("release", "frontend", ["git 체크아웃 /app/frontend"]),
        ("release", "backend",
         ["git 체크아웃 /app/backend", "사용자 dojangkok (backend 서비스의 실행 사용자)"]),
        ("release", "ai", ["git 체크아웃 /app/ai-server", "사용자 dojangkok-ai (ai 서비스의 실행 사용자)"]),
    ],
)  # fmt: skip
def test_a_deploy_checks_what_its_app_needs_on_the_host(strategy, name, expected):
    from tasks.apps import preconditions

    checks = preconditions.for_deploy(Settings(strategy=strategy), name)
    assert [c.what for c in checks] == expected


# --- the proof of the shape (issue 20): a kind of an app is its package, its templates, its
# settings block and its line in the registry. The Node frontend was added so; this keeps it
# so: its module and the settings only it reads appear in the code (not comments or
# docstrings) of these files and no other.
NODE_FOOTPRINT = {
    "tasks/apps/frontend_node/__init__.py", "tasks/apps/frontend_node/manual.py",
    "tasks/apps/frontend_node/release.py",
    "tasks/apps/registry.py",  # its line: FRONTEND = ByKind("frontend_kind", {..., "node": ...})
    "tasks/hosts/settings.py",  # its settings block
    "templates/systemd/frontend@.service.j2", "templates/nginx/site.conf.j2",
}  # fmt: skip
#: the Node kind's own names: its module, and the settings no other kind reads
NODE_NAMES = {
    "frontend_node", "FRONTEND_NODE", "FrontendNode", "frontend_kind", "frontend_standalone_dir",
    "frontend_ports", "frontend_switch_port", "frontend_upstream_file", "frontend_keep_warm",
    "frontend_drain_timeout", "frontend_health_path", "frontend_health_expect",
    "frontend_health_tries", "frontend_health_interval",
}  # fmt: skip


def code_names(path: Path) -> set[str]:
    """The names a file's code uses: in Python its names, attributes, imports and strings
    that are one name (``getattr(s, "frontend_kind")``), f-strings' expressions included,
    not its prose (docstrings, help texts, messages); in a Jinja template its words outside
    its {# #} comments and # lines."""
    text = path.read_text()
    if path.suffix == ".j2":
        text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    names: set[str] = set()
    for n in ast.walk(ast.parse(text)):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, ast.ImportFrom):
            names.update((n.module or "").split("."))
            names.update(a.name for a in n.names)
        elif isinstance(n, ast.Import):
            names.update(part for a in n.names for part in a.name.split("."))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.isidentifier():
            names.add(n.value)
    return names


def test_the_node_frontend_lives_in_its_package_templates_settings_and_registry_line():
    files = [p for p in (ROOT / "tasks").rglob("*.py") if "__pycache__" not in p.parts]
    files += sorted((ROOT / "templates").rglob("*.j2"))
    found = {str(p.relative_to(ROOT)): sorted(code_names(p) & NODE_NAMES) for p in files}
    outside = {f: names for f, names in found.items() if names and f not in NODE_FOOTPRINT}
    assert outside == {}, "the Node frontend's knowledge outside its home"
    # the footprint is real: each file in it does hold the kind's names
    assert [f for f in NODE_FOOTPRINT if not found.get(f)] == []
