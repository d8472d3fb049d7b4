"""The files a host gets, rendered from templates/ (pure: nothing here touches a host).

Jinja2 with StrictUndefined: a missing variable is an error naming it. Which files a host
gets follows its roles in the component registry (cpu: MariaDB config, the backend's unit,
the nginx site; gpu: the AI server's unit).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

from tasks.apps import registry
from tasks.apps.base import ConfigFile, strategy_for
from tasks.errors import ConfigError
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.hosts.site import require_tls
from tasks.onhost import roothelper
from tasks.resources import TEMPLATES
from tasks.setup import detect
from tasks.setup.tls import template_vars as tls_vars

UPSTREAM = "dojangkok_backend"  # the nginx upstream the release strategy switches
AI_UPSTREAM = "dojangkok_ai"  # the GPU host's, with ai_switch=blue-green
MANAGED = "Managed by dojangkok-deploy from templates/{template}: edit the template, not this file."


def config_files(host: Host) -> list[ConfigFile]:
    """The files a host gets, by its inventory groups (cpu, gpu), in apply order: the
    database's config, each app's own files (App.config_files), the site."""
    s, roles = host.settings, registry.roles(host.groups, host.alias)
    own = {role: [f for a in registry.ORDER if a.group == role for f in a.config_files(s)]
           for role in registry.GROUPS}  # fmt: skip
    files = []
    if "cpu" in roles:
        require_tls(s, f"호스트 {host.alias}")  # the site's certificate: before any host
        files += [
            ConfigFile("mysql", "mysql/server.cnf.j2", s.mysql_conf, "mysql", s.db_service),
            *own["cpu"],
            ConfigFile("nginx", "nginx/site.conf.j2", s.nginx_site, "nginx", "nginx"),
        ]
    if "gpu" in roles:
        files += own["gpu"]
    if not files:
        raise ConfigError(
            f"호스트 {host.alias}는 [cpu]와 [gpu] 어느 그룹에도 없어 올릴 설정이 없습니다",
            "인벤토리에서 이 호스트를 [cpu]나 [gpu] 아래에 두십시오",
        )
    return files


# --- rendering (pure) ------------------------------------------------------------------
def _sdq(value: object) -> str:
    """Quote one word for a systemd unit (``%`` is a specifier there)."""
    text = str(value).replace("%", "%%")
    if any(c in text for c in " \t\"'\\"):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def environment(root: Path = TEMPLATES):
    import jinja2  # only tasks that render pay for it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["sdq"] = _sdq
    return env


#: seconds a unit's stop waits beyond the app's drain (*_drain_timeout): the app's own
#: shutdown after its last request (a JVM's hooks, uvicorn's lifespan), then SIGKILL
STOP_MARGIN = 15


def context(s: Settings) -> dict[str, object]:
    """The templates' variables: every setting, plus paths derived from them."""
    values = dataclasses.asdict(s)
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str) and any(c in item for c in "\n\r\0"):
                raise ConfigError(
                    f"설정 {name}에 줄바꿈이 들어 있습니다: {item!r}",
                    "설정값은 한 줄로 쓰십시오 (줄바꿈은 설정 파일에 다른 줄을 끼워 넣게 됩니다)",
                )
    ai_base = f"{s.releases_root}/ai"
    release = strategy_for(s).keeps_releases
    values.update(
        # each app's writable paths and the .env its unit reads (root's directory, the
        # deploy login's file: tasks/apps/env.py)
        **{f"{a.name}_rw_paths": a.writable(s) for a in registry.ORDER},
        **{f"{a.name}_env_path": a.env(s).system for a in registry.ORDER if a.env(s).service},
        backend_jar=f"{s.backend_dir}/{s.backend_artifact}",
        backend_upstream=f"127.0.0.1:{s.backend_port}",
        backend_base=f"{s.releases_root}/backend",
        backend_upstream_name=UPSTREAM,
        # the release strategy runs the AI server from the release `current` points at
        ai_workdir=f"{ai_base}/current" if release else s.ai_dir,
        ai_uvicorn=f"{ai_base}/current/{s.ai_venv}/bin/uvicorn" if release
        else f"{s.ai_dir}/{s.ai_venv}/bin/uvicorn",
        ai_base=ai_base,
        ai_upstream_name=AI_UPSTREAM,
        ai_allow=_nginx_allow(s.ai_ip_allow),
        # a stop waits for the app's own drain (*_drain_timeout), then its exit
        backend_stop_timeout=s.backend_drain_timeout + STOP_MARGIN,
        ai_stop_timeout=s.ai_drain_timeout + STOP_MARGIN,
        # the maintenance page's flags and page, root's (tasks/procedures/maintenance.py)
        maintenance_dir=roothelper.MAINTENANCE_DIR,
        maintenance_retry_after=roothelper.MAINTENANCE_RETRY_AFTER,
        **tls_vars(s),
    )  # fmt: skip
    return values


