"""One task on one host, from connect to record: the flow every task goes through.

``with session(...) as s:`` connects, prints the banner and takes the host's deploy lock;
the task's own flow then runs plans with ``s.execute(plan, rollback)``. However the block
ends (success, a failed step, a rollback, a "no" on the checklist, Ctrl-C, a dropped
connection, a bug), the session prints the summary, writes the record locally and on the
host, sends the Discord notice of a failure, and releases the lock. ``--dry-run`` connects
to nothing, takes no lock and writes no record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from tasks.durations import downtime_text, duration_text
from tasks.engine import lock as locks
from tasks.engine import notify, records
from tasks.engine.checklist import Declined
from tasks.engine.console import Console
from tasks.engine.live import Live
from tasks.engine.report import Report, result_text, step_status_text
from tasks.engine.runner import Rollback, Runner, upload_check
from tasks.engine.steps import Plan
from tasks.engine.view import (
    RunView,
    new_run_id,
    operator_host,
    operator_name,
)
from tasks.errors import ConfigError, DeployToolError, StepFailed
from tasks.hosts import environment, validate
from tasks.hosts.connect import connect as ssh_connect
from tasks.hosts.inventory import Host
from tasks.hosts.missing import Missing
from tasks.hosts.remote import ConnectionLost, Interrupted, Remote, UploadFailed
from tasks.hosts.secrets import Secrets, setting_texts

Connect = Callable[..., Remote]


class Session(Live):
    """A :class:`Live` that runs plans, holds the host's deploy lock and ends the run."""

    def __init__(self, view: RunView, secrets: Secrets, *, yes: bool, console: Console,
                 remote: Remote | None, title: str) -> None:  # fmt: skip
        super().__init__(view, secrets, yes=yes, console=console, remote=remote, title=title)
        self.lock: locks.HostLock | None = None
        #: the operator's --message (the lock's and the record's)
        self.operator_message = ""

    def set_recovery(self, command: str | None = None, state_command: str | None = None) -> None:
        """What this task says if it ends badly, as the flow learns it: the ``command`` that
        recovers the host (``fab ... --to=...``) and a ``state_command`` printing its state."""
        if command is not None:
            self.recover_with = command
        if state_command is not None:
            self.state_command = state_command

    # --- the run -----------------------------------------------------------------------
    def set(self, lock_now: bool = True, **changes) -> None:
        """Record what the run found out (revisions, targets) in its view, and a new
        revision in the lock's info: now, or (``lock_now`` off) with the host run's launch
        that comes next (HostLock.upload)."""
        self.view = self.view.but(**changes)
        if self.lock is not None and ("to_rev" in changes or "target" in changes):
            self.lock.update(now=lock_now, revision=self.view.target or self.view.to_rev)

    @contextlib.contextmanager
    def viewing(self, view: RunView) -> Iterator[None]:
        """Run plans with another view for a while (e.g. building the release that served
        before this run, while converting a host)."""
        saved, self.view = self.view, view
        try:
            yield
        finally:
            self.view = saved

    def execute(self, plan: Plan, rollback: Rollback | None = None) -> Report:
        Runner(self).execute(plan, rollback)
        return self.report

    def rollback(self, plan: Plan, reason: str) -> None:
        """Roll back now, outside a failed step (a "no" after the deploy)."""
        self.console.out(f"!!! {reason} → 이전 빌드로 복원")
        Runner(self).execute(plan, phase="rollback")
        self.report.result, self.report.rolled_back = "rolled-back", True
        raise StepFailed(reason, "이전 버전으로 롤백했습니다", True, self.report)

    # --- the end -------------------------------------------------------------------------
    def summary(self) -> None:
        r = self.report
        rows = []
        for s in r.steps:
            actual = duration_text(s.seconds) if s.status not in ("planned", "skipped") else "-"
            title = s.title + (" (롤백)" if s.phase == "rollback" else "")
            rows.append(
                (s.section + s.number, title, s.expected, actual, step_status_text(s.status))
            )
        self.console.out("")
        self.console.table(("단계", "작업", "예상", "실제", "결과"), rows, right=(2, 3))
        if r.downtime is not None:
            self.console.out(f"다운타임: {downtime_text(r.downtime)} (서비스 중단 → 헬스체크 성공)")
        self.console.out(
            f"결과: {result_text(r.result)}" + (f" — {r.message}" if r.message else "")
        )
        if environment.current():
            self.console.out(f"환경: {environment.current()}")

    def record(self) -> None:
        """The record, locally and on the host; the lock this session holds is released in
        the same round trip (the record is the last thing a session writes there)."""
        lock = self.lock if self.lock is not None and not self.lock_handed_over else None
        unlock = locks.release_command(lock.s, lock.info.run_id) if lock else ""
        if records.append(self, {**self.record_base(), **self.report.to_dict()}, unlock) and lock:
            self.lock = None  # released: nothing left for the session's end to release

    def record_base(self) -> dict:
        """The record's fields that are not the report's (the host script starts from it)."""
        v = self.view
        return {
            "run_id": v.run_id,
            "time": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "operator": operator_name(),
            "machine": operator_host(),
            "kind": v.task,
            "component": v.component,
            "host": v.host.alias,
            "strategy": v.strategy,
            "environment": environment.current(),  # "" without --env (tasks/hosts/environment.py)
            # a task that deploys no revision (setup, config, backup) records none
            "from": v.from_known,
            "to": v.target or v.to_known,
            "yes": self.yes,
            "checklist": self.answers,
            "operator_message": self.operator_message,
            # where it was built, its artifact's checksum and size (tasks/localbuild/model.py)
            **({"build": v.build.record()} if v.build is not None else {}),
        }

    def notify_failure(self) -> None:
        text = notify.failure_text(self)  # masked
        try:
            notify.send(self.secrets.get(notify.WEBHOOK_KEY), text)
        except RuntimeError as exc:  # a notice never changes how a task ends
            self.console.out(f"! {exc}")


