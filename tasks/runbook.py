"""Renders docs/runbook.md from the step definitions (``make runbook``).

The prose lives in templates/runbook/runbook.md.j2; every step table, command, expected
time and failure response comes from the plans the tasks run. tests/unit/test_runbook.py
fails when docs/runbook.md is out of date.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tasks import ai, backend, backup, frontend
from tasks.context import Run
from tasks.inventory import Host
from tasks.secrets import Secrets
from tasks.settings import Settings
from tasks.steps import Kind, Plan, Policy

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "templates" / "runbook"

TOOL_RESPONSE = {
    Policy.ABORT: "중단 (서비스는 그대로)",
    Policy.ROLLBACK: "자동 롤백 후 중단",
    Policy.RETRY: "정리 후 1회 재시도",
    Policy.WARN: "경고만 하고 계속",
}


def example_run(component: str, group: str) -> Run:
    host = Host(group, f"{group}.example", "ubuntu", 22, None, (group,), Settings())
    run = Run(component, host, Secrets({}), dry_run=True, stamp="YYYYmmdd_HHMMSS")
    run.notes["target"] = "<직전 배포 리비전>"
    return run


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(plan: Plan, run: Run) -> list[dict]:
    out, down = [], False
    for step in plan.steps:
        down = down or step.down
        command = step.render(run)
        if step.sudo:
            command = "[sudo] " + command
        response = TOOL_RESPONSE[step.policy]
        if step.policy is Policy.RETRY:
            response += f" → 실패 시 {TOOL_RESPONSE[step.then]}"
        if step.policy is Policy.ABORT and down and not step.up:
            response = "중단: 서비스가 내려간 채일 수 있음 → 수동 복구"
        if step.kind is Kind.POLL:
            response = "반복 확인 (횟수·간격은 설정) → " + response
        out.append(
            {
                "number": step.number,
                "title": step.title,
                "command": _cell(command),
                "expected": step.expected,
                "on_failure": _cell(step.on_failure),
                "tool": response,
                "added": step.added,
            }
        )
    return out


def render() -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    sections = []
    for mod, group, task in (
        (frontend, "cpu", "deploy-frontend"),
        (backend, "cpu", "deploy-backend"),
        (ai, "gpu", "deploy-ai"),
    ):
        plan = mod.plan()
        run = example_run(plan.component, group)
        sections.append(
            {
                "plan": plan,
                "group": group,
                "task": task,
                "rows": rows(plan, run),
                "rollback": rows(mod.rollback_plan(run), run),
                "checklist": plan.checklist,
            }
        )
    backup_rows = rows(backup.backup_plan(), example_run("backend", "cpu"))
    restore_rows = rows(backup.restore_plan(), example_run("backend", "cpu"))
    return env.get_template("runbook.md.j2").render(
        sections=sections, backup_rows=backup_rows, restore_rows=restore_rows, settings=Settings()
    )


if __name__ == "__main__":
    print(render(), end="")
