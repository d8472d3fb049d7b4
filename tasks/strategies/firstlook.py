"""A deploy's or rollback's first round trip, shared by the strategies: the checks the task
relies on, the checkout's HEAD, the deployed-revision stack, the root helper's version and
the strategy's own reads (Strategy.reads), all in one batch (Session.batch), then judged:
the checks, the helper, the checkout, the stack. The answers come back by name
(tasks/apps/base.py FirstLook), never by position."""

from __future__ import annotations

from tasks import shell
from tasks.apps import preconditions
from tasks.apps.base import App, FirstLook, strategy_for
from tasks.engine import records
from tasks.engine.session import Session
from tasks.errors import ConfigError
from tasks.hosts import values
from tasks.setup import privilege

# the shared reads' names; a strategy's own reads may not take these
CHECKS, HEAD, STACK, HELPER = "checks", "head", "stack", "helper"
SHARED = (CHECKS, HEAD, STACK, HELPER)


def batch_named(s: Session, reads: dict[str, str]) -> dict[str, tuple[bool, str]]:
    """Session.batch with the reads and their answers by name (one round trip)."""
    return dict(zip(reads, s.batch(list(reads.values())), strict=True))


def read(s: Session, comp: App, also: dict[str, str] | None = None) -> FirstLook:
    """Check what the task relies on and read what is deployed (and, the manual strategy,
    whether the host changed outside the tool: tasks/strategies/drift.py), with ``also``
    (e.g. the host's releases) in the same round trip; sets the session's ``from`` revision.
    A dry run reads nothing."""
    also = also or {}
    if clash := set(also) & set(SHARED):
        raise ValueError(f"a strategy's read may not be named {sorted(clash)}")
    s.set_recovery(state_command=comp.plans("manual").state_command(s.view))
    alias = s.view.host.alias
    if s.view.dry_run:
        s.set_recovery(f"fab -H {alias} rollback-{comp.name}")
        return FirstLook()
    settings = s.view.s.replace(strategy=s.view.strategy)
    checks = preconditions.for_deploy(settings, comp.name)
    checkout = comp.checkout(s.view.s)
    got = batch_named(s, {
        CHECKS: f"{{ {preconditions.command(checks)}\n}} 2>&1" if checks else "true",
        HEAD: f"{shell.git_head(checkout)} 2>&1",  # its error, when it fails, is the message
        STACK: records.stack_command(s),
        HELPER: privilege.helper_check(),
        **also,
    })  # fmt: skip
    if checks:
        ok, out = got[CHECKS]
        preconditions.judge(s, f"{s.view.task}", ok, out, "\n".join(out.splitlines()[-2:]))
    privilege.judge_helper(alias, got[HELPER][1])
    ok, head = got[HEAD]
    if not ok:
        raise ConfigError(
            f"{alias}의 {checkout}은(는) {s.view.host.user} 계정이 쓸 수 있는 git 체크아웃이 "
            f"아닙니다: {head or '실패'}",
            "이 호스트의 *_dir 설정과 ansible_user를 확인하거나, 먼저 setup을 실행하십시오",
        )
    head = head.splitlines()[-1] if head else ""  # a warning git printed comes before it
    stack = records.parse_stack(got[STACK][1])
    for rev in stack:
        if not values.is_revision(rev):
            raise ConfigError(
                f"{alias}의 배포 리비전 기록 {records.state_file(s)}에 커밋 ID가 아닌 값이 "
                f"있습니다: {rev!r}",
                '그 파일을 고치거나("deployed" 아래 커밋 ID의 JSON 목록) 지우십시오',
            )
    first = FirstLook(head, tuple(stack), {name: got[name] for name in also})
    s.set(from_rev=strategy_for(s.view.strategy).deployed_from(s, comp, first))
    s.set_recovery(f"fab -H {alias} rollback-{comp.name} --to={s.view.from_rev[:12]}")
    return first
