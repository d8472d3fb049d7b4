"""Least privilege on the lab's real hosts (tasks/setup/privilege.py).

After `fab setup` (the cached setup layer: setup logged in as the inventory's admin_user
for its root steps), the deploy login may run one command as root, the tool's fixed helper,
and the helper does only what /etc/dojangkok/sudo.json names. Every deploy the other lab
tests run goes through it; here: what sudo and the helper allow and refuse, checked on the
host as the deploy login itself.
"""

from __future__ import annotations

import re

import pytest

from tests.lab.fabrun import MANUAL, fab, numbered_inventory, on

pytestmark = pytest.mark.lab

HELPER = "/usr/local/sbin/dojangkok-root"
HOSTS = ("cpu", "gpu")


@pytest.fixture(scope="module")
def set_up(lab):
    from tests.conftest import served

    lab.reset(setup=True)
    served(lab)
    return lab


def as_deploy(lab, host: str, command: str):
    return lab.run(host, command, user="deploy", timeout=60)


@pytest.mark.parametrize("host", HOSTS)
def test_sudo_lists_only_the_root_helper(set_up, host):
    listing = on(set_up, host, "sudo -l -U deploy")
    rules = [ln.strip() for ln in listing.split("may run the following commands", 1)[1].splitlines()[1:]
             if ln.strip()]  # fmt: skip
    assert rules == [f"(root) NOPASSWD: {HELPER}"], listing
    assert not re.search(r"\bALL\s*$", listing, re.M), listing
    assert on(set_up, host, f"stat -c '%U:%G %a' {HELPER} /etc/dojangkok/sudo.json "
              "/etc/sudoers.d/dojangkok").split("\n") == [
        "root:root 755", "root:root 644", "root:root 440"]  # fmt: skip
    res = as_deploy(set_up, host, "sudo -n true")
    assert res.returncode != 0 and "password is required" in res.stderr


@pytest.mark.parametrize("host", HOSTS)
def test_the_deploy_login_reads_the_journal_without_root(set_up, host):
    groups = as_deploy(set_up, host, "id -nG").stdout.split()
    assert "systemd-journal" in groups
    assert ("dojangkok" if host == "cpu" else "dojangkok-ai") in groups
    unit = "dojangkok@8081" if host == "cpu" else "fastapi"
    res = as_deploy(set_up, host, f"journalctl -u {unit} -n 5 --no-pager")
    assert res.returncode == 0 and "No journal files were opened" not in res.stderr, res.stderr


REFUSED = [
    ("cpu", "systemctl stop ssh", "not one of this host's app units"),
    ("cpu", "systemctl edit dojangkok@8081", "only start, stop"),
    ("cpu", "systemctl stop 'dojangkok@8081;id'", "not one of this host's app units"),
    ("cpu", "switch backend 22", "not one of the pair's ports"),
    ("cpu", "switch ai 8001", "no blue/green pair 'ai'"),
    ("cpu", "switch backend 8090", "not one of the pair's ports"),  # the switch port itself
    # a host nginx does not reach through the switch port (here: not converted): no table
    ("cpu", "switch backend 8081", "does not name the switch port"),
    ("cpu", "retire backend 8081 '10;id'", "a whole number"),
    ("cpu", "hostrun ../../../tmp x", "run id"),
    ("cpu", "hostrun nosuchrun x", "no such file or directory"),
    ("gpu", "systemctl restart nginx", "not one of this host's app units"),
    ("gpu", "bash -c id", "unknown verb"),
]


@pytest.mark.parametrize(("host", "args", "why"), REFUSED, ids=[a for _, a, _ in REFUSED])
def test_the_helper_refuses_what_sudo_json_does_not_name(set_up, host, args, why):
    res = as_deploy(set_up, host, f"sudo -n {HELPER} {args}")
    assert res.returncode != 0, res.stdout
    assert why in res.stderr, res.stderr


def test_the_helper_does_what_a_deploy_needs(set_up):
    """As the deploy login, through sudo: the app's units and nginx (the release strategy's
    switch and retire: tests/test_release_lab.py deploys through them)."""
    lab = set_up
    units = (("cpu", "dojangkok"), ("gpu", "fastapi"))
    before = {h: on(lab, h, f"systemctl show -p InvocationID --value {u}") for h, u in units}
    res = as_deploy(
        lab,
        "cpu",
        f"sudo -n {HELPER} nginx-reload && sudo -n {HELPER} systemctl restart dojangkok.service",
    )
    assert res.returncode == 0, res.stderr
    res = as_deploy(lab, "gpu", f"sudo -n {HELPER} systemctl restart fastapi")
    assert res.returncode == 0, res.stderr
    for h, u in units:
        assert on(lab, h, f"systemctl show -p InvocationID --value {u}") != before[h]


def test_setup_without_admin_user_says_the_deploy_login_keeps_full_sudo(set_up, tmp_path):
    """The old way (no admin_user): setup's root steps run as the deploy login, which must
    then have full sudo; setup still installs the helper, and says loudly what is left."""
    lab = set_up
    grant = "/etc/sudoers.d/95-test-full-sudo"
    on(lab, "cpu", f"echo 'deploy ALL=(ALL) NOPASSWD:ALL' > {grant} && chmod 440 {grant}")
    try:
        inv = numbered_inventory(lab, tmp_path, MANUAL + "\n[all:vars]\nadmin_user=\n")
        res = fab(lab, tmp_path, "-H", "cpu", "setup", "--yes", inv=inv)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr
        assert "!!! deploy에 아직 제한 없는 sudo 권한이 있습니다" in res.stdout
    finally:
        on(lab, "cpu", f"rm -f {grant}")
    assert "(root) NOPASSWD: /usr/local/sbin/dojangkok-root" in on(lab, "cpu", "sudo -l -U deploy")
