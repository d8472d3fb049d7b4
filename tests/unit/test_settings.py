"""tasks/hosts/settings.py: each setting declared once (default, rule, Korean description,
group), the per-group views, the one check of a setting's name and its rename hint."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory, settings, validate
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import GROUPS, RENAMED, VIEWS, Group, Settings

HANGUL = re.compile(r"[가-힣]")
FIELDS = dataclasses.fields(Settings)


# --- one declaration per setting ------------------------------------------------------------
def test_every_setting_has_a_group_a_rule_and_a_korean_description():
    groups = {g.name for g in GROUPS}
    for f in FIELDS:
        meta = f.metadata
        assert meta.get("group") in groups, f"{f.name}: declare it with a Group (COMMON, ...)"
        assert HANGUL.search(meta["about"]) and "\n" not in meta["about"], f.name
        assert callable(meta["rule"]) or meta["kind"] in (settings.SHELL, settings.TEXT,
                                                          settings.TEMPLATE), f.name  # fmt: skip


def test_the_kinds_and_rules_cover_every_setting_once():
    kinds = (settings.RAW_SHELL, settings.FREE_TEXT, settings.TEMPLATE_ONLY, tuple(settings.RULES))
    named = [n for kind in kinds for n in kind]
    assert sorted(named) == sorted(Settings.names())
    # the *_cmd settings and the deploy hooks (<app>_before_switch, ...: tasks/strategies/hooks.py)
    hooks = ("_before_switch", "_after_switch", "_on_failure")
    assert set(settings.RAW_SHELL) == {n for n in Settings.names() if n.endswith(("_cmd", *hooks))}


def test_specs_list_every_setting_in_its_groups_blocks():
    assert [s.name for s in settings.SPECS] == [f.name for f in FIELDS]
    order = [s.group for s in settings.SPECS]
    blocks = [g for i, g in enumerate(order) if i == 0 or order[i - 1] != g]
    assert blocks == list(GROUPS), "declare each group's settings in one block, in GROUPS order"
    spec = {s.name: s for s in settings.SPECS}
    assert spec["backend_dir"].about == "백엔드 체크아웃 경로"
    assert spec["backend_dir"].default == "/app/backend" and spec["ai_ports"].default == [
        8001,
        8002,
    ]
    assert (
        spec["backend_build_cmd"].kind == settings.SHELL and spec["backend_build_cmd"].rule is None
    )


def test_a_rule_that_is_no_check_is_refused_where_it_is_declared():
    # in the class body a field's name is the field declared above it, not the check
    with pytest.raises(TypeError, match="no rule"):
        Group("x", "엑스")("a", dataclasses.field(default="b"), "설명")
    with pytest.raises(TypeError, match="no rule"):
        Group("x", "엑스")("a", "shell script", "설명")


def test_a_declared_rule_refuses_a_bad_value_naming_the_line():
    with pytest.raises(ConfigError, match=r"hosts.ini:3의 설정 backend_dir: 시스템 디렉터리입니다"):
        Settings.from_vars({"backend_dir": "/usr"}, where="hosts.ini:3")
    with pytest.raises(
        ConfigError,
        match=r"hosts.ini:3의 설정 db_app_user: 데이터베이스 사용자 이름 형식이 아닙니다",
    ):
        Settings.from_vars({"db_app_user": "-x"}, where="hosts.ini:3")


def test_list_and_dict_defaults_are_not_shared_between_instances():
    a, b = Settings(), Settings()
    assert a.ai_smoke == b.ai_smoke and a.ai_smoke is not b.ai_smoke
    assert a.backend_env is not b.backend_env


# --- the views ------------------------------------------------------------------------------
def _views_reaching(name: str) -> list[str]:
    return [g for g, names in VIEWS.items() if name in names.values()]


def test_every_setting_is_reached_through_exactly_one_view_or_is_common():
    viewed = {g.name for g in GROUPS if g.view}
    for f in FIELDS:
        prefix = next((g for g in viewed if f.name.startswith(f"{g}_")), None)
        reaching = _views_reaching(f.name)
        if prefix:  # backend_* lives in the backend group, read as s.backend.*
            assert f.metadata["group"] == prefix, f"{f.name} belongs in group {prefix}"
        if f.metadata["group"] in viewed:
            assert reaching == [f.metadata["group"]], (f.name, reaching)
        else:
            assert reaching == [], (f.name, reaching)  # common: read flat only


def test_the_two_spellings_agree():
    s = Settings.from_vars({"backend_dir": "/srv/app/backend", "ai_ports": "[9001, 9002]"})
    for group, names in VIEWS.items():
        view = getattr(s, group)
        assert repr(s.app(group)) == repr(view) == f"<settings {group}>"
        for short, flat in names.items():
            assert getattr(view, short) is getattr(s, flat), (group, short)
            assert getattr(s.app(group), short) is getattr(s, flat)
    assert s.backend.dir == "/srv/app/backend" and s.ai.ports == [9001, 9002]
    assert s.backend.health_path == s.backend_health_path and s.ai.listen_port == 8000
    assert s.frontend.web_root == s.web_root and s.db.backup_dir == s.backup_dir
    assert s.build.on == "host" and s.frontend.build_on == ""  # frontend_build_on, not build_on
    assert s.replace(backend_dir="/srv/b").backend.dir == "/srv/b"


def test_a_view_names_what_it_lacks_and_is_read_only():
    s = Settings()
    with pytest.raises(AttributeError, match="'backend' has no setting 'web_root'"):
        s.backend.web_root  # noqa: B018
    with pytest.raises(ValueError, match="no settings group 'nginx'"):
        s.app("nginx")
    with pytest.raises(AttributeError, match="read-only"):
        s.backend.dir = "/x"
    assert "dir" in dir(s.backend) and "health_path" in dir(s.backend)


def test_views_add_nothing_to_the_settings_values():
    s = Settings()
    for group, names in VIEWS.items():
        for short in names:
            getattr(getattr(s, group), short), getattr(s.app(group), short)
    assert set(vars(s)) == Settings.names()  # what `fab settings` lists


# --- no circle ------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    """The tasks.hosts modules ``path`` imports, type-only imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "tasks.hosts":
                found |= {a.name for a in node.names}
            elif node.module.startswith("tasks.hosts."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("tasks.hosts.")}
    return found


