"""The host's own configuration: `fab setup` and `fab push-config`, on a session.

push-config: render templates/ → read what the host has → show the diff → ask → the push
plan (stage, validate, back up, install, reload/restart, check; rollback on failure).
setup: the setup plan (accounts, directories, swap, database), then push-config.
Both are recorded like deploys.
"""

from __future__ import annotations

from tasks.config.plan import push_plan
from tasks.config.render import render
from tasks.config.state import Change, changes, parse_state, state_command
from tasks.engine.checklist import ask
from tasks.engine.session import Session, preflight_secrets, session
from tasks.engine.view import RunView, new_run_id
from tasks.errors import ConfigError, StepFailed
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.procedures import setup as host_setup
from tasks.procedures.deploy import Options


def read_state(s: Session, host: Host, files) -> dict[str, str | None]:
    res = s.sh(state_command(files, host.settings), sudo=True)
    if not res.ok:
        raise ConfigError(
            f"cannot read the current config on {host.alias}: {res.tail(3)}",
            "check the ssh login and sudo for this host",
        )
    return parse_state(res.stdout)


def push_on(s: Session, host: Host, only: set[str] | None = None) -> list[Change]:
    """Diff, ask, apply (``only``: these files, by key). Raises StepFailed when a step
    failed: before the install step nothing on the host changed; after it, the old config
    is back."""
    rendered = {f: text for f, text in render(host).items() if only is None or f.key in only}
    found = changes(rendered, read_state(s, host, list(rendered)), host.settings)
    if not found:
        s.console.out(f"no changes: {host.alias} already has the rendered config")
        s.report.message = "no changes"
        return []
    for c in found:
        s.console.out(c.diff(host.alias).rstrip("\n"))
    if s.view.dry_run:
        s.console.out(f"dry run: {len(found)} file(s) would change; nothing was changed")
        return found
    if not ask(f"{host.alias}에 위 설정 변경을 적용할까요?", s.yes)[0]:
        raise StepFailed("설정 적용을 취소했습니다", "서버의 설정은 그대로입니다")
    plan, rollback = push_plan(found)
    s.execute(plan, rollback)
    s.report.message = f"{len(found)} file(s) changed"
    return found


def push_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    texts = "\n".join(render(host).values())  # every template error before the host is touched
    preflight_secrets(host, secrets, [])
    secrets.check([], {"the rendered config": texts})
    with session("config", "config", host, secrets, title="설정 (push-config)",
                 dry_run=opts.dry_run, yes=opts.yes, message=opts.message,
                 connect_in_dry_run=True) as s:  # fmt: skip
        if host.settings.strategy == "release":
            _refuse_unconverted(s, host)
        push_on(s, host)
    return s


def setup_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    texts = "\n".join(render(host).values())
    needs = []
    if "cpu" in host_setup.roles(host) and not opts.dry_run:
        needs.append((host.settings.db_app_password_env, "the app's database account"))
    view = RunView("setup", "setup", host, new_run_id(), dry_run=True)
    preflight_secrets(host, secrets, needs, (host_setup.plan(view),), view)
    secrets.check([], {"the rendered config": texts})
    with session("setup", "setup", host, secrets, title="서버 준비 (setup)",
                 dry_run=opts.dry_run, yes=opts.yes, message=opts.message) as s:  # fmt: skip
        s.execute(host_setup.plan(s.view))
        if opts.dry_run:
            s.console.out("(then: push-config)")
            return s
        if host.settings.strategy == "release":
            _convert_all(s, host)
        push_on(s, host)
    return s


def _unconverted(s: Session, host: Host) -> list:
    from tasks import components
    from tasks.procedures.release_convert import is_converted

    return [c for c in components.on_host(host.groups, host.alias)
            if not s.sh(is_converted(c, s.view.but(component=c.name))).ok]  # fmt: skip


def _refuse_unconverted(s: Session, host: Host) -> None:
    """The release strategy's config names releases a manual host does not have yet."""
    missing = _unconverted(s, host)
    if missing:
        raise ConfigError(
            f"{host.alias} still runs {', '.join(c.name for c in missing)} the manual way: "
            "the release strategy's config would point at releases that do not exist",
            f"convert it first: `fab -H {host.alias} setup` (or a deploy), "
            "or push with strategy=manual",
        )


def _convert_all(s: Session, host: Host) -> None:
    """setup on a release-strategy host: every manual component becomes releases."""
    from tasks.procedures import deploy
    from tasks.procedures.release_convert import convert

    for comp in _unconverted(s, host):
        s.console.out(f"!!! {comp.label}: manual 방식 → release 방식으로 전환합니다")
        s.view = s.view.but(component=comp.name)
        deploy.read_deployed(s, comp)
        convert(s, comp)
    s.view = s.view.but(component="setup")
