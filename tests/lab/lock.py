"""The machine's lab lock (/tmp/dojangkok-lab.lock): one user of the lab at a time.

The lab is one per machine (a bridge, two machine names, one address range), shared by every
checkout, so lab up/reset/down, the lab tests and `make demo` take turns, each holding the
lock for its whole run: `scripts/lab-lock <command>` (the Makefile uses it) or `flock
/tmp/dojangkok-lab.lock <command>`. A pytest run that was not started under the lock takes
it itself (tests/conftest.py), re-entrantly: under `flock ... pytest` it does not wait for
itself.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

LOCK = Path(os.environ.get("DOJANGKOK_LAB_LOCK", "/tmp/dojangkok-lab.lock"))


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def held_by_us(lock: Path = LOCK) -> bool:
    """Whether this process already runs under the lock (an inherited descriptor on the lock
    file, or a holder in /proc/locks that is one of our ancestors)."""
    target = str(lock)
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                return True
        except OSError:
            continue
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return False
    mine = _ancestors()
    for line in Path("/proc/locks").read_text().splitlines():
        f = line.split()
        same = len(f) >= 6 and f[1] == "FLOCK" and f[5].rsplit(":", 1)[-1] == str(inode)
        if same and int(f[4]) in mine:
            return True
    return False


class LabLock:
    """Hold the lab lock until :meth:`release` (a no-op when an ancestor holds it)."""

    def __init__(self, lock: Path = LOCK, log=None):
        self.fh = None
        if held_by_us(lock):
            return
        self.fh = open(lock, "a")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            (log or (lambda m: print(m, file=sys.stderr)))(
                f"waiting for the lab lock {lock} (another checkout is using the lab) ..."
            )
            fcntl.flock(self.fh, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
