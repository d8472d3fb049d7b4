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
leaves behind. What it did and found is recorded (tests/lab/attacks.py) for
docs/reliability.md's "compromised deploy login" section.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from tasks.setup import privilege
from tests.conftest import served
from tests.lab import attacker, attacks
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


def root_s_state(lab, config: str, unread: str) -> tuple[list[str], list[str]]:
    """Checked as root on cpu: no payload ran as root, the canary was not read, sudo gives
    the deploy login the helper only, and the helper, its config and the drop-in are the
    tool's. (what was checked, what was wrong: empty when nothing)"""
    wrong = []
    leaks = attacker.damage(lab, "cpu")
    if leaks:
        wrong.append(f"a payload ran as root:\n{leaks}")
    if attacker.canary_atime(lab, "cpu") != unread:
        wrong.append("the root-only canary was read")
    listing = on(lab, "cpu", "sudo -l -U deploy")
    rules = [ln.strip() for ln in listing.split("may run the following commands", 1)[1].splitlines()[1:]
             if ln.strip()]  # fmt: skip
    if rules != [f"(root) NOPASSWD: {HELPER}"]:
        wrong.append(f"sudo -l -U deploy: {rules}")
    if on(lab, "cpu", "grep -rlw deploy /etc/sudoers /etc/sudoers.d") != privilege.SUDOERS:
        wrong.append("another sudoers file names deploy")
    if on(lab, "cpu", f"cat {privilege.SUDOERS}") + "\n" != privilege.sudoers_text("deploy"):
        wrong.append(f"{privilege.SUDOERS} is not the tool's")
    if on(lab, "cpu", f"sha256sum {HELPER}").split()[0] != privilege.helper_digest():
        wrong.append(f"{HELPER} is not the tool's")
    if on(lab, "cpu", f"cat {privilege.CONFIG}") != config:
        wrong.append(f"{privilege.CONFIG} is not what setup wrote")
    checked = [f"`sudo -l -U deploy`: {HELPER} alone; {privilege.SUDOERS} (the only sudoers file "
               f"naming deploy), {HELPER} (SHA-256) and {privilege.CONFIG} the tool's",
               "the root-only canary unread (its access time) and no file a payload run as root "
               "leaves (/tmp/dk-leak-*, /tmp/dk-pwned-*)"]  # fmt: skip
    return checked, wrong


def rewrote(entries: list[dict], since: float, until: float) -> str:
    """What the watcher did during a run: the files it rewrote or replaced (none: nothing
    root uses appeared where the deploy login can write)."""
    done = [e for e in entries if e.get("result") in ("rewritten", "replaced")
            and since <= e.get("t", 0) < until]  # fmt: skip
    if not done:
        return ("the watcher (live: it rewrote its bait first) found nothing to rewrite: no file "
                "root uses appeared where the deploy login can write")  # fmt: skip
    kinds = sorted({e["kind"] for e in done})
    return f"the watcher rewrote {len(done)} file(s) ({', '.join(kinds)}), none of which root used"


def test_a_watcher_as_the_deploy_login_gets_nothing_from_setup_nor_push_config(attacked, work):
    lab, canary, config = attacked
    unread = attacker.canary_atime(lab, "cpu")
    attacker.start(lab, "cpu")
    states, times = {}, [time.time()]
    try:
        setup = fab(
            lab, work, "-H", "cpu", "setup", "--yes", inv=numbered_inventory(lab, work, MANUAL)
        )
        states["setup"] = root_s_state(lab, config, unread)
        times.append(time.time())
        changed = numbered_inventory(lab, work, MANUAL, client_max_body_size="33m")
        push = fab(lab, work, "-H", "cpu", "push-config", "--yes", inv=changed)
        states["push"] = root_s_state(lab, config, unread)
        times.append(time.time())
    finally:
        rewritten = attacker.stop(lab, "cpu")
        print("the watcher rewrote:\n" + "\n".join(str(r) for r in rewritten))
    site = on(lab, "cpu", "cat /etc/nginx/sites-available/dojangkok")
    units = on(
        lab, "cpu", "cat /etc/systemd/system/dojangkok.service /etc/mysql/*/60-dojangkok.cnf"
    )
    again = fab(lab, work, "-H", "cpu", "push-config", "--dry-run", inv=changed)
    same = again.returncode == 0 and "변경 없음: cpu의 설정이 이미 최신입니다" in again.stdout
    did = ("a watcher (every 0.5 ms, its own ssh login) rewrites every file that appears or "
           "changes where the deploy login can write (the state directory, /tmp, /var/tmp, "
           "/dev/shm, /run, its home) into a same-size payload: sudoers `deploy ALL=(ALL:ALL) "
           "NOPASSWD: ALL`, a helper that runs anything, SQL with `\\!`, an nftables table "
           "that accepts all, a unit or site with a line changed")  # fmt: skip
    for number, name, res, window in (
        (1, "setup", setup, times[0:2]),
        (2, "push", push, times[1:3]),
    ):
        checked, wrong = states[name]
        if number == 2:
            checked = [*checked, "the site has the new client_max_body_size and no payload; the "
                       "units none; a dry run then finds nothing to change"]  # fmt: skip
            wrong = wrong + (
                [] if "client_max_body_size 33m;" in site else ["the site did not change"]
            )
            wrong += ["a payload in the site or the units"] if "dk-pwned" in site + units else []
            wrong += [] if same else ["a dry run finds changes"]
        attacks.record(
            lab, number, "`fab -H cpu setup` (manual)" if number == 1
            else "`fab -H cpu push-config` (client_max_body_size changed: the site changes)",
            did=did,
            tool=attacks.outcome(res.returncode, res.stdout + res.stderr)
            + ("; a Python traceback" if "Traceback" in res.stdout + res.stderr else ""),
            saw=said_last(res.stdout),
            after=[rewrote(rewritten, *window), *checked],
            problems=wrong + ([f"exit {res.returncode}"] if res.returncode else [])
            + (["a traceback"] if "Traceback" in res.stdout + res.stderr else []),
        )  # fmt: skip
    for name, res in (("setup", setup), ("push-config", push)):
        assert states["push" if name == "push-config" else name][1] == [], name
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Traceback" not in setup.stdout + setup.stderr
    assert rewritten[0]["path"].endswith("bait.sudoers")  # it was live
    assert attacker.canary(lab, "cpu") == canary
    assert "client_max_body_size 33m;" in site and "dk-pwned" not in site
    assert "dk-pwned" not in units
    assert same, again.stdout[-3000:]


def said_last(stdout: str) -> str:
    """The run's last word (``결과: ...``: the result and what changed)."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("결과: "):
            return line.strip()[:300]
    return ""
