"""Least privilege: what the deploy login may do as root, and nothing more (pure builders).

``fab setup`` installs a fixed, root-owned helper (tasks/onhost/roothelper.py, as
:data:`HELPER`), the list of what it may act on (:data:`CONFIG`, from the inventory's
settings: the app's units, the blue/green pairs, nginx's test and reload commands, the state
directory) and a sudoers drop-in (:data:`SUDOERS`, templates/sudo/dojangkok.sudoers.j2,
checked with ``visudo -cf`` before it goes in) that lets the deploy login run that helper,
and nothing else, as root without a password. Deploys and rollbacks then never run free
shell as root: each root action is one helper call, shown as it runs
(``sudo -n /usr/local/sbin/dojangkok-root systemctl restart fastapi``), and the helper
refuses anything the config does not name.

Everything else a deploy needs is the deploy login's own: the checkouts, releases, state and
backup directories and the .env files are its (setup makes them so); it reads the journal as
a member of ``systemd-journal`` and the apps' logs as a member of their groups.

Setup and push-config change system files (packages, units, nginx, sudoers, the firewall):
they log in a second time as ``admin_user`` (full sudo, like ``ubuntu``) for their root
steps (tasks/hosts/connect.py). Without ``admin_user`` the deploy login must have full sudo,
as before; setup then says loudly that it still has it.

A deploy or rollback first checks that the helper on the host is this version's
(:func:`helper_check`, in its first round trip): the plans rely on what each verb does (e.g.
a switch stops its instance's retire timer), so a host set up by another version is refused
before anything changes, with `fab setup` as the fix.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from functools import cache
from pathlib import Path

from tasks.apps import registry
from tasks.config.render import MANAGED, environment
from tasks.engine import staging
from tasks.engine.steps import Upload
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import ch, tracked
from tasks.hosts import values
from tasks.hosts.inventory import Host
from tasks.shell import ROOT_HELPER, q, root_helper

HELPER = ROOT_HELPER
CONFIG = "/etc/dojangkok/sudo.json"
SUDOERS = "/etc/sudoers.d/dojangkok"
TEMPLATE = "sudo/dojangkok.sudoers.j2"
SOURCE = Path(__file__).resolve().parent.parent / "onhost" / "roothelper.py"
#: groups the deploy login joins: the journal (journalctl without root) and, per app, the
#: service's group (its .env and logs); ``adm`` (every system log: auth.log, syslog, nginx's)
#: only when a configured log needs it (:func:`log_groups`)
JOURNAL_GROUPS = ("systemd-journal",)
#: the group of the system's own log files under /var/log (Debian, Ubuntu)
SYSTEM_LOGS = "adm"


@cache
def helper_digest() -> str:
    """The SHA-256 of the helper this version of the tool installs."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def helper_check() -> str:
    """Prints the installed helper's SHA-256 (nothing when there is none)."""
    return f"sha256sum -- {HELPER} 2>/dev/null | cut -d' ' -f1"


def judge_helper(alias: str, printed: str) -> None:
    """Refuse a host whose helper is missing or another version's (helper_check's output)."""
    if printed.strip() == helper_digest():
        return
    problem = (f"{alias}의 root 헬퍼({HELPER})가 이 도구와 다른 버전입니다"
               if printed.strip() else f"{alias}에 root 헬퍼({HELPER})가 없습니다")  # fmt: skip
    raise ConfigError(
        f"{problem}: 배포의 root 단계가 실행 계획과 다르게 동작할 수 있습니다",
        f"`fab -H {alias} setup`을 실행하십시오 (이 버전의 헬퍼와 그 설정을 설치하고, 앱과 "
        "데이터는 그대로 둡니다)",
    )


def systemctl(action: str, unit: str) -> str:
    return root_helper("systemctl", action, values.unit_name(unit))


def nginx_reload() -> str:
    return root_helper("nginx-reload")


# --- what setup installs -------------------------------------------------------------------
def pairs(host: Host) -> dict:
    """The host's blue/green pairs (always the backend's on a CPU host; the AI server's on a
    GPU host whatever ai_switch says, so switching it on needs no new setup)."""
    s, r, out = host.settings, _roles(host), {}
    for app in registry.ORDER:
        pair = getattr(app.plans("release"), "PAIR", None)  # whatever the settings choose
        if pair is not None and app.group in r and app.pair_ports(s):  # (a kind with a pair)
            out[app.name] = {"service": pair.service(s), "ports": [int(p) for p in pair.ports(s)],
                             "upstream_file": pair.upstream_file(s), "upstream": pair.upstream,
                             "switch_port": int(pair.switch_port(s))}  # fmt: skip
    return out


def _roles(host: Host) -> set[str]:
    return registry.roles(host.groups, host.alias) or set(registry.GROUPS)


def units(host: Host) -> list[str]:
    """The units of the host's apps that run as their own service user."""
    s, r = host.settings, _roles(host)
    return [a.service(s) for a in registry.ORDER if a.group in r and a.service_user(s)]


def app_groups(host: Host) -> list[str]:
    """The apps' groups (their .env and logs), and the system logs' when one is needed."""
    s, r = host.settings, _roles(host)
    apps = ([s.backend_user] if "cpu" in r else []) + ([s.ai_user] if "gpu" in r else [])
    return apps + log_groups(host)


def system_logs_read(s) -> list[str]:
    """The files under /var/log a configured log command names outside the apps' own
    LogsDirectory= (which their groups read): the system's logs, group adm."""
    own = [f"/var/log/{d}/" for d in (s.backend_logs_directory, s.ai_logs_directory) if d]
    try:
        words = shlex.split(s.backend_log_cmd)
    except ValueError:
        words = s.backend_log_cmd.split()
    return [w for w in words if w.startswith("/var/log/") and not any(w.startswith(d) for d in own)]


