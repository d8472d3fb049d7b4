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
a backup and a restore, then restores of dumps the deploy login planted). Each test records
what it did and what it found (tests/lab/attacks.py) for docs/reliability.md's "compromised
deploy login" section.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from tests.lab import attacks
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


#: what :func:`damage` checked, when it found nothing (the row's state after)
UNHARMED = ("canary file and root-owned canary directories unchanged; no root-owned file in "
            "a root-owned directory changed owner; the canary's token in no file the deploy "
            "login can read and in no process's environment")  # fmt: skip


def after_state(found: list[str]) -> list[str]:
    """The row's state after: what :func:`damage` found, else what it checked."""
    return found or [UNHARMED]


def said(output: str, pattern: str) -> str:
    """The first line of the tool's output matching ``pattern`` (what the operator saw)."""
    for line in output.splitlines():
        if re.search(pattern, line):
            return line.strip().lstrip("|!").strip()[:300]
    return ""


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
    found = damage(lab, before)
    converted = {h: "방식으로 전환합니다" in r.stdout for h, r in runs.items()}
    attacks.record(
        lab, 3, "`fab setup` (strategy=release) on both hosts, which converts them",
        did=f"links to the root-only {CANARY} at each app's .env (cpu: frontend, backend; gpu: "
            "the AI server's, its .env.example removed so setup keeps the .env it finds) and at "
            "releases/<app>/shared/.env, the file a conversion adopts",
        tool="; ".join(f"{h}: {attacks.outcome(r.returncode, r.stdout + r.stderr)}"
                       + (", converted to releases" if converted[h] else "")
                       for h, r in runs.items()),
        saw=said(runs["cpu"].stdout, r"변경: .*\.env") or said(runs["cpu"].stdout, r"전환합니다"),
        after=after_state(found),
        problems=found + [f"{h}: exit {r.returncode}" for h, r in runs.items() if r.returncode]
        + [f"{h}: not converted" for h, ok in converted.items() if not ok],
    )  # fmt: skip
    assert found == []
    for host, res in runs.items():
        assert res.returncode == 0, f"{host}: {res.stdout[-3000:]}{res.stderr}"
        assert converted[host], host  # both hosts converted


def test_the_env_file_systemd_reads_cannot_be_pointed_elsewhere(attack):
    """The deploy login points the file the unit's EnvironmentFile= names at the canary,
    then restarts the unit through the root helper (it may)."""
    lab = attack.lab
    before = snapshot(lab)
    tried, paths = {}, []
    # the served instances (a release setup; no GPU: ai_switch=auto made the AI blue/green)
    for host, unit in (("cpu", "dojangkok@8081"), ("gpu", "fastapi@8001")):
        shown = on(lab, host, f"systemctl show -p EnvironmentFiles --value {unit}")
        path = shown.split()[0].lstrip("-")
        paths.append(path)
        tried[host] = lab.run(host, f"ln -sfn {CANARY} {path} || {{ mv -f {path} {path}.x && "
                                    f"ln -s {CANARY} {path}; }}", user="deploy")  # fmt: skip
        lab.run(host, f"sudo -n /usr/local/sbin/dojangkok-root systemctl restart {unit}",
                user="deploy")  # fmt: skip
    time.sleep(2)
    found = damage(lab, before)
    kept = {h: on(lab, h, f"stat -c %F {p}") for h, p in zip(HOSTS, paths, strict=True)}
    attacks.record(
        lab, 4, "dojangkok@8081 (cpu), fastapi@8001 (gpu)",
        did=f"`ln -sfn {CANARY} <the unit's EnvironmentFile>` (else move it away and link), then "
            "`sudo dojangkok-root systemctl restart <unit>`",
        tool="no tool run: systemd reads the file as root at the restart",
        saw=tried["cpu"].stderr.strip().splitlines()[0] if tried["cpu"].stderr.strip() else "",
        after=after_state(found)
        + [f"{h}: {p} still a {kept[h]}" for h, p in zip(HOSTS, paths, strict=True)],
        problems=found + [f"{h}: the link was made" for h, r in tried.items() if r.returncode == 0],
    )  # fmt: skip
    assert found == []
    assert all(r.returncode != 0 for r in tried.values())


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
    found = damage(lab, before)
    said_b, said_s = deployed.stdout + deployed.stderr, again.stdout + again.stderr
    after = after_state(found)
    attacks.record(
        lab, 5, "cpu: `fab deploy-backend` (release) after the slots are removed",
        did="`rm -rf slots` (what made the backend count as converted), `releases` and `shared` "
            "replaced by links to root-owned directories",
        tool=attacks.outcome(deployed.returncode, said_b)
        + ("; converted again" if "방식으로 전환합니다" in deployed.stdout else "; no conversion"),
        saw=said(said_b, r"Operation not permitted"),
        after=after,
        problems=found + (["converted again"] if "방식으로 전환합니다" in deployed.stdout else [])
        + ([] if deployed.returncode == 1 else [f"exit {deployed.returncode}"]),
    )  # fmt: skip
    attacks.record(
        lab, 5, "gpu: a second `fab setup` with a link at the AI server's writable path",
        did="`vector_store` (a writable path: setup hands it to the service user as root) "
            "replaced by a link to a root-owned directory",
        tool=attacks.outcome(again.returncode, said_s),
        saw=said(said_s, r"vector_store: "),
        after=after,
        problems=found + ([] if again.returncode == 1 else [f"exit {again.returncode}"]),
    )  # fmt: skip
    assert found == []
    assert "방식으로 전환합니다" not in deployed.stdout  # converted is root's to say
    assert deployed.returncode == 1 and "B0 릴리스 디렉터리 준비 실패" in said_b
    assert "'/app/releases/backend/releases': Operation not permitted" in said_b  # the deploy's
    assert again.returncode == 1
    assert "/app/ai-server/vector_store: 심볼릭 링크" in said_s


