"""Setup's first build where the build location says (tasks/localbuild/first.py): with
``*_build_on=local`` setup builds here and sends, so a host without a package index serves
after setup alone. Pure builders and the step's choice here; the lab boots such a host."""

from __future__ import annotations

import pytest

from tasks.apps import registry
from tasks.engine.steps import Kind
from tasks.engine.view import RunView
from tasks.hosts.settings import Settings
from tasks.localbuild import first
from tasks.setup import setup as host_setup

from .conftest import SITE, make_host, make_session
from .fakes import FakeRemote


def setup_view(group: str, **settings) -> RunView:
    host = make_host(Settings(server_name=SITE, **settings), group, group)
    return RunView("setup", "setup", host, "20260101_120000_000000_abcd", dry_run=True)


def build_steps(group: str, **settings) -> dict[str, object]:
    plan = host_setup.plan(setup_view(group, **settings))
    return {s.title: s for s in plan.steps if "빌드" in s.title or "가상환경과 의존성" in s.title}


def test_setup_builds_where_the_build_on_settings_say():
    host = build_steps("gpu")
    (venv,) = host.values()
    assert venv.kind is Kind.SHELL and "pip install" in venv.render(setup_view("gpu"))
    local = build_steps("gpu", ai_build_on="local")
    (step,) = local.values()
    assert step.kind is Kind.LOCAL and step.title == "AI 서버 첫 빌드 (로컬 빌드 후 전송)"
    assert "이 컴퓨터에서 빌드" in step.render(setup_view("gpu", ai_build_on="local"))
    cpu = build_steps("cpu", build_on="local", frontend_build_on="host")
    kinds = {title.split()[0]: s.kind for title, s in cpu.items()}
    assert kinds == {"프론트엔드": Kind.SHELL, "백엔드": Kind.LOCAL}


def view_of(component: str, **settings) -> RunView:
    group = registry.get(component).group
    return setup_view(group, **settings).but(component=component, strategy="manual",
                                             build_on="local", to_rev="c" * 40)  # fmt: skip


@pytest.mark.parametrize(("component", "expect"), [
    ("backend", ["SFTP", "sha256sum --strict", "install -D -m 644 -- /var/lib/dojangkok-deploy/"
                 "incoming/20260101_120000_000000_abcd/app.jar /app/backend/build/libs/dojangkok.jar"]),
    ("frontend", ["rsync -rlc", "/app/frontend/build/", "sha256sum --strict",
                  "cp -r -- build/. /var/www/dojangkok/"]),
    ("ai", ["SFTP", "sha256sum --strict", "pip install --no-index --find-links "
            "/var/lib/dojangkok-deploy/incoming/20260101_120000_000000_abcd/wheelhouse",
            "date > /app/ai-server/venv/.dojangkok-setup"]),
])  # fmt: skip
def test_the_build_is_sent_checked_and_installed_the_manual_way(component, expect):
    v = view_of(component)
    text = "\n".join(line for s in first.install_plan(v).steps for line in s.shown(v))
    for part in expect:
        assert part in text, (part, text)


def test_a_host_that_serves_already_is_not_built_for():
    """Like setup's host build: only when there is nothing to serve (a second setup)."""
    remote = FakeRemote([(r"^test -f /app/ai-server/venv/.dojangkok-setup$", 0, "")])
    s = make_session(remote, "setup", settings=Settings(ai_build_on="local"))
    got = first.run(s, registry.get("ai"))
    assert got == "변경 없음: /app/ai-server/venv/.dojangkok-setup"
    assert [c for _, c in remote.calls] == ["test -f /app/ai-server/venv/.dojangkok-setup"]


def test_the_ai_venv_is_made_with_the_configured_python_only_where_missing():
    command = first.venv_command(Settings(ai_python="python3.12"))
    assert "if [ -x venv/bin/python ]" in command and "python3.12 -m venv -- venv" in command


def test_a_frontend_built_here_gets_rsync_on_its_host():
    """Setup's first frontend build here is sent with rsync, which setup then installs."""
    from tasks.setup import detect

    facts = detect.Facts("debian", "12", "amd64", "mariadb", "3.11")

    def packages(**s):
        return detect.with_facts(make_host(Settings(**s)), facts)[0].settings.host_packages

    assert "rsync" not in packages()
    assert "rsync" in packages(frontend_build_on="local")
    assert "rsync" in packages(build_on="local")
    assert "rsync" not in packages(build_on="local", frontend_build_on="host")
