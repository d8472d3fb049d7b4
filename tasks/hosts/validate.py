"""Which setting gets which check (:mod:`tasks.hosts.values`), and the rules about settings
together: a keep count that would delete the backup a rollback needs, a poll that never
polls, a web root that holds the checkouts or the backups.

Two entry points, so every task gets the checks before it touches a host:

- :func:`fields` — the rules about one setting's own value. ``Settings.from_vars`` runs it,
  so the inventory refuses a bad value naming the line it came from.
- :func:`settings` — those rules for every setting, plus the rules about settings together
  (the web root must not hold the checkouts or the backups). Every task's preflight and
  every session run it (``tasks.engine.session``).

The ``*_cmd`` settings are raw shell on purpose (the operator writes a command line) and
are only checked to be one line. Each error is a :class:`~tasks.errors.ConfigError` naming
the setting, what is wrong and what to write instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tasks.errors import ConfigError
from tasks.hosts import site
from tasks.hosts.values import (
    _SWAP_FILE,
    _SWAP_SIZE,
    SWAP_FORBIDDEN,
    SYSTEM_DIRS,
    _error,
    _inside,
    _pattern,
    _texts,
    absolute_path,
    at_least,
    branch,
    db_name,
    db_user,
    env_key,
    file_name,
    git_origin,
    local_dir,
    networks,
    normal,
    one_line,
    port,
    relative_path,
    root_dir,
    smoke_requests,
    unit_name,
    url,
    url_path,
    user_name,
)

if TYPE_CHECKING:
    from tasks.hosts.settings import Settings

# --- the settings -----------------------------------------------------------------------------
Rule = Callable[[object, str, str], object]

ROOT_DIRS = ("state_dir", "frontend_dir", "web_root", "frontend_backup_dir", "backend_dir",
             "backup_dir", "ai_dir", "releases_root")  # fmt: skip
#: the settings that are raw shell on purpose (run as written on the host, never quoted)
RAW_SHELL = ("frontend_install_cmd", "frontend_build_cmd", "nginx_test_cmd", "nginx_reload_cmd",
             "backend_build_cmd", "backend_log_cmd")  # fmt: skip
#: any one line of text: shell-quoted wherever a command uses it (or used by no command)
FREE_TEXT = ("frontend_expect", "backend_health_expect", "ai_health_expect",
             "backend_expected_total", "known_hosts_file",
             # files on the operator's machine, read by the tool (never in a command)
             "frontend_deploy_key", "backend_deploy_key", "ai_deploy_key", "git_known_hosts",
             "ssh_config_file", "acme_ca_bundle")  # fmt: skip
#: rendered into config files (templates/), never into a command: one line each
TEMPLATE_ONLY = ("content_security_policy", "hashed_assets_path",
                 "proxy_read_timeout", "client_max_body_size", "backend_java_opts",
                 "backend_ip_allow", "ai_app", "ai_listen_host", "ai_ip_allow", "ai_device_allow",
                 "innodb_buffer_pool_size", "db_bind_address")  # fmt: skip


def _keep(low: int, why: str) -> Rule:
    return lambda v, n, w: at_least(v, low, n, w, why)


def _nginx_site(value, name, where):
    absolute_path(value, name, where)
    site = PurePosixPath(normal(value))
    if site.parent.name in ("sites-available", "conf.d"):
        root_dir(str(site.parent.parent), f"{name}'s nginx directory", where)
    return value


def _swap_file(value, name, where):
    _pattern(_SWAP_FILE, value, name, where, "an absolute path of letters, digits and _ . / -",
             "e.g. /swapfile (/etc/fstab cannot hold spaces)")  # fmt: skip
    absolute_path(value, name, where)
    n = normal(value)
    if n in SYSTEM_DIRS or any(_inside(n, d) for d in SWAP_FORBIDDEN):
        raise _error(name, where, value, "is a system directory or inside one",
                     "e.g. /swapfile")  # fmt: skip
    return value


def _swap_size(value, name, where):
    if value == "":
        return value
    return _pattern(_SWAP_SIZE, value, name, where, "a size like 4G",
                    "a whole number with K, M, G or T, e.g. 4G (empty: no swap)")  # fmt: skip


def _optional(rule: Rule) -> Rule:
    return lambda v, n, w: v if v == "" else rule(v, n, w)


def _each(rule: Rule) -> Rule:
    def check(value, name, where):
        if not isinstance(value, list):
            raise _error(name, where, value, "must be a JSON list", "wrap it in [ ]")
        for item in value:
            rule(item if isinstance(item, str) else str(item), name, where)
        return value

    return check


def _port_pair(value, name, where):
    """Blue/green: two different ports."""
    if not isinstance(value, list) or len(value) != 2 or value[0] == value[1]:
        raise _error(name, where, value, "must be two different ports", f"e.g. {name}=[8081, 8082]")
    for p in value:
        port(p, name, where)
    return value


def _positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _error(name, where, value, "must be a number above 0", f"e.g. {name}=0.2")
    return value


def _choice(*allowed: str) -> Rule:
    def check(value, name, where):
        if value not in allowed:
            raise _error(name, where, value, f"must be one of {', '.join(allowed)}", "")
        return value

    return check


_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]{0,99}(\|[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99})?")
_PYTHON = re.compile(r"/?[A-Za-z0-9_][A-Za-z0-9_./+-]{0,199}")
_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,4}")


def _package(value, name, where):
    return _pattern(_PACKAGE, value, name, where, "a package name (or name|command)",
                    "e.g. openjdk-17-jdk-headless or nodejs|node")  # fmt: skip


def python_command(value, name="ai_python", where=""):
    return _pattern(_PYTHON, value, name, where, "a python command or path",
                    "e.g. python3.12 or /usr/bin/python3")  # fmt: skip


def _systemd_dir_name(value, name, where):
    """LogsDirectory= / StateDirectory=: a relative name under /var/log or /var/lib."""
    if ".." in str(value).split("/"):
        raise _error(name, where, value, "leaves /var/log or /var/lib (a .. part)", "remove it")
    return _pattern(_DIR_NAME, value, name, where, "a directory name under /var/log or /var/lib",
                    "e.g. dojangkok (no leading /)")  # fmt: skip


def _writable_path(value, name, where):
    """Absolute, or relative to the component's checkout."""
    if isinstance(value, str) and value.startswith("/"):
        return absolute_path(value, name, where)
    return relative_path(value, name, where, subdir=True)


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _server_name(value, name, where):
    problem = site.server_name_problem(value)
    if problem:
        raise _error(name, where, value, problem,
                     "the site's DNS name(s), space-separated, e.g. dojangkok.example.com "
                     "www.dojangkok.example.com (or _ for any name, with tls=off)")  # fmt: skip
    return value


