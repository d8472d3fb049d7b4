"""A step's result detail keeps its whole change line (up to a limit) and marks a cut; both
executors (the in-process runner and the on-host hostrun.py) use the one in policy.py."""

from __future__ import annotations

from tasks.onhost import hostrun, policy

LINE = "변경: /etc/systemd/system/dojangkok-switch@.service, table ip dojangkok_switch_backend: → 8081, enabled dojangkok-switch@backend.service, /etc/nginx/dojangkok-upstream.conf (nginx 리로드)"  # noqa: E501


def test_a_long_change_line_is_kept_whole():
    assert policy.detail(f"noise\n{LINE}\n") == LINE


def test_a_cut_is_marked_and_empty_output_is_empty():
    cut = policy.detail("x" * 1000)
    assert len(cut) == policy.DETAIL_LIMIT and cut.endswith("…")
    assert policy.detail("  \n") == ""


def test_the_host_executor_uses_the_same_rule():
    assert hostrun.rules.detail(f"noise\n{LINE}\n") == LINE
