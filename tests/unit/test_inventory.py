from pathlib import Path

import pytest

from tasks.errors import ConfigError
from tasks.hosts import inventory

LAB_LIKE = """
# comment
[cpu]
cpu ansible_host=10.77.0.2 ansible_user=deploy ansible_port=2222 ansible_ssh_private_key_file=id_ed25519

[gpu]
gpu ansible_host=10.77.0.3 ansible_user=deploy backend_service=unused ai_service=ai-server

[gpu:vars]
ai_venv=.venv
ai_health_tries=3
ai_health_interval=2

[all:vars]
known_hosts_file=known_hosts
backend_smoke=[{"method": "GET", "url": "http://localhost:8080/api/notes"}]

[servers:children]
cpu
gpu
"""


def test_parses_hosts_groups_and_precedence(inventory_file):
    inv = inventory.load(inventory_file(LAB_LIKE))
    cpu, gpu = inv.hosts["cpu"], inv.hosts["gpu"]
    assert (cpu.address, cpu.user, cpu.port) == ("10.77.0.2", "deploy", 2222)
    assert gpu.port == 22
    # the host's line, group vars, all:vars; ints and JSON lists are typed
    assert gpu.settings.ai_service == "ai-server"
    assert gpu.settings.ai_health_interval == 2
    assert gpu.settings.ai_venv == ".venv"
    assert gpu.settings.ai_health_tries == 3
    assert cpu.settings.ai_venv == "venv"
    assert cpu.settings.backend_smoke == [
        {"method": "GET", "url": "http://localhost:8080/api/notes"}
    ]
    # relative paths resolve against the inventory's own directory
    base = inv.path.parent.resolve()
    assert cpu.key_file == str(base / "id_ed25519")
    assert cpu.settings.known_hosts_file == str(base / "known_hosts")
    assert [h.alias for h in inv.resolve("servers")] == ["cpu", "gpu"]


def test_resolve_alias_or_group(inventory_file):
    inv = inventory.load(inventory_file(LAB_LIKE))
    assert [h.alias for h in inv.resolve("cpu")] == ["cpu"]
    with pytest.raises(ConfigError, match="'gpx'라는 호스트나 그룹이 없습니다") as err:
        inv.resolve("gpx")
    assert "cpu" in err.value.fix and "gpu" in err.value.fix


def test_unknown_setting_is_an_error_naming_it(inventory_file):
    with pytest.raises(ConfigError, match="unknown setting 'backend_servce'"):
        inventory.load(inventory_file("[cpu]\ncpu backend_servce=x\n"))


def test_bad_number_names_setting(inventory_file):
    with pytest.raises(ConfigError, match="설정 backend_health_tries: 정수여야 합니다: 'twelve'"):
        inventory.load(inventory_file("[cpu]\ncpu\n[cpu:vars]\nbackend_health_tries=twelve\n"))


def test_bad_json_list(inventory_file):
    with pytest.raises(ConfigError, match="설정 backend_smoke: JSON 목록이어야 합니다"):
        inventory.load(inventory_file("[cpu]\ncpu\n[cpu:vars]\nbackend_smoke=[{oops\n"))


def test_missing_file_and_empty_group(inventory_file, tmp_path):
    with pytest.raises(ConfigError, match="없습니다"):
        inventory.load(tmp_path / "nope.ini")
    inv = inventory.load(inventory_file("[cpu]\ncpu\n"))
    with pytest.raises(ConfigError, match=r"\[gpu\] 그룹에 호스트가 없습니다"):
        inv.group("gpu")


def test_env_var_names_inventory(monkeypatch, tmp_path):
    monkeypatch.setenv("DOJANGKOK_HOSTS", str(tmp_path / "x.ini"))
    assert inventory.inventory_path() == tmp_path / "x.ini"


def test_repo_hosts_ini_parses():
    inv = inventory.load(Path(__file__).resolve().parents[2] / "hosts.ini")
    assert set(inv.groups["cpu"]) == {"cpu"} and set(inv.groups["gpu"]) == {"gpu"}