def _https_url(value, name, where):
    if not str(value).startswith("https://"):
        raise _error(name, where, value, "must be an https:// URL", "e.g. "
                     "https://acme-v02.api.letsencrypt.org/directory")  # fmt: skip
    return url(value, name, where)


def _email(value, name, where):
    return _pattern(_EMAIL, value, name, where, "an e-mail address", "e.g. ops@example.com")


def _cert_name(value, name, where):
    return _pattern(_CERT_NAME, value, name, where, "a name of letters, digits and . _ -",
                    "e.g. dojangkok")  # fmt: skip


def _version_match(value, name, where):
    if not isinstance(value, str) or not value.startswith(("json:", "regex:")):
        raise _error(name, where, value, 'must start with "json:" or "regex:"',
                     "e.g. json:version or regex:version ([0-9.]+)")  # fmt: skip
    if value.startswith("json:") and not value[5:]:
        raise _error(name, where, value, "names no field", "e.g. json:version")
    return value


def _env_values(value, name, where):
    """{"KEY": "value"}: keys are environment variable names."""
    for key in value:
        env_key(key, name, where)
    return value


RULES: dict[str, Rule] = {
    "git_remote": branch,
    "git_branch": branch,
    "state_dir": root_dir,
    "admin_user": _optional(user_name),
    "sudo_password_env": _optional(env_key),
    "lock_stale_after": _keep(1, "seconds"),
    "frontend_dir": root_dir,
    "frontend_build_dir": lambda v, n, w: relative_path(v, n, w, subdir=True),
    "web_root": root_dir,
    "frontend_backup_dir": root_dir,
    "frontend_backup_keep": _keep(2, "the backup step 3a makes and the one before it"),
    "frontend_url": _optional(url),
    "frontend_page_tries": _keep(1, "tries"),
    "frontend_page_interval": _keep(1, "seconds between tries"),
    "backend_dir": root_dir,
    "backend_service": unit_name,
    "backend_artifact": relative_path,
    "backend_env_file": relative_path,
    "backend_env_example": relative_path,
    "backend_port": port,
    "backend_health_path": url_path,
    "backend_health_tries": _keep(1, "tries"),
    "backend_health_interval": _keep(1, "seconds between tries"),
    "backend_smoke": smoke_requests,
    "db_name": db_name,
    "db_user": db_user,
    "db_password_env": env_key,
    "backup_dir": root_dir,
    "backup_keep": _keep(1, "the dump just verified"),
    "ai_dir": root_dir,
    "ai_venv": relative_path,
    "ai_service": unit_name,
    "ai_requirements": relative_path,
    "ai_health_path": url_path,
    "ai_health_tries": _keep(1, "tries"),
    "ai_health_interval": _keep(1, "seconds between tries"),
    "ai_smoke": smoke_requests,
    "server_name": _server_name,
    "tls": _optional(_choice("acme", "provided", "off")),
    "tls_cert": _optional(absolute_path),
    "tls_key": _optional(absolute_path),
    "acme_server": _https_url,
    "acme_email": _optional(_email),
    "acme_cert_name": _cert_name,
    "acme_webroot": root_dir,
    "hsts_max_age": _keep(0, "seconds"),
    "nginx_site": _nginx_site,
    "nginx_sites_disabled": _each(file_name),
    "systemd_dir": absolute_path,
    "backend_user": user_name,
    "ai_user": user_name,
    "backend_java": absolute_path,
    "ai_listen_port": port,
    "ai_env_file": relative_path,
    "ai_memory_deny_write_execute": _choice("yes", "no"),
    "db_service": _optional(unit_name),  # empty: detected on the host (detect.py)
    "mysql_conf": _optional(absolute_path),
    "db_max_connections": _keep(1, "connections"),
    "db_app_user": db_user,
    "db_app_password_env": env_key,
    "env_dir": root_dir,
    "db_backup_user": db_user,
    "db_backup_password_env": env_key,
    "swap_size": _swap_size,
    "swap_file": _swap_file,
    # the firewall (tasks/setup/firewall.py)
    "firewall": _choice("on", "off"),
    "ssh_allow_from": networks,
    "ai_allow_from": networks,
    # the release strategy
    "strategy": _choice("release", "manual"),
    "releases_root": root_dir,
    "releases_keep": _keep(2, "the current release and the one a rollback goes to"),
    "backend_ports": _port_pair,
    "backend_keep_warm": _keep(0, "seconds"),
    "backend_drain_timeout": _keep(0, "seconds"),
    "nginx_upstream_file": absolute_path,
    "backend_switch_port": port,
    "health_poll_interval": _positive,
    "ai_switch": _choice("auto", "restart", "blue-green"),
    "ai_ports": _port_pair,
    "ai_upstream_file": absolute_path,
    "ai_switch_port": port,
    "ai_proxy_conf": absolute_path,
    "ai_keep_warm": _keep(0, "seconds"),
    "ai_drain_timeout": _keep(0, "seconds"),
    "ai_gpu_memory_mb": _keep(0, "MiB"),
    # where builds run (tasks/localbuild/)
    "build_on": _choice("host", "local"),
    "frontend_build_on": _optional(_choice("host", "local")),
    "backend_build_on": _optional(_choice("host", "local")),
    "ai_build_on": _optional(_choice("host", "local")),
    "build_work_dir": local_dir,
    # zero to serving (setup_apps.py, detect.py, drift.py)
    "frontend_repo": _optional(git_origin),
    "backend_repo": _optional(git_origin),
    "ai_repo": _optional(git_origin),
    "frontend_version_url": _optional(url),
    "backend_version_url": _optional(url),
    "ai_version_url": _optional(url),
    "frontend_version_match": _version_match,
    "backend_version_match": _version_match,
    "ai_version_match": _version_match,
    "backend_logs_directory": _optional(_systemd_dir_name),
    "backend_state_directory": _optional(_systemd_dir_name),
    "ai_logs_directory": _optional(_systemd_dir_name),
    "ai_state_directory": _optional(_systemd_dir_name),
    "backend_writable_paths": _each(_writable_path),
    "ai_writable_paths": _each(_writable_path),
    "backend_proc_subset": _choice("pid", "all"),
    "ai_proc_subset": _choice("pid", "all"),
    "db_server": _optional(_choice("mariadb", "mysql")),
    "ai_python": _optional(python_command),
    "nginx_http2": _optional(_choice("directive", "listen")),
    "host_packages": _each(_package),
    "frontend_env": _env_values,
    "backend_env": _env_values,
    "ai_env": _env_values,
}