def _classify(session: Session, exc: BaseException) -> BaseException:
    """Set the report's result and message from how the block ended; the error to raise."""
    r = session.report
    if isinstance(exc, StepFailed):
        r.message = exc.problem
        if r.result in ("running", "ok"):
            r.result = "failed"
        return exc
    if isinstance(exc, Declined):
        r.result, r.message = "declined", str(exc)
        return StepFailed(str(exc), "체크리스트를 해결한 뒤 다시 실행하세요", None, r)
    if isinstance(exc, Interrupted):
        r.result, r.interrupted, r.message = "interrupted", True, "Ctrl-C"
        return StepFailed(
            "중단됨 (Ctrl-C)", "바뀐 것은 없습니다. 준비되면 다시 실행하세요", None, r
        )
    if isinstance(exc, ConnectionLost):
        r.result, r.message = "connection-lost", str(exc)
        return StepFailed(f"{session.view.host.alias} 연결이 끊겼습니다: {exc}",
                          "호스트 상태를 확인하세요: " + session.recovery(), None, r)  # fmt: skip
    if isinstance(exc, DeployToolError):
        r.result, r.message = "refused", exc.problem
        return exc
    if isinstance(exc, UploadFailed):  # a file written outside a step (e.g. a record)
        r.result, r.message = "failed", str(exc)
        said = f" (호스트: {exc.detail})" if exc.detail else ""
        return StepFailed(f"업로드 실패: {exc.path}{said}", upload_check(exc.path), None, r)
    r.result, r.message = "failed", f"{type(exc).__name__}: {exc}"
    return exc


