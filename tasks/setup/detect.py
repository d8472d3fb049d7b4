"""Defaults that depend on the host, detected there unless the inventory sets them.

The manual's hosts run Ubuntu 24.04 on ARM64 with MySQL; the lab runs Debian 12 on amd64
with MariaDB. Where they differ, a setting left empty is filled from what the host has: the
database server (``db_server``), its unit (``db_service``), its config file (``mysql_conf``,
in the server's own conf.d directory), the python of the AI venv (``ai_python``) and the
packages setup makes sure of (``host_packages``). One read-only command gathers the facts
(:data:`FACTS`); :func:`resolve` is pure and says, for each value, why it was chosen
(`fab settings -H cpu` prints it). Without a host (render-config, the runbook, unit tests)
the manual's target is assumed: Ubuntu with MySQL.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.errors import ConfigError
from tasks.hosts import site
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings

#: one command, run as the login user, changes nothing
FACTS = (
    '. /etc/os-release 2>/dev/null; echo "os=${ID:-unknown}"; echo "os_version=${VERSION_ID:-}"; '
    'echo "arch=$(dpkg --print-architecture 2>/dev/null || uname -m)"; '
    "if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then echo db=mariadb; "
    "elif command -v mysqld >/dev/null 2>&1 || [ -x /usr/sbin/mysqld ]; then echo db=mysql; "
    "else echo db=; fi; "
    'echo "python=$(python3 -c \'import sys; print("%d.%d" % sys.version_info[:2])\' 2>/dev/null)"; '
    # nginx is in /usr/sbin, which a login user's PATH may lack
    "echo \"nginx=$({ nginx -v || /usr/sbin/nginx -v; } 2>&1 | sed -n 's|^nginx version: nginx/||p')\""
)


def facts_command(s: Settings) -> str:
    """:data:`FACTS`, and what ai_switch=auto decides from: the GPU's free memory and whether
    the AI server is laid out for blue/green (tasks/apps/ai/release.py)."""
    return "; ".join([FACTS, *filter(None, (a.facts_command(s) for a in registry.ORDER))])


#: the config directory each server reads last, and a name that sorts after its own files
CONF = {
    "mariadb": "/etc/mysql/mariadb.conf.d/60-dojangkok.cnf",  # after 50-server.cnf
    "mysql": "/etc/mysql/mysql.conf.d/zz-dojangkok.cnf",  # after mysqld.cnf
}
SERVER_PACKAGE = {"mariadb": "mariadb-server", "mysql": "mysql-server"}
CLIENT_PACKAGE = {"mariadb": "mariadb-client", "mysql": "mysql-client"}
#: the manual's backend is Java 17 (build.gradle's toolchain); where a distribution no longer
#: ships OpenJDK 17: (from its major version, the JDK it ships). Debian 13 (trixie) has 21.
JAVA = 17
NEWER_JDK = {"debian": ((13,), 21)}
#: what the manual's target has, when there is no host to ask
ASSUMED = {"os": "ubuntu", "os_version": "24.04", "arch": "arm64", "db": "", "python": "",
           "nginx": "", "gpu": "", "pair": ""}  # fmt: skip
#: nginx 1.25.1 made `listen ... http2` deprecated (a warning at every `nginx -t`) for the
#: `http2 on;` directive, which older nginx refuses; where nginx is not installed yet, the
#: distribution releases from which on its nginx is that new
HTTP2_DIRECTIVE = (1, 25, 1)
HTTP2_DIRECTIVE_FROM = {"debian": (13,), "ubuntu": (24, 10)}


@dataclass(frozen=True)
class Facts:
    os: str
    os_version: str
    arch: str
    db: str  # mariadb | mysql | "" (no server installed)
    python: str  # the version of python3, e.g. "3.11" ("" if none)
    nginx: str = ""  # the version of nginx, e.g. "1.26.3" ("" if none)
    #: the GPU's free memory in MiB, "none" (no nvidia-smi), "error"; "" (not asked)
    gpu: str = ""
    pair: str = ""  # "yes": the AI server is laid out for blue/green
    seen: bool = True  # False: assumed (no host was asked)

    @property
    def where(self) -> str:
        return f"{self.os} {self.os_version} {self.arch}".strip()


def parse(stdout: str) -> Facts:
    values = dict(ASSUMED)
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in values:
            values[key] = value.strip()
    return Facts(**values)


def assumed() -> Facts:
    return Facts(**ASSUMED, seen=False)


def _version(text: str) -> tuple[int, ...]:
    """The leading numbers: "24.10" → (24, 10), "1.24.0 (Ubuntu)" → (1, 24), "" → ()."""
    parts = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def _release_at_least(facts: Facts, since: dict[str, tuple[int, ...]]) -> bool:
    first = since.get(facts.os)
    return first is not None and _version(facts.os_version) >= first  # "" (sid): ()


def jdk_package(facts: Facts) -> str:
    """The distribution's OpenJDK closest to the manual's Java 17: 17 where it ships (Ubuntu
    22.04/24.04, Debian 12), 21 on Debian 13 and later."""
    newer = _release_at_least(facts, {os: v for os, (v, _) in NEWER_JDK.items()})
    java = NEWER_JDK[facts.os][1] if newer else JAVA
    return f"openjdk-{java}-jdk-headless"


def nginx_http2(facts: Facts) -> tuple[str, str]:
    """How the site turns HTTP/2 on ("directive": `http2 on;`, or "listen": `listen ...
    http2`), and why: the host's nginx, or before it is installed, the distribution's."""
    want = ".".join(map(str, HTTP2_DIRECTIVE))
    if facts.nginx:
        new, what = _version(facts.nginx) >= HTTP2_DIRECTIVE, f"nginx {facts.nginx}"
    else:
        new, what = (
            _release_at_least(facts, HTTP2_DIRECTIVE_FROM),
            f"nginx 설치 전이라 {facts.where} 기본",
        )
    return ("directive" if new else "listen"), f"{what} {'≥' if new else '<'} {want}"


def _packages(s: Settings, host_roles: set[str], db: str, facts: Facts) -> list[str]:
    """The packages a host needs for its role: "name" or "name|command" (satisfied by the
    command too: a nodesource node bundles npm, and Debian's npm would conflict with it)."""
    out = ["git", "curl", "ca-certificates", "python3"]
    if "cpu" in host_roles:
        out += ["nginx", SERVER_PACKAGE[db], CLIENT_PACKAGE[db], jdk_package(facts),
                "nodejs|node", "npm|npm", "openssl"]  # fmt: skip
        out += ["certbot"] if site.tls_mode(s) == "acme" else []
        # a frontend built here is sent with rsync (setup's first build too: tasks/localbuild/first.py)
        out += ["rsync"] if (s.frontend_build_on or s.build_on) == "local" else []
    if "gpu" in host_roles:
        out += ["python3-venv"]
    if s.firewall == "on" or strategy_for(s).runs_blue_green:  # the firewall; the switch
        out += ["nftables|nft"]
    return out


def resolve(s: Settings, facts: Facts, host_roles: set[str]) -> tuple[Settings, dict[str, str]]:
    """Fill the empty host-dependent settings from ``facts``; (settings, {name: why})."""
    why: dict[str, str] = {}
    seen = "호스트에서 확인" if facts.seen else "가정: 매뉴얼의 Ubuntu (호스트에 묻지 않음)"
    changes: dict[str, object] = {}
    db = s.db_server
    if db and db not in CONF:
        raise ConfigError(
            f"db_server={db!r}: 이 도구가 아는 DB 서버는 mariadb와 mysql뿐입니다",
            "db_server를 mariadb나 mysql로 설정하거나, 비워 두십시오 (호스트에서 감지합니다)",
        )
    if not db:
        if facts.db:
            db, why["db_server"] = facts.db, f"{facts.db}d가 설치되어 있음 ({facts.where})"
        else:
            db = "mariadb" if facts.os == "debian" else "mysql"
            why["db_server"] = f"DB 서버 설치 전이라 {facts.os}의 기본 ({seen})"
        changes["db_server"] = db
    if not s.db_service:
        changes["db_service"] = db
        why["db_service"] = f"{db} 서버의 유닛"
    if not s.mysql_conf:
        changes["mysql_conf"] = CONF[db]
        why["mysql_conf"] = f"{db}의 conf.d에서 기본 파일보다 나중에 읽히는 이름"
    if not s.ai_python:
        changes["ai_python"] = "python3"
        version = f" (3 = {facts.python})" if facts.python else ""
        why["ai_python"] = f"호스트의 python3{version} ({seen})"
    if not s.nginx_http2:
        changes["nginx_http2"], why["nginx_http2"] = nginx_http2(facts)
    for app in registry.ORDER:
        for name, (value, because) in app.decide(s, facts, host_roles).items():
            changes[name], why[name] = value, because
    if not s.host_packages:
        changes["host_packages"] = _packages(s, host_roles, db, facts)
        why["host_packages"] = f"{facts.where}의 {'+'.join(sorted(host_roles))} 역할, {db} 기준"
    return s.replace(**changes), why


def roles(host: Host) -> set[str]:
    return registry.roles(host.groups, host.alias) or set(registry.GROUPS)


def with_facts(host: Host, facts: Facts) -> tuple[Host, dict[str, str]]:
    settings, why = resolve(host.settings, facts, roles(host))
    return dataclasses.replace(host, settings=settings), why


def offline(host: Host) -> Host:
    """The host with the manual's target assumed (no connection: render-config, preflight)."""
    return with_facts(host, assumed())[0]


def report(host: Host, facts: Facts) -> list[tuple[str, str, str]]:
    """`fab settings -H host`: (name, value, where it comes from) for every setting."""
    resolved, why = with_facts(host, facts)
    defaults = Settings()
    rows = []
    for f in dataclasses.fields(Settings):
        value = getattr(resolved.settings, f.name)
        shown = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
        )
        if f.name in why:
            origin = f"detected: {why[f.name]}"
        elif f.name == "ai_allow_from" and not value and "gpu" in roles(host):
            where = ", ".join(host.cpu_addresses) or "none: set ai_allow_from"
            origin = f"default: empty, so the [cpu] host's address ({where})"
        elif value != getattr(defaults, f.name):
            origin = "inventory"
        else:
            origin = "default"
        rows.append((f.name, shown, origin))
    return rows