def fields(s: Settings, names: Iterable[str] | None = None, where: str = "") -> None:
    """The rules about each setting's own value (``names``: only these settings)."""
    values = vars(s)
    for name in values if names is None else names:
        value = values[name]
        for text in _texts(value):  # every setting is one line, *_cmd included
            one_line(text, name, where)
        rule = RULES.get(name)
        if rule is not None:
            rule(value, name, where)


def settings(s: Settings, where: str = "") -> Settings:
    """Every rule: each setting's own, then the settings together."""
    fields(s, None, where)
    layout(s, where)
    env_dir(s, where)
    root_paths(s, where)
    if s.strategy == "release":
        release_paths(s, where)
        switch_ports(s, where)
    return s


def switch_ports(s: Settings, where: str = "") -> None:
    """A switch port is nginx's way to the live instance: a port something listens on (an
    instance, the manual's unit, nginx itself) would be taken from it, or loop."""
    taken = {"backend_port": [s.backend_port], "backend_ports": s.backend_ports,
             "ai_listen_port": [s.ai_listen_port], "ai_ports": s.ai_ports,
             "the site (80, 443)": [80, 443]}  # fmt: skip
    for name, other in (("backend_switch_port", "ai_switch_port"),
                        ("ai_switch_port", "backend_switch_port")):  # fmt: skip
        value = getattr(s, name)
        clash = [n for n, ports in {**taken, other: [getattr(s, other)]}.items()
                 if value in [int(p) for p in ports]]  # fmt: skip
        if clash:
            used = {int(p) for ports in taken.values() for p in ports} | {getattr(s, other)}
            free = next(p for p in range(8090 if name.startswith("backend") else 8003, 65536)
                        if p not in used)  # fmt: skip
            raise ConfigError(
                f"setting {name} ({value}) is also {clash[0]}"
                + (f" in {where}" if where else "")
                + ": the switch port must be a port nothing listens on (nginx's upstream "
                "names it; the switch table sends it to the live instance)",
                f"give {name} a free port of its own, e.g. {name}={free}",
            )


