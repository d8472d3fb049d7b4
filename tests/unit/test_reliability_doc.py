"""docs/reliability.md lists every fault of the suite, from a real run (tests/lab/reliability.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.lab.faults import FAULTS
from tests.lab.reliability import DOC, WHERE, missing, render

ROOT = Path(__file__).resolve().parents[2]


def test_the_doc_has_one_row_per_fault_in_order():
    rows = re.findall(r"^\| (\d+) \| (.+?) \| ", DOC.read_text(), re.M)
    assert [(int(n), t) for n, t in rows] == [(n, t.replace("|", "\\|")) for n, t in FAULTS.items()]
    assert len(FAULTS) == 15


def test_no_row_of_the_doc_says_broken():
    assert "BROKEN" not in DOC.read_text()


def test_every_fault_says_where_it_is_put_in_and_that_test_exists():
    assert set(WHERE) == set(FAULTS)
    for where in WHERE.values():
        for ref in where.split("; "):
            path, name = ref.split("::")
            name = name.split("[")[0]
            assert f"def {name}(" in (ROOT / "tests" / path).read_text(), ref


def test_the_doc_refuses_a_fault_without_a_result():
    rows = [{"fault": n, "case": "c", "did": "d", "saw": "s", "after": "a", "ok": True,
             "problems": []} for n in FAULTS if n != 7]  # fmt: skip
    assert missing(rows) == [7]
    text = render(rows)
    assert "| 7 | two deploys at once |  |  |  |" in text
