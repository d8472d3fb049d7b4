"""The push-config plan and its rollback (pure: the runner performs it).

upload to root's staging directory (over the root connection, never through a place the
deploy login can write: tasks/config/commands.py ROOT_DIR) → validate the staged files (a
failure changes nothing) → back up the live files (there too) → install → reload/restart
only what changed → check; the rollback puts the backed-up files back and reloads/restarts
with them.
"""

from __future__ import annotations

from tasks.apps.common import prepare_step
from tasks.config.commands import (
    ROOT_DIR,
    action_command,
    apply_actions,
    backup_command,
    check_command,
    install_command,
    restore_command,
    stage_command,
    upload_name,
    validate_command,
)
from tasks.config.render import ConfigFile
from tasks.config.state import Change
from tasks.engine import staging
from tasks.engine.steps import Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.onhost.policy import Policy
from tasks.shell import q

ACTION_TITLES = {"daemon-reload": "systemd 설정 다시 읽기", "reload": "{svc} 설정 다시 읽기",
                 "restart": "{svc} 재시작"}  # fmt: skip


def _uploads(changes_: list[Change]):
    def uploads(v: RunView) -> tuple[Upload, ...]:
        return tuple(
            Upload(staging.path(upload_name(c.file)), "644",
                   f"templates/{c.file.template}에서 렌더링", lambda secrets, text=c.new: text)
            for c in changes_
        )  # fmt: skip

    return uploads


def _journal(f: ConfigFile):
    """A failed check shows the service's journal (the runner reads it as root)."""
    return lambda v: f"journalctl -u {q(f.service)} -n 30 --no-pager"


def _apply_steps(changes_: list[Change], number, suffix: str, policy: Policy,
                 on_failure: str, skip: frozenset = frozenset()) -> list[Step]:  # fmt: skip
    steps: list[Step] = []
    for action, f in apply_actions(changes_):
        if action != "daemon-reload" and f.key in skip:
            continue
        steps.append(_action_step(number(steps), action, f, suffix, policy, on_failure))
        if action != "daemon-reload":
            steps.append(Step(number(steps), f"{f.service} 동작 확인{suffix}", "30초", on_failure,
                              policy, command=_check(f), diagnose=_journal(f)))  # fmt: skip
    return steps


def new_units(changes_: list[Change]) -> list[ConfigFile]:
    """Units this push installs where none was: a rollback removes them, not restarts them."""
    return [c.file for c in changes_ if c.file.kind == "unit" and c.old is None]


def _remove_new(f: ConfigFile):
    def command(v: RunView) -> str:
        svc = q(f.service)
        return (
            f"systemctl disable --now -q -- {svc} 2>/dev/null || true; "
            f"systemctl reset-failed -- {svc} 2>/dev/null || true; "
            f"echo {q(f'새 유닛 {f.service}: 멈추고 비활성화했습니다 (이전에는 없던 유닛)')}"
        )

    return command


def _removed(f: ConfigFile):
    def command(v: RunView) -> str:
        return (
            f"if systemctl cat -- {q(f.service)} >/dev/null 2>&1; then "
            f"echo {q(f'{f.service}.service가 아직 남아 있습니다')} >&2; exit 1; fi; "
            f"echo {q(f'새 유닛 {f.service}.service를 지웠습니다 (호스트는 push 전 그대로입니다)')}"
        )

    return command


def _action_step(number: str, action: str, f: ConfigFile, suffix: str, policy: Policy,
                 on_failure: str) -> Step:  # fmt: skip
    title = ACTION_TITLES[action].format(svc=f.service) + suffix
    return Step(number, title, "10초", on_failure, policy, sudo=True,
                command=lambda v: action_command(action, f, v.s))  # fmt: skip


def _check(f: ConfigFile):
    return lambda v: check_command(f, v.s)


def push_plan(changes_: list[Change]) -> tuple[Plan, object]:
    """The steps that apply ``changes_``, and the rollback that undoes them."""
    steps = [
        prepare_step(lambda v: [v.s.state_dir], root=True),
        Step("1", "설정 파일 스테이징 (root 전용 디렉터리)", "1초", "업로드 실패 시 중단", Policy.ABORT,
             uploads=_uploads(changes_), command=lambda v: stage_command(changes_), sudo=True,
             added=f"root 연결의 표준 입력으로 보내 root만 쓰는 디렉터리({ROOT_DIR})에 둔다: "
                   "검증·백업·설치·롤백이 모두 그 사본을 쓰고, 배포 계정은 그 사이에 바꿀 수 없다"),
        Step("2", "설정 검증 (적용 전)", "10초", "검증 실패 시 중단: 서버 설정은 그대로", Policy.ABORT,
             command=lambda v: validate_command(changes_, v.s), sudo=True),
        Step("3", "현재 설정 백업", "1초", "백업 실패 시 중단", Policy.ABORT,
             command=lambda v: backup_command(v, changes_), sudo=True),
        Step("4", "새 설정 적용", "1초", "실패 시 이전 설정 복원", Policy.ROLLBACK,
             command=lambda v: install_command(changes_, v.s), sudo=True),
    ]  # fmt: skip
    steps += _apply_steps(changes_, lambda done: str(len(steps) + len(done)), "", Policy.ROLLBACK,
                          "실패 시 이전 설정 복원")  # fmt: skip

    fresh = new_units(changes_)

    def rollback(v: RunView, reason: str = "") -> Plan:
        back = [
            Step(f"R0{'abcdefgh'[i]}", f"새 유닛 {f.service} 중지 (적용 전에는 없던 유닛)", "10초",
                 "수동 복구", Policy.ABORT, command=_remove_new(f), sudo=True)
            for i, f in enumerate(fresh)
        ]  # fmt: skip
        back.append(Step("R1", "이전 설정 복원", "1초", "수동 복구", Policy.ABORT,
                         command=lambda v: restore_command(v, changes_), sudo=True))  # fmt: skip
        back += _apply_steps(changes_, lambda done: f"R{len(done) + 2}", " (이전 설정)",
                             Policy.ABORT, "수동 복구", frozenset(f.key for f in fresh))  # fmt: skip
        back += [
            Step(f"R{len(back) - len(fresh) + 1 + i}", f"새 유닛 {f.service} 제거 확인", "1초",
                 "수동 복구", Policy.ABORT, command=_removed(f))
            for i, f in enumerate(fresh)
        ]  # fmt: skip
        return Plan("config", "CFG", "설정 복원", v.host.alias, "1분", "-", tuple(back))

    plan = Plan("config", "CFG", "설정 적용 (push-config)", "", "1분", "변경된 서비스의 재시작 시간",
                tuple(steps))  # fmt: skip
    return plan, rollback
