"""The attacker lab tests' results: what a compromised deploy login tried, what came of it.

Issue 17's attacks (``ATTACKS``) are each played on the lab, as the deploy login, by a test
(``WHERE``). After its `fab` runs the test checks, as root on the host and independently of
the tool, that the attack gained nothing, and calls :func:`record` with what it saw: a row
(attack, case, what the deploy login did, what the tool did, what the operator saw, the
state after) in the results file (``DOJANGKOK_ATTACK_RESULTS``, default
.lab/attack-results.jsonl), from which ``python -m tests.lab.reliability`` writes the
"compromised deploy login" section of docs/reliability.md. The row is written before the
test asserts, so a broken defence shows in the document as BROKEN; a row never holds a
secret (checked against the lab's .env before it is written).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.lab import faults, leaks

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("DOJANGKOK_ATTACK_RESULTS", ROOT / ".lab" / "attack-results.jsonl"))

#: issue 17's attacks, in the order docs/reliability.md lists them
ATTACKS = {
    1: "a watcher rewrites every file the moment it appears, during `fab setup`",
    2: "the same watcher during `fab push-config`",
    3: "links planted where setup's root steps and a conversion act",
    4: "the env file systemd reads pointed at a root-only file",
    5: "a forced conversion, links at the release directories and a writable path",
    6: "a watcher during `fab backup-db` and `fab restore-db`",
    7: "a planted dump that an operator restores",
    8: "the host's checkout names another origin for a local build",
}

#: the test that plays each attack
WHERE = {
    1: "test_staged_files_lab.py::test_a_watcher_as_the_deploy_login_gets_nothing_from_setup_nor_push_config",
    2: "test_staged_files_lab.py::test_a_watcher_as_the_deploy_login_gets_nothing_from_setup_nor_push_config",
    3: "test_attacker_lab.py::test_links_planted_for_setup_and_its_conversion_gain_nothing",
    4: "test_attacker_lab.py::test_the_env_file_systemd_reads_cannot_be_pointed_elsewhere",
    5: "test_attacker_lab.py::test_a_forced_conversion_and_planted_release_and_writable_paths_gain_nothing",
    6: "test_attacker_lab.py::test_backups_never_hand_the_deploy_login_the_database_admin_password",
    7: "test_attacker_lab.py::test_a_planted_dump_runs_nothing_as_root_when_restored",
    8: "test_build_lab.py::test_a_checkout_naming_another_origin_is_refused_naming_both",
}  # fmt: skip


def outcome(code: int, output: str) -> str:
    """What the tool did, from its exit status and output: the step it stopped at, if any."""
    if code == 0:
        return "exit 0 (finished)"
    step = re.search(r"^ERROR: ([A-Z]{1,3}[0-9]+[a-z]?) ", output, re.M)
    if step:
        return f"exit {code}, stopped at {step.group(1)}"
    return f"exit {code}" + (", refused before any step ran" if "ERROR:" in output else "")


def record(lab, number: int, case: str, *, did: str, tool: str, saw: str, after: list[str],
           problems: list[str]) -> dict:  # fmt: skip
    """Save the row (replacing an older one of the same attack and case); its ``problems``
    are what the attack gained (empty: nothing)."""
    assert number in ATTACKS, number
    row = {
        "attack": number,
        "title": ATTACKS[number],
        "case": case,
        "did": did,
        "tool": tool,
        "saw": saw,
        "after": "; ".join(after),
        "ok": not problems,
        "problems": problems,
    }
    hits = leaks.leaks(leaks.secrets_of(lab), {"the attack results row": json.dumps(row)})
    assert not hits, hits
    faults.save(row, RESULTS, ("attack", "case"))
    return row


def load() -> list[dict]:
    return faults.load(RESULTS)
