"""docs/reliability.md lists every fault of the suite and every attack of the attacker lab
tests, from a real run (tests/lab/reliability.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.lab import attacks
from tests.lab.faults import FAULTS
from tests.lab.reliability import (
    ATTACK_MARK,
    DOC,
    WHERE,
    fault_part,
    missing,
    missing_attacks,
    render,
    render_attacks,
    render_faults,
)

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (\d+) \| (.+?) \| ", re.M)


def attack_part(doc: str) -> str:
    return doc.split("\n" + ATTACK_MARK + "\n", 1)[1]


def test_the_doc_has_one_row_per_fault_in_order():
    rows = ROW.findall(fault_part(DOC.read_text()))
    assert [(int(n), t) for n, t in rows] == [(n, t.replace("|", "\\|")) for n, t in FAULTS.items()]
    assert len(FAULTS) == 15


def test_the_doc_has_one_row_per_attack_in_order_each_with_a_result():
    rows = ROW.findall(attack_part(DOC.read_text()))
    assert [(int(n), t) for n, t in rows] == list(attacks.ATTACKS.items())
    for line in attack_part(DOC.read_text()).splitlines():
        if ROW.match(line):
            assert "|  |" not in line, line  # every column filled: a result from a run


def test_no_row_of_the_doc_says_broken():
    assert "BROKEN" not in DOC.read_text()


def _exists(ref: str) -> bool:
    path, name = ref.split("::")
    return f"def {name.split('[')[0]}(" in (ROOT / "tests" / path).read_text()


def test_every_fault_and_attack_says_where_it_is_put_in_and_that_test_exists():
    assert set(WHERE) == set(FAULTS)
    assert set(attacks.WHERE) == set(attacks.ATTACKS)
    for where in [*WHERE.values(), *attacks.WHERE.values()]:
        for ref in where.split("; "):
            assert _exists(ref), ref


def test_the_doc_refuses_a_fault_without_a_result():
    rows = [{"fault": n, "case": "c", "did": "d", "saw": "s", "after": "a", "ok": True,
             "problems": []} for n in FAULTS if n != 7]  # fmt: skip
    assert missing(rows) == [7]
    text = render(rows, [])
    assert "| 7 | two deploys at once |  |  |  |" in text


def test_an_attack_without_a_result_or_with_a_gain_is_missing_and_shown_broken():
    rows = [{"attack": n, "case": "c", "did": "d", "tool": "t", "saw": "s", "after": "a",
             "ok": n != 3, "problems": [] if n != 3 else ["root"]} for n in attacks.ATTACKS
            if n != 5]  # fmt: skip
    assert missing_attacks(rows) == [3, 5]
    text = render_attacks(rows)
    assert f"| 5 | {attacks.ATTACKS[5]} |  |  |  |  |" in text
    assert "a — BROKEN: root" in text


def test_refreshing_the_attacks_alone_keeps_the_fault_part_as_it_stands():
    faults = [{"fault": n, "case": "c", "did": "d", "saw": "s", "after": "a", "ok": True,
               "problems": []} for n in FAULTS]  # fmt: skip
    doc = render(faults, [])
    assert fault_part(doc) == render_faults(faults)
    assert fault_part(render_faults(faults)) == render_faults(faults)  # a doc without attacks yet
    assert fault_part(DOC.read_text()).startswith("# Reliability: the fault suite's results")


def test_the_readme_s_least_privilege_claims_point_at_tests_that_exist():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Least privilege**", 1)[1].split("\n\n**", 1)[0]
    refs = re.findall(r"`(test_\w+\.py::test_\w+)`", section)
    assert len(refs) >= 3, refs  # what the deploy login may do
    # what it cannot: each attack's test, in the document the section points at
    assert "docs/reliability.md" in section and "A compromised deploy login" in section
    attacks = DOC.read_text().split("### Where each attack is played", 1)[1]
    played = re.findall(r"`tests/(test_\w+\.py::test_\w+)`", attacks)
    assert len(set(played)) >= 5, played
    refs += played
    for ref in refs:
        assert _exists(ref), ref
