"""The backend (manual §B): a Spring Boot jar run by systemd, with MySQL beside it."""

from __future__ import annotations

from tasks.apps.base import (
    JAR,
    BuildOutput,
    ConfigFile,
    FirstBuild,
    ServiceApp,
    strategy_for,
)
from tasks.hostfacts import ch, tracked
from tasks.hosts.settings import Settings
from tasks.shell import q


class Backend(ServiceApp):
    name = "backend"
    label = "백엔드"
    section = "B"
    manual_title = "Spring Boot 배포"
    group = "cpu"
    first_build = FirstBuild("첫 빌드 (Gradle)", "3분+")
    config_keys = ("backend",)

    #: `fab --help deploy-{name}`: for operators, the default strategy first
    deploy_help = """Deploy the backend (manual B) to [cpu]: blue/green, the old instance kept warm.

    Usage: fab -H cpu deploy-backend [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): notice, status, MySQL backup and its check,
    the revision exported into a new release, .env keys, the jar built there while the
    live instance serves. Then, on the host (a systemd unit: it finishes if SSH drops): the
    new release starts on the idle port (backend_ports), must pass its health check and
    smoke tests there, new connections switch to it (an nftables table; nginx is not
    reloaded, keep-alive clients stay connected), and the old
    instance stays warm for backend_keep_warm (600 s) so a rollback is a switch back.
    A failure before the switch stops the new instance; the live one never stopped.
    Downtime: none.

    manual (--strategy=manual): the manual's B 1–12 as written: notice, status, backup,
    pull, .env keys, keep the running jar (6a), stop, build, start, health, smoke tests.
    Downtime: from step 7 (stop) to step 10 (health passes). A failed build, start, health
    check or smoke test restores the kept jar and starts it; so does Ctrl-C once stopped.

    Needs the backup account's password in .env (B3; the key named by db_backup_password_env,
    DB_BACKUP_PASSWORD): setup makes that account with only what mysqldump needs.
    """

    #: `fab --help rollback-{name}`: for operators, the default strategy first
    rollback_help = """Go back to the previous good backend: a switch back to its instance, no rebuild.

    Usage: fab -H cpu rollback-backend [--to=REV] [--dry-run]

    release (the default): new connections switch back to the previous good release (or
    --to's; no nginx reload). Within backend_keep_warm (600 s) of the deploy its instance
    still runs (warm): the rollback is that switch, about 5 s (nginx's open connections to
    the old instance are let finish). After it, that release first starts on the idle port
    and must pass its health check, then the switch. Then the smoke tests and the served
    version against the target's; the instance left drains before it stops. The release
    rolled back from is marked bad and skipped by later rollbacks (`fab -H cpu releases`).
    Downtime: none.

    manual (--strategy=manual): the previously deployed revision's code and its kept jar
    (no rebuild), restart, health. Downtime: the restart, until health passes.

    The database is NOT restored; if the data must go back too: `fab -H cpu restore-db`.
    """

    def setup_units(self, s: Settings, paired: bool) -> list[str]:
        """Its database first, then its own unit (a pair's instances are the release's)."""
        return [s.db_service or "mysql", *([] if paired else [s.backend_service])]

    def needs(self, s: Settings) -> list[tuple[str, str]]:
        return [(s.db_backup_password_env, "MySQL 백업, B3 단계")]

    def first_build_command(self, s: Settings) -> str:
        art = q(s.backend_artifact)
        return tracked(
            f"cd -- {q(s.backend_dir)}; if [ ! -f {art} ]; then {s.backend_build_cmd}; test -f {art}; "
            f"{ch(f'built {s.backend_artifact}')}; fi",
            s.backend_artifact,
        )  # fmt: skip

    def build_output(self, s: Settings) -> BuildOutput:
        return BuildOutput(JAR, s.backend_build_cmd, s.backend_artifact)

    def built(self, s: Settings) -> str:
        return f"{s.backend_dir}/{s.backend_artifact}"

    def config_files(self, s: Settings) -> list[ConfigFile]:
        """The manual's one unit, or the release strategy's template (one instance a port)."""
        if strategy_for(s).runs_blue_green:
            return [ConfigFile("backend", "systemd/backend@.service.j2",
                               f"{s.systemd_dir}/{s.backend_service}@.service", "unit",
                               f"{s.backend_service}@", restart=False)]  # fmt: skip
        return [ConfigFile("backend", "systemd/backend.service.j2",
                           f"{s.systemd_dir}/{s.backend_service}.service", "unit",
                           s.backend_service)]  # fmt: skip

    # --- asked by the strategies ---
    manual_downtime = "서비스 중단이 발생합니다."

    def served_file(self, s: Settings) -> str:
        return f"{s.backend_dir}/{s.backend_artifact}"


BACKEND = Backend()
