"""The fault suite's shared checker: what every fault must end with, and its row in the results.

The issue's 15 faults (``FAULTS``) are each put into the lab by a test (new ones in
tests/test_faults_lab.py, the others where the lab tests already had them). Each test wraps
its `fab` run in ``Fault(lab, number, case, history)`` and calls ``check`` after it, which
asserts the five invariants:

1. a non-zero exit and a message naming the cause and the next step (``ERROR: ...`` and its
   ``→ ...`` line, or the lines the test names);
2. the service serving (every sample app answers: old or new version), the outage seen by an
   outside prober (the backend through nginx, every 200 ms) at most ``max_down`` seconds;
3. every database row written before the run still there (a sentinel row, written first);
4. no deploy lock left on a host unless the output reports it (names ``unlock``);
5. a record of the run in the local history saying what happened (its result).

and appends a row (fault, case, what the tool did, what the operator saw, the state after)
to the results file (``DOJANGKOK_FAULT_RESULTS``, default .lab/fault-results.jsonl), from
which ``python -m tests.lab.reliability`` writes docs/reliability.md. A row never holds a
secret: it is checked against the lab's .env before it is written.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

from tests.lab import leaks
from tests.lab.probe import Prober
from tests.lab.site import site

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("DOJANGKOK_FAULT_RESULTS", ROOT / ".lab" / "fault-results.jsonl"))
LOCK = "/var/lib/dojangkok-deploy/deploy.lock"

#: the issue's faults (issue 9), in its order
FAULTS = {
    1: "build fails",
    2: "start fails",
    3: "never healthy",
    4: "backup fails (wrong password; backup filesystem full)",
    5: "disk full during the build",
    6: "SSH cut at each step boundary in turn",
    7: "two deploys at once",
    8: "a config that fails `nginx -t`",
    9: "local edits in the host's checkout",
    10: "`.env` missing a key",
    11: "host unreachable or host key changed",
    12: "Discord webhook down or slow",
    13: "Ctrl-C mid-deploy",
    14: "push-config on a host that `setup` never prepared",
    15: "a hostile `--to`",
}

#: the manual backend deploy's steps, in order: the SSH cut goes before each in turn
BOUNDARIES = ["L3", "B0", "B1", "B2", "B3", "B4", "B5", "B6", "B6a", "B6b", "B7", "B8", "B9",
              "B10", "B11", "B12"]  # fmt: skip


def _db(lab, sql: str):
    return lab.run("cpu", f"mariadb -N -B dojangkok -e {json.dumps(sql)}", timeout=60)


def write_sentinel(lab) -> str:
    mark = f"fault-sentinel-{uuid.uuid4().hex[:12]}"
    res = _db(
        lab,
        "CREATE TABLE IF NOT EXISTS notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "text VARCHAR(1000) NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP); "
        f"INSERT INTO notes (text) VALUES ('{mark}')",
    )
    assert res.returncode == 0, f"sentinel row not written: {res.stderr[-500:]}"
    return mark


def sentinel_present(lab, mark: str) -> bool:
    res = _db(lab, f"SELECT COUNT(*) FROM notes WHERE text = '{mark}'")
    return res.returncode == 0 and res.stdout.strip() == "1"


def locks_held(lab, hosts=("cpu", "gpu")) -> list[str]:
    return [h for h in hosts if lab.run(h, f"test -d {LOCK}", timeout=30).returncode == 0]


def records(history: Path) -> list[dict]:
    if not history.exists():
        return []
    return [json.loads(x) for x in history.read_text().splitlines() if x.strip()]


def key_lines(text: str) -> str:
    """What the operator reads last: the ``ERROR:`` line and its ``→`` (next step) line."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("ERROR:"):
            out = [line]
            out += [ln.strip() for ln in lines[i + 1 : i + 4] if ln.strip().startswith("→")]
            return " / ".join(out)
    return ""


def served_versions(lab, timeout: float = 60) -> dict[str, str] | None:
    from tests import conftest

    try:
        return conftest.served(lab, timeout)
    except Exception:  # noqa: BLE001 - not serving is a finding, reported by check
        return None


