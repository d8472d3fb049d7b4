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
            "--revision with the manual strategy needs --build-on=local: the manual's step "
            "코드 Pull takes the head of the branch",
            "add --build-on=local, or use the release strategy",
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
                f"{v.host.alias} did not say what it runs (OS, architecture, runtimes): a build "
                "made here could not be checked against it",
                "check the connection and the host (uname, /etc/os-release), or use --build-on=host",
            )
        if kind.kind(v) == kind.TREE and not facts.rsync:
            raise ConfigError(
                f"rsync is not installed on {v.host.alias}: the {comp.name} is sent with rsync",
                "install it there (apt-get install rsync), or use --build-on=host",
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
            f"revision {rev} is not on {v.s.git_remote} (as {v.host.alias} fetched it): "
            "never pushed, or mistyped",
            f"push it to {v.s.git_branch} first",
        )
    if not s.sh(f"{g} merge-base --is-ancestor {q(sha)} {q(v.to_rev)}").ok:
        raise ConfigError(
            f"revision {sha[:12]} is not on {v.s.git_remote}'s {v.s.git_branch} branch",
            f"merge it into {v.s.git_branch} and push, or deploy the head of {v.s.git_branch}",
        )
    return sha
