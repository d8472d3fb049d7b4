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

from tasks import components
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
    'echo "python=$(python3 -c \'import sys; print("%d.%d" % sys.version_info[:2])\' 2>/dev/null)"'
)

#: the config directory each server reads last, and a name that sorts after its own files
CONF = {
    "mariadb": "/etc/mysql/mariadb.conf.d/60-dojangkok.cnf",  # after 50-server.cnf
    "mysql": "/etc/mysql/mysql.conf.d/zz-dojangkok.cnf",  # after mysqld.cnf
}
SERVER_PACKAGE = {"mariadb": "mariadb-server", "mysql": "mysql-server"}
CLIENT_PACKAGE = {"mariadb": "mariadb-client", "mysql": "mysql-client"}
#: what the manual's target has, when there is no host to ask
ASSUMED = {"os": "ubuntu", "os_version": "24.04", "arch": "arm64", "db": "", "python": ""}


@dataclass(frozen=True)
class Facts:
    os: str
    os_version: str
    arch: str
    db: str  # mariadb | mysql | "" (no server installed)
    python: str  # the version of python3, e.g. "3.11" ("" if none)
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


def _packages(s: Settings, host_roles: set[str], db: str) -> list[str]:
    """The packages a host needs for its role: "name" or "name|command" (satisfied by the
    command too: a nodesource node bundles npm, and Debian's npm would conflict with it)."""
    out = ["git", "curl", "ca-certificates", "python3"]
    if "cpu" in host_roles:
        out += ["nginx", SERVER_PACKAGE[db], CLIENT_PACKAGE[db], "openjdk-17-jdk-headless",
                "nodejs|node", "npm|npm", "openssl"]  # fmt: skip
        out += ["certbot"] if site.tls_mode(s) == "acme" else []
    if "gpu" in host_roles:
        out += ["python3-venv"]
    if s.firewall == "on":
        out += ["nftables|nft"]
    return out


def resolve(s: Settings, facts: Facts, host_roles: set[str]) -> tuple[Settings, dict[str, str]]:
    """Fill the empty host-dependent settings from ``facts``; (settings, {name: why})."""
    why: dict[str, str] = {}
    seen = "on the host" if facts.seen else "assumed: the manual's Ubuntu (no host asked)"
    changes: dict[str, object] = {}
    db = s.db_server
    if db and db not in CONF:
        raise ConfigError(
            f"db_server={db!r}: this tool knows mariadb and mysql",
            "set db_server to mariadb or mysql, or leave it empty (detected)",
        )
    if not db:
        if facts.db:
            db, why["db_server"] = facts.db, f"{facts.db}d is installed ({facts.where})"
        else:
            db = "mariadb" if facts.os == "debian" else "mysql"
            why["db_server"] = f"no database server yet; {facts.os}'s usual ({seen})"
        changes["db_server"] = db
    if not s.db_service:
        changes["db_service"] = db
        why["db_service"] = f"the {db} server's unit"
    if not s.mysql_conf:
        changes["mysql_conf"] = CONF[db]
        why["mysql_conf"] = f"{db}'s conf.d, a name read after its own files"
    if not s.ai_python:
        changes["ai_python"] = "python3"
        version = f" (3 = {facts.python})" if facts.python else ""
        why["ai_python"] = f"the host's python3{version} ({seen})"
    if not s.host_packages:
        changes["host_packages"] = _packages(s, host_roles, db)
        why["host_packages"] = f"for {'+'.join(sorted(host_roles))} on {facts.os} with {db}"
    return s.replace(**changes), why


def roles(host: Host) -> set[str]:
    return components.roles(host.groups, host.alias) or set(components.GROUPS)


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
