"""An SSH key file others on this machine may read or change is refused before connecting,
naming the file and the exact chmod (OpenSSH refuses such a key too; paramiko would not)."""

from __future__ import annotations

import shlex

import pytest

from tasks.errors import ConfigError
from tasks.hosts.connect import connection
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings


def host_with_key(path) -> Host:
    return Host("cpu", "10.0.0.2", "deploy", 22, str(path), ("cpu",), Settings())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o700 | 0o044])
def test_a_key_readable_or_writable_by_others_is_refused(tmp_path, mode):
    key = tmp_path / "my keys" / "id_ed25519"
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key.chmod(mode)
    with pytest.raises(ConfigError) as err:
        connection(host_with_key(key))
    assert str(key) in err.value.problem and f"{mode:04o}" in err.value.problem
    assert err.value.fix == f"chmod 600 {shlex.quote(str(key))}"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_is_taken(tmp_path, mode):
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    key.chmod(mode)
    conn = connection(host_with_key(key))  # not opened: no network here
    assert str(key) in conn.connect_kwargs["key_filename"]
