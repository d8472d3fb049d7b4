"""A compromised deploy login against the tool's root steps (issue 17), on the lab's hosts.

The attacker holds the deploy login (`deploy`): it owns the checkouts, releases_root and the
state directory. Before an operator's next `fab setup`, release deploy or backup it plants
symbolic links where the tool's root steps act, removes what could make a deploy convert the
host again, and watches what the tool uploads. After each run, checked as root on the host,
independently of the tool (:func:`damage`): a root-only canary file and root-owned canary
directories are unchanged; the canary's token is in no file the deploy login can read and in
no process's environment (an app's environment is the deploy login's: it deploys the code);
no file that root owned in a root-owned directory changed owner.

One served lab for the module; the tests run in order, each from the state the previous one
left (a setup that converts both hosts to releases, then a release deploy, a second setup,
a backup and a restore).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from tests.lab.fabrun import fab, numbered_inventory, on, polling

pytestmark = pytest.mark.lab

CANARY = "/etc/canary.env"  # root-only KEY=VALUE: what an EnvironmentFile= would read
#: root-owned, sticky and world-writable like /tmp: a directory the deploy login may write
#: into (so a planted link to it does not stop the tool), whose owner and mode root's
#: `chown`/`chmod`/`install -d` through that link would change
STICKY = "/var/canary"
SNAP = "/var/lib/canary-before"  # root-only: what root owned before a run, the token
TOKEN = f"{SNAP}/token"
HOSTS = ("cpu", "gpu")

#: the places find looks (each -xdev): the root file system and the tmpfs ones a root step
#: could write a copy into
ROOTS = "/ /tmp /var/tmp /run /dev/shm"
PRUNE = (
    r"\( -path /proc -o -path /sys -o -path /usr/lib -o -path /usr/share -o -path /var/cache -o -path /var/lib/apt "
    rf"-o -path {SNAP} \) -prune"
)
ROOT_OWNED = f"find {ROOTS} -xdev {PRUNE} -o -uid 0 -print 2>/dev/null | LC_ALL=C sort -u"
NOT_ROOT_OWNED = f"find {ROOTS} -xdev {PRUNE} -o ! -uid 0 -print 2>/dev/null | LC_ALL=C sort -u"


def as_deploy(lab, host: str, command: str) -> str:
    res = lab.run(host, f"set -e; {command}", user="deploy", timeout=60)
    assert res.returncode == 0, f"deploy@{host}$ {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def canary_state(lab, host: str) -> str:
    """Owner, group, mode and checksum of every canary (the file, the sticky dirs)."""
    return on(lab, host, f"stat -c '%n %U:%G %a' {CANARY} {STICKY} {STICKY}/*; "
                         f"sha256sum {CANARY}")  # fmt: skip


def plant_canary(lab) -> None:
    """The canary's token is made on the host and never leaves it: on a command line it
    would reach the journal (sudo logs commands), which the deploy login reads."""
    for host in HOSTS:
        on(lab, host, (
            f"umask 077; install -d -m 700 {SNAP}; "
            f"head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n' | sed 's/^/CANARY/' > {TOKEN}; "
            f"printf 'CANARY_TOKEN=%s\\n' \"$(cat {TOKEN})\" > {CANARY}; chmod 600 {CANARY}; "
            f"install -d -m 755 {STICKY}"
        ))  # fmt: skip


def sticky(lab, host: str, name: str) -> str:
    """A new root-owned sticky directory for one planted link to point at."""
    path = f"{STICKY}/{name}"
    on(lab, host, f"install -d -m 1777 -o root -g root {path}")
    return path


def snapshot(lab) -> dict[str, str]:
    """Before a run: what root owns, the canaries' state."""
    state = {}
    for host in HOSTS:
        on(lab, host, f"install -d -m 700 {SNAP} && {ROOT_OWNED} > {SNAP}/root-owned")
        state[host] = canary_state(lab, host)
    return state


