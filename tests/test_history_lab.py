"""The operator's day on the lab's real hosts: two operators' machines (two local histories)
see each other's deploys in `fab history`, and `fab health` goes past a stopped host,
recording nothing.

One test, one served lab (`reset(setup=True)`): two deploys of the manual strategy (the
cached setup's), the histories, then the gpu machine stopped (the host gone, as a crashed
server: `Lab.host_stopped`) for `fab health` and `fab history`, then gpu booted again.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.lab import fabrun
from tests.lab.fabrun import MANUAL, SMOKE_NOTES_URL, on, polling
from tests.lab.faults import records

pytestmark = pytest.mark.lab

HOST_HISTORY = "/var/lib/dojangkok-deploy/history.jsonl"


def test_two_operators_see_each_other_and_health_goes_past_a_stopped_host(
    served_lab, tmp_path, monkeypatch
):
    lab = served_lab
    inv = lab.write_inventory(tmp_path / "hosts.ini", MANUAL + polling(20) + SMOKE_NOTES_URL)
    kim, lee = tmp_path / "kim", tmp_path / "lee"  # each machine's DOJANGKOK_HISTORY
    for work, name, args in (
        (kim, "kim", ("-H", "cpu", "deploy-frontend", "--message=김 배포: 메인 문구")),
        (lee, "lee", ("-H", "gpu", "deploy-ai", "--message=이 배포: 모델 교체")),
    ):
        work.mkdir()
        monkeypatch.setenv("DOJANGKOK_OPERATOR", name)
        res = fabrun.fab(lab, work, *args, "--yes", inv=inv)
        assert res.returncode == 0, res.stderr
    # each machine keeps its own run only ...
    assert [r["operator"] for r in records(kim / "history.jsonl")] == ["kim"]
    assert [r["operator"] for r in records(lee / "history.jsonl")] == ["lee"]
    # ... and each sees both, from the hosts, once each, the newest first
    for work in (kim, lee):
        res = fabrun.fab(lab, work, "history", "--json", inv=inv)
        assert res.returncode == 0, res.stderr
        deploys = [r for r in json.loads(res.stdout) if r["kind"] == "deploy"]
        assert [(r["operator"], r["component"], r["operator_message"], r["result"])
                for r in deploys] == [("lee", "ai", "이 배포: 모델 교체", "ok"),
                                      ("kim", "frontend", "김 배포: 메인 문구", "ok")]  # fmt: skip
    table = fabrun.fab(lab, kim, "history", "--limit=2", inv=inv).stdout
    rows = [line for line in table.splitlines() if " lee " in line or " kim " in line]
    assert len(rows) == 2 and all(" 성공 " in r for r in rows), table
    assert "이 배포: 모델 교체" in rows[0] and re.search(r" (\d+분 )?\d+(\.\d)?초 ", rows[0]), table

    # the gpu machine stopped: health says so, checks cpu and the site, records nothing
    kept = {p: p.read_text() for p in (kim / "history.jsonl", lee / "history.jsonl")}
    cpu_history = on(lab, "cpu", f"cat {HOST_HISTORY}")
    with lab.host_stopped("gpu"):
        res = fabrun.fab(lab, kim, "health", inv=inv)
        assert res.returncode == 1, res.stdout
        shown = {tuple(line.split()[:3]) for line in res.stdout.splitlines()}
        assert {("cpu", "frontend", "정상"), ("cpu", "backend", "정상"),
                ("gpu", "ai", "연결")} <= shown, res.stdout  # fmt: skip
        assert "호스트에 접속하지 못해 확인하지 못했습니다 (gpu에 연결하지 못했습니다" in res.stdout
        assert re.search(
            r"cpu +site \(이 컴퓨터에서\) +정상 +https://\S+ +인증서 \d+일 남음", res.stdout
        )
        assert "Traceback" not in res.stdout + res.stderr
        assert {p: p.read_text() for p in kept} == kept  # no "refused" record, nor any
        assert on(lab, "cpu", f"cat {HOST_HISTORY}") == cpu_history
        # the team history without gpu: said in one line, the rest shown
        res = fabrun.fab(lab, kim, "history", "--app=frontend", inv=inv)
        assert res.returncode == 0, res.stderr
        (said,) = [line for line in res.stdout.splitlines() if line.startswith("! ")]
        assert said.startswith("! gpu: 호스트에 연결하지 못해 그 호스트의 기록은 빠졌습니다")
        assert "김 배포: 메인 문구" in res.stdout and "lee" not in res.stdout
