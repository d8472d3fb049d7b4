"""The machine's lab lock is re-entrant: under `flock LOCK make test` the Makefile's
`scripts/lab-lock` and pytest's own hold (tests/lab/lock.py) must not wait for themselves,
and without a holder they take it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABLOCK = str(ROOT / "scripts" / "lab-lock")
HELD = (
    "import sys; from pathlib import Path; sys.path.insert(0, {root!r}); "
    "from tests.lab.lock import held_by_us; print(held_by_us(Path({lock!r})))"
)


def run(argv, lock: Path, timeout: float = 10) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOJANGKOK_LAB_LOCK": str(lock)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def held(lock: Path, *wrap: str) -> str:
    code = HELD.format(root=str(ROOT), lock=str(lock))
    return run([*wrap, sys.executable, "-c", code], lock).stdout.strip()


def test_held_by_an_ancestor_or_not(tmp_path):
    lock = tmp_path / "lab.lock"
    lock.touch()
    assert held(lock) == "False"
    assert held(lock, "flock", str(lock)) == "True"  # the inherited descriptor
    assert held(lock, "flock", "-o", str(lock)) == "True"  # no descriptor: /proc/locks


def test_lab_lock_inside_flock_does_not_wait_for_itself(tmp_path):
    lock = tmp_path / "lab.lock"
    res = run(["flock", str(lock), LABLOCK, LABLOCK, "echo", "inside"], lock)
    assert res.returncode == 0 and res.stdout.strip() == "inside"


def test_lab_lock_takes_the_lock_and_waits_for_another_holder(tmp_path):
    lock = tmp_path / "lab.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "2"])
    try:
        subprocess.run(["sleep", "0.3"])
        res = run([LABLOCK, "sh", "-c", f"flock -n {lock} true && echo free || echo mine"], lock)
        assert "waiting for the lab lock" in res.stderr
        assert res.stdout.strip() == "mine"  # ran only once the holder was done, holding it
    finally:
        holder.wait()
