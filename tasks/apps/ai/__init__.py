"""The AI server (manual §C): a FastAPI app in a virtualenv, run by systemd on the GPU host."""

from __future__ import annotations

from tasks.apps.base import App, AppEnv, FirstBuild, Health, local_url, system_env_path
from tasks.hosts import validate
from tasks.hosts.settings import Settings
from tasks.setup.hostfacts import ch, tracked
from tasks.shell import q

#: in the venv: setup's first install finished (tasks/setup/setup_apps.py, localbuild/first.py)
SETUP_MARKER = ".dojangkok-setup"


class Ai(App):
    name = "ai"
    label = "AI 서버"
    section = "C"
    manual_title = "FastAPI 배포"
    first_build = FirstBuild("가상환경과 의존성", "2분")
    group = "gpu"
    config_keys = ("ai", "ai-proxy")

    def checkout(self, s: Settings) -> str:
        return s.ai_dir

    def service(self, s: Settings) -> str:
        return s.ai_service

    def health(self, s: Settings, port: int | None = None) -> Health:
        return Health(
            local_url(port or s.ai_listen_port, s.ai_health_path),
            s.ai_health_expect,
            s.ai_health_tries,
            s.ai_health_interval,
        )

    def env(self, s: Settings) -> AppEnv:
        return AppEnv(self.name, s.ai_dir, s.ai_env_file, ".env.example", s.ai_env, s.ai_user,
                      system_env_path(s, self.name))  # fmt: skip

    def service_user(self, s: Settings) -> str:
        return s.ai_user

    def writable(self, s: Settings) -> list[str]:
        return [
            p if p.startswith("/") else f"{s.ai_dir}/{p}" for p in map(str, s.ai_writable_paths)
        ]

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

    def built(self, s: Settings) -> str:
        return f"{s.ai_dir}/{s.ai_venv}/{SETUP_MARKER}"


AI = Ai()
