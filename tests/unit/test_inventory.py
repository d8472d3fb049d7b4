from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory

LAB_LIKE = """
# comment
[cpu]
cpu ansible_host=10.77.0.2 ansible_user=deploy ansible_port=2222 ansible_ssh_private_key_file=id_ed25519

[gpu]
gpu ansible_host=10.77.0.3 ansible_user=deploy backend_service=unused ai_service=ai-server

[gpu:vars]
ai_venv=.venv
ai_health_tries=3
ai_service=fastapi-group

[all:vars]
known_hosts_file=known_hosts
backend_smoke=[{"method": "GET", "url": "http://localhost:8080/api/notes"}]

[servers:children]
cpu
gpu
"""


def test_parses_hosts_groups_and_precedence(inventory_file):
    inv = inventory.load(inventory_file(LAB_LIKE))
    cpu, gpu = inv.hosts["cpu"], inv.hosts["gpu"]
    assert (cpu.address, cpu.user, cpu.port) == ("10.77.0.2", "deploy", 2222)
    assert gpu.port == 22
    # host var beats group var beats all:vars; ints and JSON lists are typed
    assert gpu.settings.ai_service == "ai-server"
    assert gpu.settings.ai_venv == ".venv"
    assert gpu.settings.ai_health_tries == 3
    assert cpu.settings.ai_venv == "venv"
    assert cpu.settings.backend_smoke == [
        {"method": "GET", "url": "http://localhost:8080/api/notes"}
    ]
    # relative paths resolve against the inventory's own directory
    base = inv.path.parent.resolve()
    assert cpu.key_file == str(base / "id_ed25519")
    assert cpu.settings.known_hosts_file == str(base / "known_hosts")
    assert [h.alias for h in inv.resolve("servers")] == ["cpu", "gpu"]


def test_resolve_alias_or_group(inventory_file):
    inv = inventory.load(inventory_file(LAB_LIKE))
    assert [h.alias for h in inv.resolve("cpu")] == ["cpu"]
    with pytest.raises(ConfigError, match="no host or group named 'gpx'") as err:
        inv.resolve("gpx")
    assert "cpu" in err.value.fix and "gpu" in err.value.fix


def test_unknown_setting_is_an_error_naming_it(inventory_file):
    with pytest.raises(ConfigError, match="unknown setting 'backend_servce'"):
        inventory.load(inventory_file("[cpu]\ncpu backend_servce=x\n"))


def test_bad_number_names_setting(inventory_file):
    with pytest.raises(ConfigError, match="backend_health_tries .* whole number"):
        inventory.load(inventory_file("[cpu]\ncpu\n[cpu:vars]\nbackend_health_tries=twelve\n"))


def test_bad_json_list(inventory_file):
    with pytest.raises(ConfigError, match="backend_smoke .* JSON list"):
        inventory.load(inventory_file("[cpu]\ncpu\n[cpu:vars]\nbackend_smoke=[{oops\n"))


def test_missing_file_and_empty_group(inventory_file, tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        inventory.load(tmp_path / "nope.ini")
    inv = inventory.load(inventory_file("[cpu]\ncpu\n"))
    with pytest.raises(ConfigError, match=r"no hosts in group \[gpu\]"):
        inv.group("gpu")


def test_env_var_names_inventory(monkeypatch, tmp_path):
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "x.ini"))
    assert inventory.inventory_path() == tmp_path / "x.ini"


def test_repo_hosts_ini_parses():
    inv = inventory.load(Path(__file__).resolve().parents[2] / "hosts.ini")
    assert set(inv.groups["cpu"]) == {"cpu"} and set(inv.groups["gpu"]) == {"gpu"}
