"""The backend (manual §B): a Spring Boot jar run by systemd, with MySQL beside it."""

from __future__ import annotations

from tasks.apps.base import App, Health, local_url
from tasks.hosts.settings import Settings


class Backend(App):
    name = "backend"
    label = "백엔드"
    section = "B"
    manual_title = "Spring Boot 배포"
    group = "cpu"

    def checkout(self, s: Settings) -> str:
        return s.backend_dir

    def service(self, s: Settings) -> str:
        return s.backend_service

    def health(self, s: Settings, port: int | None = None) -> Health:
        return Health(
            local_url(port or s.backend_port, s.backend_health_path),
            s.backend_health_expect,
            s.backend_health_tries,
            s.backend_health_interval,
        )

    def needs(self, s: Settings) -> list[tuple[str, str]]:
        return [(s.db_backup_password_env, "MySQL backup, step B3")]

    # --- asked by the strategies ---
    manual_downtime = "서비스 중단이 발생합니다."

    def served_file(self, s: Settings) -> str:
        return f"{s.backend_dir}/{s.backend_artifact}"

    def smoke(self, s: Settings) -> list:
        return s.backend_smoke


BACKEND = Backend()
