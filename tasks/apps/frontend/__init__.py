"""The frontend (manual §A): a static build served by nginx."""

from __future__ import annotations

from tasks.apps.base import App, Health
from tasks.hosts import site
from tasks.hosts.settings import Settings


class Frontend(App):
    name = "frontend"
    label = "프론트엔드"
    section = "A"
    manual_title = "React 배포"
    group = "cpu"

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

    # --- asked by the strategies ---
    manual_downtime = "다운타임 없음"

    def served_file(self, s: Settings) -> str:
        return f"{s.web_root}/index.html"

    def release_downtime(self, s: Settings) -> str:
        return "release: 다운타임 없음 (current 교체)"


FRONTEND = Frontend()
