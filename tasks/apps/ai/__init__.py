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

    # --- asked by the strategies ---
    serves_its_checkout = True
    manual_downtime = "별도 인스턴스, 다운타임 1-2분"

    def smoke(self, s: Settings) -> list:
        return s.ai_smoke

    def release_unit(self, s: Settings) -> str:
        return s.ai_service

    def release_downtime(self, s: Settings) -> str:
        if s.ai_switch == "auto":
            return "release: blue/green 또는 재시작 (ai_switch=auto: 호스트의 GPU를 보고 정함)"
        if s.ai_switch != "blue-green":
            return "release: 재시작, 시작하는 동안 중단"
        return "release: 다운타임 없음 (blue/green)"


AI = Ai()
