"""Setup's firewall without a host: the rendered ruleset, its settings and their checks, the
step's command, and the session it must not lock out (tasks/setup/firewall.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasks.apps import registry
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import inventory
from tasks.hosts.inventory import Host
from tasks.hosts.settings import VIEWS, Settings
from tasks.setup import detect, firewall
from tasks.setup import setup as host_setup


def host(group: str, cpu=("10.0.0.2",), **settings) -> Host:
    address = "10.0.0.2" if group == "cpu" else "10.0.0.3"
    return Host(group, address, "deploy", 22, None, (group,), Settings(**settings),
                cpu_addresses=cpu)  # fmt: skip


def accepts(ruleset: str) -> list[str]:
    """The accept rules after the common ones (replies, loopback, ICMP, DHCP)."""
    chain = ruleset.split("chain input {", 1)[1]
    return [ln.strip() for ln in chain.splitlines()
            if ln.strip().endswith("accept") and "dport" in ln and "udp dport" not in ln]  # fmt: skip


def test_the_ruleset_replaces_only_the_tools_table_in_one_file():
    text = firewall.ruleset(host("cpu"))
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    # declare, delete, write again: one atomic `nft -f`, whether the table exists or not
    assert lines[:3] == ["table inet dojangkok", "delete table inet dojangkok",
                         "table inet dojangkok {"]  # fmt: skip
    assert "flush ruleset" not in text and text.count("table inet") == 3
    assert "type filter hook input priority filter; policy drop;" in text
    assert "ct state established,related accept" in text and 'iif "lo" accept' in text


def test_cpu_lets_in_ssh_and_the_site_only():
    rules = accepts(firewall.ruleset(host("cpu")))
    assert rules == ["tcp dport 22 accept", "tcp dport { 80, 443 } accept"]
    text = firewall.ruleset(host("cpu"))
    for closed in ("3306", "8080", "8081", "8082", "8000"):
        assert closed not in text


def test_gpu_lets_the_ai_ports_in_from_the_cpu_host_only():
    text = firewall.ruleset(host("gpu"))
    assert accepts(text) == ["tcp dport 22 accept",
                             "ip saddr @ai_v4 tcp dport { 8000, 8001, 8002 } accept"]  # fmt: skip
    assert re.search(r"set ai_v4 \{\s+type ipv4_addr\s+flags interval\s+"
                     r"elements = \{ 10\.0\.0\.2 \}", text)  # fmt: skip
    assert "80, 443" not in text and "ai_v6" not in text


def test_ai_allow_from_overrides_the_cpu_host_and_takes_both_families():
    text = firewall.ruleset(
        host("gpu", ai_allow_from=["10.1.0.0/16", "fd00::5"], ai_listen_port=9000)
    )
    assert "elements = { 10.1.0.0/16 }" in text and "elements = { fd00::5 }" in text
    assert "10.0.0.2" not in text
    assert "ip6 saddr @ai_v6 tcp dport { 8001, 8002, 9000 } accept" in text


def test_ssh_allow_from_limits_ssh_by_family_and_merges_overlaps():
    h = host("cpu", ssh_allow_from=["203.0.113.0/24", "203.0.113.128/25", "2001:db8::/32"])
    text = firewall.ruleset(h)
    assert "tcp dport 22 accept" not in [r for r in accepts(text) if "saddr" not in r]
    assert "ip saddr @ssh_v4 tcp dport 22 accept" in text
    assert "ip6 saddr @ssh_v6 tcp dport 22 accept" in text
    assert "elements = { 203.0.113.0/24 }" in text  # an interval set refuses overlaps


def test_ssh_follows_the_port_the_tool_connects_to():
    h = Host("cpu", "10.0.0.2", "deploy", 2222, None, ("cpu",), Settings())
    assert accepts(firewall.ruleset(h))[0] == "tcp dport 2222 accept"


@pytest.mark.parametrize(
    ("cpu", "problem"),
    [(("cpu.dojangkok.example",), "이름입니다"), ((), "[cpu] 호스트가 없고")],
)
def test_an_unknown_cpu_address_is_refused_naming_ai_allow_from(cpu, problem):
    with pytest.raises(ConfigError) as err:
        firewall.ruleset(host("gpu", cpu=cpu))
    assert problem in str(err.value) and "ai_allow_from" in err.value.fix
    # off, or with ai_allow_from set, it is no question
    firewall.ruleset(host("gpu", cpu=cpu, ai_allow_from=["10.0.1.10"]))


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ('["cpu.example"]', "호스트 이름은 안 됩니다"),
        ('["10.0.0.1/8"]', "10.0.0.0/8"),
        ('"10.0.0.0/8"', "JSON 목록이어야 합니다"),
        ('["10.0.0.0/33"]', "IP 주소나 네트워크가 아닙니다"),
    ],
)
@pytest.mark.parametrize("key", ["ssh_allow_from", "ai_allow_from"])
def test_bad_source_ranges_are_refused_naming_the_key(key, raw, problem):
    with pytest.raises(ConfigError) as err:
        Settings.from_vars({key: raw}, where="hosts.ini:3")
    assert f"hosts.ini:3의 설정 {key}:" in str(err.value)
    assert problem in str(err.value) + err.value.fix


def test_firewall_is_on_or_off():
    assert Settings().firewall == "on"
    assert Settings.from_vars({"firewall": "off"}).firewall == "off"
    with pytest.raises(ConfigError, match="설정 firewall: 다음 중 하나여야 합니다: on, off"):
        Settings.from_vars({"firewall": "yes"})


def test_the_inventory_tells_every_host_the_cpu_hosts_address(tmp_path: Path):
    path = tmp_path / "hosts.ini"
    path.write_text("[cpu]\ncpu ansible_host=10.0.1.10\n[gpu]\ngpu ansible_host=10.0.1.20\n")
    inv = inventory.load(path)
    assert inv.hosts["gpu"].cpu_addresses == ("10.0.1.10",)
    assert "elements = { 10.0.1.10 }" in firewall.ruleset(inv.hosts["gpu"])


# --- the step -------------------------------------------------------------------------
def view(h: Host) -> RunView:
    return RunView("setup", "setup", h, "RUN", dry_run=True)


def test_the_step_checks_before_it_applies_and_keeps_other_tables():
    cmd = firewall.command(view(host("cpu")))
    assert cmd.index('nft -c -f "$new"') < cmd.index("nft -f /etc/dojangkok-deploy/firewall.nft")
    assert "flush" not in cmd and "delete table" not in cmd
    assert "systemctl enable -q -- dojangkok-firewall.service" in cmd
    # applied again only when the file or the live table differs from the last apply
    assert '[ "$live" != "$(cat -- /etc/dojangkok-deploy/firewall.applied' in cmd
    ups = firewall.uploads(view(host("cpu")))
    assert [u.mode for u in ups] == ["644", "644"]
    assert "policy drop" in ups[0].content(None)
    assert "ExecStart=/usr/sbin/nft -f /etc/dojangkok-deploy/firewall.nft" in ups[1].content(None)


def test_off_removes_the_tools_table_only():
    v = view(host("cpu", firewall="off"))
    cmd = firewall.command(v)
    assert "nft delete table inet dojangkok" in cmd and "flush" not in cmd
    assert firewall.uploads(v) == ()


def test_setup_ends_with_the_firewall_then_the_sudo_rule_and_installs_nft():
    h = detect.with_facts(host("gpu"), detect.assumed())[0]
    steps = host_setup.plan(view(h)).steps
    assert steps[-2].title == "방화벽 (nftables)" and steps[-2].sudo
    assert steps[-1].title == "최소 권한 sudo (배포 계정)" and steps[-1].sudo
    assert "nftables|nft" in h.settings.host_packages
    # the release strategy's blue/green switch is an nftables table too (switchtable.py)
    off = detect.with_facts(host("gpu", firewall="off"), detect.assumed())[0]
    assert "nftables|nft" in off.settings.host_packages
    manual = detect.with_facts(host("gpu", firewall="off", strategy="manual"), detect.assumed())[0]
    assert "nftables|nft" not in manual.settings.host_packages


# --- the session it must not lock out ---------------------------------------------------
def test_ssh_allow_from_must_include_this_session():
    s = Settings(ssh_allow_from=["203.0.113.0/24"])
    err = firewall.session_problem("198.51.100.7", s, "cpu")
    assert err is not None and "ssh_allow_from (203.0.113.0/24) leaves out 198.51.100.7" in str(err)
    assert '"198.51.100.7/32"' in err.fix
    assert firewall.session_problem("203.0.113.9", s, "cpu") is None
    assert firewall.session_problem("::ffff:203.0.113.9", s, "cpu") is None
    assert firewall.session_problem("198.51.100.7", Settings(), "cpu") is None  # anyone
    assert firewall.session_problem("198.51.100.7", s.replace(firewall="off"), "cpu") is None


def test_settings_say_where_an_empty_ai_allow_from_points():
    rows = {name: origin for name, _, origin in detect.report(host("gpu"), detect.assumed())}
    assert rows["ai_allow_from"] == "default: empty, so the [cpu] host's address (10.0.0.2)"
    rows = {name: origin for name, _, origin in detect.report(host("cpu"), detect.assumed())}
    assert rows["ai_allow_from"] == "default" and rows["ssh_allow_from"] == "default"


def test_what_an_app_opens_is_its_own_and_names_who_may_reach_it():
    """The firewall asks each App what it opens to other hosts (App.opening): the AI server
    alone today; its sources are the app's own <app>_allow_from setting."""
    opens = [app for app in registry.ORDER if app.opening(Settings()) is not None]
    assert [app.name for app in opens] == ["ai"]
    assert all("allow_from" in VIEWS[app.name] for app in opens)
    assert firewall.ALLOW_FROM == ("ai_allow_from",)
    assert registry.get("ai").opening(Settings(ai_listen_port=9000)).ports == (8001, 8002, 9000)
