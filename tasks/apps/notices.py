"""A deploy's Discord notices, with what the team needs to know (tasks/engine/notify.py).

The manual's B1 ("배포 시작합니다 ...") and B12 ("배포 완료") lines, followed by the operator,
the environment, the ``--message``, the revisions from → to and the first commit subjects
between them, read once per run from the checkout the deploy used: the host's git checkout,
or this machine's mirror of the origin when the build ran here (build_on=local,
tasks/localbuild/checkout.py). A notice whose commits cannot be read is sent without them.
"""

from __future__ import annotations

import os
import subprocess

from tasks.engine import notify
from tasks.engine.view import RunView
from tasks.hosts.remote import Interrupted
from tasks.shell import q


def said(done: bool) -> str:
    """What a notice adds to the manual's line (shown by --dry-run and the runbook)."""
    return "운영자, 환경, 메시지, 리비전과 커밋 (처음 5개)" + (", 소요 시간" if done else "")


def local_mirror(v: RunView) -> str:
    """This machine's mirror of the origin a local build fetched (tasks/localbuild/checkout.py
    ``mirror``: ``<build_work_dir>/git/<component>.git``), ``~`` expanded."""
    return os.path.expanduser(f"{v.s.build_work_dir.rstrip('/')}/git/{v.component}.git")


def read_commits(session, checkout: str) -> None:
    """Read the commits between the run's revisions once (kept for its later notices), from
    ``checkout`` on the host, or the local mirror when the build ran here."""
    v = session.view
    if v.dry_run or v.task != "deploy":
        return
    local = v.build_on == "local"
    command = notify.commits_command(f"git -C {q(local_mirror(v) if local else checkout)}",
                                     v.from_rev, v.to_rev)  # fmt: skip
    if command is None or notify.known_commits(v.run_id, v.from_rev, v.to_rev) is not None:
        return
    try:
        if local:
            done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                  timeout=30, check=False)  # fmt: skip
            out = done.stdout if done.returncode == 0 else ""
        else:
            res = session.sh(command)
            out = res.stdout if res.ok else ""
    except Interrupted:  # Ctrl-C: the run's to handle
        raise
    except Exception:  # noqa: BLE001 - a notice never fails a deploy (ConnectionLost too)
        out = ""
    notify.remember_commits(v.run_id, v.from_rev, v.to_rev, out)


def text(session, head: str, checkout: str, done: bool = False) -> str:
    """The notice: ``head``, then the run's facts (``done``: how long it took, warnings);
    ``checkout``: the app's checkout on the host (its commits)."""
    read_commits(session, checkout)
    facts = notify.facts(session)
    if not done:
        facts = notify.Facts(**{**facts.__dict__, "seconds": None, "warnings": ()})
    return session.secrets.mask(notify.compose(head, facts))


def send(session, head: str, checkout: str, done: bool = False) -> str:
    """Post the notice; returns what happened (raises RuntimeError with a masked reason)."""
    return notify.send(session.secrets.get(notify.WEBHOOK_KEY),
                       text(session, head, checkout, done))  # fmt: skip
