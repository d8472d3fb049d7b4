"""The AI server (manual §C): a FastAPI app in a virtualenv, run by systemd on the GPU host."""

from __future__ import annotations

from tasks.apps.base import App, Health, local_url
from tasks.hosts.settings import Settings


class Ai(App):
    name = "ai"
    label = "AI 서버"
    section = "C"
    manual_title = "FastAPI 배포"
    group = "gpu"

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


AI = Ai()
