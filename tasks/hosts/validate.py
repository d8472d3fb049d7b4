"""The rules about settings together: a web root that holds the checkouts or the backups, a
switch port something listens on, a root path inside a directory the deploy login owns.

Each setting's own rule is declared beside it (:mod:`tasks.hosts.settings`);
``Settings.from_vars`` runs those, so the inventory refuses a bad value naming the line it
came from. :func:`settings` runs them again for every setting, then the rules about settings
together: every task's preflight and every session run it (``tasks.engine.session``).

The ``*_cmd`` settings are raw shell on purpose (the operator writes a command line) and
are only checked to be one line. Each error is a :class:`~tasks.errors.ConfigError` naming
the setting, what is wrong and what to write instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tasks.errors import ConfigError
from tasks.hosts.settings import (
    FREE_TEXT,
    LOGIN_DIRS,
    RAW_SHELL,
    ROOT_PATHS,
    RULES,
    SPECS,
    TEMPLATE_ONLY,
    VIEWS,
    Settings,
    check_fields,
)
from tasks.hosts.values import Rule, _inside, normal, port, port_pair, python_command

__all__ = [
    "BY_STRATEGY", "FREE_TEXT", "LISTEN_PORTS", "LOGIN_DIRS", "RAW_SHELL", "ROOT_PATHS", "RULES",
    "SWITCH_PORTS", "TEMPLATE_ONLY", "Rule", "env_dir", "fields", "layout", "python_command",
    "release_paths", "root_paths", "settings", "switch_ports",
]  # fmt: skip


#: each setting's own rules (declared beside it in tasks/hosts/settings.py)
fields = check_fields


#: one rule about settings together (``where`` names the host in its error)
SettingsRule = Callable[[Settings, str], None]

#: the rules a strategy adds for the hosts set to it, by the strategy's name. Each strategy
#: declares its own (tasks/apps/base.py ``Strategy.settings_rules``) and registering it passes
#: them down here: this layer sits below the strategies and asks none of them.
BY_STRATEGY: dict[str, tuple[SettingsRule, ...]] = {}


def settings(s: Settings, where: str = "") -> Settings:
    """Every rule: each setting's own, then the settings together, then the host's
    strategy's (:data:`BY_STRATEGY`; the ``strategy`` setting's own rule has refused a name
    that is none)."""
    fields(s, None, where)
    layout(s, where)
    env_dir(s, where)
    root_paths(s, where)
    for rule in BY_STRATEGY[s.strategy]:
        rule(s, where)
    return s


#: the switch ports, by the apps' settings blocks (``<app>_switch_port``): the local port
#: nginx's upstream names, which a switch sends to the live instance; nothing listens on it
SWITCH_PORTS = tuple(view["switch_port"] for view in VIEWS.values() if "switch_port" in view)
#: the ports something listens on (a service, a blue/green instance): every setting declared
#: a port (or a pair of ports) but the switch ports, in the order declared
LISTEN_PORTS = tuple(spec.name for spec in SPECS
                     if spec.rule in (port, port_pair) and spec.name not in SWITCH_PORTS)  # fmt: skip


def switch_ports(s: Settings, where: str = "") -> None:
    """A switch port is nginx's way to the live instance: a port something listens on (an
    instance, the manual's unit, nginx itself) would be taken from it, or loop. Every
    app's switch port, against every listening port and the other switch ports."""
    taken = {name: value if isinstance(value := getattr(s, name), list) else [value]
             for name in LISTEN_PORTS}  # fmt: skip
    taken["the site (80, 443)"] = [80, 443]
    for name in SWITCH_PORTS:
        value = getattr(s, name)
        others = {other: [getattr(s, other)] for other in SWITCH_PORTS if other != name}
        clash = [n for n, ports in {**taken, **others}.items()
                 if value in [int(p) for p in ports]]  # fmt: skip
        if clash:
            used = {int(p) for ports in (*taken.values(), *others.values()) for p in ports}
            default = type(s).__dataclass_fields__[name].default
            free = next(p for p in range(default, 65536) if p not in used)
            raise ConfigError(
                f"전환 포트가 이미 쓰이는 포트입니다{_at(where)} ({name} ({value}) is also "
                f"{clash[0]}): 전환 포트에서는 아무것도 듣지 않아야 합니다 (nginx upstream이 "
                "이 포트를 가리키고, 전환 테이블이 서비스 중인 인스턴스로 보냅니다)",
                f"{name}에 다른 곳이 쓰지 않는 포트를 주십시오. 예: {name}={free}",
            )