def test_no_import_circle_among_the_hosts_modules():
    folder = Path(settings.__file__).parent
    graph = {p.stem: _imports(p) & {q.stem for q in folder.glob("*.py")}
             for p in folder.glob("*.py")}  # fmt: skip

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n}))
                   for n in graph.get(start, ()))  # fmt: skip

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == []
    assert "validate" not in graph["settings"] and "settings" in graph["validate"]


# --- names: the one check, and the rename hint ----------------------------------------------
@pytest.mark.parametrize("old", sorted(RENAMED))
def test_a_renamed_setting_in_hosts_ini_names_what_replaced_it(inventory_file, old):
    new = RENAMED[old].new
    for text in (f"[cpu]\ncpu {old}=x\n", f"[cpu]\ncpu\n[cpu:vars]\n{old}=x\n"):
        with pytest.raises(ConfigError) as err:
            inventory.load(inventory_file(text))
        problem, fix = err.value.problem, err.value.fix
        assert "더 이상 없습니다" in problem and "hosts.ini:" in problem, problem
        assert all(n in problem and n in fix for n in new), (problem, fix)
        assert HANGUL.search(fix) and f"{old} 줄을 지우고" in fix


def test_a_renamed_setting_is_refused_by_from_vars_too():
    with pytest.raises(ConfigError, match="backend_port, backend_health_path"):
        Settings.from_vars({"backend_health_url": "http://localhost:8080/health"})


def test_an_unknown_setting_names_the_closest_one(inventory_file):
    with pytest.raises(ConfigError, match=r"unknown setting 'backend_servce' in .*hosts.ini:2"
                       ) as err:  # fmt: skip
        inventory.load(inventory_file("[cpu]\ncpu backend_servce=x\n"))
    assert "이 도구가 읽는 설정이 아닙니다" in err.value.problem
    assert err.value.fix.startswith("backend_service을(를) 뜻했다면")
    with pytest.raises(ConfigError) as err:
        Settings.from_vars({"zzz_nothing_like_it": 1}, where="hosts.ini:9")
    assert "unknown setting 'zzz_nothing_like_it' in hosts.ini:9" in err.value.problem
    assert "철자" in err.value.fix and "fab settings" in err.value.fix


def test_the_name_check_is_one_function(inventory_file, monkeypatch):
    """hosts.ini's reader and Settings.from_vars both ask settings.check_name."""
    asked = []
    real = settings.check_name
    monkeypatch.setattr(settings, "check_name", lambda k, w: (asked.append(k), real(k, w)))
    inventory.load(inventory_file("[cpu]\ncpu backend_service=x\n[cpu:vars]\nai_venv=v\n"))
    assert {"backend_service", "ai_venv"} <= set(asked)
    asked.clear()
    Settings.from_vars({"db_name": "x", "ansible_host": "h"})
    assert asked == ["db_name"]
    assert validate.fields is settings.check_fields


# --- .env: secrets only -----------------------------------------------------------------------
SECRET = "s3cr3t-value-9f8e7d6c5b4a"


@pytest.mark.parametrize("value", [SECRET, None])  # None: a line without "=" (no value)
def test_a_setting_written_in_env_is_refused_before_anything_runs(tmp_path, value):
    env = tmp_path / ".env"
    secrets = Secrets({"DB_PASSWORD": SECRET, "backend_port": value}, env)
    with pytest.raises(ConfigError) as err:
        secrets.check([], {})
    text = f"{err.value.problem} {err.value.fix}"
    assert "backend_port는 설정입니다" in err.value.problem and str(env) in err.value.problem
    assert "hosts.ini" in err.value.fix and "backend_port=..." in err.value.fix
    assert SECRET not in text


def test_a_renamed_setting_in_env_names_what_replaced_it(tmp_path):
    env = tmp_path / ".env"
    with pytest.raises(ConfigError) as err:
        Secrets({"ai_health_url": "http://localhost:8000/health"}, env).check([], {})
    assert "ai_listen_port, ai_health_path(으)로 바뀌었습니다" in err.value.problem
    assert err.value.fix.startswith("ai_health_url 줄을 지우고 hosts.ini에 ai_listen_port")


def test_env_keeps_any_name_that_is_no_setting(tmp_path):
    names = {"DB_PASSWORD": SECRET, "backend_servce": SECRET, "Backend_Port": SECRET}
    Secrets(names, tmp_path / ".env").check(["DB_PASSWORD"], {"setting x": "y"})
