"""Preflight names everything the operator has not given, at once (tasks/hosts/missing.py):
every missing .env key of every host and component, and the connection files the inventory
names that do not exist; one error, before any host is touched (before: one key per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.apps.backend import BACKEND
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.hosts.secrets import Secrets
from tasks.strategies import full
from tasks.strategies.deploy import Options, preflight

INI = """
[cpu]
cpu ansible_host=10.0.0.2 ansible_user=deploy ansible_ssh_private_key_file=keys/team.pem

[gpu]
gpu ansible_host=10.0.0.3 ansible_user=deploy

[all:vars]
sudo_password_env=SUDO_PASSWORD
ssh_config_file=ssh/config
"""


@pytest.fixture
def inv(tmp_path: Path) -> inventory.Inventory:
    return inventory.parse(INI, tmp_path / "hosts.ini")


def refused(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


def test_a_full_deploy_names_every_missing_key_and_file_at_once(inv, tmp_path):
    env = Secrets({}, tmp_path / ".env", missing=True)
    text = refused(lambda: full.full_deploy(inv, env, Options(yes=True)))
    assert "빠진 값이 4개" in text and f"{tmp_path / '.env'}이(가) 없습니다" in text
    assert "DB_BACKUP_PASSWORD: " in text and "MySQL 백업, B3 단계; cpu" in text
    assert "SUDO_PASSWORD: " in text and "the sudo password; cpu, gpu" in text
    assert f"{tmp_path / '.env'}에 없습니다 (the sudo password" in text
    assert (
        f"ansible_ssh_private_key_file {tmp_path / 'keys/team.pem'} (cpu): 파일이 없습니다" in text
    )
    assert f"ssh_config_file {tmp_path / 'ssh/config'} (cpu, gpu): 파일이 없습니다" in text
    assert ".env.example" in text and "hosts.ini" in text


def test_a_deploy_names_every_missing_key_of_its_hosts(inv, tmp_path):
    env = Secrets({"UNRELATED": "x"}, tmp_path / ".env")
    both = [inv.hosts["cpu"], inv.hosts["gpu"]]
    text = refused(lambda: preflight(BACKEND, both, env, Options(yes=True)))
    assert "DB_BACKUP_PASSWORD" in text and "SUDO_PASSWORD" in text
    assert "비밀값 파일" not in text  # the file exists; the keys are missing from it


def test_a_dry_run_needs_no_connection_files(inv, tmp_path):
    env = Secrets({"DB_BACKUP_PASSWORD": "a-long-secret-1", "SUDO_PASSWORD": "a-long-secret-2"})
    preflight(BACKEND, [inv.hosts["cpu"]], env, Options(dry_run=True))  # nothing refused
    text = refused(lambda: preflight(BACKEND, [inv.hosts["cpu"]], env, Options(yes=True)))
    assert "빠진 값이 2개" in text and "team.pem" in text and "에 없습니다 (" not in text


def test_setup_names_ai_allow_from_with_the_rest(tmp_path):
    from tasks.setup import provision

    inv = inventory.parse(
        "[cpu]\ncpu ansible_host=cpu.example\n\n[gpu]\n"
        "gpu ansible_host=10.0.0.3 ansible_user=deploy ansible_ssh_private_key_file=keys/gcp\n",
        tmp_path / "hosts.ini",
    )
    text = refused(
        lambda: provision.setup_host(inv.hosts["gpu"], Secrets({}), Options(dry_run=True))
    )
    assert "빠진 값이 2개" in text
    assert "설정 ai_allow_from (gpu): " in text and "'cpu.example'이(가) 이름입니다" in text
    assert "keys/gcp (gpu): 파일이 없습니다" in text


def test_an_empty_repo_is_needed_only_where_no_checkout_is(tmp_path):
    import subprocess

    from tasks.hosts.missing import checkouts_command, missing_repos

    kept, new = tmp_path / "app frontend", tmp_path / "backend"
    (kept / ".git").mkdir(parents=True)
    unset = {"frontend": str(kept), "backend": str(new)}
    out = subprocess.run(["bash", "-c", checkouts_command(list(unset.values()))],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert out == f"{new}\n"
    problem = missing_repos("cpu", unset, out)
    assert problem is not None and "backend_repo" in str(problem)
    assert "frontend_repo" not in str(problem)
    assert missing_repos("cpu", unset, "") is None
