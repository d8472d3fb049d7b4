"""The manual's checklists (배포 전 / 배포 중 / 배포 후), run at their place.

Items a program can check are checked and shown with the result; items only a person can
check are yes/no prompts. ``--yes`` answers the prompts (the record says so). A "no"
before the deploy stops it before anything changes; a "no" after it rolls back where the
manual says so. Whether every prompt can be answered (a terminal, or ``--yes``) is checked
before the task touches a host (:func:`answerable`).
"""

from __future__ import annotations

import select
import sys
import threading

from tasks.engine.interrupt import INTERRUPT
from tasks.engine.live import Live
from tasks.engine.steps import CheckItem, Plan
from tasks.errors import ConfigError
from tasks.hosts.remote import Interrupted
from tasks.terminal import safe

BEFORE, DURING, AFTER = "배포 전", "배포 중", "배포 후"
_PROMPT = threading.Lock()  # one question at a time when hosts deploy in parallel


class Declined(Exception):
    """The operator answered "no" (or an automatic check failed)."""

    def __init__(self, item: CheckItem, shown: str):
        super().__init__(f"체크리스트 '{item.text}': {shown}")
        self.item = item


def can_ask() -> bool:
    return bool(sys.stdin) and sys.stdin.isatty()


def answerable(plans: list[Plan], yes: bool, task: str) -> None:
    """Refuse, before any host is touched, a run whose prompts nobody could answer."""
    if yes or can_ask() or not any(p.asks for p in plans):
        return
    raise ConfigError(
        f"{task}은(는) 작업자에게 예/아니오를 묻는데(체크리스트) 물어볼 터미널이 없습니다 "
        "(no terminal)",
        "터미널에서 실행하거나, 체크리스트에 모두 '예'로 답하려면 --yes를 붙이십시오",
    )


def _read_line(prompt: str) -> str:
    """input(), but a Ctrl-C (the task's interrupt flag) ends the wait. The prompt may name
    what the host listed (restore-db's newest backup): made safe for the terminal."""
    sys.stdout.write(safe(prompt))
    sys.stdout.flush()
    while True:
        if INTERRUPT.cancel.is_set():
            raise Interrupted("prompt")
        ready, _, _ = select.select([sys.stdin], [], [], 0.2)
        if ready:
            line = sys.stdin.readline()
            if not line:
                raise Interrupted("end of input")
            return line


def ask(question: str, yes: bool, reader=_read_line) -> tuple[bool, str]:
    """(answer, who answered): "--yes" or "operator"."""
    if yes:
        return True, "--yes"
    if not can_ask() and reader is _read_line:
        raise ConfigError(
            f"'{question}'에 답이 필요한데 물어볼 터미널이 없습니다 (no terminal)",
            "터미널에서 실행하거나, 체크리스트에 모두 '예'로 답하려면 --yes를 붙이십시오",
        )
    while True:
        with _PROMPT:
            answer = reader(f"  [?] {question} (y/n) ").strip().lower()
        if answer in ("y", "yes", "예", "네"):
            return True, "operator"
        if answer in ("n", "no", "아니오", "아니요"):
            return False, "operator"


def run_phase(plan: Plan, session: Live, phase: str,
              step_status: dict[str, str] | None = None) -> None:  # fmt: skip
    """Run one phase's items; raises Declined on a "no" or a failed automatic check."""
    items = [i for i in plan.checklist if i.phase == phase]
    if not items:
        return
    out = session.console.out
    out(f"── 체크리스트: {phase} ──")
    # the automatic checks' reads, all in one round trip
    session.prefetch([i.reads(session.view) for i in items if i.check and i.reads and not i.step])
    try:
        for item in items:
            ok, shown, by = _answer(item, session, step_status)
            mark = " " if session.view.dry_run else ("✓" if ok else "✗")
            out(f"  [{mark}] {item.text} — {shown}")
            session.answers.append({"phase": phase, "item": item.text, "ok": ok, "by": by,
                                    "shown": shown})  # fmt: skip
            if not ok and not item.step:
                raise Declined(item, shown)
    finally:  # what no check asked for (a "no" came first) is not kept
        session.prefetched.clear()


def _answer(item: CheckItem, session: Live,
            step_status: dict[str, str] | None) -> tuple[bool, str, str]:  # fmt: skip
    """(ok, what is shown, who answered) for one item."""
    dry_run = session.view.dry_run
    if item.step:
        status = (step_status or {}).get(item.step, "planned" if dry_run else "missing")
        return status in ("ok", "planned"), f"단계 {item.step}: {status}", "step"
    if item.check is not None:
        if dry_run:
            return True, "(자동 확인)", "auto"
        try:
            ok, shown = item.check(session)
        except (Interrupted, ConfigError):
            raise
        except Exception as exc:
            ok, shown = False, f"확인 실패: {exc}"
        return ok, shown, "auto"
    if dry_run:
        return True, "(운영자 확인)", "prompt"
    ok, by = ask(item.text, session.yes)
    return ok, ("예" if ok else "아니오") + (" (--yes)" if by == "--yes" else ""), by


def during_and_after(plan: Plan, session: Live, roll_back) -> None:
    """The 배포 중 items (from the steps' results), then the 배포 후 items; a "no" where the
    manual rolls back calls ``roll_back(reason)``."""
    statuses = {st.number: st.status for st in session.report.steps if st.phase == "deploy"}
    run_phase(plan, session, DURING, statuses)
    try:
        run_phase(plan, session, AFTER, statuses)
    except Declined as no:
        if not no.item.rollback_on_no:
            raise
        roll_back(str(no))