# --- Ansible's reading (test_inventory_corpus.py checks these against ansible-inventory) ------
def read(inventory_file, text: str) -> inventory.Inventory:
    return inventory.load(inventory_file(text))


def refused(inventory_file, text: str, pattern: str) -> ConfigError:
    with pytest.raises(ConfigError, match=pattern) as err:
        read(inventory_file, text)
    assert err.value.fix
    return err.value


def test_port_in_host_pattern(inventory_file):
    inv = read(inventory_file, "web:2222\n10.0.0.5:2200\n[2001:db8::5]:2201\nfe80::1\n")
    ports = {a: (h.address, h.port) for a, h in inv.hosts.items()}
    assert ports == {
        "web": ("web", 2222),
        "10.0.0.5": ("10.0.0.5", 2200),
        "2001:db8::5": ("2001:db8::5", 2201),
        "fe80::1": ("fe80::1", 22),
    }
    assert inv.variables["web"] == {"ansible_port": 2222}


def test_ranges(inventory_file):
    inv = read(
        inventory_file,
        "[web]\nweb[1:3]\nn[01:10:4]\ndb-[a:c]\nx[y:B]\nr[1:2]-[a:b].example\n",
    )
    assert inv.groups["web"] == [
        "web1", "web2", "web3", "n01", "n05", "n09", "db-a", "db-b", "db-c",
        "xy", "xz", "xA", "xB", "r1-a.example", "r1-b.example", "r2-a.example", "r2-b.example",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "pattern"),
    [
        ("web[5:1]", r"'web\[5:1\]'의 범위 \[5:1\]가 거꾸로입니다"),
        ("db-[c:a]", r"'db-\[c:a\]'의 범위 \[c:a\]가 거꾸로입니다"),
        ("web[01:100]", r"범위 \[01:100\]: 0으로 채운 범위는 시작과 끝의 자릿수가 같아야"),
        ("web[1:5:0]", r"범위 \[1:5:0\]: 간격이 0입니다"),
        ("[1:3]:22", r"뜻이 모호합니다: Ansible은 이를 호스트 '1', 포트 3로 읽습니다"),
        ("web_:2222", r"Ansible은 'web_:2222'를 호스트, 호스트:포트, 호스트 범위 어느 것으로도"),
        ("fe80::[1:3]", r"Ansible은 'fe80::\[1:3\]'를 호스트"),
        ("[1:2:3:4:5:6:7::]:22", r"어느 것으로도 읽지 못합니다"),
        ("web:", r"Ansible은 'web:'를 호스트"),
        ("web:0", r"'web:0'의 포트가 0입니다"),
        ("---", r"'---'는 YAML 문서의 시작입니다"),
        ("[cpu", r"Ansible은 '\[cpu'를 호스트.*섹션 머리는 한 줄에 혼자 쓰고"),
    ],
)
def test_host_patterns_refused(inventory_file, line, pattern):
    refused(inventory_file, f"[g]\n{line}\n", rf"(?s)hosts.ini:2: .*{pattern}")


def test_names_outside_ansibles_grammar_are_taken_literally(inventory_file):
    inv = read(inventory_file, "[g]\na.-b\ntail_ ansible_host=10.0.0.4\n")
    assert list(inv.hosts) == ["a.-b", "tail_"]


def test_precedence_follows_depth_then_priority_then_name(inventory_file):
    inv = read(
        inventory_file,
        """
[all:vars]
ai_venv=all
[top:children]
mid
[mid:children]
leaf
[leaf]
h1 ai_service=host
h2
[zulu]
h1
h2
[alpha]
h2
[top:vars]
ai_venv=top
backend_service=top
[mid:vars]
ai_venv=mid
[leaf:vars]
ai_service=leaf
[zulu:vars]
backend_service=zulu
db_name=zulu
[alpha:vars]
db_name=alpha
ansible_group_priority=5
""",
    )
    h1, h2 = inv.hosts["h1"].settings, inv.hosts["h2"].settings
    assert (h1.ai_venv, h1.ai_service) == ("mid", "host")  # child beats parent; host beats all
    assert h2.ai_service == "leaf"
    assert h1.backend_service == "zulu"  # top (depth 1) and zulu (depth 1): the later name
    assert h2.db_name == "alpha"  # same depth: the higher priority wins over the later name
    assert inv.hosts["h1"].groups == ("leaf", "mid", "top", "zulu")
    assert inv.groups["top"] == ["h1", "h2"] and inv.groups["ungrouped"] == []


