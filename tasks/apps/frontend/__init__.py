"""The frontend (manual §A): a static build served by nginx."""

from __future__ import annotations

from tasks.apps.base import TREE, App, AppEnv, BuildOutput, FirstBuild, Health
from tasks.hostfacts import ch, tracked
from tasks.hosts import site
from tasks.hosts.settings import Settings
from tasks.shell import q


class Frontend(App):
    name = "frontend"
    label = "프론트엔드"
    section = "A"
    manual_title = "React 배포"
    group = "cpu"
    first_build = FirstBuild("첫 빌드와 배포 (npm)", "2분")
    config_keys = ("nginx",)

    #: `fab --help deploy-{name}`: for operators, the default strategy first
    deploy_help = """Deploy the frontend (manual A) to [cpu]: a new build, switched in when it is ready.

    Usage: fab -H cpu deploy-frontend [--dry-run] [--yes] [--strategy=manual]

    release (the default; setting strategy): the revision is built (npm ci, npm run build)
    in a new release beside the one serving, keeping the previous build's hashed assets;
    then the web root's `current` link switches in one rename and the main page is checked.
    A failed build changes nothing that serves; a failed check switches back.
    Downtime: none.

    frontend_kind=node (a Next.js `output: 'standalone'` server): built the same way, then
    started on the idle port beside the one serving, health-checked, and switched in without
    an nginx reload; the old instance stays warm for a rollback. Downtime: none.

    manual (--strategy=manual): the manual's A 1–6 as written: pull, npm ci, build, back up
    the web root (3a), replace it (rm -rf + cp), reload nginx, check. A failed copy or page
    check restores the backup. Downtime: none by the manual's count, but requests during
    the copy can fail.
    """

    #: `fab --help rollback-{name}`: for operators, the default strategy first
    rollback_help = """Go back to the previous good frontend: a switch, no rebuild.

    Usage: fab -H cpu rollback-frontend [--to=REV] [--dry-run]

    release (the default): the web root's `current` link switches back to the previous good
    release (or --to's), then the main page is checked and the served version compared with
    the one the target served; the release rolled back from is marked bad and skipped by
    later rollbacks (`fab -H cpu releases`). A failed check says what serves now. Downtime:
    none.

    frontend_kind=node: a switch back to the previous instance, instant while it is still
    warm (frontend_keep_warm), else started first.

    manual (--strategy=manual): the web root is restored from the backup of the previously
    deployed revision (step 3a's), then nginx reloads.
    """

    def checkout(self, s: Settings) -> str:
        return s.frontend_dir

    def service(self, s: Settings) -> str:
        return "nginx"

    def health(self, s: Settings, port: int | None = None) -> Health:
        """The main page as a browser asks it: https://<server_name>/ (tasks/hosts/site.py),
        on this host's nginx (curl --resolve), the certificate verified."""
        url = site.page_url(s)
        return Health(url, s.frontend_expect, s.frontend_page_tries, s.frontend_page_interval,
                      page=True, resolve=site.resolve_for(url, site.names(s)))  # fmt: skip

    def env(self, s: Settings) -> AppEnv:
        """A file in the checkout, read at build (no service reads it)."""
        return AppEnv(self.name, s.frontend_dir, ".env", ".env.example", s.frontend_env, "")

    def first_build_command(self, s: Settings) -> str:
        build, page = f"{s.frontend_build_dir}", q(f"{s.web_root}/index.html")
        return tracked(
            f"if [ ! -f {page} ]; then cd -- {q(s.frontend_dir)}; {s.frontend_install_cmd}; "
            f"{s.frontend_build_cmd}; test -f {q(build + '/index.html')}; "
            f"cp -r -- {q(build + '/.')} {q(s.web_root + '/')}; {ch(f'build → {s.web_root}')}; fi",
            f"{s.web_root}/index.html",
        )  # fmt: skip

    def manual_paths(self, s: Settings) -> list[tuple[str, str]]:
        return [(s.web_root, "웹 루트")]

    def build_output(self, s: Settings) -> BuildOutput:
        return BuildOutput(
            TREE, f"{s.frontend_install_cmd} && {s.frontend_build_cmd}", s.frontend_build_dir
        )

    def built(self, s: Settings) -> str:
        return f"{s.web_root}/index.html"

    # --- asked by the strategies ---
    manual_downtime = "다운타임 없음"

    def served_file(self, s: Settings) -> str:
        return f"{s.web_root}/index.html"

    def release_downtime(self, s: Settings) -> str:
        return "release: 다운타임 없음 (current 교체)"


FRONTEND = Frontend()
