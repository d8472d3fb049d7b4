"""Renders the operators' two documents from the step definitions (``make runbook``).

- docs/runbook.md (``render()``, templates/runbook/runbook.md.j2): the short one, for an
  incident: preparation, 장애 대응 first, the daily commands, one table per app for the
  default strategy (release) with its checklist, hooks. At most ~200 lines.
- docs/runbook-reference.md (``render_reference()``, runbook-reference.md.j2): every step
  table (setup, the release strategy's plans, the manual strategy, --build-on=local, the
  database), every command whole.

Every step table, command, expected time and failure response comes from the plans the tasks
run (setup rendered for the manual's target: Ubuntu with MySQL). A command cell holds at most
``CELL_LIMIT`` characters on one line; a longer or multi-line command is shown exactly as run
in a fenced block under its table (the reference) or named "`--dry-run`으로 확인" (the
runbook). tests/unit/test_runbook.py fails when either document is out of date.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tasks.apps import registry
from tasks.apps.database import backup
from tasks.engine.steps import Kind, Plan, Step
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
#: the longest command cell (characters, the cell's markdown text)
CELL_LIMIT = 150
#: what a runbook cell says instead of a longer command
SEE_DRY_RUN = "`--dry-run`으로 확인"
#: what a reference cell says instead of a longer command (shown under the table)
UNDER_TABLE = "표 아래 단계"
#: what a cell says instead of a step the example's settings skip
SKIPPED = "건너뜀 (기본 설정: "

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


def code(text: str) -> str:
    """``text`` as a markdown code span (a table cell's: ``|`` escaped)."""
    fence, pad = ("``", " ") if "`" in text else ("`", "")
    return fence + pad + text.replace("|", "\\|") + pad + fence


def command_of(step: Step, view: RunView) -> str:
    """The step's command exactly as run, ``[sudo] `` in front of a root one."""
    command = step.render(view)
    if command and step.sudo and step.kind is Kind.SHELL:
        command = "[sudo] " + command
    return command


@dataclass(frozen=True)
class Row:
    number: str
    title: str
    command: str  # the cell: the command, or where it is shown
    block: str  # a longer or multi-line command, exactly as run ("" when the cell has it)
    uploads: tuple[str, ...]  # "↑ `path` (mode: what)" for the block's heading
    shell: bool
    expected: str
    on_failure: str
    tool: str
    added: str


def _tool_response(step: Step, down: bool) -> str:
    response = TOOL_RESPONSE[step.policy]
    if step.policy is Policy.RETRY:
        response += f" → 실패 시 {TOOL_RESPONSE[step.then]}"
    if step.policy is Policy.ABORT and down and not step.up:
        response = "중단: 서비스가 내려간 채일 수 있음 → 수동 복구"
    if step.kind is Kind.LOCAL:
        response = "운영자 쪽 작업 → " + response
    return response


def command_cell(step: Step, view: RunView, long: str) -> tuple[str, str, tuple[str, ...]]:
    """(cell, block, uploads): the cell holds the command when it fits on one line of at
    most CELL_LIMIT characters; else ``long="block"`` puts it in ``block`` (shown under the
    table) and ``long="dry-run"`` names ``--dry-run``. A step the example's settings skip
    says why instead of rendering a command that would not run."""
    reason = step.skip_if(view) if step.skip_if else None
    if reason:
        return _cell(f"{SKIPPED}{reason})"), "", ()
    uploads = tuple(
        f"↑ {code(u.path)} ({u.mode}: {_cell(u.what)})"
        for u in (step.uploads(view) if step.uploads else ())
    )
    command = command_of(step, view)
    if not command:
        return "(명령 없음)", "", ()
    inline = "".join(u + "<br>" for u in uploads) + code(command)
    if "\n" not in command and len(inline) <= CELL_LIMIT:
        return inline, "", ()
    if long == "dry-run":
        return SEE_DRY_RUN, "", ()
    return f"{UNDER_TABLE} {step.number}", command, uploads


def rows(plan: Plan, view: RunView, long: str = "block") -> list[Row]:
    out, down = [], False
    for step in plan.steps:
        down = down or step.down
        cell, block, uploads = command_cell(step, view, long)
        out.append(Row(step.number, step.title, cell, block, uploads, step.kind is Kind.SHELL,
                       step.expected, _cell(step.on_failure), _tool_response(step, down),
                       step.added))  # fmt: skip
    return out


class Shown:
    """The step tables a document shows: each plan with the view it is rendered for."""

    def __init__(self) -> None:
        self.plans: list[tuple[Plan, RunView]] = []

    def rows(self, plan: Plan, view: RunView, long: str = "block") -> list[Row]:
        self.plans.append((plan, view))
        return rows(plan, view, long)


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def release_view(comp) -> RunView:
    return example_view(comp.name, comp.group).but(strategy="release")


def checklist_lines(items) -> list[str]:
    """The manual's checklist, one markdown line per phase: each item says what answers it
    (a step's success, the tool's own check, or the operator's y/n)."""
    out = []
    for phase in ("배포 전", "배포 중", "배포 후"):
        found = [_checked_by(item) for item in items if item.phase == phase]
        if found:
            out.append(f"- **{phase}**: " + " · ".join(found))
    return out


def _checked_by(item) -> str:
    if item.step:
        return f"{item.text} (단계 {item.step})"
    if item.check:
        return f"{item.text} (자동)"
    then = ', "아니오"면 롤백' if item.rollback_on_no else ""
    return f"{item.text} (**직접 확인**{then})"


def app_sections(shown: Shown | None = None) -> list[dict]:
    """The runbook's table per app: the release deploy (its build, then its first switch
    plan: the one the default settings take) with the build plan's checklist."""
    shown = shown or Shown()
    out = []
    for comp in registry.ORDER:
        view = release_view(comp)
        build, switch = example_plans(comp, view)[:2]
        out.append({"component": comp, "plan": build, "switch": switch,
                    "checklist": checklist_lines(build.checklist),
                    "rows": shown.rows(build, view, "dry-run") + shown.rows(switch, view, "dry-run")})  # fmt: skip
    return out


def render() -> str:
    """docs/runbook.md."""
    return (
        _environment()
        .get_template("runbook.md.j2")
        .render(apps=app_sections(), settings=Settings(), cell_limit=CELL_LIMIT)
    )


def reference_model(shown: Shown) -> dict:
    """What runbook-reference.md.j2 renders."""
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
                "rows": shown.rows(plan, view),
                "rollback": shown.rows(proc.rollback_plan(view), view),
                "checklist": plan.checklist,
            }
        )
    setup_rows = {}
    for group in ("cpu", "gpu"):
        view = example_view("setup", group, "setup")
        view = view.but(host=detect.offline(view.host))
        setup_rows[group] = shown.rows(host_setup.plan(view), view)
    releases = []
    for comp in registry.ORDER:
        view = release_view(comp)
        found = example_plans(comp, view)
        releases.append({"component": comp, "checklist": found[0].checklist, "plans": [
            {"plan": plan, "rows": shown.rows(plan, view)} for plan in found
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
            {"plan": plan, "rows": shown.rows(plan, view.but(strategy="release") if plan is rel[0] else view)}
            for plan in found
        ], "host": shown.rows(plan_for(on_host), on_host)})  # fmt: skip
    db = example_view("database", "cpu", "backup")
    return {
        "sections": sections,
        "releases": releases,
        "local": local,
        "backup_rows": shown.rows(backup.backup_plan(db), db),
        "restore_rows": shown.rows(backup.restore_plan(db), db),
        "settings": Settings(),
        "setup_rows": setup_rows,
    }


def render_reference() -> str:
    """docs/runbook-reference.md."""
    model = reference_model(Shown())
    return _environment().get_template("runbook-reference.md.j2").render(**model)


def plans_shown() -> list[tuple[Plan, RunView]]:
    """Every plan either document shows, with the view it is rendered for."""
    shown = Shown()
    reference_model(shown)
    app_sections(shown)
    return shown.plans


if __name__ == "__main__":
    # python -m tasks.runbook > docs/runbook.md; python -m tasks.runbook reference > ...
    print(render_reference() if sys.argv[1:] == ["reference"] else render(), end="")