def test_children_in_any_order_and_depth(inventory_file):
    inv = read(
        inventory_file,
        "[a:children]\nb\n[b:children]\nc\n[c:children]\nd\n[d]\nh1\n[b]\nh2\n",
    )
    assert inv.groups["a"] == ["h2", "h1"]
    assert inv.hosts["h1"].groups == ("a", "b", "c", "d")


def test_ungrouped_and_all_sections(inventory_file):
    inv = read(inventory_file, "h0\n[ungrouped]\nh1\n[cpu]\nh1\n[all]\nh2\n")
    assert inv.groups["ungrouped"] == ["h0", "h2"]
    assert inv.hosts["h1"].groups == ("cpu",) and inv.hosts["h2"].groups == ()


def test_values_like_ansible(inventory_file):
    inv = read(
        inventory_file,
        """[cpu]
c1 frontend_expect='a b' backend_health_tries='12' server_name=1.50 ai_venv=".venv"
[cpu:vars]
ai_health_expect = 'quoted # kept'
backend_service="dojang" 'kok'
frontend_page_tries='3'
backend_expected_total=
backend_smoke=[{"method": "GET", "url": "http://x/", "expect": null}]
""",
    )
    v = inv.variables["c1"]
    assert v["frontend_expect"] == "a b" and v["ai_venv"] == ".venv"
    assert v["backend_health_tries"] == 12  # the shell split removed the quotes first
    assert v["server_name"] == 1.5 and inv.hosts["c1"].settings.server_name == "1.5"
    assert v["ai_health_expect"] == "quoted # kept" and v["backend_service"] == "dojangkok"
    assert v["frontend_page_tries"] == "3" and inv.hosts["c1"].settings.frontend_page_tries == 3
    assert v["backend_expected_total"] == ""
    assert isinstance(v["backend_smoke"], str)  # JSON null is no Python literal
    assert inv.hosts["c1"].settings.backend_smoke[0]["expect"] is None


def test_ssh_aliases_win_as_in_ansible(inventory_file):
    inv = read(
        inventory_file,
        """[web]
w1 ansible_host=10.0.0.1 ansible_port=2201 ansible_user=host ansible_private_key_file=k1
w2 ansible_ssh_host=10.0.0.2 ansible_ssh_port=2202 ansible_ssh_user=u2 ansible_ssh_private_key_file=/k2
[web:vars]
ansible_ssh_user=group
""",
    )
    w1, w2 = inv.hosts["w1"], inv.hosts["w2"]
    base = inv.path.parent.resolve()
    assert (w1.address, w1.port, w1.user, w1.key_file) == (
        "10.0.0.1",
        2201,
        "group",
        str(base / "k1"),
    )
    assert (w2.address, w2.port, w2.user, w2.key_file) == ("10.0.0.2", 2202, "u2", "/k2")


