"""Steps and checklist checks the three components share."""

from __future__ import annotations

from collections.abc import Callable

from tasks import notify, shell
from tasks.checklist import ask
from tasks.context import Run, q
from tasks.records import local_history_path
from tasks.steps import CheckItem, Kind, Policy, Step


def prepare_step(dirs) -> Step:
    """Step 0 (added): the directories the tool writes, owned by the login user."""

    def command(run: Run) -> str:
        paths = " ".join(q(p) for p in dirs(run))
        return f'install -d -m 755 -o "$SUDO_USER" {paths}'

    return Step(
        "0", "배포 준비 (기록·백업 디렉터리)", "1초", "권한 확인", Policy.ABORT,
        command=command, sudo=True,
        added="도구가 추가: 배포 기록과 백업이 들어갈 디렉터리를 만든다",
    )  # fmt: skip


def notice_step(number: str, title: str, expected: str, text) -> Step:
    def action(run: Run) -> str:
        return notify.send(run.secrets.get(notify.WEBHOOK_KEY), text(run))

    return Step(
        number, title, expected, "-", Policy.WARN, kind=Kind.LOCAL,
        command=lambda run: f"디스코드 공지: \"{text(run)}\"", action=action,
    )  # fmt: skip


def confirm(run: Run, question: str) -> str:
    """A check only a person can do: a "no" is a failure of the step that asks."""
    ok, by = ask(question, run)
    if not ok:
        raise RuntimeError(f"운영자 답: 아니오 ({question})")
    return f"확인함 ({by})"


def smoke(requests, question: str):
    """Smoke-test action (B11, C7): the configured requests, or ask a person when none."""

    def action(run: Run) -> str:
        assert run.runner is not None
        specs = requests(run)
        if not specs:
            return confirm(run, question)
        res = run.runner.sh(shell.smoke(specs))
        if not res.ok:
            raise RuntimeError(res.tail())
        return res.stdout.strip().replace("\n", "; ")

    def display(run: Run) -> str:
        specs = requests(run)
        return shell.smoke(specs) if specs else f"운영자 확인: {question}"

    return action, display


def journal(service) -> Callable[[Run], str]:
    """What to show when a service does not come up (the manual: 로그 확인)."""
    return lambda run: f"journalctl -u {q(service(run))} -n 30 --no-pager"


# --- checklist checks ------------------------------------------------------------------
def check_branch(path):
    def check(run: Run) -> tuple[bool, str]:
        d = path(run)
        behind = run.query(f"git -C {q(d)} rev-list --count HEAD..{q(run.to_rev)}")
        head = run.from_rev[:7]
        return (
            True,
            f"서버 {head} → {run.s.git_remote}/{run.s.git_branch} {run.to_rev[:7]} ({behind}개 커밋 뒤)",
        )

    return check


def check_commit(path):
    def check(run: Run) -> tuple[bool, str]:
        fmt = "%h %s (%an, %ar)"
        return True, run.query(f"git -C {q(path(run))} log -1 --format={q(fmt)} {q(run.to_rev)}")

    return check


def check_env(path, env, example):
    def check(run: Run) -> tuple[bool, str]:
        assert run.runner is not None
        res = run.runner.sh(
            shell.cd(path(run), shell.env_keys_diff(env(run), example(run), run.to_rev))
        )
        return res.ok, (res.stdout + res.stderr).strip().replace("\n", "; ")

    return check


def check_deps(path, files):
    def check(run: Run) -> tuple[bool, str]:
        changed = run.query(shell.git_changed(path(run), run.from_rev, run.to_rev, files))
        return True, f"변경 있음: {', '.join(changed.split())}" if changed else "변경 없음"

    return check


def check_url(url, expect):
    def check(run: Run) -> tuple[bool, str]:
        assert run.runner is not None
        res = run.runner.sh(shell.page(url(run), expect(run)))
        return res.ok, "정상" if res.ok else res.tail(3)

    return check


def check_log(command):
    def check(run: Run) -> tuple[bool, str]:
        assert run.runner is not None
        res = run.runner.sh(command(run))
        text = res.stdout
        errors = sum(1 for line in text.splitlines() if "ERROR" in line.upper())
        if not res.ok and not text:
            return True, f"로그를 읽지 못함: {res.tail(1)}"
        return True, f"최근 {len(text.splitlines())}줄 중 ERROR {errors}건"

    return check


def check_notice(text):
    def check(run: Run) -> tuple[bool, str]:
        try:
            return True, notify.send(run.secrets.get(notify.WEBHOOK_KEY), text(run))
        except RuntimeError as exc:  # a notice never fails a deploy
            return True, str(exc)

    return check


def check_record(run: Run) -> tuple[bool, str]:
    return True, f"도구가 자동 기록: {run.s.state_dir}/history.jsonl, {local_history_path()}"


def before_items(path, env, example, dep_files: list[str]) -> list[CheckItem]:
    deps = " / ".join(dep_files)
    return [
        CheckItem("배포 전", "main 브랜치 최신화 확인", check_branch(path)),
        CheckItem("배포 전", "배포할 커밋 확인 (`git log -1`)", check_commit(path)),
        CheckItem("배포 전", "`.env` 파일 변경사항 확인", check_env(path, env, example)),
        CheckItem("배포 전", f"`{deps}` 의존성 변경 유무", check_deps(path, dep_files)),
    ]


def after_items(component_label: str) -> list[CheckItem]:
    def text(run: Run) -> str:
        return f"{component_label} 배포 완료 ({run.host.alias}, {run.to_rev[:7]})"

    return [
        CheckItem("배포 후", "배포 완료 공지", check_notice(text)),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    ]