def release_paths(s: Settings, where: str = "") -> None:
    """Under the release strategy every deploy runs from a new release directory: what a
    service writes into a path relative to it would stay behind with that release (and go
    with it when old releases are cleaned up). Refused, with the absolute path to give."""
    for comp, checkout in (("backend", s.backend_dir), ("ai", s.ai_dir)):
        name = f"{comp}_writable_paths"
        relative = [str(p) for p in getattr(s, name) if not str(p).startswith("/")]
        if relative:
            fixed = json.dumps([f"{checkout}/{p}" for p in relative])
            raise ConfigError(
                f"setting {name} has relative paths ({', '.join(relative)})"
                + (f" in {where}" if where else "")
                + ": with strategy=release the service runs from a new release directory on "
                "every deploy, so what it writes there would be left behind with the old release",
                f"give absolute paths outside the releases, e.g. {name}={fixed}, and point "
                f"the app there (e.g. in {comp}_env); or use strategy=manual",
            )


def env_dir(s: Settings, where: str = "") -> None:
    """The services' env files must sit where the deploy login cannot rename or replace
    them: outside every directory it owns (tasks/apps/env.py)."""
    env = normal(s.env_dir)
    for name in ROOT_DIRS:
        other = normal(getattr(s, name))
        if env == other or _inside(env, other) or _inside(other, env):
            raise ConfigError(
                f"setting env_dir ({s.env_dir}) and {name} ({getattr(s, name)}) overlap"
                + (f" in {where}" if where else "")
                + ": the deploy login owns "
                + name
                + ", so it could point the services' env files (read by systemd as root) at any file",
                "give env_dir a directory of its own that only root writes, e.g. "
                "env_dir=/etc/dojangkok/env",
            )


#: what root writes or reads by these settings' paths (setup's swap and TLS steps,
#: push-config's files, nginx and systemd reading them as root)
ROOT_PATHS = ("swap_file", "tls_cert", "tls_key", "acme_webroot", "nginx_site",
              "nginx_upstream_file", "ai_upstream_file", "ai_proxy_conf", "systemd_dir",
              "mysql_conf")  # fmt: skip


def root_paths(s: Settings, where: str = "") -> None:
    """Root never writes or reads a path inside a directory the deploy login owns: there it
    could put its own file or a link to any file in the path's place."""
    for name in ROOT_PATHS:
        value = getattr(s, name)
        if not value:
            continue
        path = normal(value)
        for owned in ROOT_DIRS:
            other = normal(getattr(s, owned))
            if path == other or _inside(path, other):
                default = type(s).__dataclass_fields__[name].default
                raise ConfigError(
                    f"setting {name} ({value}) is inside {owned} ({getattr(s, owned)})"
                    + (f" in {where}" if where else "")
                    + ": the deploy login owns it, so it could put a link to any file in the "
                    "place of what root writes or reads there",
                    f"give {name} a path outside the directories the deploy login owns"
                    + (f", e.g. its default {default}" if default else ""),
                )


def layout(s: Settings, where: str = "") -> None:
    """Step A4 empties web_root (``rm -rf web_root/*``): it must hold nothing else the tool
    keeps (checkouts, backups, records), and lie inside none of them."""
    web = normal(s.web_root)
    for name in ROOT_DIRS:
        if name == "web_root":
            continue
        other = normal(getattr(s, name))
        if web == other or _inside(other, web) or _inside(web, other):
            raise ConfigError(
                f"setting web_root ({s.web_root}) and {name} ({getattr(s, name)}) overlap"
                + (f" in {where}" if where else "")
                + ": deploy step A4 empties web_root, so it would delete what is kept there",
                "give the web root a directory of its own, e.g. web_root=/var/www/dojangkok "
                "with the backups in /var/www/backup",
            )