def test_known_connection_keys(inventory_file):
    inv = read(
        inventory_file,
        "[cpu]\nc1 ansible_connection=ssh ansible_python_interpreter=/usr/bin/python3\n"
        "[cpu:vars]\nansible_become=true\nansible_become_method=sudo\nansible_become_user=root\n",
    )
    assert inv.hosts["c1"].address == "c1"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("[cpu]\ncpu ansible_hostt=10.0.0.2\n", r":2: 모르거나 지원하지 않는 접속 변수입니다: 'ansible_hostt'(?s:.)*ansible_host을\(를\) 뜻했다면"),
        ("[cpu]\ncpu\n[cpu:vars]\nansible_ssh_common_args=-J x\n", r":4: 모르거나 지원하지 않는 접속 변수입니다: 'ansible_ssh_common_args'"),
        ("[cpu]\ncpu ansible_ssh_pass=x\n", r":2: ansible_ssh_pass: 이 도구는 인벤토리에서 비밀번호를 읽지 않습니다"),
        ("[cpu]\ncpu\n[all:vars]\nansible_become_pass=x\n", r":4: ansible_become_pass: 이 도구는 인벤토리에서 비밀번호를 읽지 않습니다"),
        ("[cpu]\ncpu ansible_connection=local\n", r":2: ansible_connection='local' \(호스트 cpu\): 이 도구는 ansible_connection=ssh로만"),
        ("[cpu]\ncpu ansible_become_method=su\n", r"ansible_become_method='su'.*sudo"),
        ("[cpu]\ncpu ansible_become_user=app\n", r"ansible_become_user='app'.*root"),
        ("[cpu]\ncpu\n[cpu:vars]\nbackend_servce=x\n", r"unknown setting 'backend_servce' in .*hosts.ini:4"),
        ("[cpu]\ncpu ansible_host={{ lookup('env', 'X') }}\n", r"cannot split|Jinja"),
        ("[cpu]\ncpu ansible_host='{{ inventory_hostname }}.example'\n", r":2: ansible_host의 값이 Jinja 템플릿입니다"),
        ("[cpu]\ncpu\n[cpu:vars]\nbackend_smoke=[{\"url\": \"{% raw %}\"}]\n", r":4: backend_smoke의 값이 Jinja 템플릿입니다"),
        ("[gpu]\ngpu\n[gpu:vars]\nai_venv=.venv # note\n", r":4: ai_venv의 값에 ' #'이 있습니다"),
        ("[cpu]\ncpu ansible_host=10.0.0.2\n[b]\ncpu:2222\n", r":4: 호스트 cpu: 처음 나온 줄\(2번\)이 아닌 줄에 적은 포트 :2222는 Ansible이 무시합니다"),
        ("[cpu]\ncpu backend_health_url=http://x/#/health\n", r":2: 'backend_health_url=http://x/#/health' 안의 #부터 Ansible은 주석으로 읽어"),
        ("[cpu]\ncpu foo\n", r":2: 호스트 뒤에는 key=value만 올 수 있습니다: 'foo'"),
        ("[cpu]\ncpu a='b\n", r":2: 호스트 줄을 나누지 못했습니다"),
        ("[cpu]\ncpu\n[cpu:vars]\nfoo\n", r":4: \[cpu:vars\]에는 key=value만 쓸 수 있습니다: 'foo'"),
        ("[ cpu ]\ncpu\n", r":1: 섹션 머리가 잘못되었습니다: '\[ cpu \]'"),
        ("[cpu:host]\ncpu\n", r":1: 섹션 \[cpu:host\]: 알 수 없는 섹션 종류입니다 \('host'\)"),
        ("[web:children]\nnginx\n", r":2: \[web:children\]의 그룹 'nginx': 어디에도 정의되지 않은 그룹입니다"),
        ("[web:children]\nnginx\n[nginx:vars]\nai_venv=x\n", r":2: \[web:children\]의 그룹 'nginx'"),
        ("[web]\nw1\n[db:vars]\ndb_name=x\n", r":3: \[db:vars\]의 그룹 'db': 어디에도 정의되지 않은 그룹입니다"),
        ("[web:children]\nweb a b\n", r":2: \[web:children\]에는 그룹 이름만 쓸 수 있습니다"),
        ("[web:children]\nweb\n", r":2: 그룹을 자기 자신의 자식으로 둘 수 없습니다: web"),
        ("[web:children]\nall\n[web]\nw\n", r":2: \[web:children\]에 Ansible 기본 그룹을 넣을 수 없습니다: 'all'"),
        ("[web:children]\nungrouped\n[web]\nw\n", r":2: \[web:children\]에 Ansible 기본 그룹을 넣을 수 없습니다: 'ungrouped'"),
        ("[ungrouped:children]\nweb\n[web]\nw\n", r":1: \[ungrouped:children\]"),
        ("[a:children]\nb\n[b:children]\nc\n[c:children]\na\n", r":children으로 그룹들이 순환합니다: a -> b -> c -> a"),
        ("[cpu]\ncpu backend_health_tries=True\n", r":2 \(호스트 cpu\)의 설정 backend_health_tries는 정수여야 하는데 Ansible은 True를 bool\(으\)로 읽습니다"),
        ("[cpu]\ncpu backend_health_tries=1.5\n", r"설정 backend_health_tries: 정수여야 합니다: 1.5"),
        ("[cpu]\ncpu\n[cpu:vars]\nserver_name=['a']\n", r":4 \(호스트 cpu\)의 설정 server_name는 문자열이어야 하는데"),
        ("[cpu]\ncpu frontend_expect=None\n", r"설정 frontend_expect는 문자열이어야 하는데 Ansible은 None를"),
        ("[cpu]\ncpu ansible_port=70000\n", r":2: 호스트 cpu의 ansible_port=70000는 포트 번호가 아닙니다"),
        ("[cpu]\ncpu ansible_port=ssh\n", r":2: ansible_port의 값은 정수여야 합니다: 'ssh'"),
        ("[cpu]\ncpu ansible_port=True\n", r":2: ansible_port의 값은 정수여야 합니다: True"),
        ("[cpu]\ncpu ansible_host=\n", r":2: 호스트 cpu의 ansible_host는 비어 있지 않은 문자열이어야 합니다: ''"),
        ("[cpu]\ncpu ansible_user=42\n", r":2: 호스트 cpu의 ansible_user는 비어 있지 않은 문자열이어야 합니다: 42"),
        ("[cpu]\ncpu\n[cpu:vars]\nansible_group_priority=high\n", r":4: ansible_group_priority의 값은 정수여야 합니다"),
        ("[cpu]\ncpu ai_service=a\n[cpu:vars]\nai_service=b\n", r":2: 호스트 cpu의 줄에 적은 ai_service를 .*hosts.ini:4의 값이 덮어씁니다"),
        ("[cpu]\ncpu ai_service=a\n[z]\ncpu\n[z:vars]\nai_service=z\n", r":2: 호스트 cpu의 줄에 적은 ai_service를 .*hosts.ini:6의 값이 덮어씁니다"),
        ("[cpu]\ncpu ai_service=a\ncpu2\n", r":2: 호스트 cpu의 줄에 적은 ai_service가 호스트 cpu2에도 적용됩니다"),
        ("[cpu]\ncpu backend_smoke='{[]: 1}'\n", r":2: backend_smoke의 값을 읽지 못했습니다"),
    ],
)  # fmt: skip
def test_refusals_name_the_line_and_the_fix(inventory_file, text, pattern):
    refused(inventory_file, text, pattern)


