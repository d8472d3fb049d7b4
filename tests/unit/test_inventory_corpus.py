"""tasks/inventory.py against Ansible itself: each file in inventory_corpus/ is read by
``ansible-inventory -i FILE --list`` (ansible-core, a dev dependency) and by the tool.

A file the tool reads must give the same hosts, the same members of every group and the same
variables per host; the Host fields must follow from those variables by Ansible's own
connection rules. A file the tool refuses is listed in REFUSED with the error it must give and
whether Ansible accepts the file (refusals of what Ansible accepts are this tool's choice, see
the module's docstring)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory

CORPUS = Path(__file__).resolve().parent / "inventory_corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.ini"))

#: file -> (pattern the ConfigError must match, whether ansible-inventory reads the file)
REFUSED = {
    "refuse_typo_ansible_key.ini": (r"모르거나 지원하지 않는 접속 변수입니다: 'ansible_hostt'.*ansible_host을\(를\) 뜻했다면", True),
    "refuse_unknown_setting.ini": (r"unknown setting 'backend_servce' in .*refuse_unknown_setting.ini:4", True),
    "refuse_password.ini": (r":4: ansible_become_password: 이 도구는 인벤토리에서 비밀번호를 읽지 않습니다.*sudo_password_env", True),
    "refuse_local_connection.ini": (r":4: ansible_connection='local' \(호스트 cpu\): 이 도구는 ansible_connection=ssh로만 접속하고 작업합니다", True),
    "refuse_template.ini": (r":2: ansible_host의 값이 Jinja 템플릿입니다", True),
    "refuse_vars_comment.ini": (r":4: ai_venv의 값에 ' #'이 있습니다: Ansible은 \[group:vars\] 줄의 주석을 값의 일부로", True),
    "refuse_later_port.ini": (r":5: 호스트 cpu: 처음 나온 줄\(2번\)이 아닌 줄에 적은 포트 :2222는 Ansible이 무시합니다", True),
    "refuse_empty_range.ini": (r":2: 'web\[5:1\]'의 범위 \[5:1\]가 거꾸로입니다", True),
    "refuse_reversed_letters.ini": (r":2: 'db-\[c:a\]'의 범위 \[c:a\]가 거꾸로입니다", False),
    "refuse_padding.ini": (r":2: .*범위 \[01:100\]: 0으로 채운 범위는 시작과 끝의 자릿수가 같아야", False),
    "refuse_ambiguous_brackets.ini": (r":2: 호스트 패턴 '\[1:3\]:22'는 뜻이 모호합니다: Ansible은 이를 호스트 '1', 포트 3로 읽습니다", True),
    "refuse_unreadable_pattern.ini": (r":2: Ansible은 'web_:2222'를 호스트, 호스트:포트, 호스트 범위 어느 것으로도 읽지 못합니다", True),
    "refuse_ipv6_range.ini": (r":2: Ansible은 'fe80::\[1:3\]'를 호스트, 호스트:포트, 호스트 범위 어느 것으로도 읽지 못합니다", True),
    "refuse_yaml.ini": (r":1: '---'는 YAML 문서의 시작입니다", False),
    "refuse_undefined_child.ini": (r":2: \[web:children\]의 그룹 'nginx': 어디에도 정의되지 않은 그룹입니다", False),
    "refuse_vars_only_group.ini": (r":3: \[db:vars\]의 그룹 'db': 어디에도 정의되지 않은 그룹입니다", False),
    "refuse_loop.ini": (r":children으로 그룹들이 순환합니다: (a -> b -> a|b -> a -> b)", False),
    "refuse_all_as_child.ini": (r":2: \[web:children\]에 Ansible 기본 그룹을 넣을 수 없습니다: 'all'", False),
    "refuse_section_spaces.ini": (r":1: 섹션 머리가 잘못되었습니다: '\[ cpu \]'", False),
    "refuse_section_kind.ini": (r":1: 섹션 \[cpu:host\]: 알 수 없는 섹션 종류입니다 \('host'\)", False),
    "refuse_quotes.ini": (r":2: 호스트 줄을 나누지 못했습니다: .*No closing quotation", False),
    "refuse_bare_word.ini": (r":2: 호스트 뒤에는 key=value만 올 수 있습니다: ';'", False),
    "refuse_bool_number.ini": (r":2 \(호스트 cpu\)의 설정 backend_health_tries는 정수여야 하는데 Ansible은 True를 bool\(으\)로 읽습니다", True),
    "refuse_list_text.ini": (r":4 \(호스트 cpu\)의 설정 server_name는 문자열이어야 하는데 Ansible은 \['a', 'b'\]를 list\(으\)로 읽습니다", True),
    "refuse_port_range.ini": (r":4: 호스트 cpu의 ansible_ssh_port=70000는 포트 번호가 아닙니다", True),
    "refuse_port_text.ini": (r":2: ansible_port의 값은 정수여야 합니다: 'ssh'", True),
    "refuse_ssh_args.ini": (r"모르거나 지원하지 않는 접속 변수입니다: 'ansible_ssh_common_args'", True),
    "refuse_ungrouped_children.ini": (r":1: \[ungrouped:children\]", True),
    "refuse_group_named_host_overridden.ini": (r":2: 호스트 gpu의 줄에 적은 ai_service를 .*:5의 값이 덮어씁니다: Ansible은 그룹과 이름이 같은", True),
    "refuse_group_named_host_shared.ini": (r":2: 호스트 cpu의 줄에 적은 backend_service가 호스트 cpu-b에도 적용됩니다", True),
    "refuse_hash_in_word.ini": (r":2: 'backend_health_url=http://localhost:8080/#/health' 안의 #부터 Ansible은 주석으로 읽어", True),
}  # fmt: skip
READ = [f for f in FILES if f not in REFUSED]


def ansible_inventory(path: Path, home: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "ansible-inventory"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the dev extra (pip install -e '.[dev]')")
    config = home / "ansible.cfg"
    config.touch()
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),  # no ansible.cfg of the machine's or the user's
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_INVENTORY_ENABLED": "ini",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true",
        "ANSIBLE_NOCOLOR": "1",
    }
    return subprocess.run(
        [str(exe), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=home,
    )


@pytest.fixture(scope="module")
def ansible(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """ansible-inventory's answer for every corpus file (run in parallel: each takes ~1 s)."""
    home = tmp_path_factory.mktemp("ansible-home")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = pool.map(lambda name: ansible_inventory(CORPUS / name, home), FILES)
        return dict(zip(FILES, runs, strict=True))


