"""A step's result detail keeps its whole change line (up to a limit) and marks a cut."""

from __future__ import annotations

import pytest

from tasks.engine import hostrun, terminal


@pytest.mark.parametrize("detail", [terminal.detail, hostrun.detail])
def test_a_long_change_line_is_kept_whole(detail):
    line = "변경: /etc/systemd/system/dojangkok-switch@.service, table ip dojangkok_switch_backend: → 8081, enabled dojangkok-switch@backend.service, /etc/nginx/dojangkok-upstream.conf (nginx 리로드)"  # noqa: E501
    assert detail(f"noise\n{line}\n") == line


@pytest.mark.parametrize("detail", [terminal.detail, hostrun.detail])
def test_a_cut_is_marked_and_empty_output_is_empty(detail):
    cut = detail("x" * 1000)
    assert len(cut) == terminal.DETAIL_LIMIT and cut.endswith("…")
    assert detail("  \n") == ""


def test_both_executors_cut_at_the_same_length():
    assert hostrun.DETAIL_LIMIT == terminal.DETAIL_LIMIT
