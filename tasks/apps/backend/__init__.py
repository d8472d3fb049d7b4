"""The backend (manual §B): a Spring Boot jar run by systemd, with MySQL beside it."""

from __future__ import annotations

from tasks.apps.base import App, AppEnv, FirstBuild, Health, local_url, system_env_path
from tasks.hosts.settings import Settings
from tasks.setup.hostfacts import ch, tracked
from tasks.shell import q


class Backend(App):
    name = "backend"
    label = "백엔드"
    section = "B"
    manual_title = "Spring Boot 배포"
    first_build = FirstBuild("첫 빌드 (Gradle)", "3분+")
    group = "cpu"
    config_keys = ("backend",)

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

    def env(self, s: Settings) -> AppEnv:
        return AppEnv(self.name, s.backend_dir, s.backend_env_file, s.backend_env_example,
                      s.backend_env, s.backend_user, system_env_path(s, self.name))  # fmt: skip

    def service_user(self, s: Settings) -> str:
        return s.backend_user

    def writable(self, s: Settings) -> list[str]:
        return [p if p.startswith("/") else f"{s.backend_dir}/{p}"
                for p in map(str, s.backend_writable_paths)]  # fmt: skip

    def first_build_command(self, s: Settings) -> str:
        art = q(s.backend_artifact)
        return tracked(
            f"cd -- {q(s.backend_dir)}; if [ ! -f {art} ]; then {s.backend_build_cmd}; test -f {art}; "
            f"{ch(f'built {s.backend_artifact}')}; fi",
            s.backend_artifact,
        )  # fmt: skip

    def built(self, s: Settings) -> str:
        return f"{s.backend_dir}/{s.backend_artifact}"


BACKEND = Backend()