#: the deploy login's watcher: every file that appears anywhere it can look (the state
#: directory, /tmp, /var/tmp, /dev/shm, /run, its home) and holds a MySQL client option file,
#: read the moment it is seen (a backup's lives as long as its dump, a few milliseconds
#: here), and every process's command line (world-readable), kept in its loot file
WATCHER = """
import os, stat, sys, time
loot, end = sys.argv[1], time.time() + 900
roots = ("/var/lib/dojangkok-deploy", "/tmp", "/var/tmp", "/dev/shm", "/run", os.path.dirname(loot))
kept, looked = set(), {}
def keep(text):
    if text not in kept:
        kept.add(text)
        with open(loot, "a") as out:
            out.write(text + "\\n")
while not os.path.exists(loot + ".stop") and time.time() < end:
    for root in roots:
        for top, dirs, names in os.walk(root, onerror=lambda e: None):
            for name in names:
                path = os.path.join(top, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                now = (st.st_ino, st.st_mtime_ns, st.st_size)
                if path.startswith(loot) or not stat.S_ISREG(st.st_mode) or looked.get(path) == now:
                    continue
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
                    with os.fdopen(fd, errors="replace") as f:
                        text = f.read(4096)
                except OSError:
                    continue
                looked[path] = now
                if "[client]" in text:
                    keep(text)
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                keep(f.read().replace(b"\\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    time.sleep(0.001)
"""


def test_backups_never_hand_the_deploy_login_the_database_admin_password(attack):
    """A watcher running as the deploy login copies every option file that appears where
    it can look, and every command line, while `fab backup-db` and then `fab restore-db`
    run (restore's admin option file is its root step's upload, in a root-only directory);
    restore-db still works, and leaves the admin password nowhere the deploy login reads."""
    lab = attack.lab
    loot = "/home/deploy/loot"
    lab.run("cpu", f"rm -f {loot} {loot}.stop; nohup setsid python3 -c {shlex.quote(WATCHER)} "
                   f"{loot} >/dev/null 2>&1 &", user="deploy")  # fmt: skip
    time.sleep(1)
    before = snapshot(lab)
    try:
        backup = attack.fab("-H", "cpu", "backup-db")
        restore = attack.fab("-H", "cpu", "restore-db")
    finally:
        as_deploy(lab, "cpu", f"touch {loot}.stop; sleep 1")
    # (booleans and counts only: a failing assert would print the loot, a password)
    seen = as_deploy(lab, "cpu", f"cat {loot} 2>/dev/null || true")
    root_password = lab.env()["MYSQL_ROOT_PASSWORD"]
    options, caught = seen.count("[client]"), root_password in seen
    lines = len(seen.splitlines())
    found = lab.run(
        "cpu",
        "grep -rlsF -f - /home /var/lib/dojangkok-deploy /app /tmp /var/tmp /run",
        input=root_password,
    ).stdout.split()  # on stdin: a command line reaches the journal
    hurt = damage(lab, before)
    attacks.record(
        lab, 6, "`fab backup-db`, then `fab restore-db` (the newest dump)",
        did="a watcher (every millisecond) copies every MySQL option file that appears in the "
            "state directory, /tmp, /var/tmp, /dev/shm, /run or its home, and every process's "
            "command line",
        tool=f"backup-db: {attacks.outcome(backup.returncode, backup.stdout + backup.stderr)}; "
             f"restore-db: {attacks.outcome(restore.returncode, restore.stdout + restore.stderr)}",
        saw=said(restore.stdout, r"복원 전 데이터"),
        after=[f"the watcher copied {options} option file(s) (the backup account's) and "
               f"{lines} distinct lines in all, none with the database admin's password",
               "the admin's password in no file under /home, the state directory, /app, /tmp, "
               "/var/tmp, /run", *after_state(hurt)],
        problems=(["the watcher copied the admin's password"] if caught else [])
        + ([f"the admin's password in {found}"] if found else []) + hurt
        + ([] if options else ["the watcher saw no option file: proves nothing"])
        + [f"{n}: exit {r.returncode}" for n, r in (("backup-db", backup), ("restore-db", restore))
           if r.returncode],
    )  # fmt: skip
    assert options, "the watcher saw no option file: the check below would prove nothing"
    assert not caught, "the deploy login's watcher copied the database admin's password"
    assert backup.returncode == 0, backup.stdout[-3000:] + backup.stderr
    assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr
    assert not found, found
    assert hurt == []


