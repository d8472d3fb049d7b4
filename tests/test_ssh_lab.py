"""The operator's SSH config, for real: gpu reached through a ProxyJump via cpu (a bastion),
as the inventory's ssh_config_file says. gpu's SSH is reachable directly too, so the proof
that the jump was used is the address gpu's sshd sees the deploy login come from: cpu's.
The jump host's key is checked like any host's: unknown, the connection is refused naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab import fabrun

pytestmark = pytest.mark.lab

ALIAS = "gpu-behind-cpu"  # a name only the SSH config knows


def jump_inventory(lab, work: Path, known_hosts: Path | None = None) -> Path:
    """The lab's inventory with gpu at the SSH config's alias, which jumps via cpu."""
    cpu, gpu = lab.addresses["cpu"], lab.addresses["gpu"]
    ssh = work / "ssh_config"
    ssh.write_text(
        f"Host {ALIAS}\n    HostName {gpu}\n    ProxyJump deploy@{cpu}\n    ForwardAgent yes\n\n"
        f"Host {cpu}\n    IdentityFile {lab.key_file}\n    IdentitiesOnly yes\n"
    )
    extra = f"\n[all:vars]\nssh_config_file={ssh}\n"
    if known_hosts is not None:
        extra += f"known_hosts_file={known_hosts}\n"
    inv = lab.write_inventory(work / f"hosts-{len(list(work.glob('hosts-*')))}.ini", extra)
    text = inv.read_text()
    assert f"gpu ansible_host={gpu} " in text
    inv.write_text(text.replace(f"gpu ansible_host={gpu} ", f"gpu ansible_host={ALIAS} "))
    return inv


def test_a_host_behind_a_proxyjump_is_reached_through_it(lab, tmp_path):
    from tasks.hosts import inventory
    from tasks.hosts.connect import connect
    from tasks.hosts.secrets import Secrets

    cpu = lab.addresses["cpu"]
    inv = jump_inventory(lab, tmp_path)
    remote = connect(inventory.load(inv).hosts["gpu"], Secrets({}))
    try:
        seen = remote.run("echo $SSH_CONNECTION; echo ${SSH_AUTH_SOCK:-no-agent}").stdout.split()
    finally:
        remote.close()
    assert seen[0] == cpu, f"gpu's sshd saw {seen[0]}, not the jump host {cpu}"
    assert seen[-1] == "no-agent"  # ForwardAgent yes in the SSH config is not honoured

    # the whole tool goes the same way: a task on gpu through the jump
    res = fabrun.fab(lab, tmp_path, "-H", "gpu", "lock-status", inv=inv)
    assert res.returncode in (0, 3), res.stdout + res.stderr  # 3: a lock is held there
    assert "Traceback" not in res.stderr

    # the jump host's key is checked: a known_hosts without cpu refuses, naming it
    known = tmp_path / "known_hosts_without_cpu"
    lines = lab.known_hosts.read_text().splitlines()
    known.write_text("".join(f"{line}\n" for line in lines if not line.startswith("cpu,")))
    res = fabrun.fab(
        lab, tmp_path, "-H", "gpu", "lock-status", inv=jump_inventory(lab, tmp_path, known)
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "호스트 키를 모릅니다: 연결하지 않습니다" in res.stderr
    assert f"로 가는 점프 호스트 {cpu}의 호스트 키를 모릅니다" in res.stderr
