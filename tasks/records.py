"""Deploy records (배포 기록) and the deployed-revision stack.

Every deploy and rollback appends one JSON line to ``history.jsonl`` on the host (in the
``state_dir`` setting) and locally (``DOJANGKOK_HISTORY``, default
``~/.local/state/dojangkok-deploy/history.jsonl``). Per component, the host also keeps
``<component>.json``: the revisions deployed by the tool, oldest first. Rollback goes to
the one before the newest: the previously *deployed* revision, not ``HEAD~1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tasks.context import Run, q

STACK_LIMIT = 20


def local_history_path() -> Path:
    default = Path.home() / ".local/state/dojangkok-deploy/history.jsonl"
    return Path(os.environ.get("DOJANGKOK_HISTORY", default))


def read_stack(run: Run) -> list[str]:
    text = run.query(f"cat {q(state_file(run))} 2>/dev/null || true")
    if not text:
        return []
    try:
        return list(json.loads(text).get("deployed", []))
    except (json.JSONDecodeError, AttributeError):
        return []


def state_file(run: Run) -> str:
    return f"{run.s.state_dir}/{run.component}.json"


def write_stack(run: Run, stack: list[str]) -> None:
    assert run.runner is not None
    body = json.dumps({"deployed": stack[-STACK_LIMIT:]}, indent=1) + "\n"
    tmp = f"{state_file(run)}.tmp"
    run.runner.put_text(body, tmp, mode="644")
    run.runner.sh(f"mv -f {q(tmp)} {q(state_file(run))}")


def pushed(stack: list[str], from_rev: str, to_rev: str) -> list[str]:
    """The stack after a deploy of ``to_rev`` that replaced ``from_rev``."""
    stack = list(stack) or [from_rev]
    if stack[-1] != from_rev:
        stack.append(from_rev)  # someone deployed by hand meanwhile
    if stack[-1] != to_rev:
        stack.append(to_rev)
    return stack


def previous(stack: list[str], current: str) -> str | None:
    """The revision to roll back to: the newest deployed one that is not ``current``."""
    for rev in reversed(stack):
        if rev != current:
            return rev
    return None


def popped(stack: list[str], bad: str, good: str) -> list[str]:
    """The stack after rolling back from ``bad`` to ``good``."""
    stack = [r for r in stack if r != bad]
    while stack and stack[-1] != good:
        stack.pop()
    return stack or [good]


def append(run: Run, entry: dict) -> None:
    """Append one record locally and on the host (masked; a host failure is reported)."""
    line = run.secrets.mask(json.dumps(entry, ensure_ascii=False)) + "\n"
    path = local_history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
    if run.runner is None or run.dry_run:
        return
    remote = f"{run.s.state_dir}/history.jsonl"
    tmp = f"{remote}.{run.stamp}.tmp"
    try:
        run.runner.put_text(line, tmp, mode="644")
        res = run.runner.sh(f"cat {q(tmp)} >> {q(remote)} && rm -f {q(tmp)}")
        problem = "" if res.ok else res.tail(3)
    except OSError as exc:  # e.g. the state dir does not exist yet (stopped before step 0)
        problem = f"{exc}"
    if problem:
        run.runner.out(f"! 호스트에 배포 기록을 쓰지 못했습니다 ({remote}): {problem}")
        run.runner.out(f"  로컬 기록은 남았습니다: {path}")


def read_local(limit: int = 20) -> list[dict]:
    path = local_history_path()
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    return [json.loads(line) for line in lines if line.strip()]
