"""The deploy hooks' steps (tasks/strategies/hooks.py) and the Discord notices' text
(tasks/engine/notify.py, tasks/apps/notices.py): pure parts, no host."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pytest

from tasks.apps import notices
from tasks.apps.registry import ORDER
from tasks.engine import notify
from tasks.engine.report import StepReport
from tasks.hosts.settings import Settings
from tasks.localbuild import checkout
from tasks.onhost.policy import Policy
from tasks.strategies import hooks
from tasks.strategies.release import layout as release
from tasks.strategies.release.flow import example_plans

from .conftest import FROM, SITE, TO, make_session, make_view

#: a hook an operator may write: quotes, a substitution, a variable, a pipe
HOSTILE = """printf '%s|' "it's" "$(echo sub)" "$DOJANGKOK_APP" | tee -a out.txt; echo "$PWD" >> out.txt"""


def hooked(tmp_path, **hooks_set) -> Settings:
    return Settings(server_name=SITE, releases_root=str(tmp_path), **hooks_set)


# --- the hook step's command --------------------------------------------------------------
def test_the_hook_runs_in_the_release_with_the_run_facts_and_its_text_quoted_once(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DOJANGKOK_ENVIRONMENT", "staging")
    monkeypatch.setenv("DOJANGKOK_OPERATOR", "김운영")
    v = make_view(settings=hooked(tmp_path, backend_before_switch=HOSTILE))
    rel = release.path(v)
    subprocess.run(["mkdir", "-p", rel], check=True)
    text = hooks.command(v, hooks.BEFORE)
    assert text.startswith(f"cd -- {rel} && DOJANGKOK_APP=backend DOJANGKOK_REVISION={TO} ")
    assert text.endswith(" bash -c " + hooks.q(HOSTILE))
    # run as shown: the hook sees exactly its own text, in the release, with the variables
    done = subprocess.run(
        ["bash", "-c", text], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "backend" / "releases" / release.name(v) / "out.txt").read_text()
    assert out == f"it's|sub|backend|{rel}\n"
    facts = dict(hooks.env(v))
    assert facts == {"DOJANGKOK_APP": "backend", "DOJANGKOK_REVISION": TO,
                     "DOJANGKOK_RELEASE": release.name(v), "DOJANGKOK_ENVIRONMENT": "staging",
                     "DOJANGKOK_OPERATOR": "김운영"}  # fmt: skip


def test_a_hook_with_no_command_is_a_skipped_step_and_a_set_one_runs(tmp_path):
    empty = make_view(settings=hooked(tmp_path))
    step = hooks.before_step("backend")
    assert "backend_before_switch" in step.skip_if(empty)
    assert step.skip_if(make_view(settings=hooked(tmp_path, backend_before_switch="true"))) is None


def test_the_policies_say_what_a_failure_does():
    assert hooks.before_step("ai").policy is Policy.ABORT  # nothing has switched yet
    assert hooks.after_step("ai").policy is Policy.WARN  # the new version passed its checks
    assert hooks.failure_step("ai").policy is Policy.WARN  # never hides the deploy's failure


@pytest.mark.parametrize("app", ORDER, ids=lambda a: a.name)
def test_every_app_s_release_plans_carry_the_three_hooks_where_they_belong(app, tmp_path):
    s = Settings(server_name=SITE, **{f"{app.name}_{w}": f"echo {w}" for w in
                                      (hooks.BEFORE, hooks.AFTER, hooks.FAILURE)})  # fmt: skip
    view = make_view(app.name, settings=s, strategy="release", dry_run=True)
    build, switch, back = example_plans(app, view)[:3]
    assert build.steps[-1].number == "X1"  # the build's last step: before anything switches
    assert switch.steps[-1].number == "X2"  # after the switch and its checks
    assert back.steps[-1].number == "X3"  # the host's answer to a failed switch, at its end
    assert f"bash -c 'echo {hooks.BEFORE}'" in build.steps[-1].render(view)
    for plan in (build, switch, back):  # once each, nowhere else
        assert sum(st.number.startswith("X") for st in plan.steps) == 1


# --- the notices' text --------------------------------------------------------------------
def test_a_done_notice_names_who_what_where_the_commits_and_the_time():
    facts = notify.Facts(
        host="cpu", operator="김운영", environment="prod", message="로그인 버그\n수정",
        from_rev=FROM, to_rev=TO, commit_count=7,
        commits=tuple(f"abc{k:04d} 고침 {k}" for k in range(5)), seconds=183,
    )  # fmt: skip
    assert notify.compose("배포 완료", facts).splitlines() == [
        "배포 완료",
        "- 대상: cpu · 환경: prod",
        "- 운영자: 김운영",
        "- 메시지: 로그인 버그 수정",
        f"- 리비전: {FROM[:7]} → {TO[:7]} (커밋 7개)",
        *(f"  · abc{k:04d} 고침 {k}" for k in range(5)),
        "  · 외 2개",
        "- 소요: 3분 3초",
    ]


def test_a_failure_notice_says_the_step_and_the_way_back():
    facts = notify.Facts(host="cpu", operator="lee", failed_step="B10 헬스체크 실패",
                         way_back=notify.way_back("cpu", "backend", "manual", "release", "staging"))  # fmt: skip
    lines = notify.compose("❌ 백엔드 배포 실패", facts).splitlines()
    assert lines[-2:] == [
        "- 실패 단계: B10 헬스체크 실패",
        "- 되돌리기: fab --env staging -H cpu rollback-backend --strategy=manual",
    ]
    assert "환경" not in "\n".join(lines)  # no environment: not said


def test_commits_are_read_only_between_two_real_revisions_and_parsed():
    git = "git -C /app/backend"
    assert notify.commits_command(git, "<배포 전 리비전>", TO) is None
    assert notify.commits_command(git, TO, TO) is None
    command = notify.commits_command(git, FROM, TO)
    assert f"rev-list --count --end-of-options {FROM}..{TO} && " in command
    assert "log -n 5" in command
    assert notify.parse_commits("12\nabc1234 first\ndef5678  second  one\n") == (
        12, ("abc1234 first", "def5678 second one"))  # fmt: skip
    assert notify.parse_commits("fatal: bad revision") == (None, ())


def test_the_duration_comes_from_the_run_id():
    assert (
        notify.seconds_since("20260101_120000_000000_abcd", datetime(2026, 1, 1, 12, 3, 3)) == 183
    )
    assert notify.seconds_since("<run id>") is None


def test_the_local_build_s_commits_come_from_its_mirror():
    v = make_view(build_on="local", settings=Settings(server_name=SITE, build_work_dir="~/w"))
    assert notices.local_mirror(v) == str(checkout.real_path(checkout.mirror(v)))


class FakeRemote:
    alive = True

    def __init__(self, out: str):
        self.out, self.calls = out, []

    def run(self, command, sudo=False, stop=None, **kw):
        from tasks.hosts.remote import Result

        self.calls.append(command)
        return Result(True, 0, self.out, "")


def test_a_session_s_notices_read_the_commits_once_and_the_failure_one_says_them(monkeypatch):
    monkeypatch.setenv("DOJANGKOK_ENVIRONMENT", "prod")
    remote = FakeRemote("2\nb123456 새 기능\na123456 고침\n")
    s = make_session(remote)
    s.operator_message = "핫픽스"
    start = notices.text(s, "배포 시작합니다 (예상 12분)", "/app/backend")
    assert "- 메시지: 핫픽스" in start and "  · b123456 새 기능" in start and "소요" not in start
    assert "환경: prod" in start
    notices.text(s, "배포 완료", "/app/backend", done=True)
    assert len(remote.calls) == 1  # read once per run
    s.report.steps.append(StepReport("B", "10", "헬스체크 (새 인스턴스)", "1분", "failed"))
    s.report.result, s.report.message = "failed", "B10 헬스체크 (새 인스턴스) 실패: DOWN"
    failed = notify.failure_text(s)
    assert failed.startswith("❌ test 실패")
    assert "  · a123456 고침" in failed
    assert "- 실패 단계: B10 헬스체크 (새 인스턴스) 실패: DOWN" in failed
    assert "- 되돌리기: 필요하면 fab --env prod -H cpu rollback-backend" in failed


def test_a_failure_before_anything_switched_offers_no_rollback():
    s = make_session(FakeRemote(""))
    s.report.result, s.report.message = "failed", "BX1 전환 전 훅 (backend_before_switch) 실패"
    notify.nothing_switched(s.view.run_id)
    failed = notify.failure_text(s)
    assert "- 되돌리기: 필요 없음: 바뀐 것이 없습니다 (이전 버전이 계속 서비스합니다)" in failed
    assert "rollback-backend" not in failed


def test_the_manual_strategy_says_it_runs_no_hook():
    assert hooks.ignored(make_view()) == ""
    said = hooks.ignored(make_view(settings=Settings(server_name=SITE, backend_on_failure="x")))
    assert "backend_on_failure" in said and "release 전략" in said
