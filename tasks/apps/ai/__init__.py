"""The AI server (manual §C): a FastAPI app in a virtualenv, run by systemd on the GPU host."""

from __future__ import annotations

from tasks.apps.base import (
    WHEELHOUSE,
    BuildOutput,
    ConfigFile,
    FirstBuild,
    Opening,
    ServiceApp,
    strategy_for,
)
from tasks.hostfacts import ch, tracked
from tasks.hosts import validate
from tasks.hosts.settings import Settings
from tasks.shell import q

#: in the venv: setup's first install finished (tasks/setup/setup_apps.py, localbuild/first.py)
SETUP_MARKER = ".dojangkok-setup"


class Ai(ServiceApp):
    port_setting = "listen_port"
    name = "ai"
    label = "AI 서버"
    section = "C"
    manual_title = "FastAPI 배포"
    group = "gpu"
    first_build = FirstBuild("가상환경과 의존성", "2분")
    config_keys = ("ai", "ai-proxy")

    #: `fab --help deploy-{name}`: for operators, the default strategy first
    deploy_help = """Deploy the AI server (manual C) to [gpu]: a new venv beside the live one, then a switch.

    Usage: fab -H gpu deploy-ai [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): the revision is exported into a new release
    with its own venv (reused when the requirements and Python are unchanged) and pip
    install runs there while the old release serves; a failure changes nothing. Then the
    switch, by ai_switch (default auto: decided on the host and said): blue/green where the
    host holds two instances (no GPU, or more free GPU memory than ai_gpu_memory_mb): the
    new instance starts on the idle port of ai_ports behind nginx, gated on /health and the
    AI smoke call, then nginx switches (the old instance drains); else a restart: `current`
    switches and the service restarts after its requests in flight finish
    (ai_drain_timeout), gated the same way. A failure switches back.
    Downtime: none with blue/green; with a restart, until /health answers.

    manual (--strategy=manual): the manual's C 1–7 as written: pull, venv, pip install,
    restart, health, AI smoke call. Downtime: from step 5 (restart) until /health answers.
    A failure rolls back to the previously deployed revision.
    """

    #: `fab --help rollback-{name}`: for operators, the default strategy first
    rollback_help = """Go back to the previous good AI server: its release and venv, no reinstall.

    Usage: fab -H gpu rollback-ai [--to=REV] [--dry-run]

    release (the default): back to the previous good release (or --to's), with the venv it
    had: with blue/green (ai_switch; auto decides on the host) a switch, as the backend's;
    with a restart, `current` switches back and the service restarts after its requests in
    flight finish, gated on /health. Then the smoke call and the served version against the
    target's: ok only when both hold. The release rolled back from is marked bad and
    skipped by later rollbacks. Downtime: none with blue/green; with a restart, until
    /health answers.

    manual (--strategy=manual): the previously deployed revision's code, pip install,
    restart, health. Downtime: from the restart until /health answers.
    """

    def setup_units(self, s: Settings, paired: bool) -> list[str]:
        """Its unit; with a blue/green pair, the nginx that proxies to the live instance."""
        return ["nginx"] if paired else [s.ai_service]

    def first_build_command(self, s: Settings) -> str:
        venv, done = q(s.ai_venv), q(f"{s.ai_venv}/{SETUP_MARKER}")
        python = q(validate.python_command(s.ai_python or "python3"))
        return tracked(
            f"cd -- {q(s.ai_dir)}; if [ ! -x {q(s.ai_venv + '/bin/python')} ]; then "
            f"{python} -m venv -- {venv}; {ch(f'venv {s.ai_venv}')}; fi; "
            f"if [ ! -f {done} ]; then {q(s.ai_venv + '/bin/pip')} install -q --disable-pip-version-check "
            f"-r {q(s.ai_requirements)}; date > {done}; {ch(f'pip install -r {s.ai_requirements}')}; fi",
            f"{s.ai_venv}",
        )  # fmt: skip

    def manual_paths(self, s: Settings) -> list[tuple[str, str]]:
        return [(f"{s.ai_dir}/{s.ai_venv}/bin/python", "venv")]

    def opening(self, s: Settings) -> Opening:
        """The backend on the CPU host asks it: its port and the blue/green instances'."""
        return Opening("the AI server", tuple(sorted({s.ai_listen_port, *s.ai_ports})))

    def build_output(self, s: Settings) -> BuildOutput:
        return BuildOutput(WHEELHOUSE, "", s.ai_requirements)

    def built(self, s: Settings) -> str:
        return f"{s.ai_dir}/{s.ai_venv}/{SETUP_MARKER}"

    def facts_command(self, s: Settings) -> str:
        """ai_switch=auto decides from the GPU's free memory and whether the host is laid out
        for blue/green (tasks/apps/ai/release.py)."""
        return self.plans("release").switch_facts(s)

    def decide(self, s: Settings, facts, host_roles: set[str]) -> dict[str, tuple[object, str]]:
        """ai_switch=auto on a GPU host under the release strategy: blue/green or a restart
        (release.choose), and why."""
        if s.ai_switch != "auto" or self.group not in host_roles:
            return {}
        if not strategy_for(s).runs_blue_green:
            return {}
        rel = self.plans("release")
        if not facts.gpu:  # no host asked (render-config, the runbook): the manual's GPU host
            return {
                "ai_switch": (
                    rel.RESTART,
                    "가정: 매뉴얼의 GPU 호스트 (남은 GPU 메모리 모름)",
                )
            }
        free, laid_out = rel.parse_switch_facts(f"gpu={facts.gpu}\npair={facts.pair}")
        mode, why = rel.choose("auto", free, int(s.ai_gpu_memory_mb), laid_out)
        return {"ai_switch": (mode, f"{rel.SAID[mode]} — {why}")}

    def config_files(self, s: Settings) -> list[ConfigFile]:
        """Its unit; with the release strategy's blue/green (ai_switch resolved: auto is
        decided at setup), the template unit and the nginx proxy on the GPU host instead."""
        if strategy_for(s).runs_blue_green and self.plans("release").pair(s) is not None:
            return [
                ConfigFile("ai", "systemd/ai@.service.j2", f"{s.systemd_dir}/{s.ai_service}@.service",
                           "unit", f"{s.ai_service}@", restart=False),
                ConfigFile("ai-proxy", "nginx/ai-proxy.conf.j2", s.ai_proxy_conf, "nginx", "nginx"),
            ]  # fmt: skip
        return [ConfigFile("ai", "systemd/ai.service.j2", f"{s.systemd_dir}/{s.ai_service}.service",
                           "unit", s.ai_service)]  # fmt: skip

    # --- asked by the strategies ---
    serves_its_checkout = True
    manual_downtime = "별도 인스턴스, 다운타임 1-2분"

    def release_unit(self, s: Settings) -> str:
        return s.ai_service

    def release_downtime(self, s: Settings) -> str:
        if s.ai_switch == "auto":
            return "release: blue/green 또는 재시작 (ai_switch=auto: 호스트의 GPU를 보고 정함)"
        if s.ai_switch != "blue-green":
            return "release: 재시작, 시작하는 동안 중단"
        return "release: 다운타임 없음 (blue/green)"


AI = Ai()
