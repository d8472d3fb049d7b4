"""`fab settings` and `fab -H cpu settings`: every setting as declared (tasks/hosts/settings.py
SPECS), grouped, one line each.

Without -H: each group's settings with their defaults (the manual's values) and their Korean
description; the ones the example hosts.ini asks for before the first setup (its "setup 전에
필수" block: :data:`BEFORE_SETUP`) marked, and the raw-shell ``*_cmd`` settings marked too.

With -H: the host's values and where each comes from: the inventory, the default, or
detected on the host (the database server and unit, its config file, python, packages, the
AI switch: tasks/setup/detect.py). The inventory is read without the host; only the detected
values need it. A host that cannot be reached still gets its inventory's values, and one
line says which values could not be detected and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from tasks.engine.console import Console
from tasks.errors import DeployToolError
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host
from tasks.hosts.remote import ConnectionLost, Remote
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import GROUPS, SHELL, SPECS, Spec
from tasks.setup import detect

#: the settings the example hosts.ini's "setup 전에 필수" block asks for before the first
#: `setup`, and when (empty: always). tests/unit/test_settings_view.py keeps it and that
#: block the same.
BEFORE_SETUP: dict[str, str] = {
    "known_hosts_file": "",
    "admin_user": "",
    "sudo_password_env": "sudo에 비밀번호가 필요하면",
    "server_name": "",
    "tls": "",
    "acme_email": "tls=acme이면",
    "tls_cert": "tls=provided이면",
    "tls_key": "tls=provided이면",
    "git_known_hosts": "저장소가 비공개이면",
    "frontend_repo": "새 서버이면",
    "backend_repo": "새 서버이면",
    "ai_repo": "새 서버이면",
    "frontend_deploy_key": "저장소가 비공개이면",
    "backend_deploy_key": "저장소가 비공개이면",
    "ai_deploy_key": "저장소가 비공개이면",
    "backend_env": "",
    "ai_env": "",
    "ai_allow_from": "[cpu]의 ansible_host가 GPU 호스트가 보는 주소가 아니면",
}
#: in that block, but optional (a default that fits most hosts)
OPTIONAL_IN_BLOCK = ("acme_server", "ai_gpu_memory_mb", "ai_build_on")

REQUIRED = "setup 전에 필수"
RAW = "RAW SHELL: 호스트에서 그대로 실행"


def shown(value: object) -> str:
    """A value as hosts.ini would hold it; empty said so."""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text if text else '""'


def marks(spec: Spec) -> str:
    out = []
    if spec.name in BEFORE_SETUP:
        when = BEFORE_SETUP[spec.name]
        out.append(f"[{REQUIRED}{f': {when}' if when else ''}]")
    if spec.kind == SHELL:
        out.append(f"[{RAW}]")
    return " ".join(out)


def grouped(specs: Iterable[Spec] = SPECS) -> list[tuple[str, list[Spec]]]:
    """(group title, its settings) in the declared order of the groups."""
    specs = list(specs)
    return [(g.title, [s for s in specs if s.group.name == g.name]) for g in GROUPS]


def _block(title: str, rows: list[tuple[str, str]]) -> list[str]:
    """A group's heading, then ``left  # right`` lines, the ``#`` aligned (up to a width)."""
    width = min(max((len(left) for left, _ in rows), default=0), 48)
    lines = [f"── {title} ──"]
    lines += [f"  {left.ljust(width)}  # {right}".rstrip() for left, right in rows]
    return [*lines, ""]


def defaults_lines() -> list[str]:
    """`fab settings`: every setting, grouped, with its default and description."""
    lines = [
        f"설정 {len(SPECS)}개: 기본값은 매뉴얼의 값이고, hosts.ini에서 호스트나 그룹별로 바꿉니다 "
        f"(`fab -H cpu settings`: 그 호스트의 값). [{REQUIRED}]: 첫 setup 전에 hosts.ini에 채울 "
        "설정 (예시 hosts.ini의 'setup 전에 필수' 블록).",
        f"[{RAW}]: 따옴표 처리 없이 호스트에서 실행되는 명령입니다. 다른 값은 모두 호스트에 닿기 전에 "
        "따옴표 처리되거나 검사됩니다.",
        "",
    ]
    for title, specs in grouped():
        rows = [(f"{s.name} = {shown(s.default)}", f"{s.about} {marks(s)}".strip()) for s in specs]
        lines += _block(title, rows)
    return lines