def _at(where: str) -> str:
    return f" ({where})" if where else ""


def release_paths(s: Settings, where: str = "") -> None:
    """Under the release strategy every deploy runs from a new release directory: what a
    service writes into a path relative to it would stay behind with that release (and go
    with it when old releases are cleaned up). Refused, with the absolute path to give.
    Every app whose settings block declares ``<app>_writable_paths`` (beside ``<app>_dir``)."""
    for comp, view in VIEWS.items():
        if "writable_paths" not in view:
            continue
        name, checkout = view["writable_paths"], getattr(s, view["dir"])
        relative = [str(p) for p in getattr(s, name) if not str(p).startswith("/")]
        if relative:
            fixed = json.dumps([f"{checkout}/{p}" for p in relative])
            raise ConfigError(
                f"설정 {name}에 상대 경로가 있습니다{_at(where)} ({name} has relative paths: "
                f"{', '.join(relative)}): strategy=release에서는 배포마다 새 릴리스 디렉터리에서 "
                "서비스가 실행되므로, 그 안에 쓴 파일은 이전 릴리스와 함께 남겨집니다",
                f"릴리스 밖의 절대 경로를 주고(예: {name}={fixed}) 앱도 그곳을 쓰게 하십시오 "
                f"(예: {comp}_env). 아니면 strategy=manual을 쓰십시오",
            )


def env_dir(s: Settings, where: str = "") -> None:
    """The services' env files must sit where the deploy login cannot rename or replace
    them: outside every directory it owns (tasks/apps/env.py)."""
    env = normal(s.env_dir)
    for name in LOGIN_DIRS:
        other = normal(getattr(s, name))
        if env == other or _inside(env, other) or _inside(other, env):
            raise ConfigError(
                f"설정 env_dir와 {name}이(가) 겹칩니다{_at(where)} (env_dir ({s.env_dir}) and "
                f"{name} ({getattr(s, name)}) overlap): {name}은(는) 배포 로그인의 것이라, "
                "systemd가 root로 읽는 서비스의 env 파일을 아무 파일로나 바꿔 가리킬 수 있습니다",
                "env_dir에 root만 쓰는 따로 된 디렉터리를 주십시오. 예: env_dir=/etc/dojangkok/env",
            )


def root_paths(s: Settings, where: str = "") -> None:
    """Root never writes or reads a path inside a directory the deploy login owns: there it
    could put its own file or a link to any file in the path's place."""
    for name in ROOT_PATHS:
        value = getattr(s, name)
        if not value:
            continue
        path = normal(value)
        for owned in LOGIN_DIRS:
            other = normal(getattr(s, owned))
            if path == other or _inside(path, other):
                default = type(s).__dataclass_fields__[name].default
                raise ConfigError(
                    f"설정 {name}이(가) 배포 로그인의 디렉터리 안에 있습니다{_at(where)} "
                    f"(setting {name} ({value}) is inside {owned} ({getattr(s, owned)})): "
                    "root가 쓰거나 읽는 그 자리에 배포 로그인이 아무 파일로 가는 링크를 놓을 수 "
                    "있습니다",
                    f"{name}에 배포 로그인의 디렉터리 밖의 경로를 주십시오"
                    + (f" (예: 기본값 {default})" if default else ""),
                )


def layout(s: Settings, where: str = "") -> None:
    """Step A4 empties web_root (``rm -rf web_root/*``): it must hold nothing else the tool
    keeps (checkouts, backups, records), and lie inside none of them."""
    web = normal(s.web_root)
    for name in LOGIN_DIRS:
        if name == "web_root":
            continue
        other = normal(getattr(s, name))
        if web == other or _inside(other, web) or _inside(web, other):
            raise ConfigError(
                f"설정 web_root와 {name}이(가) 겹칩니다{_at(where)} (web_root ({s.web_root}) and "
                f"{name} ({getattr(s, name)}) overlap): 배포 단계 A4가 web_root를 비우므로 그 안에 "
                "둔 것이 지워집니다",
                "웹 루트에 따로 된 디렉터리를 주십시오. 예: web_root=/var/www/dojangkok, "
                "백업은 /var/www/backup",
            )
