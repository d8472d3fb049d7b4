"""The manual's checklists (배포 전 / 배포 중 / 배포 후), run at their place.

Items a program can check are checked and shown with the result; items only a person can
check are yes/no prompts. ``--yes`` answers the prompts (the record says so). A "no"
before the deploy stops it before anything changes; a "no" after it rolls back where the
manual says so.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

from tasks.context import Run
from tasks.errors import ConfigError
from tasks.steps import CheckItem, Plan

BEFORE, DURING, AFTER = "배포 전", "배포 중", "배포 후"
_PROMPT = threading.Lock()  # one question at a time when hosts deploy in parallel


class Declined(Exception):
    """The operator answered "no" (or an automatic check failed)."""

    def __init__(self, item: CheckItem, shown: str):
        super().__init__(f"체크리스트 '{item.text}': {shown}")
        self.item = item


def ask(question: str, run: Run, reader: Callable[[str], str] = input) -> tuple[bool, str]:
    if run.yes:
        return True, "--yes"
    if not sys.stdin or not sys.stdin.isatty():
        raise ConfigError(
            f"'{question}' needs an answer, and there is no terminal to ask on",
            "run interactively, or add --yes to answer the checklist prompts yes",
        )
    while True:
        with _PROMPT:
            answer = reader(f"  [?] {question} (y/n) ").strip().lower()
        if answer in ("y", "yes", "예", "네"):
            return True, "operator"
        if answer in ("n", "no", "아니오", "아니요"):
            return False, "operator"


def run_phase(plan: Plan, run: Run, phase: str, step_status: dict[str, str] | None = None) -> None:
    """Run one phase's items; raises Declined on a "no" or a failed automatic check."""
    items = [i for i in plan.checklist if i.phase == phase]
    if not items:
        return
    out = run.runner.out if run.runner else print
    out(f"── 체크리스트: {phase} ──")
    for item in items:
        if item.step:
            status = (step_status or {}).get(item.step, "planned" if run.dry_run else "missing")
            ok, shown, by = status in ("ok", "planned"), f"단계 {item.step}: {status}", "step"
        elif item.check is not None:
            if run.dry_run:
                ok, shown, by = True, "(자동 확인)", "auto"
            else:
                try:
                    ok, shown = item.check(run)
                except Exception as exc:
                    ok, shown = False, f"확인 실패: {exc}"
                by = "auto"
        else:
            if run.dry_run:
                ok, shown, by = True, "(운영자 확인)", "prompt"
            else:
                ok, by = ask(item.text, run)
                shown = ("예" if ok else "아니오") + (" (--yes)" if by == "--yes" else "")
        mark = " " if run.dry_run else ("✓" if ok else "✗")
        out(f"  [{mark}] {item.text} — {shown}")
        run.answers.append({"phase": phase, "item": item.text, "ok": ok, "by": by, "shown": shown})
        if not ok and not item.step:
            raise Declined(item, shown)