#: what the origin of a value is called
FROM_INVENTORY, FROM_DEFAULT = "인벤토리", "기본값"


def host_rows(host: Host, set_in_inventory: Iterable[str],
              facts: detect.Facts | None) -> list[tuple[Spec, str, str]]:  # fmt: skip
    """(spec, value, where it comes from) for every setting of ``host``. ``facts``: what the
    host said (None: it could not be asked; the values it would decide are said so)."""
    given = set(set_in_inventory)
    if facts is not None:
        resolved, why = detect.with_facts(host, facts)
        settings = resolved.settings
    else:  # which values the host would decide: the ones resolve fills in from any facts
        _, why = detect.with_facts(host, detect.assumed())
        settings, why = host.settings, dict.fromkeys(why, "")
    rows = []
    for spec in SPECS:
        value = getattr(settings, spec.name)
        if spec.name in why:
            origin = (f"호스트에서 감지: {why[spec.name]}" if facts is not None
                      else "호스트에서 감지할 값: 읽지 못함")  # fmt: skip
        elif spec.name == "ai_allow_from" and not value and "gpu" in detect.roles(host):
            where = ", ".join(host.cpu_addresses) or "없음: ai_allow_from을 주십시오"
            origin = f"{FROM_DEFAULT}: 비어 있어 [cpu] 호스트의 주소 ({where})"
        elif spec.name in given:
            origin = FROM_INVENTORY
        else:
            origin = FROM_DEFAULT
        rows.append((spec, shown(value), origin))
    return rows


def read_facts(host: Host, secrets: Secrets,
               connect_host: Callable[..., Remote] = connect) -> tuple[detect.Facts | None, str]:  # fmt: skip
    """What the host says (read-only), or (None, why it could not be asked)."""
    try:
        remote = connect_host(host, secrets, label="settings")
    except DeployToolError as exc:
        return None, exc.problem
    try:
        res = remote.run(detect.facts_command(host.settings), timeout=30)
    except ConnectionLost as exc:
        return None, f"연결이 끊겼습니다: {exc}"
    finally:
        remote.close()
    if not res.ok:
        return None, res.tail(1) or f"exit {res.exit}"
    return detect.parse(res.stdout), ""


def host_lines(host: Host, set_in_inventory: Iterable[str], facts: detect.Facts | None,
               why_not: str = "") -> list[str]:  # fmt: skip
    """`fab -H <host> settings`: the host's values, grouped, each with where it comes from."""
    if facts is not None:
        head = (
            f"{host.alias} ({host.address}): {facts.where}, 데이터베이스 {facts.db or '아직 없음'}"
        )
        lines = [head, ""]
    else:
        lines = [
            f"{host.alias} ({host.address}): 호스트에 연결할 수 없어 감지 값을 읽지 못했습니다 "
            f"({why_not}). 아래는 인벤토리와 기본값입니다.",
            "",
        ]
    rows = host_rows(host, set_in_inventory, facts)
    by_name = {spec.name: (value, origin) for spec, value, origin in rows}
    for title, specs in grouped():
        block = []
        for s in specs:
            value, origin = by_name[s.name]
            block.append((f"{s.name} = {value}", f"{origin} {marks(s)}".strip()))
        lines += _block(title, block)
    return lines


def show_host(host: Host, set_in_inventory: Iterable[str], secrets: Secrets, console: Console,
              connect_host: Callable[..., Remote] = connect) -> None:  # fmt: skip
    facts, why_not = read_facts(host, secrets, connect_host)
    console.out("\n".join(host_lines(host, set_in_inventory, facts, why_not)))