#: what a dump the deploy login planted asks the mysql client (run as root by restore-db's
#: D4) to do on the host, each alone in a dump of its own (the client stops at the first
#: statement that fails)
PLANTED = {
    "a shell command (\\!)": f"\\! cp {CANARY} /tmp/dk-restore-leak && chmod 644 /tmp/dk-restore-leak",
    "a client-side file read (LOAD DATA LOCAL INFILE)": (
        "CREATE TABLE IF NOT EXISTS dk_loot (t TEXT);\n"
        f"LOAD DATA LOCAL INFILE '{CANARY}' INTO TABLE dk_loot;"
    ),
    "a file read as SQL (\\. source)": f"\\. {CANARY}",
}


def test_a_planted_dump_runs_nothing_as_root_when_restored(attack):
    """The deploy login owns the backup directory: it writes dumps named like the tool's,
    the newest (what `fab restore-db` restores when no --backup is named), that pass
    restore-db's checks (gzip, the 'Dump completed' trailer) and ask the mysql client, which
    restore-db runs as root, to run a shell command, to read a root-only file into a table,
    or to read it as SQL. An operator restores each: none runs, none reads the file."""
    lab = attack.lab
    token = on(lab, "cpu", f"cat {TOKEN}")
    before = snapshot(lab)
    # its access time two days back: any read moves it (relatime), checked before damage()
    unread = on(lab, "cpu", f"touch -a -d '2 days ago' {CANARY}; stat -c %X {CANARY}")
    runs = {}
    for i, (case, payload) in enumerate(PLANTED.items()):
        dump = f"/app/backups/backup_99991231_000000_00000{i}_plant.sql.gz"
        as_deploy(lab, "cpu", f"printf '%s\\n' '-- MySQL dump 10.19' {shlex.quote(payload)} "
                              f"'-- Dump completed on 2026-01-01 12:00:00' | gzip > {dump}")  # fmt: skip
        runs[case] = (dump, attack.fab("-H", "cpu", "restore-db"))  # the newest: the planted
    read = on(lab, "cpu", f"stat -c %X {CANARY}") != unread
    found = damage(lab, before)
    in_db = on(lab, "cpu", f"mysqldump dojangkok | grep -cF -f {TOKEN} || true")
    for case, (dump, res) in runs.items():
        out = res.stdout + res.stderr
        shown = token in out
        attacks.record(
            lab, 7, case,
            did=f"a gzipped dump, the backup directory's newest, ending with the 'Dump completed' "
                f"line, asking for {case.split(' (')[0]}: `{PLANTED[case].splitlines()[-1]}`",
            tool=attacks.outcome(res.returncode, out)
                 + " (D2 dumped the current data first; the client, root, took the dump as SQL only)",
            saw=said(out, r"ERROR (\d+|at line)") or said(out, r"^ERROR:"),
            after=[*after_state(found),
                   "the canary unread (its access time); no /tmp/dk-restore-leak; its token in "
                   f"no table of the database ({in_db} lines of its dump hold it) and not in the "
                   "tool's output"],
            problems=found + ([] if in_db == "0" else ["the canary's token is in the database"])
            + (["the root-only canary was read"] if read else [])
            + (["the canary's token in the tool's output"] if shown else [])
            + ([] if res.returncode == 1 else [f"exit {res.returncode}"])
            + ([] if dump in out else [f"restored another dump than {dump}"]),
        )  # fmt: skip
    assert found == []
    assert not read, "the root-only canary was read"
    assert in_db == "0"
    assert on(lab, "cpu", "ls /tmp/dk-restore-leak 2>/dev/null || true") == ""
    for case, (dump, res) in runs.items():
        out = res.stdout + res.stderr
        assert dump in out, case  # the planted dump is the one restored
        assert token not in out, case
        assert res.returncode == 1 and "D4 DB 복원 실패" in out, case