def ansible_view(listing: dict) -> tuple[dict[str, set[str]], dict[str, dict]]:
    """Members of each group (child groups' hosts included) and each host's variables."""
    groups = {name: g for name, g in listing.items() if name != "_meta"}

    def members(name: str) -> set[str]:
        g = groups.get(name, {})
        return set(g.get("hosts", [])).union(*(members(c) for c in g.get("children", [])))

    hosts = members("all")
    hostvars = listing["_meta"]["hostvars"]
    return {name: members(name) for name in groups}, {h: hostvars.get(h, {}) for h in hosts}


def test_corpus_is_big_enough():
    assert len(READ) >= 12 and len(REFUSED) >= 12
    assert not set(REFUSED) - set(FILES), "REFUSED names files that are not in the corpus"


@pytest.mark.parametrize("name", READ)
def test_read_like_ansible(name, ansible):
    from ansible.constants import MAGIC_VARIABLE_MAPPING as ansible_names

    run = ansible[name]
    assert run.returncode == 0, f"ansible-inventory refused {name}:\n{run.stderr}"
    groups, hostvars = ansible_view(json.loads(run.stdout))
    inv = inventory.load(CORPUS / name)

    assert set(inv.hosts) == set(hostvars)
    ours = {g: set(members) for g, members in inv.groups.items() if members}
    assert ours == {g: members for g, members in groups.items() if members}
    for g, members in inv.groups.items():
        assert len(members) == len(set(members)), f"group {g} lists a host twice"
    # JSON both sides: Ansible's output has JSON's types
    assert json.loads(json.dumps(inv.variables, ensure_ascii=False)) == hostvars

    def first(alias: str, attr: str, default):
        """The value Ansible connects with: its first variable name that is set."""
        return next(
            (hostvars[alias][n] for n in ansible_names[attr] if n in hostvars[alias]), default
        )

    for alias, host in inv.hosts.items():
        assert host.address == first(alias, "remote_addr", alias)
        assert host.user == first(alias, "remote_user", None)
        assert host.port == int(first(alias, "port", 22))
        key = first(alias, "private_key_file", None)
        assert host.key_file == (key and str((CORPUS / Path(key).expanduser()).resolve()))
        assert host.groups == tuple(
            sorted(g for g, m in groups.items() if alias in m and g not in ("all", "ungrouped"))
        )


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_a_clear_error(name, ansible):
    pattern, ansible_reads = REFUSED[name]
    with pytest.raises(ConfigError) as err:
        inventory.load(CORPUS / name)
    assert re.search(pattern, str(err.value), re.DOTALL), str(err.value)
    assert err.value.fix, "every refusal says what to do"
    run = ansible[name]
    assert (run.returncode == 0) == ansible_reads, run.stderr
