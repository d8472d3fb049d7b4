"""`fab settings`: every setting grouped per app with its Korean description, the ones to fill
before setup marked (the same as the example hosts.ini's block); `fab -H cpu settings` shows
the inventory's values for a host that cannot be reached, and says what it could not detect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks import program
from tasks.hosts.settings import GROUPS, RAW_SHELL, SPECS
from tasks.procedures import settings_view
from tasks.setup import detect
from tests.unit.conftest import make_host

ROOT = Path(__file__).resolve().parents[2]


def block_settings() -> set[str]:
    """The settings the example hosts.ini names in its "setup 전에 필수" block."""
    text = (ROOT / "hosts.ini").read_text(encoding="utf-8")
    block = text.split("── setup 전에 필수", 1)[1].split("── 호스트", 1)[0]
    return set(re.findall(r"^# ([a-z_]+)=", block, re.M))


def test_the_marked_settings_are_the_example_inventory_s_setup_block():
    names = {s.name for s in SPECS}
    assert set(settings_view.BEFORE_SETUP) <= names
    assert (
        set(settings_view.BEFORE_SETUP) | set(settings_view.OPTIONAL_IN_BLOCK) == block_settings()
    )


def test_every_setting_once_under_its_group_with_its_description_and_marks():
    lines = settings_view.defaults_lines()
    text = "\n".join(lines)
    for spec in SPECS:
        found = [line for line in lines if line.startswith(f"  {spec.name} = ")]
        assert len(found) == 1, spec.name
        assert spec.about in found[0], spec.name
        assert (settings_view.REQUIRED in found[0]) == (spec.name in settings_view.BEFORE_SETUP)
        assert ("RAW SHELL" in found[0]) == (spec.name in RAW_SHELL), spec.name
        # under its group's heading: the nearest heading above it
        at = lines.index(found[0])
        heading = next(line for line in reversed(lines[:at]) if line.startswith("── "))
        assert heading == f"── {spec.group.title} ──", spec.name
    assert sum(line.startswith("── ") for line in lines) == len(GROUPS)
    assert "  server_name = _" in text and "[setup 전에 필수]" in text


def test_detected_values_say_where_they_come_from():
    host = make_host()
    facts = detect.parse("os=debian\nos_version=12\narch=amd64\ndb=mariadb\npython=3.11\n")
    rows = {spec.name: (value, origin) for spec, value, origin in
            settings_view.host_rows(host, ["server_name"], facts)}  # fmt: skip
    assert rows["db_server"][0] == "mariadb" and rows["db_server"][1].startswith(
        "호스트에서 감지: "
    )
    assert rows["server_name"][1] == settings_view.FROM_INVENTORY
    assert rows["git_branch"] == ("main", settings_view.FROM_DEFAULT)


@pytest.fixture
def down_host(tmp_path, monkeypatch):
    """A scratch inventory whose cpu host cannot be reached (nothing listens there)."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    (tmp_path / "hosts.ini").write_text(
        "[cpu]\ncpu ansible_host=127.0.0.1 ansible_port=1 ansible_user=deploy\n"
        f"[cpu:vars]\nknown_hosts_file={known}\nbackend_dir=/srv/backend\n"
    )
    env = tmp_path / ".env"
    env.write_text("")
    env.chmod(0o600)
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "hosts.ini"))
    monkeypatch.setenv("DOJANGKOK_ENV", str(env))
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(tmp_path / "history.jsonl"))


def test_a_host_that_cannot_be_reached_still_shows_the_inventory_s_values(down_host, capsys):
    try:
        program.make_program().run(["dojangkok", "-H", "cpu", "settings"])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr()
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("cpu (127.0.0.1): 호스트에 연결할 수 없어 감지 값을 읽지 못했습니다 (")
    assert "  backend_dir = /srv/backend" in out and "# 인벤토리" in out
    assert re.search(r"  db_server = \"\" +# 호스트에서 감지할 값: 읽지 못함", out)
    assert re.search(r"  git_branch = main +# 기본값", out)
    assert "Traceback" not in out
