"""The steps and checklist items the components share, each named once.

Pull, the .env keys check, a build, a health check, restoring the code of a revision, the
directories the tool writes, Discord notices and smoke tests: every plan (and every future
strategy) builds them here, so a fix to one of them reaches every component.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tasks import shell
from tasks.apps import notices, registry
from tasks.engine import safepath
from tasks.engine.checklist import ask
from tasks.engine.records import host_history_path, local_history_path
from tasks.engine.steps import CheckItem, Kind, Step
from tasks.engine.view import RunView
from tasks.hostfacts import tracked
from tasks.hosts import site
from tasks.onhost.policy import Policy
from tasks.setup import privilege
from tasks.shell import q

Text = Callable[[RunView], str]


# --- steps -------------------------------------------------------------------------------
def prepare_step(dirs: Callable[[RunView], list[str]],
                 private: Callable[[RunView], list[str]] | None = None,
                 root: bool = False) -> Step:  # fmt: skip
    """Step 0 (added): the directories the tool writes, owned by the deploy login; ``private``
    ones (database dumps) 0700, as `fab setup` makes them. A deploy makes them as the deploy
    login (setup made their parents its own); setup (``root``) as root, never through a link."""

    def command(view: RunView) -> str:
        if root:  # never through a link (tasks/engine/safepath.py)
            made = [safepath.own("dir", p, "755", view.login) for p in dirs(view)]
            made += [
                safepath.own("dir", p, "700", view.login)
                for p in (private(view) if private else [])
            ]
            return tracked(f"{safepath.OWN_FN}; " + "; ".join(made), "the directories")
        out = f"install -d -m 755 -- {' '.join(q(p) for p in dirs(view))}"
        if private:
            out += f" && install -d -m 700 -- {' '.join(q(p) for p in private(view))}"
        return out

    return Step(
        "0", "배포 준비 (기록·백업 디렉터리)", "1초",
        "권한 확인" if root else "권한 확인 (디렉터리는 fab setup이 배포 계정 것으로 만든다)",
        Policy.ABORT, command=command, sudo=root,
        added="도구가 추가: 배포 기록과 백업이 들어갈 디렉터리를 만든다",
    )  # fmt: skip


def pull_step(number: str, expected: str, checkout: Text, fetch_first: bool = False) -> Step:
    """코드 Pull: fast-forward only (the manual: 충돌 시 수동 해결)."""
    return Step(
        number, "코드 Pull", expected, "충돌 시 수동 해결", Policy.ABORT,
        command=lambda v: shell.git_pull(checkout(v), v.s.git_remote, v.s.git_branch, fetch_first),
        local_build="pull",
    )  # fmt: skip


def env_check_step(number: str, checkout: Text, env: Text, example: Text) -> Step:
    return Step(
        number, "환경변수 확인", "1분", "누락 시 추가 후 진행", Policy.ABORT,
        command=lambda v: shell.cd(checkout(v), shell.env_keys_diff(env(v), example(v))),
        added="값은 보지 않고 키만 비교; .env.example이 없으면 비교 생략",
    )  # fmt: skip


def build_step(number: str, title: str, expected: str, on_failure: str, policy: Policy,
               checkout: Text, command: Text) -> Step:  # fmt: skip
    """A component's build command, run in its checkout."""
    return Step(number, title, expected, on_failure, policy,
                command=lambda v: shell.cd(checkout(v), command(v)), local_build="build")  # fmt: skip


def journal(component: registry.App) -> Text:
    """What to show when a service does not come up (the manual: 로그 확인)."""
    return lambda v: f"journalctl -u {q(component.service(v.s))} -n 30 --no-pager"


