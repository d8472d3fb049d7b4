"""The frontend (manual §A): a static build served by nginx."""

from __future__ import annotations

from tasks.apps.base import App, AppEnv, FirstBuild, Health
from tasks.hosts import site
from tasks.hosts.settings import Settings
from tasks.setup.hostfacts import ch, tracked
from tasks.shell import q


class Frontend(App):
    name = "frontend"
    label = "프론트엔드"
    section = "A"
    manual_title = "React 배포"
    first_build = FirstBuild("첫 빌드와 배포 (npm)", "2분")
    group = "cpu"
    config_keys = ("nginx",)

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

    def built(self, s: Settings) -> str:
        return f"{s.web_root}/index.html"


FRONTEND = Frontend()
