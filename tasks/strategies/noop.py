"""No-op deploys (Deployer's ``deploy:check_remote``): a deploy whose target revision is what
already serves is skipped, "이미 배포된 리비전입니다 (...)", exit status 0; ``--force`` deploys
anyway.

"What serves" is what the host says, never what this machine remembers:

- a strategy that keeps releases: the release ``current`` points at (ready, on a converted
  host), its revision from its .release.json; for a blue/green pair, the live port's instance
  must be running that release; the version served now must be the one the release served
  when it was recorded (``.served-version``), when both are known;
- the manual strategy: the revision the drift check settled on (tasks/strategies/drift.py),
  which must be the checkout's HEAD and one the tool itself deployed (the record says
  ``deployed``: what was ``found`` serving, changed outside the tool, is deployed again);
- either way: the app's health check passes now, and the host's last deploy or rollback of
  the app ended ``ok`` (a failed, interrupted or detached one may have left it half done).

Any doubt deploys: only when every one of these holds is the deploy skipped. The facts are
read in one round trip, and only when the revisions match (a deploy of a new revision pays
nothing). :func:`reasons_to_deploy` is the pure judgement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tasks.apps.base import App, FirstLook, Strategy
from tasks.engine.records import host_history_path
from tasks.engine.session import Session
from tasks.hosts.settings import Settings
from tasks.shell import q
from tasks.strategies import drift
from tasks.strategies.release import verify as release_verify

#: a no-op deploy's result in its record (tasks/engine/history.py shows it in Korean)
SKIPPED = "skipped"
#: results of a deploy or rollback that say nothing about the host's state (nothing ran)
NOTHING_RAN = ("refused", SKIPPED, "planned", "declined")
#: how many of the app's newest records the host sends (the newest that ran anything decides)
LOOK_BACK = 20

#: prints the app's newest deploy/rollback records on the host, newest first, as small JSON
#: lines (kind, result, to, run_id): not the steps, which make a record ~10 KB
_COMPACT = (
    "import json, sys\n"
    "for line in sys.stdin:\n"
    "    try:\n"
    "        r = json.loads(line)\n"
    "    except ValueError:\n"
    "        continue\n"
    "    if isinstance(r, dict) and r.get('component') == sys.argv[-1]:\n"
    "        print(json.dumps({k: r.get(k) for k in ('kind', 'result', 'to', 'run_id')}))\n"
)


def last_runs_command(s: Settings, component: str) -> str:
    """The app's newest records on the host, newest first, compact (nothing when none)."""
    path = q(host_history_path(s.state_dir))
    return (
        f"{{ tac -- {path} 2>/dev/null | grep -F -- {q(json.dumps(component))} | "
        f"head -n {LOOK_BACK} | python3 -c {q(_COMPACT)} {q(component)}; }} || true"
    )


def last_run(stdout: str) -> dict | None:
    """The newest deploy or rollback that ran something (``last_runs_command``'s output)."""
    for line in stdout.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or rec.get("kind") not in ("deploy", "rollback"):
            continue
        if rec.get("result") in NOTHING_RAN:
            continue
        return rec
    return None


@dataclass(frozen=True)
class Facts:
    """What the host says about the app, for the judgement (empty strings: unknown)."""

    target: str  # the revision this deploy would deploy (a prefix, with --revision)
    serving: str  # the revision that serves
    keeps_releases: bool
    converted: bool = True
    release: str = ""  # the release that serves (keeps_releases)
    release_status: str = ""
    live_runs_release: bool = True  # blue/green: the live port's instance runs ``release``
    head: str = ""  # the manual strategy: the checkout's HEAD
    tool_deployed: bool = True  # the manual strategy: the record says the tool deployed it
    healthy: bool = False
    served_version: str = ""
    recorded_version: str = ""
    last: dict | None = None  # the host's newest deploy/rollback record of the app


def same_revision(target: str, serving: str) -> bool:
    """``target`` (a full commit id, or a --revision prefix of 7 or more) names ``serving``."""
    return bool(target and serving) and len(target) >= 7 and serving.startswith(target.lower())