def health_step(number: str, title: str, expected: str, on_failure: str, policy: Policy,
                component: registry.App, up: bool = True, fine: bool = False,
                port: Callable[[RunView], int] | None = None,
                unit: Text | None = None) -> Step:  # fmt: skip
    """Poll the component's health check on the host: the manual's tries × interval, or with
    ``fine`` every ``health_poll_interval`` within the same total time; ``port``: ask the
    instance on that port (blue/green), ``unit`` the systemd unit whose journal explains."""

    def command(v: RunView) -> str:
        health = component.health(v.s, port(v) if port else None)
        return health.polled(v.s.health_poll_interval if fine else None)

    diagnose = journal(component) if component.name != "frontend" else None
    if unit is not None:
        diagnose = lambda v: f"journalctl -u {q(unit(v))} -n 30 --no-pager"  # noqa: E731
    return Step(number, title, expected, on_failure, policy, up=up, diagnose=diagnose,
                command=command)  # fmt: skip


def restore_code_step(number: str, checkout: Text) -> Step:
    """The checkout back at the rollback target (not ``HEAD~1``)."""
    return Step(
        number, "이전 배포 리비전으로 코드 복원", "5초", "서버에서 수정된 파일 확인", Policy.ABORT,
        command=lambda v: shell.git_reset_to(checkout(v), v.back_to),
        added="HEAD~1이 아니라 도구가 기록한 직전 배포 리비전으로 되돌림",
    )  # fmt: skip


def service_step(number: str, title: str, expected: str, on_failure: str, policy: Policy,
                 action: str, component: registry.App, **flags) -> Step:  # fmt: skip
    """``systemctl <action> <the component's service>``, through the root helper."""
    return Step(number, title, expected, on_failure, policy,
                command=lambda v: privilege.systemctl(action, component.service(v.s)),
                **flags)  # fmt: skip


def _checkout(v: RunView) -> str:
    """The deployed app's checkout on the host (a notice's commits are read there)."""
    return registry.get(v.component).checkout(v.s)


def notice_step(number: str, title: str, expected: str, text: Text, done: bool = False) -> Step:
    """A Discord notice: ``text`` and the run's facts (tasks/apps/notices.py); ``done``: the
    end's (B12), with the time the run took."""

    def action(session) -> str:
        return notices.send(session, text(session.view), _checkout(session.view), done)

    return Step(
        number, title, expected, "-", Policy.WARN, kind=Kind.LOCAL,
        command=lambda v: f'디스코드 공지: "{text(v)}" + {notices.said(done)}', action=action,
    )  # fmt: skip


def confirm(session, question: str) -> str:
    """A check only a person can do: a "no" is a failure of the step that asks."""
    ok, by = ask(question, session.yes)
    if not ok:
        raise RuntimeError(f"운영자 답: 아니오 ({question})")
    return f"확인함 ({by})"


def smoke_step(number: str, title: str, expected: str, on_failure: str, view: RunView,
               specs: Callable, port: Callable, question: str,
               instead_of: Callable | None = None) -> Step:  # fmt: skip
    """Smoke tests (B11, C7): the configured requests on the host, or ask a person.
    ``instead_of``: the service's usual port, whose local urls are asked of ``port``."""
    if specs(view.s):
        return Step(number, title, expected, on_failure, Policy.ROLLBACK,
                    command=lambda v: shell.smoke(specs(v.s), port(v.s),
                                                  instead_of(v.s) if instead_of else None,
                                                  site.names(v.s)))  # fmt: skip
    return Step(
        number, title, expected, on_failure, Policy.ROLLBACK, kind=Kind.LOCAL, asks=True,
        command=lambda v: f"운영자 확인: {question}", action=lambda s: confirm(s, question),
    )  # fmt: skip


# --- checklist checks ------------------------------------------------------------------
def branch_item(checkout: Text, branch: str) -> CheckItem:
    def read(v: RunView) -> str:
        return f"git -C {q(checkout(v))} rev-list --count HEAD..{q(v.to_rev)}"

    def check(session) -> tuple[bool, str]:
        v = session.view
        behind = session.query(read(v))
        return True, (
            f"서버 {v.from_rev[:7]} → {v.s.git_remote}/{v.s.git_branch} {v.to_rev[:7]} "
            f"({behind}개 커밋 뒤)"
        )

    return CheckItem("배포 전", f"{branch} 브랜치 최신화 확인", check, reads=read)


