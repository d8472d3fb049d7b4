"""A compromised deploy login races setup's and push-config's root steps, on the lab.

The deploy login (``deploy``) can change whatever it can write, at any moment. Root steps
of `fab setup` (the database SQL and option files, the firewall's ruleset and unit, the
root helper, its config and the sudoers drop-in) and of `fab push-config` (the staged units
and site, their validation copy, the backups a rollback restores) must therefore never read
a file the deploy login can write. Here a watcher running as the deploy login
(tests/lab/attacker.py) rewrites every file the moment it appears anywhere the deploy login
can write, into a payload that would make it root, while `fab -H cpu setup` and then
`fab -H cpu push-config` (a changed setting: the nginx site changes) run. After each, checked
as root on the host: the sudoers drop-ins, the helper and its config, what `sudo -l -U
deploy` allows, the units and the site (what the tool renders: a dry run finds nothing to
change), a root-only canary file (unchanged, unread), and no file a payload run as root
leaves behind.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tasks.procedures import privilege
from tests.conftest import served
from tests.lab import attacker
from tests.lab.fabrun import MANUAL, fab, numbered_inventory, on

pytestmark = pytest.mark.lab

HELPER = privilege.HELPER


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("staged-files-lab")


@pytest.fixture(scope="module")
def attacked(lab, work):
    """The hosts as setup left them, a canary, the helper config as setup wrote it."""
    lab.reset(setup=True)
    served(lab)
    text = f"root-only canary {secrets.token_hex(8)}"
    attacker.plant_canary(lab, "cpu", text)
    return lab, text, on(lab, "cpu", f"cat {privilege.CONFIG}")


def root_is_still_root_s(lab, config: str, unread: str) -> None:
    """Checked as root on cpu: no payload ran as root, the canary was not read, sudo gives
    the deploy login the helper only, and the helper, its config and the drop-in are the
    tool's."""
    assert attacker.damage(lab, "cpu") == ""
    assert attacker.canary_atime(lab, "cpu") == unread  # nothing read it
    listing = on(lab, "cpu", "sudo -l -U deploy")
    rules = [ln.strip() for ln in listing.split("may run the following commands", 1)[1].splitlines()[1:]
             if ln.strip()]  # fmt: skip
    assert rules == [f"(root) NOPASSWD: {HELPER}"], listing
    assert on(lab, "cpu", "grep -rlw deploy /etc/sudoers /etc/sudoers.d") == privilege.SUDOERS
    assert on(lab, "cpu", f"cat {privilege.SUDOERS}") + "\n" == privilege.sudoers_text("deploy")
    assert on(lab, "cpu", f"sha256sum {HELPER}").split()[0] == privilege.helper_digest()
    assert on(lab, "cpu", f"cat {privilege.CONFIG}") == config


def test_a_watcher_as_the_deploy_login_gets_nothing_from_setup_nor_push_config(attacked, work):
    lab, canary, config = attacked
    unread = attacker.canary_atime(lab, "cpu")
    attacker.start(lab, "cpu")
    try:
        setup = fab(
            lab, work, "-H", "cpu", "setup", "--yes", inv=numbered_inventory(lab, work, MANUAL)
        )
        root_is_still_root_s(lab, config, unread)
        assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-2000:]
        assert "Traceback" not in setup.stdout + setup.stderr
        changed = numbered_inventory(lab, work, MANUAL, client_max_body_size="33m")
        push = fab(lab, work, "-H", "cpu", "push-config", "--yes", inv=changed)
        root_is_still_root_s(lab, config, unread)
        assert push.returncode == 0, push.stdout[-3000:] + push.stderr[-2000:]
    finally:
        rewritten = attacker.stop(lab, "cpu")
        print("the watcher rewrote:\n" + "\n".join(str(r) for r in rewritten))
    assert rewritten[0]["path"].endswith("bait.sudoers")  # it was live
    assert attacker.canary(lab, "cpu") == canary
    site = on(lab, "cpu", "cat /etc/nginx/sites-available/dojangkok")
    assert "client_max_body_size 33m;" in site and "dk-pwned" not in site
    units = on(
        lab, "cpu", "cat /etc/systemd/system/dojangkok.service /etc/mysql/*/60-dojangkok.cnf"
    )
    assert "dk-pwned" not in units
    again = fab(lab, work, "-H", "cpu", "push-config", "--dry-run", inv=changed)
    assert again.returncode == 0 and "no changes: cpu already has the rendered config" in (
        again.stdout
    ), again.stdout[-3000:]


def test_a_root_step_s_files_arrive_where_sudo_asks_for_a_password(attacked, work):
    """push-config's staging step (its files on the root command's standard input) over an
    admin login whose sudo asks for a password (deploypw): the password goes to sudo, the
    files to the command."""
    lab = attacked[0]
    extra = MANUAL + "\n[all:vars]\nadmin_user=deploypw\nsudo_password_env=LAB_SUDO_PASSWORD\n"
    inv = numbered_inventory(lab, work, extra, client_max_body_size="34m")
    res = fab(lab, work, "-H", "cpu", "push-config", "--yes", inv=inv)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "↑ $STAGE/nginx.dojangkok" in res.stdout
    site = on(lab, "cpu", "cat /etc/nginx/sites-available/dojangkok")
    assert "client_max_body_size 34m;" in site
    assert on(lab, "cpu", "ls /run | grep -c dojangkok-stage || true") == "0"  # removed
