"""The operator's SSH config, honoured as Fabric does (tasks/hosts/connect.py): Host aliases,
HostName, User, Port, IdentityFile, ProxyJump, ProxyCommand; the inventory's values win where
both give one; agent forwarding never; every hop's host key checked. These build the
Connection only (nothing connects); tests/test_ssh_lab.py goes through a real jump host."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.hosts.connect import connection, describe_route, route

KNOWN = "bastion.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n"


@pytest.fixture
def files(tmp_path: Path, monkeypatch):
    """Write hosts.ini and an SSH config into tmp_path; HOME is tmp_path (its .ssh/config is
    the user's)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "known_hosts").write_text(KNOWN)
    (tmp_path / "id_inventory").write_text("not read: nothing connects here\n")
    (tmp_path / "id_inventory").chmod(0o600)  # a key others can read is refused

    def write(ini: str, ssh: str, where: str = "ssh_config") -> inventory.Inventory:
        path = tmp_path / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ssh)
        (tmp_path / "hosts.ini").write_text(ini)
        return inventory.load(tmp_path / "hosts.ini")

    return write


SSH = """
Host gpu
    HostName 10.0.0.3
    User ubuntu
    Port 2222
    IdentityFile ~/.ssh/team.pem
    ForwardAgent yes

Host behind
    HostName 10.0.1.5
    ProxyJump admin@bastion.example:2200
    ForwardAgent yes

Host i-*
    User ubuntu
    ProxyCommand sh -c "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p"
"""


def test_an_alias_takes_hostname_user_port_and_identity_from_the_ssh_config(files):
    inv = files(
        "[gpu]\ngpu\n\n[all:vars]\nknown_hosts_file=known_hosts\nssh_config_file=ssh_config\n", SSH
    )
    conn = connection(inv.hosts["gpu"])
    assert (conn.host, conn.user, conn.port) == ("10.0.0.3", "ubuntu", 2222)
    assert conn.connect_kwargs["key_filename"] == [str(Path("~/.ssh/team.pem").expanduser())]
    assert conn.forward_agent is False  # ForwardAgent yes is never honoured
    assert not conn.gateway


def test_the_inventorys_values_win_where_both_give_one(files):
    inv = files(
        "[gpu]\ngpu ansible_user=deploy ansible_port=22 ansible_ssh_private_key_file=id_inventory\n"
        "\n[all:vars]\nknown_hosts_file=known_hosts\nssh_config_file=ssh_config\n",
        SSH,
    )
    conn = connection(inv.hosts["gpu"])
    assert (conn.host, conn.user, conn.port) == ("10.0.0.3", "deploy", 22)
    assert conn.connect_kwargs["key_filename"] == [inv.hosts["gpu"].key_file]
    assert conn.connect_kwargs["look_for_keys"] is False
    assert conn.connect_kwargs["allow_agent"] is False


def test_a_proxyjump_hop_is_checked_and_never_forwards_the_agent(files):
    inv = files("[cpu]\nbehind ansible_user=deploy\n\n[all:vars]\nknown_hosts_file=known_hosts\n"
                "ssh_config_file=ssh_config\n", SSH)  # fmt: skip
    conn = connection(inv.hosts["behind"])
    hops = route(conn)
    assert [(h.user, h.host, h.port) for h in hops] == [
        ("deploy", "10.0.1.5", 22), ("admin", "bastion.example", 2200),
    ]  # fmt: skip
    for hop in hops:
        assert isinstance(hop.client._policy, paramiko.RejectPolicy)
        assert hop.forward_agent is False
        assert hop.connect_timeout == 15
    assert hops[1].client.get_host_keys().lookup("bastion.example") is not None
    assert describe_route(conn) == (
        "deploy@10.0.1.5:22, 경유 admin@bastion.example:2200 (ProxyJump)"
    )


def test_a_proxycommand_is_the_gateway_aws_ssm_included(files):
    inv = files("[gpu]\ni-0123456789abcdef0\n\n[all:vars]\nknown_hosts_file=known_hosts\n"
                "ssh_config_file=ssh_config\n", SSH)  # fmt: skip
    conn = connection(inv.hosts["i-0123456789abcdef0"])
    assert isinstance(conn.gateway, str)
    assert "aws ssm start-session --target i-0123456789abcdef0" in conn.gateway
    assert "portNumber=22" in conn.gateway
    assert conn.user == "ubuntu" and route(conn) == [conn]
    assert isinstance(conn.client._policy, paramiko.RejectPolicy)


def test_without_the_setting_the_users_own_ssh_config_is_read(files):
    inv = files("[gpu]\ngpu\n\n[all:vars]\nknown_hosts_file=known_hosts\n", SSH,
                where=".ssh/config")  # fmt: skip
    assert connection(inv.hosts["gpu"]).host == "10.0.0.3"


def test_a_missing_ssh_config_file_is_named(files):
    inv = files("[gpu]\ngpu\n\n[all:vars]\nssh_config_file=nowhere\n", SSH)
    with pytest.raises(ConfigError, match="gpu의 SSH 설정 파일이 없습니다: .*nowhere") as err:
        connection(inv.hosts["gpu"])
    assert "ssh_config_file" in err.value.fix


def test_closing_closes_the_hops(files):
    inv = files("[cpu]\nbehind\n\n[all:vars]\nknown_hosts_file=known_hosts\n"
                "ssh_config_file=ssh_config\n", SSH)  # fmt: skip
    conn = connection(inv.hosts["behind"])
    closed = []
    route(conn)[1].close = lambda: closed.append("hop")
    conn.close()
    assert closed == ["hop"]