def _nginx_allow(allow: str) -> list[str]:
    """systemd's IPAddressAllow words as nginx ``allow`` addresses."""
    names = {"localhost": ["127.0.0.1", "::1"], "any": ["all"]}
    return [a for word in allow.split() for a in names.get(word, [word])]


def render_file(f: ConfigFile, s: Settings, env=None) -> str:
    import jinja2

    env = env or environment()
    try:
        template = env.get_template(f.template)
        return template.render(context(s), managed=MANAGED.format(template=f.template))
    except jinja2.UndefinedError as exc:
        raise ConfigError(
            f"템플릿 {f.template}: 없는 값을 씁니다 ({exc.message})",
            "tasks/hosts/settings.py에 그 설정을 추가하거나 템플릿의 이름을 고치십시오",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(
            f"템플릿 {exc.filename or f.template}:{exc.lineno}: 문법 오류 ({exc.message})",
            "템플릿의 문법을 고치십시오",
        ) from None
    except jinja2.TemplateNotFound as exc:
        raise ConfigError(
            f"템플릿 {exc.name}이 {TEMPLATES}에 없습니다",
            "도구를 다시 설치하십시오 (pipx install --force .): 설치본에 템플릿이 빠졌습니다",
        ) from None


def render(host: Host) -> dict[ConfigFile, str]:
    """The host's files. Settings detected on the host (db_service, mysql_conf, ...) that are
    still empty are assumed as on the manual's target (push-config and setup detect them)."""
    if not (host.settings.db_service and host.settings.mysql_conf and host.settings.db_server):
        host = detect.offline(host)
    env = environment()
    return {f: render_file(f, host.settings, env) for f in config_files(host)}


def write_rendered(rendered: dict[ConfigFile, str], out: Path) -> list[Path]:
    """``render-config --out DIR``: DIR/<live path>, for review."""
    written = []
    for f, text in rendered.items():
        path = out / f.dest.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# --- nginx: the site link and the sites it disables --------------------------------------
def nginx_dir(s: Settings) -> str:
    parent = PurePosixPath(s.nginx_site).parent
    return str(parent.parent) if parent.name in ("sites-available", "conf.d") else "/etc/nginx"


def nginx_links(s: Settings, dest: str | None = None) -> tuple[str | None, list[str]]:
    """(the sites-enabled link to the site or None, the sites-enabled entries to remove);
    for another nginx file (``dest``, e.g. in conf.d): none of either."""
    if dest is not None and dest != s.nginx_site:
        return None, []
    site = PurePosixPath(s.nginx_site)
    enabled = f"{nginx_dir(s)}/sites-enabled"
    link = f"{enabled}/{site.name}" if site.parent.name == "sites-available" else None
    return link, [f"{enabled}/{name}" for name in s.nginx_sites_disabled]


def touched_paths(f: ConfigFile, s: Settings) -> list[str]:
    """Every path a push of ``f`` may change (backed up before, restored on failure)."""
    if f.kind != "nginx":
        return [f.dest]
    link, disabled = nginx_links(s, f.dest)
    return [f.dest, *([link] if link else []), *disabled]
