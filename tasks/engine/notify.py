"""Discord notices (manual B1 and B12) through a webhook, with requests.

The webhook URL is a secret (``DISCORD_WEBHOOK_URL`` in .env). Without it, notices are
skipped. A notice that fails is reported and never fails a deploy.

A notice says who deploys what where: the manual's line (``배포 시작합니다 (예상 12분)``,
``배포 완료``, a failure), then the operator, the environment (``DOJANGKOK_ENVIRONMENT``), the
operator's ``--message``, the revisions from → to with the first commit subjects between them,
the time the run took, and on failure the step that failed and the way back. :func:`compose`
is the pure text; :func:`facts` gathers what it says from a run; the commit subjects are read
once per run (:func:`commits_command`, :func:`remember_commits`) from the checkout the deploy
used, and a failure notice says them only when they were read already (it never reads a host
whose connection may be gone).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime

from tasks.durations import duration_text
from tasks.engine.report import RESULTS
from tasks.engine.view import operator_name
from tasks.hosts.environment import current as current_environment
from tasks.shell import q

WEBHOOK_KEY = "DISCORD_WEBHOOK_URL"
#: what the operator does about a notice that failed (the task goes on)
NEXT = f" (작업은 계속합니다: 팀에 직접 알리고 {WEBHOOK_KEY}와 디스코드 상태를 확인하세요)"
#: commit subjects a notice lists (the rest are counted)
COMMITS_SHOWN = 5
#: the environment's name (contract: `--env NAME` sets it before anything runs; "" = none)
_REVISION = re.compile(r"[0-9a-f]{7,64}")


def send(url: str | None, text: str, timeout: float = 5.0) -> str:
    """Post ``text``; returns what happened, raises only with a masked reason."""
    if not url:
        return f"{WEBHOOK_KEY} 미설정: 공지 생략 ({text})"
    import requests  # only when there is a notice to send: it costs fab's start-up ~0.2 s

    try:
        resp = requests.post(url, json={"content": text}, timeout=timeout)
    except requests.RequestException as exc:
        raise RuntimeError(f"디스코드 공지 실패: {type(exc).__name__}{NEXT}") from None
    if resp.status_code >= 300:
        raise RuntimeError(f"디스코드 공지 실패: HTTP {resp.status_code}{NEXT}")
    return f"공지함: {text}"


# --- the text (pure) ---------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    """What a notice says besides its first line."""

    host: str
    operator: str
    environment: str = ""
    message: str = ""
    from_rev: str = ""
    to_rev: str = ""
    #: how many commits lie between from_rev and to_rev (None: not read)
    commit_count: int | None = None
    #: the first subjects, "<short sha> <subject>", newest first
    commits: tuple[str, ...] = ()
    seconds: float | None = None
    #: failures: the step that failed (its number, title and cause) and the way back
    failed_step: str = ""
    way_back: str = ""
    #: steps that failed without stopping the run (e.g. an after-switch hook)
    warnings: tuple[str, ...] = ()


def _short(rev: str) -> str:
    return rev[:7] if _REVISION.fullmatch(rev) else rev


def compose(head: str, f: Facts) -> str:
    """The notice: ``head`` (the manual's words), then one line per fact that is known."""
    where = f.host + (f" · 환경: {f.environment}" if f.environment else "")
    lines = [head, f"- 대상: {where}", f"- 운영자: {f.operator}"]
    if f.message:
        lines.append(f"- 메시지: {' '.join(f.message.split())}")
    if f.to_rev:
        revs = f"{_short(f.from_rev)} → {_short(f.to_rev)}" if f.from_rev else _short(f.to_rev)
        if f.commit_count is not None:
            revs += f" (커밋 {f.commit_count}개)"
        lines.append(f"- 리비전: {revs}")
        lines += [f"  · {c}" for c in f.commits[:COMMITS_SHOWN]]
        if f.commit_count is not None and f.commit_count > min(len(f.commits), COMMITS_SHOWN):
            lines.append(f"  · 외 {f.commit_count - min(len(f.commits), COMMITS_SHOWN)}개")
    if f.seconds is not None:
        lines.append(f"- 소요: {duration_text(f.seconds)}")
    lines += [f"- 경고: {w}" for w in f.warnings]
    if f.failed_step:
        lines.append(f"- 실패 단계: {f.failed_step}")
    if f.way_back:
        lines.append(f"- 되돌리기: {f.way_back}")
    return "\n".join(lines)


def commits_command(git: str, old: str, new: str) -> str | None:
    """Prints the number of commits in ``old..new``, then the first subjects (``%h %s``);
    ``git``: how git reaches the checkout (``git -C <path>``). None when the two are not
    both revisions (a dry run's placeholders, a first deploy) or are the same."""
    if not (_REVISION.fullmatch(old) and _REVISION.fullmatch(new)) or old == new:
        return None
    span = q(f"{old}..{new}")
    return (
        f"{git} rev-list --count --end-of-options {span} && "
        f"{git} log -n {COMMITS_SHOWN} --no-merges --format='%h %s' --end-of-options {span}"
    )


def parse_commits(output: str) -> tuple[int | None, tuple[str, ...]]:
    """commits_command's output → (count, subjects); (None, ()) when it is not that."""
    first, *rest = output.strip().splitlines() or [""]
    if not first.strip().isdigit():
        return None, ()
    subjects = tuple(" ".join(line.split())[:120] for line in rest if line.strip())
    return int(first), subjects[:COMMITS_SHOWN]


def way_back(host: str, component: str, strategy: str = "", usual: str = "",
             environment: str = "") -> str:  # fmt: skip
    """The rollback command for a deploy of ``component`` on ``host``."""
    prefix = f"--env {q(environment)} " if environment else ""
    flag = f" --strategy={strategy}" if strategy and usual and strategy != usual else ""
    return f"fab {prefix}-H {host} rollback-{component}{flag}"


def seconds_since(run_id: str, now: datetime | None = None) -> float | None:
    """How long ago the run started: its id begins with its start time (view.new_run_id)."""
    try:
        started = datetime.strptime(run_id[:22], "%Y%m%d_%H%M%S_%f")
    except ValueError:
        return None
    return max(0.0, ((now or datetime.now()) - started).total_seconds())


# --- gathered from a run -----------------------------------------------------------------
_commits: dict[tuple[str, str, str], tuple[int | None, tuple[str, ...]]] = {}
_commits_lock = threading.Lock()


def remember_commits(run_id: str, old: str, new: str, output: str) -> None:
    """Keep commits_command's output for the run's later notices (full-deploy runs hosts in
    threads: keyed by run, revisions included)."""
    with _commits_lock:
        _commits[(run_id, old, new)] = parse_commits(output)


def known_commits(run_id: str, old: str, new: str) -> tuple[int | None, tuple[str, ...]] | None:
    with _commits_lock:
        return _commits.get((run_id, old, new))


_unchanged: set[str] = set()


def nothing_switched(run_id: str) -> None:
    """The run failed before anything that serves changed (a release deploy's build or its
    before-switch hook): its failure notice says so instead of offering a rollback."""
    with _commits_lock:
        _unchanged.add(run_id)


def facts(session, **more) -> Facts:
    """What the run knows now: ``session`` is the run's Live (tasks/engine/live.py)."""
    v = session.view
    old, new = v.from_known, v.target or v.to_known
    count, subjects = known_commits(v.run_id, old, new) or (None, ())
    warned = tuple(f"{st.section}{st.number} {st.title} 실패" + (f" ({st.detail})" if st.detail else "")
                   for st in session.report.steps if st.status == "warned")  # fmt: skip
    base = dict(host=v.host.alias, operator=operator_name(), environment=current_environment(),
                message=getattr(session, "operator_message", ""), from_rev=old, to_rev=new,
                commit_count=count, commits=subjects, seconds=seconds_since(v.run_id),
                warnings=warned)  # fmt: skip
    return Facts(**{**base, **more})


def failure_text(session) -> str:
    """The notice of a run that ended badly: what failed, where, and the way back. Never
    raises (it is sent while the run's own error is on its way to the operator)."""
    r = session.report
    try:
        text = _failure_text(session)
    except Exception:  # noqa: BLE001 - the run's error matters, not this notice's detail
        text = f"❌ {session.title} {RESULTS.get(r.result, r.result)}: {session.view.host.alias} — {r.message}"
    return session.secrets.mask(text)


def _failure_text(session) -> str:
    v, r = session.view, session.report
    failed = next((f"{st.section}{st.number} {st.title}" for st in reversed(r.steps)
                   if st.status in ("failed", "interrupted") and st.phase == "deploy"), "")  # fmt: skip
    cause = f"{failed} — {r.message}" if failed and r.message and failed not in r.message else (
        r.message or failed)  # fmt: skip
    if r.rolled_back:
        back = "자동으로 이전 버전으로 되돌렸습니다 (이전 버전이 서비스 중)"
    elif r.result == "rollback-failed":
        back = f"자동 롤백도 실패: runbook '수동 복구' ({session.recovery()})"
    elif v.run_id in _unchanged:
        back = "필요 없음: 바뀐 것이 없습니다 (이전 버전이 계속 서비스합니다)"
    elif v.task == "deploy":
        back = "필요하면 " + way_back(v.host.alias, v.component, v.strategy, v.s.strategy,
                                     current_environment())  # fmt: skip
    else:
        back = session.recovery()
    return compose(
        f"❌ {session.title} {RESULTS.get(r.result, r.result)}",
        facts(session, failed_step=cause, way_back=back),
    )
