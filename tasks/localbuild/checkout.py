"""A clean local checkout of the exact revision being deployed, from the inventory's origin.

The manual's §2: "배포 담당자의 실수 (잘못된 버전 등)". A build from an operator's working
tree can ship code that is in no commit (an uncommitted edit, an unpushed commit). So the
tool never builds there: it keeps a bare mirror of ``<component>_repo`` (the inventory's
origin, which the host's checkout must name exactly: tasks/localbuild/origin.py; never a URL the
host reports), fetches the branch, refuses a revision that is not on it, and exports the
revision with ``git archive`` into a fresh work dir of its own::

    <build_work_dir>/git/<component>.git              the mirror (fetched each deploy)
    <build_work_dir>/<component>/<run id>-<sha7>/     one build (the newest 3 are kept)
"""

from __future__ import annotations

import os
from pathlib import Path

from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import values
from tasks.hosts.settings import Settings
from tasks.localbuild import origin as origins
from tasks.localbuild.facts import checkout_of
from tasks.localbuild.localrun import query
from tasks.shell import q

KEEP = 3


def shell_path(path: str) -> str:
    """``~/x`` as shell text that expands ``$HOME`` (the same text on every machine)."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"' + (f"/{q(rest)}" if rest else "")
    return q(path)


def real_path(path: str) -> Path:
    return Path(os.path.expanduser(path))


def _rel(v: RunView, *parts: str) -> str:
    return "/".join((v.s.build_work_dir.rstrip("/"), *parts))


def mirror(v: RunView) -> str:
    return _rel(v, "git", f"{v.component}.git")


def work(v: RunView) -> str:
    rev = v.to_rev[:7] if not v.to_rev.startswith("<") else "<sha>"
    return _rel(v, v.component, f"{v.run_id}-{rev}")


def setting(v: RunView) -> str:
    return f"{v.component}_repo"


def origin(v: RunView) -> str:
    """Where the code comes from: ``<component>_repo`` (tasks/localbuild/origin.py); shown as
    ``<component>_repo`` while it is not set (a deploy is refused then: :func:`require`)."""
    return getattr(v.s, setting(v), "") or f"<{setting(v)}>"


def require(s: Settings, component: str, alias: str) -> None:
    """Refuse a local build without ``<component>_repo``: deploy.preflight calls it before
    any host is touched, :func:`tasks.localbuild.flow.prepare` again before the host is asked."""
    name = f"{component}_repo"
    if not getattr(s, name, ""):
        raise ConfigError(
            f"a local build of {component} (build_on=local) for {alias} needs {name}: this "
            "machine fetches and builds only from the origin the inventory names, never from "
            "one the host reports",
            f"set {name} in the inventory to the repository's URL (the one `fab setup` clones; "
            "every deploy checks the host's checkout against it), or use --build-on=host",
        )


def check_host(v: RunView) -> None:
    """The host's checkout must name the inventory's origin exactly (refused otherwise)."""
    facts = v.build.facts if v.build is not None else None
    got = facts.origin if facts is not None else ""
    origins.check_host(origin(v), got, v.component, v.host.alias, checkout_of(v), v.s.git_remote)


def rev_asked(v: RunView) -> str:
    """--revision, else the head of the branch as the host fetched it (a commit id: checked,
    as it is the host's answer)."""
    asked = v.build.requested if v.build is not None and v.build.requested else ""
    if asked or v.to_rev.startswith("<"):
        return asked or v.to_rev
    if not values.is_revision(v.to_rev):
        raise ConfigError(
            f"{v.host.alias} answered {v.to_rev!r} for the head of {v.s.git_branch}: not a commit id",
            f"check the checkout on {v.host.alias} (git fetch there), or deploy with --revision",
        )
    return v.to_rev


# --- the commands (shown, then run as shown) ---------------------------------------------
def fetch(v: RunView) -> str:
    """Every branch: a revision on another branch is refused as such, not as unpushed."""
    m = shell_path(mirror(v))
    return (
        f"git init -q --bare {m} && git -C {m} fetch -q --prune --no-tags --end-of-options "
        f"{q(origin(v))} '+refs/heads/*:refs/heads/*'"
    )


def resolve(v: RunView, rev: str) -> str:
    return (
        f"git -C {shell_path(mirror(v))} rev-parse --verify --quiet --end-of-options "
        f"{q(rev + '^{commit}')}"
    )


def on_branch(v: RunView, sha: str) -> str:
    return (
        f"git -C {shell_path(mirror(v))} merge-base --is-ancestor {q(sha)} "
        f"{q('refs/heads/' + v.s.git_branch)}"
    )


def export(v: RunView) -> str:
    """The revision's files into a fresh work dir (no .git, nothing untracked); the newest
    builds of the component are kept, older ones removed."""
    w, m = shell_path(work(v)), shell_path(mirror(v))
    parent = shell_path(_rel(v, v.component))
    return (
        f"rm -rf -- {w} && mkdir -p -- {w} && "
        f"git -C {m} archive --format=tar {q(v.to_rev)} | tar -x -C {w} && "
        f"ls -1dt -- {parent}/*/ | tail -n +{KEEP + 1} | xargs -r rm -rf --"
    )


def show(v: RunView) -> str:
    """The step's command, as the operator reads it."""
    return f"{fetch(v)} && {resolve(v, rev_asked(v))} && {on_branch(v, '<그 커밋>')} && {export(v)}"


def revision(v: RunView) -> str:
    """Fetch the origin's branch and resolve the revision to deploy; refuse one that is not
    on the branch. Returns the full commit id."""
    require(v.s, v.component, v.host.alias)
    where = origin(v)
    got = query(fetch(v), timeout=600)
    if not got.ok:
        raise RuntimeError(
            f"cannot fetch {v.s.git_branch} from {where}: {got.tail(3)}\n"
            f"(this machine must reach {setting(v)} as the host does)"
        )
    rev = rev_asked(v)
    found = query(resolve(v, rev))
    sha = found.output.strip()
    if not found.ok or not sha:
        raise ConfigError(
            f"revision {rev} is not on {where}: it was never pushed (or is mistyped)",
            f"push it to {v.s.git_branch} first: a local build takes only what the origin has, "
            "never a working tree",
        )
    if not query(on_branch(v, sha)).ok:
        raise ConfigError(
            f"revision {sha[:12]} is on {where} but not on its {v.s.git_branch} branch",
            f"merge it into {v.s.git_branch} and push, or deploy the head of {v.s.git_branch}",
        )
    return sha
