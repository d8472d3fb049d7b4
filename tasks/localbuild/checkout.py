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
            f"{alias}의 {component} 로컬 빌드(build_on=local)에는 {name}이 필요합니다: 이 "
            "컴퓨터는 인벤토리에 적힌 origin에서만 받아 빌드하고, 호스트가 알려 주는 주소는 "
            "쓰지 않습니다",
            f"인벤토리에 {name}을 저장소 URL로 적거나(`fab setup`이 clone하는 주소이며, 배포마다 "
            "호스트의 체크아웃을 이 주소와 대조합니다) --build-on=host를 쓰십시오",
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
            f"{v.host.alias}가 알려 준 {v.s.git_branch}의 최신 커밋 {v.to_rev!r}는 커밋 ID가 "
            "아닙니다",
            f"{v.host.alias}의 체크아웃을 확인하거나(그곳에서 git fetch), --revision을 주어 "
            "배포하십시오",
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
            f"{where}에서 {v.s.git_branch}를 받아 오지 못했습니다: {got.tail(3)}\n"
            f"(이 컴퓨터도 호스트처럼 {setting(v)}에 접속할 수 있어야 합니다)"
        )
    rev = rev_asked(v)
    found = query(resolve(v, rev))
    sha = found.output.strip()
    if not found.ok or not sha:
        raise ConfigError(
            f"리비전 {rev}이(가) {where}에 없습니다: push하지 않았거나 잘못 적었습니다",
            f"먼저 {v.s.git_branch}에 push하십시오. 로컬 빌드는 origin에 있는 것만 쓰고 작업 "
            "트리는 쓰지 않습니다",
        )
    if not query(on_branch(v, sha)).ok:
        raise ConfigError(
            f"리비전 {sha[:12]}은(는) {where}에 있지만 {v.s.git_branch} 브랜치에는 없습니다",
            f"{v.s.git_branch}에 merge하고 push하거나, {v.s.git_branch}의 최신 커밋을 배포하십시오",
        )
    return sha