class Fault:
    """One fault put into the lab; ``check`` asserts the invariants and records the row."""

    def __init__(self, lab, number: int, case: str, history: Path, *, db: bool = True,
                 probe: bool = True):  # fmt: skip
        assert number in FAULTS, number
        self.lab, self.number, self.case, self.history = lab, number, case, Path(history)
        self.db, self.probe = db, probe
        self.prober: Prober | None = None

    def __enter__(self) -> Fault:
        self.mark = write_sentinel(self.lab) if self.db else ""
        self.records_before = len(records(self.history))
        self.started = time.monotonic()
        if self.probe:
            url, ca = site(self.lab, "/api/version")
            self.prober = Prober(url, every=0.2, verify=ca)
            self.prober.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.prober is not None and self.prober.is_alive():
            self.prober.__exit__()

    def check(self, code: int, output: str, *, cause: str, next_step: str = "→",
              did: str = "", max_down: float = 0.0, exit_zero_ok: bool = False,
              serving: bool = True, saw: str = "") -> dict:  # fmt: skip
        """Assert the five invariants; ``cause``/``next_step``: text the output must hold
        (a regex each); ``max_down``: the longest outage allowed (the manual strategy stops
        the backend for its build); ``exit_zero_ok``: a fault the tool rides out (a notice
        that failed) may end with 0, its warning still naming the cause."""
        if self.prober is not None:
            self.prober.__exit__()
        lab = self.lab
        took = time.monotonic() - self.started
        problems = []
        # 1. exit and message
        if code == 0 and not exit_zero_ok:
            problems.append(f"exit status 0 (want non-zero) for {self.case}")
        if not re.search(cause, output):
            problems.append(f"the output does not name the cause ({cause!r})")
        if not re.search(next_step, output):
            problems.append(f"the output does not name the next step ({next_step!r})")
        # 2. serving, and the longest outage
        versions = served_versions(lab) if serving else None
        if serving and versions is None:
            problems.append("the apps are not all serving after the fault")
        outage = self.prober.longest_outage() if self.prober is not None else 0.0
        if outage > max_down:
            problems.append(f"the backend was down {outage:.1f}s (allowed {max_down:.0f}s)")
        # 3. the rows written before
        rows_kept = sentinel_present(lab, self.mark) if self.db else None
        if self.db and not rows_kept:
            problems.append("the sentinel row written before the run is gone")
        # 4. locks
        held = locks_held(lab)
        if held and "unlock" not in output:
            problems.append(f"deploy lock left on {held} and not reported")
        # 5. the record
        new = records(self.history)[self.records_before :]
        if not new:
            problems.append(f"no record of the run in {self.history.name}")
        record = new[-1] if new else {}
        result = record.get("result", "-")
        if code != 0 and result == "ok":
            problems.append("the record says ok for a run that failed")

        rolled = " and rolled back" if record.get("rolled_back") and "roll" not in result else ""
        stopped = [f"{s.get('section', '')}{s.get('number', '')}" for s in record.get("steps", [])
                   if s.get("status") in ("failed", "interrupted")]  # fmt: skip
        at = f" at {stopped[0]}" if stopped else ""
        row = {
            "fault": self.number,
            "title": FAULTS[self.number],
            "case": self.case,
            "did": did or f"{result}{at}{rolled}",
            "saw": saw or key_lines(output) or _first_match(output, cause),
            "after": (
                f"exit {code}; "
                + (f"serving {_versions(versions)}" if versions else "not serving")
                + f"; longest outage {outage:.1f}s"
                + ("; sentinel row kept" if rows_kept else "" if not self.db else "; ROW LOST")
                + (f"; lock held on {', '.join(held)} (reported)" if held else "; no lock left")
                + f"; record: {result}"
            ),
            "seconds": round(took, 1),
            "ok": not problems,
            "problems": problems,
        }
        secret_hits = leaks.leaks(leaks.secrets_of(lab), {"the results row": json.dumps(row)})
        assert not secret_hits, secret_hits
        save(row)
        assert not problems, problems
        return row


def _versions(v: dict[str, str]) -> str:
    return ", ".join(f"{k} {x}" for k, x in v.items())


def _first_match(text: str, pattern: str) -> str:
    for line in text.splitlines():
        if re.search(pattern, line):
            return line.strip().lstrip("|!").strip()[:300]
    return ""


def save(row: dict, results: Path | None = None, key: tuple[str, ...] = ("fault", "case")) -> None:
    """Append the row to ``results`` (default: the fault results), replacing an older one
    with the same ``key`` fields (a fault and its case)."""
    results = results or RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    rows = [r for r in load(results) if tuple(r[k] for k in key) != tuple(row[k] for k in key)]
    rows.append(row)
    tmp = results.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(results)


def load(results: Path | None = None) -> list[dict]:
    results = results or RESULTS
    if not results.exists():
        return []
    return [json.loads(x) for x in results.read_text().splitlines() if x.strip()]