def log_groups(host: Host) -> list[str]:
    """``adm`` when the backend's error log check (backend_log_cmd, the 배포 후 check, run as
    the deploy login) reads a system log file; none otherwise (the default reads the app's
    own /var/log/dojangkok, the journal needs systemd-journal only)."""
    return [SYSTEM_LOGS] if "cpu" in _roles(host) and system_logs_read(host.settings) else []


def dropped_groups(host: Host) -> list[str]:
    """Groups an earlier setup gave the deploy login that no configured log needs now."""
    return [] if SYSTEM_LOGS in log_groups(host) else [SYSTEM_LOGS]


def config_text(host: Host, deploy_login: str) -> str:
    s = host.settings
    doc = {
        "about": "what the deploy login may do as root through dojangkok-root (fab setup writes it)",
        "login": deploy_login,
        "state_dir": s.state_dir,
        "units": units(host),
        "pairs": pairs(host),
        "nginx_test": s.nginx_test_cmd,
        "nginx_reload": s.nginx_reload_cmd,
        "groups": [*JOURNAL_GROUPS, *app_groups(host)],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def sudoers_text(deploy_login: str) -> str:

    template = environment().get_template(TEMPLATE)
    return template.render(login=deploy_login, helper=HELPER, config=CONFIG,
                           managed=MANAGED.format(template=TEMPLATE))  # fmt: skip


#: the step's three files, as they arrive in its root-only directory (tasks/engine/staging.py)
STAGED = {"helper": "dojangkok-root", "conf": "sudo.json", "sudoers": "dojangkok.sudoers"}


def deploy_login(v: RunView) -> str:
    """The deploy login by name (the files setup writes name it): the inventory's
    ansible_user."""
    if not v.host.user:
        raise ConfigError(
            f"setup은 {v.host.alias}의 배포 계정에 sudo 규칙을 쓰는데, 인벤토리에 배포 계정이 "
            "없습니다",
            f"인벤토리의 {v.host.alias} 줄에 ansible_user로 배포 계정을 적으십시오 "
            "(예: ansible_user=deploy)",
        )
    return v.host.user


def uploads(v: RunView) -> tuple[Upload, ...]:
    host, who = v.host, deploy_login(v)
    return (
        Upload(staging.path(STAGED["helper"]), "644", "tasks/onhost/roothelper.py (root 헬퍼)",
               lambda secrets: SOURCE.read_text(encoding="utf-8")),
        Upload(staging.path(STAGED["conf"]), "644", "root 헬퍼가 다룰 수 있는 것 (유닛·포트·nginx 명령)",
               lambda secrets: config_text(host, who)),
        Upload(staging.path(STAGED["sudoers"]), "644", f"templates/{TEMPLATE}에서 렌더링",
               lambda secrets: sudoers_text(who)),
    )  # fmt: skip


def command(v: RunView) -> str:
    """Check the drop-in with visudo, install the three files root-owned, put the deploy
    login in the journal's and the apps' groups; then say loudly if it still has more sudo
    than the helper (another sudoers rule gives it ALL). The files are read from the step's
    root-only directory (they came on the root command's standard input): the copy visudo
    checks is the copy installed."""
    who = v.login
    groups = " ".join(q(g) for g in [*JOURNAL_GROUPS, *app_groups(v.host)])
    still = (
        f"!!! {v.host.user or '배포 계정'}에 아직 제한 없는 sudo 권한이 있습니다 "
        "(sudo -l -U): 그 규칙을 지우고 admin_user를 설정하십시오"
    )
    leave = "".join(
        f'if id -nG -- {who} | tr " " "\\n" | grep -qxF -- {q(g)}; then gpasswd -d {who} {q(g)} '
        f">/dev/null; {ch(f'left group {g}')}; fi;"
        for g in dropped_groups(v.host)
    )
    install = " ".join(
        f'cmp -s -- "${var}" {q(dest)} || {{ install -D -o root -g root -m {mode} -- "${var}" {q(dest)}; {ch(dest)}; }};'
        for var, dest, mode in (("helper", HELPER, "755"), ("conf", CONFIG, "644"))
    )
    return tracked(
        " ".join(f'{var}="{staging.path(name)}";' for var, name in STAGED.items()) + " "
        f'visudo -c -q -f "$sudoers" || {{ echo {q("생성한 sudoers 파일이 visudo -c 검사를 통과하지 못했습니다: sudo 설정은 그대로입니다")} >&2; exit 1; }}; '
        f"{install} "
        f'cmp -s -- "$sudoers" {q(SUDOERS)} || {{ install -o root -g root -m 440 -- "$sudoers" {q(SUDOERS + ".new")} '
        f"&& mv -fT -- {q(SUDOERS + '.new')} {q(SUDOERS)}; {ch(SUDOERS)}; }}; "
        f'for g in {groups}; do getent group -- "$g" >/dev/null || continue; '
        f'id -nG -- {who} | tr " " "\\n" | grep -qxF -- "$g" || {{ usermod -aG "$g" -- {who}; ch "group $g"; }}; done; '
        f"{leave} "
        f"if sudo -l -U {who} 2>/dev/null | grep -qE -- '\\(ALL( : ALL)?\\) (NOPASSWD: )?ALL$|\\) ALL$'; then "
        f"note {q(still)}; fi",
        "root 헬퍼만",
    )
