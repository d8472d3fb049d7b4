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
    "refuse_typo_ansible_key.ini": (r"unknown or unsupported connection variable 'ansible_hostt'.*did you mean ansible_host\?", True),
    "refuse_unknown_setting.ini": (r"unknown setting 'backend_servce' in .*refuse_unknown_setting.ini:4", True),
    "refuse_password.ini": (r":4: ansible_become_password: this tool takes no passwords .*sudo_password_env", True),
    "refuse_local_connection.ini": (r":4: ansible_connection='local' \(host cpu\): this tool only connects and works as ansible_connection=ssh", True),
    "refuse_template.ini": (r":2: the value of ansible_host is a Jinja template", True),
    "refuse_vars_comment.ini": (r":4: the value of ai_venv contains ' #': Ansible keeps a comment", True),
    "refuse_later_port.ini": (r":5: host cpu was first listed on line 2; Ansible ignores the port :2222", True),
    "refuse_empty_range.ini": (r":2: range \[5:1\] in 'web\[5:1\]' runs backwards", True),
    "refuse_reversed_letters.ini": (r":2: range \[c:a\] in 'db-\[c:a\]' runs backwards", False),
    "refuse_padding.ini": (r":2: zero-padded range \[01:100\] .* equal length", False),
    "refuse_ambiguous_brackets.ini": (r":2: host pattern '\[1:3\]:22' is ambiguous: Ansible reads it as host '1', port 3", True),
    "refuse_unreadable_pattern.ini": (r":2: Ansible cannot read 'web_:2222' as a host", True),
    "refuse_ipv6_range.ini": (r":2: Ansible cannot read 'fe80::\[1:3\]' as a host", True),
    "refuse_yaml.ini": (r":1: '---' starts a YAML document", False),
    "refuse_undefined_child.ini": (r":2: \[web:children\] names group 'nginx', which is defined nowhere", False),
    "refuse_vars_only_group.ini": (r":3: \[db:vars\] is for group 'db', which is defined nowhere", False),
    "refuse_loop.ini": (r"groups form a loop through :children: (a -> b -> a|b -> a -> b)", False),
    "refuse_all_as_child.ini": (r":2: \[web:children\] names 'all'", False),
    "refuse_section_spaces.ini": (r":1: invalid section header '\[ cpu \]'", False),
    "refuse_section_kind.ini": (r":1: section \[cpu:host\] has an unknown kind 'host'", False),
    "refuse_quotes.ini": (r":2: cannot split host line .*No closing quotation", False),
    "refuse_bare_word.ini": (r":2: expected key=value after the host, got ';'", False),
    "refuse_bool_number.ini": (r"setting backend_health_tries in .*:2 \(host cpu\) must be a whole number, but Ansible reads True as bool", True),
    "refuse_list_text.ini": (r"setting server_name in .*:4 \(host cpu\) must be text, but Ansible reads \['a', 'b'\] as list", True),
    "refuse_port_range.ini": (r":4: ansible_ssh_port=70000 for host cpu is not a port", True),
    "refuse_port_text.ini": (r":2: ansible_port must be a whole number, got 'ssh'", True),
    "refuse_ssh_args.ini": (r"unknown or unsupported connection variable 'ansible_ssh_common_args'", True),
    "refuse_ungrouped_children.ini": (r":1: \[ungrouped:children\]", True),
    "refuse_group_named_host_overridden.ini": (r":2: ai_service on the line of host gpu is overridden by .*:5: Ansible files", True),
    "refuse_group_named_host_shared.ini": (r":2: backend_service on the line of host cpu reaches host cpu-b too", True),
    "refuse_hash_in_word.ini": (r":2: the # inside 'backend_health_url=http://localhost:8080/#/health' starts a comment", True),
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