def damage(lab, before: dict[str, str]) -> list[str]:
    """Checked as root on each host, after a run: what the attacker gained (empty: nothing)."""
    found = []
    for host in HOSTS:
        if canary_state(lab, host) != before[host]:
            found.append(f"{host}: a canary changed:\n{before[host]}\n→\n{canary_state(lab, host)}")
        handed = on(lab, host, (
            f"{NOT_ROOT_OWNED} | comm -12 {SNAP}/root-owned - | while IFS= read -r p; do "
            '[ "$(stat -c %u -- "$(dirname -- "$p")")" = 0 ] && stat -c "%n %U:%G" -- "$p"; '
            "done; true"
        ))  # fmt: skip
        if handed:
            found.append(f"{host}: root-owned files changed owner:\n{handed}")
        readable = on(lab, host, (
            f"find {ROOTS} -xdev {PRUNE} -o -type f -print0 2>/dev/null "
            f"| xargs -0 grep -lsF -f {TOKEN} | grep -vxF -e {CANARY} | while IFS= read -r f; do "
            'runuser -u deploy -- test -r "$f" && echo "$f"; done; true'
        ))  # fmt: skip
        if readable:
            found.append(f"{host}: the canary's token in files the deploy login reads:\n{readable}")
        environ = on(lab, host, (
            f"for p in /proc/[0-9]*; do grep -qsF -f {TOKEN} " + '"$p/environ" '
            '&& echo "$(cat "$p/comm") (${p#/proc/})"; done; true'
        ))  # fmt: skip
        if environ:
            found.append(f"{host}: the canary's token in the environment of:\n{environ}")
    print("\n".join(found) or "no damage")
    return found


class Attack:
    def __init__(self, lab, work: Path):
        self.lab, self.work = lab, work
        self.inv = numbered_inventory(lab, work, polling(30))  # strategy=release (default)

    def fab(self, *args: str):
        yes = () if "backup-db" in args else ("--yes",)  # backup-db asks nothing
        return fab(self.lab, self.work, *args, *yes, inv=self.inv)

    def fab_both(self, *args: str) -> dict:
        """``fab -H <host> <args>`` on both hosts at once (two operators' processes)."""
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            runs = {h: pool.submit(self.fab, "-H", h, *args) for h in HOSTS}
            return {h: r.result() for h, r in runs.items()}


@pytest.fixture(scope="module")
def attack(lab, tmp_path_factory):
    from tests.conftest import served

    lab.reset(setup=True)  # served the manual way (the cached setup)
    served(lab)
    plant_canary(lab)
    return Attack(lab, tmp_path_factory.mktemp("attacker"))


def test_links_planted_for_setup_and_its_conversion_gain_nothing(attack):
    """Setup with strategy=release on hosts serving the manual way: each app's .env (and its
    .env.bak), then the conversion to releases (the shared .env it adopts) and the units'
    EnvironmentFile=. Links at the release directories themselves: the forced conversion's
    (below), where a release deploy meets them."""
    lab = attack.lab
    for host in HOSTS:  # releases_root as a release-strategy setup leaves it: the deploy's
        on(lab, host, "install -d -m 755 -o deploy -g deploy /app/releases")
    as_deploy(lab, "cpu", (
        f"ln -sfn {CANARY} /app/frontend/.env; ln -sfn {CANARY} /app/backend/.env; "
        f"mkdir -p /app/releases/backend/shared; ln -sfn {CANARY} /app/releases/backend/shared/.env"
    ))  # fmt: skip
    as_deploy(lab, "gpu", (  # no .env.example: setup keeps the .env it finds
        f"rm -f /app/ai-server/.env.example; ln -sfn {CANARY} /app/ai-server/.env; "
        f"mkdir -p /app/releases/ai/shared; ln -sfn {CANARY} /app/releases/ai/shared/.env"
    ))  # fmt: skip
    before = snapshot(lab)
    runs = attack.fab_both("setup")
    assert damage(lab, before) == []
    for host, res in runs.items():
        assert res.returncode == 0, f"{host}: {res.stdout[-3000:]}{res.stderr}"
        assert "방식으로 전환합니다" in res.stdout, host  # both hosts converted


def test_the_env_file_systemd_reads_cannot_be_pointed_elsewhere(attack):
    """The deploy login points the file the unit's EnvironmentFile= names at the canary,
    then restarts the unit through the root helper (it may)."""
    lab = attack.lab
    before = snapshot(lab)
    # the served instances (a release setup; no GPU: ai_switch=auto made the AI blue/green)
    for host, unit in (("cpu", "dojangkok@8081"), ("gpu", "fastapi@8001")):
        shown = on(lab, host, f"systemctl show -p EnvironmentFiles --value {unit}")
        path = shown.split()[0].lstrip("-")
        lab.run(host, f"ln -sfn {CANARY} {path} || {{ mv -f {path} {path}.x && "
                      f"ln -s {CANARY} {path}; }}", user="deploy")  # fmt: skip
        lab.run(host, f"sudo -n /usr/local/sbin/dojangkok-root systemctl restart {unit}",
                user="deploy")  # fmt: skip
    time.sleep(2)
    assert damage(lab, before) == []