def reasons_to_deploy(f: Facts) -> list[str]:
    """Why the deploy goes ahead although the revision serves (Korean); [] = skip it."""
    out = []
    if f.keeps_releases:
        if not f.converted:
            out.append("아직 release 방식으로 전환되지 않은 호스트입니다")
        if f.release_status != "ready":
            out.append(f"서비스 중인 릴리스 {f.release or '?'}의 상태가 "
                       f"{f.release_status or '알 수 없음'}입니다")  # fmt: skip
        if not f.live_runs_release:
            out.append(f"nginx가 보내는 인스턴스가 릴리스 {f.release or '?'}를 실행하고 있지 "
                       "않습니다")  # fmt: skip
    else:
        if f.head and f.head != f.serving:
            out.append(f"checkout이 {f.head[:12]}에 있습니다 (서비스 중: {f.serving[:12]})")
        if not f.tool_deployed:
            out.append("서비스 중인 것은 도구 밖에서 배포되었거나 바뀌었습니다 (drift)")
    if not f.healthy:
        out.append("헬스 체크가 실패합니다")
    if f.served_version and f.recorded_version and f.served_version != f.recorded_version:
        out.append(f"제공 버전 {f.served_version}이(가) 배포 때 기록된 {f.recorded_version}과(와) "
                   "다릅니다")  # fmt: skip
    if f.last is None:
        out.append("호스트에 이 앱의 배포 기록이 없습니다")
    elif f.last.get("result") != "ok":
        out.append(f"마지막 {f.last.get('kind')}의 결과가 {f.last.get('result')}입니다 "
                   f"(실행 {f.last.get('run_id') or '?'})")  # fmt: skip
    return out


# --- on a session --------------------------------------------------------------------------
LAST, HEALTH, SERVED, RECORDED, DRIFT = "last", "health", "served", "recorded", "drift"


def serving_of(s: Session, strategy: Strategy, state: object) -> tuple[str, str, str]:
    """(revision, release, its status) that serve, from the first look (no round trip)."""
    if strategy.keeps_releases and state is not None:
        cur = getattr(state, "current", None) or ""
        releases = getattr(state, "releases", [])
        status = next((r["status"] for r in releases if r["release"] == cur), "")
        return state.revision(cur) if cur else "", cur, status  # type: ignore[attr-defined]
    return s.view.from_rev, "", ""


def check(s: Session, comp: App, strategy: Strategy, first: FirstLook, state: object,
          target: str) -> str:  # fmt: skip
    """Why the deploy is skipped ("": it is not); said either way when the revision serves."""
    rev, rel, status = serving_of(s, strategy, state)
    if not same_revision(target, rev):
        return ""
    v = s.view
    reads = {
        LAST: last_runs_command(v.s, comp.name),
        HEALTH: strategy.health_command(comp, v.s),
    }
    url = release_verify.url_of(v)
    if url:
        reads[SERVED] = release_verify.read_served(v)
        if rel:
            reads[RECORDED] = release_verify.recorded(v, rel)
    if not strategy.keeps_releases:
        reads[DRIFT] = f"cat -- {q(drift.record_path(v.s, comp.name))} 2>/dev/null || true"
    got = dict(zip(reads, s.batch(list(reads.values())), strict=True))
    facts = Facts(
        target=target,
        serving=rev,
        keeps_releases=strategy.keeps_releases,
        converted=getattr(state, "converted", True),
        release=rel,
        release_status=status,
        live_runs_release=_live_runs(state, rel),
        head=first.head,
        tool_deployed=_tool_deployed(got.get(DRIFT), rev),
        healthy=got[HEALTH][0],
        served_version=got[SERVED][1].strip() if SERVED in got and got[SERVED][0] else "",
        recorded_version=got[RECORDED][1].strip() if RECORDED in got else "",
        last=last_run(got[LAST][1]),
    )
    reasons = reasons_to_deploy(facts)
    where = f"릴리스 {rel}" if rel else v.host.alias
    if reasons:
        s.console.out(f"리비전 {rev[:12]}은(는) 이미 서비스 중이지만 다시 배포합니다: "
                      + "; ".join(reasons))  # fmt: skip
        return ""
    said = f"이미 배포된 리비전입니다 ({rev[:12]}, {where})"
    s.console.out(f"{said}: 배포하지 않습니다 (다시 배포하려면 --force)")
    return said


def _live_runs(state: object, rel: str) -> bool:
    """A blue/green pair: the port nginx sends requests to runs ``rel`` (no pair: True)."""
    slots = getattr(state, "slots", None)
    if not slots:
        return True
    return slots.get(getattr(state, "live", 0)) == ("active", rel)


def _tool_deployed(got: tuple[bool, str] | None, rev: str) -> bool:
    """The manual strategy's record says the tool deployed ``rev`` (not ``found`` it)."""
    if got is None:
        return True
    try:
        record = json.loads(got[1] or "{}")
    except ValueError:
        return False
    entry = record.get("revisions", {}).get(rev, {}) if isinstance(record, dict) else {}
    return record.get("current") == rev and entry.get("how") == "deployed"
