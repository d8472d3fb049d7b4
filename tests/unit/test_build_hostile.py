"""Hostile values in the second method's commands: nothing injected runs, here or on a host.

The sandbox and the payloads are tests/unit/test_hostile_values.py's. Here every command a
local build renders runs in it: section L (the clean checkout, the build, the host-build
checks), rsync, the host's SHA-256 check and the installs, with hostile settings (the origins,
the work dir, the paths), a hostile origin as the host reports it, and hostile file names in
the artifact (a build may name its files anything).
"""

from __future__ import annotations

import contextlib

import pytest

from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.engine.steps import Kind
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts.settings import Settings
from tasks.localbuild import artifacts, checkout, facts, plans, ship, steps
from tasks.localbuild.model import Artifact, Build, FileEntry, HostFacts

from .test_hostile_values import (
    FROM,
    PAYLOADS,
    RUN_ID,
    TO,
    Sandbox,
    host,
    hostile_settings,
    payload,
    problems,
)

PY = {"version": "3.11", "implementation": "cp", "abi": "cp311", "machine": "x86_64",
      "glibc": "2.36"}  # fmt: skip


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    yield box
    box.close()


def build_of(kind: str) -> Build:
    name = payload(kind, "message")
    files = (FileEntry(f"static/{name}.js", "0" * 64, 1), FileEntry("app.jar", "1" * 64, 2))
    art = Artifact("tree", "/nonexistent", files, {}, "2" * 64)
    origin = "git@h:o/" + payload(kind, "smoke").lstrip("-")
    f = HostFacts(alias="cpu", machine="x86_64", origin=origin, python=PY, venv_key="k-py3.11")
    return Build("local", TO, origin, requested=TO[:12], facts=f, artifact=art, extra=(FROM,))


def local_commands(s: Settings, kind: str) -> list[str]:
    out: list[str] = []
    for name, proc in ((a.name, a.plans("manual")) for a in registry.ORDER):
        h = host(s, "gpu" if name == "ai" else "cpu")
        for strategy in ("manual", "release"):
            v = RunView("deploy", name, h, RUN_ID, strategy, from_rev=FROM, to_rev=TO,
                        build_on="local", build=build_of(kind))  # fmt: skip
            with contextlib.suppress(ConfigError):  # a builder may refuse a value itself
                out += [checkout.fetch(v), checkout.resolve(v, TO), checkout.on_branch(v, TO),
                        checkout.export(v), artifacts.command(v), facts.host_command(v)]  # fmt: skip
            hv = v.but(build_on="host")
            out += [steps.pip_dry_run(hv)] if name == "ai" else []
            plan = (
                proc.plan(v)
                if strategy == "manual"
                else registry.get(name).plans("release").build_plan(v, 8081)
            )
            for step in plan.steps:
                if step.kind is Kind.SHELL or step.command is ship.rsync:
                    out.append(step.render(v))
            if name == "ai":
                back = proc.rollback_plan(v).step("R2")
                out.append(plans.ai_reinstall(back, strategy_for("manual")).render(v))
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("kind", PAYLOADS)
def test_local_build_commands_are_inert_with_hostile_values(kind, sandbox):
    s, _, _ = hostile_settings(kind, str(sandbox.root / "h"))
    cmds = local_commands(s, kind)
    assert len(cmds) > 40
    found = []
    for rc in (0, 1):
        found += problems(sandbox.run(cmds, rc), sandbox)
        found += [f"CANARY file created: {p}" for p in sandbox.canaries()]
    assert not found, "\n".join(dict.fromkeys(found))


@pytest.mark.parametrize("value", ["--upload-pack=touch /tmp/x", "-x", "a b", "x\ny", ""])
def test_an_origin_the_host_reports_is_compared_never_fetched_from(value):
    """Whatever the host says its origin is, this machine fetches from backend_repo alone;
    the host's answer is refused (naming it) because it is not exactly that; and the setting
    itself refuses what git would read as an option."""
    repo = "git@h:o/backend.git"
    v = RunView("deploy", "backend", host(Settings(backend_repo=repo), "cpu"), RUN_ID,
                build_on="local",
                build=Build("local", facts=HostFacts(alias="cpu", machine="x", origin=value)))  # fmt: skip
    assert checkout.origin(v) == repo
    assert f"--end-of-options {repo} " in checkout.fetch(v)
    with pytest.raises(
        ConfigError, match="(?s)origin은 .*인데 backend_repo은|origin 리모트가 없습니다"
    ):
        checkout.check_host(v)
    if value:
        with pytest.raises(ConfigError, match="backend_repo"):
            Settings.from_vars({"backend_repo": value}, where="test")