def test_group_vars_folder_is_refused(inventory_file, tmp_path):
    path = inventory_file("[cpu]\ncpu\n")
    (tmp_path / "group_vars").mkdir()
    with pytest.raises(
        ConfigError,
        match="group_vars가 있습니다: Ansible은 여기서 변수를 읽지만 이 도구는 읽지 않습니다",
    ):
        inventory.load(path)


def test_encoding_problems(inventory_file, tmp_path):
    refused(inventory_file, "\ufeff[cpu]\ncpu\n", "맨 앞에 BOM\\(byte order mark\\)이 있습니다")
    bad = tmp_path / "latin1.ini"
    bad.write_bytes("[cpu]\ncpu frontend_expect=caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8 텍스트가 아닙니다"):
        inventory.load(bad)


def test_a_host_named_like_its_group(inventory_file):
    # Ansible files cpu's line under the group [cpu]: the same for the one host in it
    inv = read(
        inventory_file, "web ai_venv=w\n[cpu]\ncpu ai_venv=c\n[web]\nweb\n[web:vars]\nai_venv=g\n"
    )
    assert inv.hosts["cpu"].settings.ai_venv == "c"
    assert inv.hosts["web"].settings.ai_venv == "w"  # listed before [web]: a host variable


def test_typos_in_groups_without_hosts_are_still_errors(inventory_file):
    refused(
        inventory_file,
        "[cpu]\ncpu\n[gpu:children]\n[gpu:vars]\nai_vnv=x\n",
        "unknown setting 'ai_vnv'",
    )