def test_a_forced_conversion_and_planted_release_and_writable_paths_gain_nothing(attack):
    """The deploy login removes what made a deploy think the backend was converted (its
    slots) and puts links where a conversion's root step 0 makes the release directories;
    on the GPU host, one where the AI server's writable path is. Then a release deploy and a
    second setup: neither converts again nor acts as root through a link; each stops, by
    name, at the first step that meets the link (run as the deploy login, or refused)."""
    lab = attack.lab
    releases, shared = sticky(lab, "cpu", "backend-releases"), sticky(lab, "cpu", "backend-shared")
    store = sticky(lab, "gpu", "ai-store")
    as_deploy(lab, "cpu", (
        "cd /app/releases/backend; rm -rf slots; "
        f"cp -RP shared/. {shared}/; rm -rf shared; ln -s {shared} shared; "
        f"mv releases releases.moved; ln -s {releases} releases"
    ))  # fmt: skip
    as_deploy(lab, "gpu", (
        "cd /app/ai-server; mv vector_store vector_store.moved; "
        f"ln -s {store} vector_store"
    ))  # fmt: skip
    before = snapshot(lab)
    deployed = attack.fab("-H", "cpu", "deploy-backend")
    again = attack.fab("-H", "gpu", "setup")
    assert damage(lab, before) == []
    assert "방식으로 전환합니다" not in deployed.stdout  # converted is root's to say
    said = deployed.stdout + deployed.stderr
    assert deployed.returncode == 1 and "B0 릴리스 디렉터리 준비 실패" in said
    assert "'/app/releases/backend/releases': Operation not permitted" in said  # the deploy's
    assert again.returncode == 1
    assert "/app/ai-server/vector_store: 심볼릭 링크" in again.stdout + again.stderr


#: the deploy login's watcher: every option file that appears in the state directory, read
#: the moment it is seen (a backup's lives as long as its dump, a few milliseconds here)
WATCHER = """
import os, sys, time
loot, state, end = sys.argv[1], "/var/lib/dojangkok-deploy", time.time() + 600
while not os.path.exists(loot + ".stop") and time.time() < end:
    for name in os.listdir(state):
        if name.startswith(".my.cnf"):
            try:
                text = open(os.path.join(state, name)).read()
            except OSError:
                continue
            with open(loot, "a") as out:
                out.write(text)
    time.sleep(0.001)
"""


def test_backups_never_hand_the_deploy_login_the_database_admin_password(attack):
    """A watcher running as the deploy login copies every option file that appears in the
    state directory while `fab backup-db` runs; restore-db still works, and leaves the admin
    password nowhere the deploy login reads."""
    lab = attack.lab
    loot = "/home/deploy/loot"
    lab.run("cpu", f"nohup setsid python3 -c {shlex.quote(WATCHER)} {loot} >/dev/null 2>&1 &",
            user="deploy")  # fmt: skip
    before = snapshot(lab)
    backup = attack.fab("-H", "cpu", "backup-db")
    as_deploy(lab, "cpu", f"touch {loot}.stop")
    # restore-db's admin password travels with its root step (over the admin login): how a
    # root step's uploads reach the host is the runner's (tasks/engine/runner.py)
    restore = attack.fab("-H", "cpu", "restore-db")
    # (booleans only: a failing assert would print the loot, a password, into the output)
    seen = as_deploy(lab, "cpu", f"cat {loot} 2>/dev/null || true")
    root_password = lab.env()["MYSQL_ROOT_PASSWORD"]
    watched, caught = "[client]" in seen, root_password in seen
    assert watched, "the watcher saw no option file: the check below would prove nothing"
    assert not caught, "the deploy login's watcher copied the database admin's password"
    assert backup.returncode == 0, backup.stdout[-3000:] + backup.stderr
    assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr
    found = lab.run(
        "cpu",
        "grep -rlsF -f - /home /var/lib/dojangkok-deploy /app /tmp /var/tmp",
        input=root_password,
    ).stdout  # on stdin: a command line reaches the journal
    assert not found, found
    assert damage(lab, before) == []
