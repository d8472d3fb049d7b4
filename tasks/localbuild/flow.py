"""The part of a deploy that runs before the component's plan: nothing on the host changes.

:func:`prepare` reads the host's facts (one read-only command), settles the revision (the
head of the origin's branch, or ``--revision`` if it is on that branch), then runs section L:
with ``build_on=local`` the host's checkout must name ``<component>_repo`` exactly
(tasks/localbuild/origin.py), then the clean checkout, the build and the runtime checks; with ``host``
the checks that apply to a host build. Everything found rides in the view
(``RunView.build``): the component's plan reads it (what to send, its SHA-256), and so do
the record and .release.json.
"""

from __future__ import annotations

from tasks.apps.base import App, strategy_for
from tasks.engine.steps import Plan
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.localbuild import checkout, kind
from tasks.localbuild.facts import host_command, parse
from tasks.localbuild.model import Build
from tasks.localbuild.steps import host_check_plan, local_plan
from tasks.shell import q
from tasks.strategies.release.convert import is_converted


def plan_for(view: RunView) -> Plan:
    """Section L as it runs for the view's build place (dry runs and the runbook too)."""
    return local_plan(view) if view.build_on == "local" else host_check_plan(view)


def prepare(s, comp: App, requested: str | None = None) -> None:
    v = s.view
    if v.dry_run:
        s.set(build=Build(v.build_on, requested=requested or ""))
        s.execute(plan_for(s.view))
        return
    if requested and v.build_on == "host" and strategy_for(v.strategy).pulls_branch_head:
        raise ConfigError(
            "manual 전략에서 --revision을 쓰려면 --build-on=local이 필요합니다: 매뉴얼의 "
            "'코드 Pull' 단계는 브랜치의 최신 커밋을 받습니다",
            "--build-on=local을 추가하거나 release 전략을 쓰십시오",
        )
    if v.build_on == "local":
        checkout.require(v.s, comp.name, v.host.alias)  # (the preflight refused it already)
    facts = parse(v.host.alias, s.query(host_command(v)))
    build = Build(v.build_on, revision=v.to_rev, requested=requested or "", facts=facts)
    s.set(build=build)
    if v.build_on == "local":
        checkout.check_host(s.view)  # the host's checkout names exactly that origin
        if not facts.known:
            raise ConfigError(
                f"{v.host.alias}의 실행 환경(OS, 아키텍처, 런타임)을 알아내지 못해, 여기서 만든 "
                "빌드가 그 호스트에 맞는지 확인할 수 없습니다",
                "연결과 호스트(uname, /etc/os-release)를 확인하거나 --build-on=host를 쓰십시오",
            )
        if kind.kind(v) == kind.TREE and not facts.rsync:
            raise ConfigError(
                f"{v.host.alias}에 rsync가 없습니다: {comp.name}은(는) rsync로 보냅니다",
                "그 호스트에 rsync를 설치하거나(apt-get install rsync) --build-on=host를 쓰십시오",
            )
        extra = ()
        if (
            kind.kind(v) == kind.WHEELHOUSE
            and strategy_for(v.strategy).keeps_releases
            and not _converted(s, comp)
        ):
            extra = (v.from_rev,)  # its first release is built from the revision it serves
        s.set(build=build.but(origin=checkout.origin(s.view), extra=extra))
    elif requested:
        sha = host_revision(s, comp, requested)
        s.set(to_rev=sha, build=s.view.build.but(revision=sha))
    s.execute(plan_for(s.view))


def _converted(s, comp: App) -> bool:

    return s.sh(is_converted(comp, s.view)).ok


def host_revision(s, comp: App, rev: str) -> str:
    """--revision for a host build: the host's checkout has fetched the branch; the revision
    must be on it."""
    v = s.view
    g = f"git -C {q(comp.checkout(v.s))}"
    res = s.sh(f"{g} rev-parse --verify --quiet {q(rev + '^{commit}')}")
    sha = res.stdout.strip()
    if not res.ok or not sha:
        raise ConfigError(
            f"리비전 {rev}이(가) {v.s.git_remote}에 없습니다({v.host.alias}가 받아 온 기준): "
            "push하지 않았거나 잘못 적었습니다",
            f"먼저 {v.s.git_branch}에 push하십시오",
        )
    if not s.sh(f"{g} merge-base --is-ancestor {q(sha)} {q(v.to_rev)}").ok:
        raise ConfigError(
            f"리비전 {sha[:12]}은(는) {v.s.git_remote}의 {v.s.git_branch} 브랜치에 없습니다",
            f"{v.s.git_branch}에 merge하고 push하거나, {v.s.git_branch}의 최신 커밋을 배포하십시오",
        )
    return sha
