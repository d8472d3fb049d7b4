"""The host's own configuration: `fab setup` and `fab push-config`, on a session.

push-config: detect what depends on the host (detect.py) → check what the rendered units rely
on (preconditions.py: their users, jar, venv, checkout; nothing changes when one is
missing) → render templates/ → read what the host has → show the diff → ask → the push plan
(stage, validate, back up, install, reload/restart, check; rollback on failure).
setup: detect → the setup plan (tasks/setup/setup.py), whose push-config step is the
push above → the services and a health check; at the end, whether anything changed.
Both are recorded like deploys.
"""

from __future__ import annotations

import dataclasses

from tasks.apps import env as appenv
from tasks.apps import preconditions, registry
from tasks.apps.base import strategy_for
from tasks.config.push import push_on, unit_checks
from tasks.config.render import render
from tasks.config.state import Change
from tasks.engine import lock as locks
from tasks.engine.session import Session, preflight_secrets, session
from tasks.engine.view import RunView, new_run_id
from tasks.errors import ConfigError
from tasks.hostfacts import changed
from tasks.hosts.connect import connect_admin
from tasks.hosts.inventory import Host
from tasks.hosts.missing import Missing, missing_repos
from tasks.hosts.missing import checkouts_command as missing_checkouts
from tasks.hosts.secrets import Secrets
from tasks.localbuild import first
from tasks.setup import detect, firewall
from tasks.setup import setup as host_setup
from tasks.strategies import deploy, drift
from tasks.strategies.deploy import Options
from tasks.strategies.release.convert import convert, is_converted


def detected(s: Session) -> Host:
    """The session's host with the host-dependent settings filled in; the view follows."""
    host = s.view.host
    command = detect.facts_command(host.settings)
    facts = detect.parse(s.sh(command).stdout) if s.remote is not None else detect.assumed()
    host, why = detect.with_facts(host, facts)
    s.view = s.view.but(host=host)
    if why:
        s.console.out("호스트에서 정한 설정: " + ", ".join(
            f"{k}={_shown(getattr(host.settings, k))}" for k in why))  # fmt: skip
    if "ai_switch" in why and facts.gpu:
        s.console.out(f"AI 전환 방식 (ai_switch=auto): {why['ai_switch']}")
    return host


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def push_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    offline = detect.offline(host)
    texts = "\n".join(render(offline).values())  # every template error before any host
    missing = Missing(secrets)  # push-config connects even in a dry run: the connection files too
    preflight_secrets(host, secrets, [], missing=missing)
    missing.check()
    secrets.check([], {"the rendered config": texts})
    with session("config", "config", host, secrets, title="설정 (push-config)",
                 dry_run=opts.dry_run, yes=opts.yes, message=opts.message,
                 connect_in_dry_run=True, lock=False, connect=connect_admin) as s:  # fmt: skip
        host = detected(s)
        preconditions.verify(s, unit_checks(host, render(host)), "push-config")
        if strategy_for(host.settings).keeps_releases:
            _refuse_unconverted(s, host)
        if not opts.dry_run:  # checked first: on a host setup never prepared, nothing changes
            s.lock = locks.HostLock.take(
                s.remote, s.view, opts.message, wait=opts.lock_wait, say=s.console.out
            )
        push_on(s, host, check=False)
    return s


def setup_needs(host: Host) -> list[tuple[str, str]]:
    """The operator's .env keys setup reads on this host (named before anything changes)."""
    s, needs = host.settings, []
    if "cpu" in host_setup.roles(host):
        needs += [(s.db_app_password_env, "앱의 DB 계정"),
                  (s.db_password_env, f"DB 관리자 {s.db_user} (setup, 복원)"),
                  (s.db_backup_password_env, f"백업용 DB 계정 {s.db_backup_user}")]  # fmt: skip
    for comp in registry.on_host(host.groups, host.alias) or registry.ORDER:
        app = appenv.of(comp.name, s)
        needs += [(k, f"인벤토리의 {comp.name}_env") for k in appenv.secret_keys(app)]
    return needs


