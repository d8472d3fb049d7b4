"""Renders docs/runbook.md from the step definitions (``make runbook``).

The prose lives in templates/runbook/runbook.md.j2; every step table, command, expected
time and failure response comes from the plans the tasks run (section "0. 서버 준비" from
the setup plan, rendered for the manual's target: Ubuntu with MySQL). tests/unit/test_runbook.py
fails when docs/runbook.md is out of date.
"""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tasks.apps import registry
from tasks.apps.database import backup
from tasks.engine.steps import Kind, Plan
from tasks.engine.view import TARGET_PLACEHOLDER, RunView
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.localbuild.flow import plan_for
from tasks.onhost.policy import Policy
from tasks.resources import TEMPLATES
from tasks.setup import detect
from tasks.setup import setup as host_setup
from tasks.strategies.release.flow import example_plans

TEMPLATE_DIR = TEMPLATES / "runbook"

TOOL_RESPONSE = {
    Policy.ABORT: "중단 (서비스는 그대로)",
    Policy.ROLLBACK: "자동 롤백 후 중단",
    Policy.RETRY: "정리 후 1회 재시도",
    Policy.WARN: "경고만 하고 계속",
}


def example_view(component: str, group: str, task: str = "deploy") -> RunView:
    # the site's name, as an operator sets it (setup needs one: tasks/hosts/site.py)
    host = Host(group, f"{group}.example", "ubuntu", 22, None, (group,),
                Settings(server_name="dojangkok.example.com"))  # fmt: skip
    return RunView(task, component, host, "<run id>", dry_run=True, target=TARGET_PLACEHOLDER)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(plan: Plan, view: RunView) -> list[dict]:
    out, down = [], False
    for step in plan.steps:
        down = down or step.down
        uploads = "".join(
            f"↑ `{u.path}` ({u.mode}: {_cell(u.what)})<br>"
            for u in (step.uploads(view) if step.uploads else ())
        )
        command = step.render(view)
        if step.sudo and step.kind is Kind.SHELL:
            command = "[sudo] " + command
        response = TOOL_RESPONSE[step.policy]
        if step.policy is Policy.RETRY:
            response += f" → 실패 시 {TOOL_RESPONSE[step.then]}"
        if step.policy is Policy.ABORT and down and not step.up:
            response = "중단: 서비스가 내려간 채일 수 있음 → 수동 복구"
        if step.kind is Kind.LOCAL:
            response = "운영자 쪽 작업 → " + response
        out.append(
            {
                "number": step.number,
                "title": step.title,
                "uploads": uploads,
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
    for comp in registry.ORDER:
        proc = comp.plans("manual")
        view = example_view(comp.name, comp.group)
        plan = proc.plan(view)
        sections.append(
            {
                "plan": plan,
                "group": comp.group,
                "task": comp.task,
                "rows": rows(plan, view),
                "rollback": rows(proc.rollback_plan(view), view),
                "checklist": plan.checklist,
            }
        )
    setup_rows = {}
    for group in ("cpu", "gpu"):
        view = example_view("setup", group, "setup")
        view = view.but(host=detect.offline(view.host))
        setup_rows[group] = rows(host_setup.plan(view), view)
    releases = []
    for comp in registry.ORDER:
        view = example_view(comp.name, comp.group).but(strategy="release")
        found = example_plans(comp, view)
        releases.append({"component": comp, "plans": [
            {"plan": plan, "rows": rows(plan, view)} for plan in found
        ]})  # fmt: skip
    local = []  # the manual's second method (tasks/localbuild/): build here, send the files
    for comp in registry.ORDER:
        view = example_view(comp.name, comp.group).but(build_on="local")
        proc, rel = comp.plans("manual"), example_plans(comp, view.but(strategy="release"))
        found = [plan_for(view), proc.plan(view), rel[0]]
        rollback, on_host = proc.rollback_plan(view), view.but(build_on="host")
        if rows(rollback, view) != rows(proc.rollback_plan(on_host), on_host):
            found.append(rollback)  # the manual rollback, where a local build changes it
        local.append({"component": comp, "plans": [
            {"plan": plan, "rows": rows(plan, view.but(strategy="release") if plan is rel[0] else view)}
            for plan in found
        ], "host": rows(plan_for(view.but(build_on="host")), view.but(build_on="host"))})  # fmt: skip
    db = example_view("database", "cpu", "backup")
    backup_rows = rows(backup.backup_plan(db), db)
    restore_rows = rows(backup.restore_plan(db), db)
    return env.get_template("runbook.md.j2").render(
        sections=sections,
        releases=releases,
        local=local,
        backup_rows=backup_rows,
        restore_rows=restore_rows,
        settings=Settings(),
        setup_rows=setup_rows,
    )


if __name__ == "__main__":
    print(render(), end="")