@contextlib.contextmanager
def session(task: str, component: str, host: Host, secrets: Secrets, *, title: str,
            dry_run: bool = False, yes: bool = False, strategy: str = "manual",
            console: Console | None = None, remote: Remote | None = None, lock: bool = True,
            connect: Connect | None = None, message: str = "",
            connect_in_dry_run: bool = False, lock_wait: float = 0) -> Iterator[Session]:  # fmt: skip
    """One task on one host. ``remote``: an open connection to reuse (its lock is the
    caller's); otherwise the session connects and, unless ``lock`` is off, takes the lock.
    A dry run connects only with ``connect_in_dry_run`` (to read, e.g. a config diff).
    ``lock_wait``: seconds to wait for a held lock (``--lock-wait``; tasks/engine/lock.py).
    The host's settings are checked first (tasks/hosts/validate.py), before any connection."""
    validate.settings(host.settings, host.alias)
    view = RunView(task, component, host, new_run_id(), strategy, dry_run)
    console = console or Console(secrets)
    console.out(
        f"=== 도장콕 {environment.label()}{title}: {host.alias} ({host.address})"
        f"{' — DRY RUN' if dry_run else ''} ==="
    )
    own = remote is None and (not dry_run or connect_in_dry_run)
    if own:
        remote = (connect or ssh_connect)(host, secrets, label=view.run_id)
    s = Session(view, secrets, yes=yes, console=console, remote=remote, title=title)
    s.operator_message = message
    try:
        if own and lock and not dry_run:
            s.lock = locks.HostLock.take(remote, view, message, wait=lock_wait, say=console.out)
        try:
            yield s
            if s.report.result == "running":
                s.report.result = "planned" if dry_run else "ok"
        except BaseException as exc:
            error = _classify(s, exc)
            # a refusal before any step ran changed nothing: the error alone says it
            quiet = isinstance(error, ConfigError) and not s.report.steps
            # the record first: it carries what the host still waits for (an acknowledgement)
            _finish(s, record=not quiet)
            if not dry_run and not quiet:
                s.notify_failure()
            if error is exc:
                raise
            raise error from None
        _finish(s, record=True)
    finally:
        if s.lock is not None and not s.lock_handed_over:
            s.lock.release(s)
        elif s.lock is not None:
            s.console.out("(배포 잠금은 호스트의 실행이 끝날 때 풀립니다)")
        if own and remote is not None:
            remote.close()


def _finish(s: Session, record: bool) -> None:
    if s.report.steps:
        s.summary()
    if record and not s.view.dry_run:
        s.record()


def preflight_secrets(host: Host, secrets: Secrets, needs: list[tuple[str, str]],
                      plans: tuple[Plan, ...] = (), view: RunView | None = None,
                      missing: Missing | None = None) -> None:  # fmt: skip
    """The host's settings are safe (tasks/hosts/validate.py: every task's preflight calls
    this first); the secrets a task needs are there, and masking can hide each of them: long
    enough, and in none of the texts the tool prints anyway (settings, the host, the plans).
    ``missing``: a task's collection over all its hosts (tasks/hosts/missing.py), which the
    caller checks once; without it, what this host lacks is refused here, all at once."""
    validate.settings(host.settings, host.alias)
    if host.settings.sudo_password_env:
        needs = [*needs, (host.settings.sudo_password_env, "the sudo password")]
    used = [key for key, _ in needs]
    report = missing or Missing(secrets, files=False)
    report.need(host, needs)
    if missing is None:
        report.check()
    texts = setting_texts(host.settings)
    texts["the host"] = f"{host.alias} {host.address} {host.user or ''}"
    view = view or RunView("deploy", "-", host, new_run_id(), dry_run=True)
    for plan in plans:  # each as its component's run shows it
        texts[f"the plan {plan.title}"] = plan_text(plan, view.but(component=plan.component))
    secrets.check(used, texts)


def plan_text(plan: Plan, view: RunView) -> str:
    """Everything a plan shows an operator, as one text."""
    lines = [plan.title, plan.location, *(i.text for i in plan.checklist)]
    for step in plan.steps:
        lines += [step.title, step.expected, step.on_failure, step.added, *step.shown(view)]
    return "\n".join(lines)
