"""What the operator has not given yet, all of it in one error: the ``.env`` keys a task
needs, the files the inventory names on this machine for connecting (the SSH key, the
known_hosts file, the SSH config) and settings a task cannot do without (setup's
``ai_allow_from``). Preflight collects them over every host of the task (and every component
of a full deploy), then :meth:`Missing.check` refuses once, before any host is touched: one
run shows the whole list, not one key per run.

One thing only the host can tell: whether an empty ``*_repo`` is fine (the checkout is there
already, cloned by hand) or missing (a new server). Setup asks that first thing after it
connects, all components in one read (:func:`checkouts_command`, :func:`missing_repos`), and
refuses before anything changes.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tasks.errors import ConfigError
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets


@dataclass
class Missing:
    secrets: Secrets
    #: check the connection files too (a dry run that connects to nothing does not need them)
    files: bool = True
    #: .env key -> why, for which hosts (in the order found)
    keys: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    #: "<setting> <path>" -> what to do, for which hosts
    paths: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def need(self, host: Host, needs: list[tuple[str, str]]) -> None:
        """Note each of ``needs`` (key, why) the .env lacks, and, with ``files``, each
        connection file of ``host`` that does not exist."""
        for key, why in needs:
            if self.secrets.get(key):
                continue
            _, hosts = self.keys.setdefault(key, (why, []))
            if host.alias not in hosts:
                hosts.append(host.alias)
        if self.files:
            for what, note in connection_files(host):
                _, hosts = self.paths.setdefault(what, (note, []))
                if host.alias not in hosts:
                    hosts.append(host.alias)

    def setting(self, host: Host, name: str, why: str) -> None:
        """Note a setting ``host`` needs (``why``: what it is for, or the error about it)."""
        _, hosts = self.paths.setdefault(f"설정 {name}", (why, []))
        if host.alias not in hosts:
            hosts.append(host.alias)

    def check(self) -> None:
        """Refuse, naming everything noted, when anything is."""
        if not self.keys and not self.paths:
            return
        env = self.secrets.path or Path(".env")
        where = os.path.abspath(env)
        lines = [f"{key}: {where}에 없습니다 ({why}; {', '.join(hosts)})"
                 for key, (why, hosts) in self.keys.items()]  # fmt: skip
        lines += [f"{what} ({', '.join(hosts)}): {note}"
                  for what, (note, hosts) in self.paths.items()]  # fmt: skip
        head = f"시작 전에 빠진 값이 {len(lines)}개 있습니다 (아무것도 바꾸지 않았습니다)"
        if self.keys and self.secrets.missing:
            head += f": 비밀값 파일 {where}이(가) 없습니다"
        fixes = []
        if self.keys:
            fixes.append(
                f"{where}에 빠진 키를 KEY=값 줄로 넣으십시오 (.env.example에 모든 키가 있습니다; "
                f"`chmod 600 {shlex.quote(where)}`; 다른 파일이면 DOJANGKOK_ENV)"
            )
        if self.paths:
            fixes.append("인벤토리(hosts.ini)의 설정과 파일 경로를 고치십시오 (상대 경로는 "
                         "인벤토리 기준; 예시 hosts.ini의 'setup 전에 필수' 블록)")  # fmt: skip
        raise ConfigError(head + ":\n" + "\n".join(f"  - {line}" for line in lines),
                          "; ".join(fixes))  # fmt: skip


def connection_files(host: Host) -> list[tuple[str, str]]:
    """The connection files ``host`` names that do not exist on this machine: (the setting
    and its path, what to know)."""
    s, out = host.settings, []
    if host.key_file and not Path(host.key_file).is_file():
        out.append((f"ansible_ssh_private_key_file {host.key_file}", "파일이 없습니다"))
    if s.known_hosts_file and not Path(s.known_hosts_file).expanduser().is_file():
        out.append((f"known_hosts_file {s.known_hosts_file}",
                    "파일이 없어 호스트 키를 확인할 수 없습니다 (ssh-keyscan으로 받은 키의 "
                    "지문을 확인한 뒤 추가하십시오)"))  # fmt: skip
    if s.ssh_config_file and not Path(s.ssh_config_file).expanduser().is_file():
        out.append((f"ssh_config_file {s.ssh_config_file}", "파일이 없습니다"))
    return out


def checkouts_command(checkouts: list[str]) -> str:
    """Read-only: each of ``checkouts`` that is no git checkout, one a line."""
    dirs = " ".join(shlex.quote(d) for d in checkouts)
    return f'for d in {dirs}; do [ -d "$d/.git" ] || printf "%s\\n" "$d"; done'


def missing_repos(alias: str, unset: dict[str, str], output: str) -> ConfigError | None:
    """``unset``: component -> its checkout, for the ``*_repo`` settings that are empty;
    ``output``: what :func:`checkouts_command` printed. The repos setup needs, or None."""
    absent = set(output.splitlines())
    needed = [(comp, d) for comp, d in unset.items() if d in absent]
    if not needed:
        return None
    lines = "\n".join(f"  - {comp}_repo: {alias}의 {d}는 git 체크아웃이 아닙니다 (그대로 둘 체크아웃이 없음)"
                      for comp, d in needed)  # fmt: skip
    return ConfigError(
        f"setup은 저장소를 clone해야 하는데 설정이 비어 있습니다 (아무것도 바꾸지 않았습니다):\n{lines}",
        "인벤토리에 "
        + ", ".join(f"{comp}_repo" for comp, _ in needed)
        + "를 주십시오 (예: git@github.com:org/app.git; 비공개면 *_deploy_key와 git_known_hosts)",
    )