def commit_item(checkout: Text) -> CheckItem:
    def read(v: RunView) -> str:
        fmt = "%h %s (%an, %ar)"
        return f"git -C {q(checkout(v))} log -1 --format={q(fmt)} --end-of-options {q(v.to_rev)}"

    return CheckItem("배포 전", "배포할 커밋 확인 (`git log -1`)",
                     lambda session: (True, session.query(read(session.view))), reads=read)  # fmt: skip


def env_item(checkout: Text, env: Text, example: Text) -> CheckItem:
    def read(v: RunView) -> str:
        return shell.cd(checkout(v), shell.env_keys_diff(env(v), example(v), v.to_rev))

    def check(session) -> tuple[bool, str]:
        res = session.sh(read(session.view))
        return res.ok, (res.stdout + res.stderr).strip().replace("\n", "; ")

    return CheckItem("배포 전", "`.env` 파일 변경사항 확인", check, reads=read)


def deps_item(checkout: Text, files: list[str]) -> CheckItem:
    def read(v: RunView) -> str:
        return shell.git_changed(checkout(v), v.from_rev, v.to_rev, files)

    def check(session) -> tuple[bool, str]:
        changed = session.query(read(session.view))
        return True, f"변경 있음: {', '.join(changed.split())}" if changed else "변경 없음"

    return CheckItem("배포 전", f"`{' / '.join(files)}` 의존성 변경 유무", check, reads=read)


def check_health(component: registry.App):
    def check(session) -> tuple[bool, str]:
        res = session.sh(component.health(session.view.s, None).command())
        return res.ok, "정상" if res.ok else res.tail(3)

    return check


ERROR_LINE = re.compile(r"\b(ERROR|FATAL|CRITICAL)\b")


def log_lines(text: str) -> list[str]:
    """The log's own lines (journalctl's ``-- No entries --`` and ``-- Boot ... --`` are not)."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("-- ")]


def check_log(command: Text):
    """배포 후 "에러 로그 확인": the log command runs as the deploy login (setup put it in
    systemd-journal and the service's group: it reads the journal and the app's logs without
    root), and its ERROR lines are counted."""

    def check(session) -> tuple[bool, str]:
        res = session.sh(command(session.view))
        lines = log_lines(res.stdout)
        if not res.ok and not lines:
            return True, f"로그를 읽지 못함: {res.tail(1)}"
        if not lines:
            return True, "로그 없음 (-- No entries --)"
        errors = [line for line in lines if ERROR_LINE.search(line)]
        shown = f"최근 {len(lines)}줄 중 ERROR {len(errors)}건"
        return True, shown + (f" (마지막: {errors[-1][-160:]})" if errors else "")

    return check


def check_notice(text: Text):
    def check(session) -> tuple[bool, str]:
        try:
            return True, notices.send(session, text(session.view), _checkout(session.view),
                                     done=True)  # fmt: skip
        except RuntimeError as exc:  # a notice never fails a deploy
            return True, str(exc)

    return check


def check_record(session) -> tuple[bool, str]:
    host = host_history_path(session.view.s.state_dir)
    return True, f"도구가 자동 기록: {host}, {local_history_path()}"


def before_items(checkout: Text, env: Text, example: Text, dep_files: list[str],
                 branch: str = "main") -> list[CheckItem]:  # fmt: skip
    return [
        branch_item(checkout, branch),
        commit_item(checkout),
        env_item(checkout, env, example),
        deps_item(checkout, dep_files),
    ]


def after_items(component: registry.App) -> list[CheckItem]:
    def text(v: RunView) -> str:
        return f"{component.label} 배포 완료"

    return [
        CheckItem("배포 후", "배포 완료 공지", check_notice(text)),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    ]
