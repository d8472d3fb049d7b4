"""Runs a component's plan on its hosts: the flow around the steps.

connect → read what is deployed → 배포 전 checklist → steps (policies, rollback) →
배포 중/후 checklist → deployed-revision stack → deploy record → summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tasks import ai, backend, backup, checklist, frontend, records, shell
from tasks.connect import connect, explain
from tasks.context import Run, operator_name, q
from tasks.errors import ConfigError, StepFailed
from tasks.inventory import Host, Inventory
from tasks.runner import Report, Runner
from tasks.secrets import Secrets
from tasks.settings import Settings
from tasks.steps import Plan


@dataclass(frozen=True)
class Component:
    name: str
    label: str  # Korean, for notices
    group: str  # the inventory group it deploys to by default
    plan: Callable[[], Plan]
    rollback: Callable[[Run, str], Plan]
    checkout: Callable[[Settings], str]
    #: .env keys the deploy needs: (key setting's value, why)
    needs: Callable[[Settings], list[tuple[str, str]]]


COMPONENTS = {
    "frontend": Component(
        "frontend", "프론트엔드", "cpu", frontend.plan, frontend.rollback_plan,
        lambda s: s.frontend_dir, lambda s: [],
    ),
    "backend": Component(
        "backend", "백엔드", "cpu", backend.plan, backend.rollback_plan,
        lambda s: s.backend_dir, lambda s: [(s.db_password_env, "MySQL backup, step B3")],
    ),
    "ai": Component(
        "ai", "AI 서버", "gpu", ai.plan, ai.rollback_plan,
        lambda s: s.ai_dir, lambda s: [],
    ),
}  # fmt: skip


def preflight(comp: Component, hosts: list[Host], secrets: Secrets) -> None:
    """Every check that needs no host: secrets present, every command buildable."""
    for host in hosts:
        for key, why in comp.needs(host.settings):
            secrets.require(key, why)
        if host.settings.sudo_password_env:
            secrets.require(host.settings.sudo_password_env, f"sudo on {host.alias}")
        run = Run(comp.name, host, secrets, dry_run=True)
        for step in comp.plan().steps:
            step.render(run)  # raises ConfigError on a bad smoke spec and the like


def _start(comp: Component, host: Host, secrets: Secrets, dry_run: bool, yes: bool, kind: str,
           out=None, track: bool = True):  # fmt: skip
    """Connect, announce, and read what is deployed (unless ``track`` is off: backups)."""
    conn = None if dry_run else connect(host, secrets)
    runner = Runner(conn, secrets, out=out) if out else Runner(conn, secrets)
    run = Run(comp.name, host, secrets, runner, dry_run=dry_run, yes=yes, kind=kind)
    title = {"deploy": "배포", "rollback": "롤백", "backup": "DB 백업", "restore": "DB 복원"}[kind]
    where = f"{host.alias} ({host.address})"
    runner.out(f"=== 도장콕 {comp.label} {title}: {where}{' — DRY RUN' if dry_run else ''} ===")
    stack: list[str] = []
    if dry_run:
        return runner, run, stack
    try:
        if not track:
            run.query("true")
            return runner, run, stack
        checkout = comp.checkout(host.settings)
        head = run.query(shell.git_head(checkout))
    except RuntimeError as exc:  # the command ran, and failed
        raise ConfigError(
            f"{checkout} on {host.alias} is not a git checkout {host.user} can use: {exc}",
            "check the *_dir settings and ansible_user for this host, or set the host up first",
        ) from None
    except Exception as exc:  # no connection at all
        raise explain(host, exc) from None
    stack = records.read_stack(run)
    run.from_rev = stack[-1] if stack else head
    return runner, run, stack


def deploy_host(
    comp: Component, host: Host, secrets: Secrets, dry_run=False, yes=False, out=None
) -> Report:
    runner, run, stack = _start(comp, host, secrets, dry_run, yes, "deploy", out)
    plan = comp.plan()
    s = host.settings
    if not dry_run:
        run.to_rev = run.query(shell.git_remote_head(comp.checkout(s), s.git_remote, s.git_branch))
    report = Report(comp.name, host.alias, "deploy")
    try:
        checklist.run_phase(plan, run, checklist.BEFORE)
        report = runner.execute(plan, run, rollback=comp.rollback)
        statuses = {st.number: st.status for st in report.steps}
        checklist.run_phase(plan, run, checklist.DURING, statuses)
        try:
            checklist.run_phase(plan, run, checklist.AFTER, statuses)
        except checklist.Declined as no:
            if not no.item.rollback_on_no:
                raise
            runner.out(f"!!! {no} → 이전 빌드로 복원")
            back = runner.execute(comp.rollback(run, str(no)), run)
            report.steps.extend(back.steps)
            report.result, report.rolled_back = "rolled-back", True
            raise StepFailed(str(no), "이전 버전으로 롤백했습니다", True, report) from None
    except checklist.Declined as no:
        report.result = "declined"
        _finish(run, report, stack)
        raise StepFailed(str(no), "체크리스트를 해결한 뒤 다시 배포하세요", None, report) from None
    except StepFailed as failed:
        _finish(run, failed.report or report, stack)
        raise
    if not dry_run:
        run.to_rev = run.query(shell.git_head(comp.checkout(s)))
    _finish(run, report, records.pushed(stack, run.from_rev, run.to_rev))
    return report


def rollback_host(comp: Component, host: Host, secrets: Secrets, to: str | None = None,
                  dry_run=False, yes=False) -> Report:  # fmt: skip
    runner, run, stack = _start(comp, host, secrets, dry_run, yes, "rollback")
    target = to or (records.previous(stack, run.from_rev) if not dry_run else "<직전 배포 리비전>")
    if not target:
        raise ConfigError(
            f"no previously deployed {comp.name} revision is recorded on {host.alias}",
            "pass --to=<revision> (see `fab history` or `git log` on the host)",
        )
    run.notes["target"] = run.to_rev = target
    runner.out(f"롤백 대상: {run.from_rev[:12]} → {target[:12]}")
    try:
        report = runner.execute(comp.rollback(run, "operator"), run)
    except StepFailed as failed:
        _finish(run, failed.report, stack)
        raise
    _finish(run, report, records.popped(stack, run.from_rev, target))
    return report


def backup_host(host: Host, secrets: Secrets, dry_run=False) -> Report:
    """Manual B3–B4 alone (`fab backup-db`), recorded like a deploy."""
    runner, run, _ = _start(COMPONENTS["backend"], host, secrets, dry_run, True, "backup",
                            track=False)  # fmt: skip
    try:
        report = runner.execute(backup.backup_plan(), run)
    except StepFailed as failed:
        _finish(run, failed.report, [])
        raise
    if not dry_run:
        runner.out(f"백업 파일: {run.notes.get('backup')}")
    _finish(run, report, [])
    return report


def restore_host(host: Host, secrets: Secrets, source: str | None, dry_run=False,
                 yes=False) -> Report:  # fmt: skip
    """Restore the DB from a backup (latest unless named), after a safety backup."""
    runner, run, _ = _start(COMPONENTS["backend"], host, secrets, dry_run, yes, "restore",
                            track=False)  # fmt: skip
    s = host.settings
    if not source and not dry_run:
        source = run.query(
            f"ls -1t {q(s.backup_dir)}/{backup.PREFIX}*.sql.gz 2>/dev/null | head -1"
        )
        if not source:
            raise ConfigError(
                f"no backup in {s.backup_dir} on {host.alias}", "run `fab -H cpu backup-db` first"
            )
    if source:
        run.notes["restore_from"] = source
    question = f"{s.db_name} 데이터베이스를 {source or '최신 백업'}(으)로 덮어씁니까?"
    if not dry_run and not checklist.ask(question, run)[0]:
        raise ConfigError("restore declined", "nothing was changed")
    try:
        report = runner.execute(backup.restore_plan(), run)
    except StepFailed as failed:
        _finish(run, failed.report, [])
        if run.notes.get("backup"):
            failed.fix += f" — 복원 전 데이터: {run.notes['backup']}"
        raise
    if not dry_run:
        runner.out(f"복원 전 데이터: {run.notes.get('backup')} (되돌리려면 --backup 으로 지정)")
    _finish(run, report, [])
    return report


def _finish(run: Run, report: Report, stack: list[str]) -> None:
    assert run.runner is not None
    run.runner.summary(report)
    if run.dry_run:
        return
    if report.result == "ok":
        records.write_stack(run, stack)
    records.append(
        run,
        {
            "time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "operator": operator_name(),
            "component": run.component,
            "host": run.host.alias,
            "kind": run.kind,
            "strategy": "manual",
            "from": run.from_rev,
            "to": run.to_rev,
            "yes": run.yes,
            "checklist": run.answers,
            **report.to_dict(),
        },
    )


def hosts_for(target: str | None, inv: Inventory, group: str) -> list[Host]:
    return inv.resolve(target) if target else inv.group(group)
