"""The frontend as a Node server (``frontend_kind=node``): a Next.js ``output: 'standalone'``
build, ``node server.js`` on a local port (``PORT``, ``HOSTNAME``), behind nginx.

It runs as the backend does under the release strategy: two instances of a template unit
(``<frontend_service>@<port>`` for the two ``frontend_ports``) behind nginx's upstream, a
health-gated switch without an nginx reload, the old instance kept warm, a rollback within
that time a switch back (tasks/strategies/release/bluegreen.py). Its plans are release.py's;
the manual strategy has none (manual.py refuses it, before anything runs). Where the
registry says ``frontend``, tasks/apps/kinds.py picks this kind or the static one by
``frontend_kind``.

Until a host runs the release strategy (setup's first phase on a host deployed the manual
way, before its conversion), what serves is the static site as it was: where the host's
strategy has no blue/green, this kind answers as the static one does (:meth:`serving_static`).
"""

from __future__ import annotations

from tasks.apps.base import (
    TREE,
    AppEnv,
    BuildOutput,
    ConfigFile,
    FirstBuild,
    Health,
    ServiceApp,
    local_health,
    strategy_for,
)
from tasks.apps.frontend import FRONTEND as STATIC
from tasks.hostfacts import tracked
from tasks.hosts.settings import Settings
from tasks.shell import q

#: the nginx upstream the site proxies to (templates/nginx/site.conf.j2 names it too)
UPSTREAM = "dojangkok_frontend"
#: the file in the standalone directory that starts the server (Next's)
SERVER = "server.js"


class FrontendNode(ServiceApp):
    #: another kind of the same app (tasks/apps/kinds.py): the static frontend's name, task
    #: help and place in the manual, on the same host
    name, label, section, group = STATIC.name, STATIC.label, STATIC.section, STATIC.group
    deploy_help, rollback_help = STATIC.deploy_help, STATIC.rollback_help
    manual_title = "Next.js 배포"
    first_build = FirstBuild("첫 빌드 (npm, standalone)", "2분")
    #: its template unit's file, and the site (nginx) whose reload its check proves
    config_keys = ("frontend", "nginx")

    def serving_static(self, s: Settings) -> bool:
        """The host's strategy cannot run it yet: the static site serves (see above)."""
        return not strategy_for(s).runs_blue_green

    def checkout(self, s: Settings) -> str:
        return s.frontend_dir

    def service(self, s: Settings) -> str:
        return STATIC.service(s) if self.serving_static(s) else s.frontend_service

    def service_user(self, s: Settings) -> str:
        """None of its own: the unit runs with systemd's DynamicUser."""
        return ""

    def writable(self, s: Settings) -> list[str]:
        """Nothing of the tool's to make: Next's cache is the unit's CacheDirectory=
        (:meth:`cache_dir`), which systemd makes for the transient user."""
        return []

    def cache_dir(self, s: Settings) -> str:
        """Where Next writes at run time (images it optimises, ISR and fetch data): both
        instances' CacheDirectory= (templates/systemd/frontend@.service.j2)."""
        return f"/var/cache/{s.frontend_service}"

    def link_cache(self, s: Settings) -> str:
        """In a release: its server's ``.next/cache`` (read-only there, and one per release) a
        link to :meth:`cache_dir`; what the build left in it goes."""
        sa = q(self.standalone(s))
        return f"rm -rf -- {sa}/.next/cache && ln -s -- {q(self.cache_dir(s))} {sa}/.next/cache"

    def setup_units(self, s: Settings, paired: bool) -> list[str]:
        """nginx; the pair's instances are the release strategy's."""
        return ["nginx"]

    def port(self, s: Settings) -> int | None:
        return None  # only the pair's ports: never one unit on a port of its own

    def health(self, s: Settings, port: int | None = None) -> Health:
        """The instance on ``port``; without one, the switch port: whichever instance the
        switch table sends nginx's new connections to (the host's own connections to
        127.0.0.1 go the same way)."""
        if self.serving_static(s):
            return STATIC.health(s, port)
        v = s.frontend
        return local_health(port or v.switch_port, v.health_path, v.health_expect,
                            v.health_tries, v.health_interval)  # fmt: skip

    def env(self, s: Settings) -> AppEnv:
        """As the static build's: a file in the checkout (shared/ in a release), read at
        build (Next inlines NEXT_PUBLIC_*) and by the server from its directory."""
        return STATIC.env(s)

    def first_build_command(self, s: Settings) -> str:
        """Nothing: every build is a release's (the conversion's first one, then each
        deploy's). Before the conversion (setup's first phase) a static site that serves
        goes on serving, and a new host has none: no static build of a Next app is made."""
        if self.serving_static(s):
            return tracked("true", "release 전환이 첫 릴리스를 빌드합니다 (frontend_kind=node)")
        return tracked("true", f"{self.built(s)} (릴리스는 배포가 빌드합니다)")

    def serves_yet(self, s: Settings) -> str:
        """Before the conversion: the static site, where one serves (a new host has none)."""
        if self.serving_static(s):
            return f"[ -f {q(s.web_root + '/index.html')} ]"
        return ""

    def standalone(self, s: Settings) -> str:
        return s.frontend_standalone_dir.strip("/")

    def assemble(self, s: Settings) -> str:
        """After the build, in its directory: the build's static assets and public/ beside
        server.js, as Next's docs for ``output: 'standalone'`` say; then server.js must be
        there."""
        sa = q(self.standalone(s))
        missing = (
            f"{self.standalone(s)}/{SERVER}가 없습니다: next.config.js의 output: 'standalone'과 "
            "frontend_standalone_dir를 확인하세요"
        )
        return (
            f"mkdir -p -- {sa}/.next && rm -rf -- {sa}/.next/static && "
            f"cp -a -- .next/static {sa}/.next/static && "
            f"{{ [ ! -d public ] || {{ rm -rf -- {sa}/public && cp -a -- public {sa}/public; }}; }} && "
            f"{{ test -f {sa}/{SERVER} || {{ echo {q(missing)} >&2; false; }}; }}"
        )

    def build_output(self, s: Settings) -> BuildOutput:
        return BuildOutput(TREE, f"{s.frontend_install_cmd} && {s.frontend_build_cmd} && "
                           f"{self.assemble(s)}", self.standalone(s), entry=SERVER)  # fmt: skip

    def built(self, s: Settings) -> str:
        """The server of the release ``current`` names."""
        if self.serving_static(s):
            return STATIC.built(s)
        return f"{s.releases_root}/frontend/current/{self.standalone(s)}/{SERVER}"

    def manual_paths(self, s: Settings) -> list[tuple[str, str]]:
        return STATIC.manual_paths(s) if self.serving_static(s) else []

    def served_file(self, s: Settings) -> str:
        return STATIC.served_file(s) if self.serving_static(s) else ""

    def config_files(self, s: Settings) -> list[ConfigFile]:
        """Its template unit (one instance a port); the site is config's own (nginx)."""
        if self.serving_static(s):
            return []
        return [ConfigFile("frontend", "systemd/frontend@.service.j2",
                           f"{s.systemd_dir}/{s.frontend_service}@.service", "unit",
                           f"{s.frontend_service}@", restart=False)]  # fmt: skip

    def smoke(self, s: Settings) -> list:
        return s.frontend_smoke

    def release_downtime(self, s: Settings) -> str:
        return "release: 다운타임 없음 (blue/green)"


FRONTEND_NODE = FrontendNode()
