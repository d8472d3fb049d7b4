"""`fab status` and `fab logs`, their pure parts: the one command per host (run here by bash),
what is judged from the answers, the table and the JSON, the journalctl command."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime

import pytest

from tasks.apps import registry
from tasks.engine import lock
from tasks.errors import ConfigError
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.procedures import logs, status
from tests.unit.conftest import SITE, make_host

BACKEND, AI, FRONTEND = registry.get("backend"), registry.get("ai"), registry.get("frontend")
REL_OLD = "20261207_060000_000000_ab12-1111111"
REL_NEW = "20261207_061500_000000_cd34-2222222"
REV_NEW = "2222222" + "a" * 33
MARK = "@@dojangkok-status-test"


def cpu(**kw):
    return make_host(Settings(server_name=SITE, **kw))


def answers(**named) -> dict[str, tuple[bool, str]]:
    return {k: v if isinstance(v, tuple) else (True, v) for k, v in named.items()}


def bluegreen(live: int, other_state: str) -> dict[str, tuple[bool, str]]:
    return answers(
        converted="", current=REL_NEW, info=json.dumps({"revision": REV_NEW}),
        switched=f"2026-12-07T06:16:02+00:00 {REL_NEW}", live=str(live),
        slots=f"@@slot 8081 {other_state} {REL_OLD}\n@@slot 8082 active {REL_NEW}",
        unit=(False, "inactive"), head="9" * 40, version="1.1.0", health="",
        last=json.dumps({"operator": "lee", "time": "2026-12-07T05:00:00+00:00", "kind": "deploy",
                         "result": "failed", "component": "backend"}) + "\n"  # older first
        + json.dumps({"operator": "kim", "time": "2026-12-07T06:16:05+00:00",
                         "kind": "deploy", "result": "ok", "component": "backend"}),
    )  # fmt: skip


# --- one command per host -----------------------------------------------------------------
def test_the_host_command_frames_every_read_by_name_with_its_status():
    """Run by bash as the host runs it: each read's output and exit status, by name; a read
    never eats the next one's input, a last line without newline stays whole."""
    reads = {"a": "echo hi; echo there", "failed": "echo why >&2; exit 3",
             "no-newline": "printf 'x y'", "stdin": "cat", "after": "echo still read"}  # fmt: skip
    cmd = status.host_command(reads, MARK)
    out = subprocess.run(["bash", "-c", cmd], input="not for the reads", capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert status.split_answers(out, MARK) == {
        "a": (True, "hi\nthere"), "failed": (False, "why"), "no-newline": (True, "x y"),
        "stdin": (True, ""), "after": (True, "still read"),
    }  # fmt: skip


def test_a_read_cut_short_is_absent_and_a_forged_mark_without_the_nonce_is_text():
    out = f"{MARK} a 0\n@@dojangkok-status-other b 0\nhalf"
    assert status.split_answers(out, MARK) == {"a": (True, "")}


def test_every_read_of_a_cpu_host_is_named_once_and_the_lock_first():
    reads = status.host_reads(cpu(backend_version_url=f"https://{SITE}/api/version"),
                              [FRONTEND, BACKEND])  # fmt: skip
    assert next(iter(reads)) == status.LOCK
    assert {"backend.live", "backend.slots", "backend.version", "backend.health",
            "backend.last", "frontend.current", "frontend.unit"} <= set(reads)  # fmt: skip
    # the manual strategy reads no releases nor pair: its checkout's HEAD serves
    manual = status.host_reads(cpu(strategy="manual"), [BACKEND])
    assert not {"backend.current", "backend.live"} & set(manual) and "backend.head" in manual


# --- judged from the answers --------------------------------------------------------------
def test_a_warm_window_shows_both_instances_and_the_release_since_its_switch():
    (row,) = status.statuses_of(cpu(), [BACKEND], {
        f"backend.{k}": v for k, v in bluegreen(8082, "active").items()})  # fmt: skip
    assert (row.units, row.port, row.states) == (("dojangkok@8082",), 8082, ("active",))
    assert (row.warm_unit, row.warm_port, row.warm_release) == ("dojangkok@8081", 8081, REL_OLD)
    assert (row.release, row.revision, row.version) == (REL_NEW, REV_NEW, "1.1.0")
    assert row.since == "2026-12-07T06:16:02+00:00" and row.healthy and row.lock is None
    assert row.last.shown.startswith("kim ") and row.last.shown.endswith(" 배포 성공")
    cell = status.units_cell(row)
    assert cell == "dojangkok@8082 :8082 + 대기 dojangkok@8081 :8081"


def test_after_the_retire_one_instance_serves():
    got = bluegreen(8082, "inactive")
    row = status.app_status(cpu(), BACKEND, got, None)
    assert row.units == ("dojangkok@8082",) and not row.warm_unit


def test_a_release_host_not_converted_yet_is_served_by_its_plain_unit():
    got = bluegreen(8080, "inactive") | answers(converted=(False, ""), unit="active")
    row = status.app_status(cpu(), BACKEND, got, None)
    assert (row.units, row.port, row.release) == (("dojangkok",), 8080, "")
    assert row.revision == "9" * 40 and row.strategy == "release 전환 전"


def test_the_ai_pair_serves_only_when_its_live_instance_runs_under_ai_switch_auto():
    gpu = make_host(Settings(server_name=SITE), "gpu", "gpu")
    slots = "@@slot 8001 inactive \n@@slot 8002 inactive "
    got = answers(converted="", current=REL_NEW, live="8001", slots=slots, unit="active")
    assert status.app_status(gpu, AI, got, None).units == ("fastapi",)
    got |= answers(slots="@@slot 8001 active x\n@@slot 8002 inactive ")
    assert status.app_status(gpu, AI, got, None).units == ("fastapi@8001",)


def test_the_lock_and_a_release_whose_switch_is_not_the_last_one():
    info = lock.LockInfo("r1", "lee", "laptop", 1, "deploy", "backend", "abc", "", 1_765_000_000)
    holder = status.lock_of(cpu(), (True, info.to_json()), now=1_765_000_060)
    assert (holder.operator, holder.task, holder.app, holder.stale) == (
        "lee",
        "deploy",
        "backend",
        False,
    )
    assert holder.shown.startswith("잠김: lee ") and holder.shown.endswith("(deploy backend)")
    assert status.lock_of(cpu(), (True, "{}")).shown == "잠김 (정보 없음)"
    assert status.lock_of(cpu(), (True, "")) is None
    assert status.since_of(answers(switched=f"2026-12-07T06:00:00+00:00 {REL_OLD}"), REL_NEW) == ""


def test_what_a_host_sends_is_made_safe_for_the_terminal():
    got = bluegreen(8082, "inactive") | answers(version="1.0\x1b[2J", health=(False, "x\x1b]0;t"))
    row = status.app_status(cpu(), BACKEND, got, None)
    assert "\x1b" not in row.version + row.health_said
    assert "\x1b" not in status.render([row])


# --- shown ------------------------------------------------------------------------------
def test_the_table_says_an_unreachable_host_in_korean_and_shows_the_others():
    host = cpu()
    rows = [*status.unreachable_rows(make_host(alias="gpu", group="gpu"), [AI], "cannot reach gpu"),
            status.app_status(host, BACKEND, bluegreen(8082, "active"), None)]  # fmt: skip
    text = status.render(rows)
    header, rule, gpu_row, cpu_row = text.splitlines()
    assert header.split() == ["호스트", "앱", "리비전", "버전", "릴리스", "(시작)", "유닛", "(포트)",
                              "헬스", "잠금", "마지막", "기록"]  # fmt: skip
    assert gpu_row.split()[:3] == ["gpu", "ai", "연결"]
    assert "호스트에 접속하지 못해 확인하지 못했습니다 (cannot reach gpu)" in gpu_row
    assert cpu_row.split()[:4] == ["cpu", "backend", REV_NEW[:12], "1.1.0"]
    assert " 정상 " in cpu_row and " 없음 " in cpu_row and "배포 성공" in cpu_row
    assert not status.all_well(rows)


def test_the_json_says_the_same():
    rows = [status.app_status(cpu(), BACKEND, bluegreen(8082, "active"), None)]
    (got,) = json.loads(status.to_json(rows))
    assert got["units"] == ["dojangkok@8082"] and got["warm_unit"] == "dojangkok@8081"
    assert got["reachable"] and got["healthy"] and got["lock"] is None
    assert got["last"]["operator"] == "kim" and got["last"]["result"] == "ok"


def test_an_unhealthy_app_says_why():
    got = bluegreen(8082, "inactive") | answers(health=(False, "curl: (7) Failed to connect"))
    row = status.app_status(cpu(), BACKEND, got, None)
    assert status.health_cell(row) == "비정상 curl: (7) Failed to connect"
    assert not status.all_well([row])


# --- fab logs ----------------------------------------------------------------------------
def test_the_options_are_checked_in_korean_before_any_host():
    assert logs.check_options(100, False, "10m", "ERROR") == logs.Options(
        100, False, "-10min", "ERROR"
    )
    assert logs.check_options("5", True, "2026-12-07 06:00", "").since == "2026-12-07 06:00"
    for bad, said in (((0, False, "", ""), "-n 0: 1에서"), (("x", False, "", ""), "-n x"),
                      ((10, False, "yesterday; rm", ""), "--since=yesterday; rm: 알 수 없는 시간"),
                      ((10, False, "", "a\nb"), "--grep: 한 줄")):  # fmt: skip
        with pytest.raises(ConfigError, match=r".*") as exc:
            logs.check_options(*bad)
        assert str(exc.value.problem).startswith(said), exc.value.problem
    with pytest.raises(ConfigError) as exc:
        logs.check_app("backnd")
    assert exc.value.problem == "알 수 없는 앱입니다: backnd"


def test_the_journalctl_command_reads_exactly_the_units_quoted():
    cmd = logs.journal_command(["dojangkok@8081", "dojangkok@8082"],
                               logs.Options(50, True, "-10min", "ERROR|WARN x"))  # fmt: skip
    assert cmd == ("journalctl --no-pager -q -o json -n 50 -u dojangkok@8081 -u dojangkok@8082 "
                   "--since=-10min '--grep=ERROR|WARN x' -f")  # fmt: skip
    assert logs.journal_command(["nginx"], logs.Options()) == (
        "journalctl --no-pager -q -o json -n 100 -u nginx"
    )


def test_the_units_read_are_what_serves_and_following_a_pair_both_instances():
    host = cpu()
    warm, retired = bluegreen(8082, "active"), bluegreen(8082, "inactive")
    assert logs.units_of(host, BACKEND, warm, follow=False) == ["dojangkok@8082", "dojangkok@8081"]
    assert logs.units_of(host, BACKEND, retired, follow=False) == ["dojangkok@8082"]
    assert logs.units_of(host, BACKEND, retired, follow=True) == [
        "dojangkok@8081",
        "dojangkok@8082",
    ]
    assert logs.units_of(host, FRONTEND, answers(converted="", current=REL_NEW), True) == ["nginx"]
    manual = cpu(strategy="manual")
    assert logs.units_of(manual, BACKEND, {}, follow=True) == ["dojangkok"]


def test_a_journal_entry_is_labelled_with_its_unit_and_made_safe():
    entry = {"__REALTIME_TIMESTAMP": "1765087200000000", "_SYSTEMD_UNIT": "dojangkok@8082.service",
             "MESSAGE": "Started DojangkokApplication v1.1.0\x1b[2J"}  # fmt: skip
    line = logs.parse_entry(json.dumps(entry), "cpu", "backend")
    assert (line.unit, line.when) == ("dojangkok@8082", 1765087200.0) and "\x1b" not in line.text
    at = datetime.fromtimestamp(1765087200).strftime("%m-%d %H:%M:%S")
    assert line.shown(prefix=True) == f"{at} cpu/backend [dojangkok@8082] {line.text}"
    # systemd's own line about the unit; a message that is not UTF-8 (bytes)
    started = {"_SYSTEMD_UNIT": "init.scope", "UNIT": "dojangkok@8081.service",
               "MESSAGE": list(b"Stopped \xff")}  # fmt: skip
    line = logs.parse_entry(json.dumps(started), "cpu", "backend")
    assert (line.unit, line.text, line.when) == ("dojangkok@8081", "Stopped \ufffd", 0.0)
    assert logs.parse_entry("-- No entries --", "cpu", "backend") is None


def test_chunks_become_whole_lines():
    got = []
    lines = logs.Lines(got.append)
    for chunk in ('{"a"', ': 1}\n{"b": 2}\n{"c"', ": 3}"):
        lines.feed(chunk)
    lines.close()
    assert got == ['{"a": 1}', '{"b": 2}', '{"c": 3}']


class _JournalHost:
    """A host as `fab logs` sees it: the serving reads answered with nothing (the manual
    strategy's units then), the journal with ``entries`` (unit, epoch seconds, message)."""

    def __init__(self, entries):
        self.entries, self.closed = entries, False

    def run(self, command, sudo=False, *, stop=None, on_output=None, timeout=None, until=None):
        from tasks.hosts.remote import Result

        if not command.startswith("journalctl "):
            return Result(True, 0, "", "")
        out = "".join(json.dumps({"__REALTIME_TIMESTAMP": str(int(t * 1e6)), "MESSAGE": m,
                                  "_SYSTEMD_UNIT": f"{u}.service"}) + "\n"
                      for u, t, m in self.entries)  # fmt: skip
        return Result(True, 0, out, "")

    def close(self):
        self.closed = True


def test_every_host_s_lines_merged_by_time_the_newest_n_of_all_and_a_down_host_said():
    manual = Settings(server_name=SITE, strategy="manual")
    hosts = [make_host(manual), make_host(manual, "gpu", "gpu"), make_host(manual, "gpu2", "gpu")]
    answers = {"cpu": _JournalHost([("dojangkok", 1, "b1"), ("nginx", 3, "n3"),
                                    ("dojangkok", 5, "b5")]),
               "gpu": _JournalHost([("fastapi", 2, "a2"), ("fastapi", 4, "a4")])}  # fmt: skip

    def connect(host, secrets, label=""):
        if host.alias not in answers:
            raise ConfigError(f"cannot reach {host.alias}")
        return answers[host.alias]

    out, err = [], []
    read = logs.show(hosts, None, Secrets({}), logs.Options(lines=3), connect=connect,
                     out=out.append, err=err.append)  # fmt: skip
    assert [line.split(" ", 2)[2] for line in out] == [
        "cpu/frontend [nginx] n3",
        "gpu/ai [fastapi] a4", "cpu/backend [dojangkok] b5"]  # fmt: skip
    assert not read and all(r.closed for r in answers.values())
    assert "! gpu2: 호스트에 접속하지 못해 로그를 읽지 못했습니다 (cannot reach gpu2)" in err
    assert "# cpu/backend: dojangkok의 저널" in err
