"""push-config's core: render, diff against what the host has, ask, apply only what changed
(setup, `fab push-config` and a release conversion all push this way)."""

from __future__ import annotations

from tasks.apps import preconditions
from tasks.config.plan import new_units, push_plan
from tasks.config.render import ConfigFile, render
from tasks.config.state import Change, changes, parse_state, state_command
from tasks.engine.checklist import ask
from tasks.engine.session import Session
from tasks.errors import ConfigError, StepFailed
from tasks.hosts.inventory import Host


def read_state(s: Session, host: Host, files) -> dict[str, str | None]:
    res = s.sh(state_command(files, host.settings), sudo=True)
    if not res.ok:
        raise ConfigError(
            f"{host.alias}의 현재 설정을 읽지 못했습니다 ({res.tail(3)})",
            "이 호스트의 SSH 로그인과 sudo 권한을 확인하십시오",
        )
    return parse_state(res.stdout)


def unit_checks(host: Host, rendered: dict[ConfigFile, str]) -> list[preconditions.Check]:
    return [c for f in rendered for c in preconditions.for_unit(host.settings, f.key)]


def push_on(s: Session, host: Host, check: bool = True,
            only: set[str] | None = None) -> list[Change]:  # fmt: skip
    """Diff, ask, apply (``only``: these files, by key). Raises StepFailed when a step
    failed: before the install step nothing on the host changed; after it, the old config
    is back (a unit that did not exist before is removed again)."""
    rendered = {f: text for f, text in render(host).items() if only is None or f.key in only}
    if check:
        preconditions.verify(s, unit_checks(host, rendered), "push-config")
    found = changes(rendered, read_state(s, host, list(rendered)), host.settings)
    if not found:
        s.console.out(f"변경 없음: {host.alias}의 설정이 이미 최신입니다")
        s.report.message = "변경 없음"
        return []
    for c in found:
        s.console.out(c.diff(host.alias).rstrip("\n"))
    if s.view.dry_run:
        s.console.out(f"dry run: 파일 {len(found)}개가 바뀔 예정입니다. 아무것도 바꾸지 않았습니다")
        return found
    if not ask(f"{host.alias}에 위 설정 변경을 적용할까요?", s.yes)[0]:
        raise StepFailed("설정 적용을 취소했습니다", "서버의 설정은 그대로입니다")
    plan, rollback = push_plan(found)
    try:
        s.execute(plan, rollback)
    except StepFailed as exc:
        fresh = [f.service for f in new_units(found)]
        if exc.rolled_back and fresh:  # say what happened: the new unit is gone again
            raise StepFailed(
                exc.problem,
                f"새로 만든 유닛 {', '.join(fresh)}은(는) 지웠고(이전에는 없었습니다) 다른 파일은 "
                "모두 이전 그대로입니다. 원인을 고친 뒤 다시 push-config를 실행하십시오",
                True,
                exc.report,
            ) from None
        raise
    s.report.message = f"{len(found)} file(s) changed"
    return found