def setup_host(host: Host, secrets: Secrets, opts: Options) -> Session:
    offline = detect.offline(host)
    texts = "\n".join(render(offline).values())
    view = RunView("setup", "setup", offline, new_run_id(), dry_run=True)
    needs = [] if opts.dry_run else setup_needs(host)  # a dry run reads no secret
    missing = Missing(secrets)  # setup connects even in a dry run: the connection files too
    preflight_secrets(host, secrets, needs, (host_setup.plan(view),), view, missing=missing)
    if host.settings.firewall == "on":
        for setting, problem in firewall.source_problems(offline):
            missing.setting(host, setting, problem)
    missing.check()
    if host.settings.firewall == "on":  # every firewall error before any host
        texts += "\n" + firewall.ruleset(offline)
    secrets.check([k for k, _ in needs], {"the rendered config": texts})
    if not opts.dry_run:
        for comp in registry.ORDER:  # every value encodable, every ${NAME} there
            appenv.candidates(appenv.of(comp.name, host.settings), secrets)
    with session("setup", "setup", host, secrets, title="서버 준비 (setup)",
                 dry_run=opts.dry_run, yes=opts.yes, message=opts.message,
                 connect_in_dry_run=True, connect=connect_admin,
                 lock_wait=opts.lock_wait) as s:  # fmt: skip
        host = detected(s)
        if s.remote is not None:
            _refuse_missing_repos(s, host)
        if s.remote is not None:  # ssh_allow_from must let this operator in again
            problem = firewall.session_problem(
                s.sh(firewall.CLIENT_ADDRESS).stdout.strip(), host.settings, host.alias
            )
            if problem is not None:
                raise problem
        release = strategy_for(host.settings).keeps_releases
        # the release strategy starts from a host serving the manual way, then converts it
        # (tasks/strategies/release/convert.py); a converted host is set up as it is
        converting = release and (s.remote is None or bool(_unconverted(s, host)))
        phase = _as_manual(host) if converting else host
        s.view = s.view.but(host=phase)
        pushed: list[Change] = []

        def push(session: Session) -> str:
            pushed.extend(push_on(session, session.view.host, check=True))
            return f"변경: {len(pushed)}개 설정 파일" if pushed else "변경 없음"

        s.execute(host_setup.plan(s.view, push))
        if opts.dry_run:
            push_on(s, phase, check=False)  # the config diff the push step would apply
            if host.settings.firewall == "on":  # the file the firewall step uploads
                s.console.out(f"방화벽 규칙 ({firewall.FILE}, templates/{firewall.TEMPLATE}):\n"
                              + firewall.ruleset(host).rstrip("\n"))  # fmt: skip
            if converting:
                s.console.out("(그다음 strategy=release: 첫 release 배포처럼 모든 구성 요소를 "
                              "release 방식으로 바꾸고 release 설정을 올립니다)")  # fmt: skip
            return s
        if converting:
            s.view = s.view.but(host=host)
            _convert_all(s, host)
            pushed.extend(push_on(s, host, check=False))
        else:
            record_serving(s, host)
        _say_changes(s, host, pushed, converting)
    return s


def _refuse_missing_repos(s: Session, host: Host) -> None:
    """An empty ``*_repo`` is fine where the checkout is there already; on a new server setup
    would stop halfway at the clone: every such repo is named first, nothing changed."""
    unset = {c.name: c.checkout(host.settings) for c in registry.on_host(host.groups, host.alias)
             if not getattr(host.settings, f"{c.name}_repo")}  # fmt: skip
    if unset:
        out = s.sh(missing_checkouts(list(unset.values()))).stdout
        problem = missing_repos(host.alias, unset, out)
        if problem is not None:
            raise problem


def _as_manual(host: Host) -> Host:
    return dataclasses.replace(host, settings=host.settings.replace(strategy="manual"))


def record_serving(s: Session, host: Host) -> None:
    """What serves after setup is the first entry of each component's release record, so the
    first deploy can tell whether the host was changed by hand in between."""
    for comp in registry.on_host(host.groups, host.alias):
        if not drift.read(s, comp.name).get("current"):
            seen = drift.probe(s, comp)
            if seen.head:
                drift.remember(s, comp, seen.head)


def _say_changes(s: Session, host: Host, pushed: list[Change], converted: bool = False) -> None:
    made = [st for st in s.report.steps if st.section == "S" and changed(st.detail)]
    what = [f"S{st.number} {st.title}" for st in made]
    if converted:
        what.append("release 방식으로 전환 (release_convert)")
    if not what and not pushed:
        s.console.out(f"변경 없음: {host.alias}는 이미 setup된 상태입니다")
        s.report.message = "변경 없음"
        return
    s.console.out(f"{host.alias}: {len(what)} step(s) changed something: " + "; ".join(what))
    s.report.message = f"{len(what)} step(s) changed"


def _unconverted(s: Session, host: Host) -> list:
    return [c for c in registry.on_host(host.groups, host.alias)
            if not s.sh(is_converted(c, s.view.but(component=c.name))).ok]  # fmt: skip


def _refuse_unconverted(s: Session, host: Host) -> None:
    """The release strategy's config names releases a manual host does not have yet."""
    missing = _unconverted(s, host)
    if missing:
        raise ConfigError(
            f"{host.alias}의 {', '.join(c.name for c in missing)}은(는) 아직 manual 방식으로 "
            "돌고 있습니다: release 전략의 설정은 아직 없는 release를 가리키게 됩니다",
            f"먼저 `fab -H {host.alias} setup`(또는 배포)으로 release 방식으로 바꾸거나, "
            "strategy=manual로 push-config를 실행하십시오",
        )


def _convert_all(s: Session, host: Host) -> None:
    """setup on a release-strategy host: every manual component becomes releases."""

    setup_view = s.view
    for comp in _unconverted(s, host):
        s.console.out(f"!!! {comp.label}: manual 방식 → release 방식으로 전환합니다")
        s.view = setup_view.but(component=comp.name)
        deploy.read_deployed(s, comp)
        first.setup_conversion(s, comp)  # the AI built here: its first release's wheels
        convert(s, comp)
    s.view = setup_view
