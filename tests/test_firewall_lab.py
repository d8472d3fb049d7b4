"""Setup's firewall on the lab's real hosts (tasks/setup/firewall.py).

The hosts boot from the cached setup layer (tests/lab/served.py: the real `fab setup` from
bare hosts, then a clean poweroff), so the table found here was loaded at boot by
dojangkok-firewall.service. Ports are probed the way the outside sees them: from this
machine (the operator, 10.77.0.1) and from the other host. A closed port may refuse or
time out (the table drops); both count as closed, with short timeouts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parent.parent
FAB = Path(sys.executable).parent / "fab"
TABLE = "inet dojangkok"


def is_open(address: str, port: int, timeout: float = 1.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:  # refused, dropped (timed out), unreachable
        return False


def on(lab, host: str, command: str, user: str = "root") -> str:
    res = lab.run(host, command, user=user, timeout=120)
    assert res.returncode == 0, f"{host}$ {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def fab(lab, tmp: Path, *args: str, **all_vars: str) -> subprocess.CompletedProcess:
    """`fab` with the cached setup's inventory (strategy=manual), ``all_vars`` added."""
    extra = "".join(f"{k}={v}\n" for k, v in {"strategy": "manual", **all_vars}.items())
    inv = lab.write_inventory(tmp / f"hosts-{time.monotonic_ns()}.ini", "\n[all:vars]\n" + extra)
    environ = {**os.environ, "DOJANGKOK_HOSTS": str(inv), "DOJANGKOK_ENV": str(lab.env_file),
               "DOJANGKOK_HISTORY": str(tmp / "history.jsonl")}  # fmt: skip
    res = subprocess.run([str(FAB), *args], cwd=ROOT, env=environ, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    print(f"$ fab {' '.join(args)}\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}")
    return res


@pytest.fixture(scope="module")
def fw(lab):
    lab.reset(setup=True)
    from tests.conftest import served

    served(lab)
    return lab


def test_setup_applied_the_table_and_boot_loads_it(fw):
    for host in ("cpu", "gpu"):
        log = (fw.state_dir / f"setup-{host}.log").read_text()
        assert "방화벽 (nftables)" in log and f"nft -f (table {TABLE})" in log, log[-3000:]
        assert on(fw, host, "systemctl is-enabled dojangkok-firewall") == "enabled"
        # booted from the cached layer: the unit loaded the file at boot
        assert on(fw, host, "systemctl is-active dojangkok-firewall") == "active"
        listing = on(fw, host, f"nft list table {TABLE}")
        assert "policy drop" in listing and "ct state established,related accept" in listing


def test_cpu_is_reachable_only_on_ssh_and_the_site(fw):
    cpu = fw.addresses["cpu"]
    seen = {port: is_open(cpu, port) for port in (22, 80, 443, 3306, 8080, 8081, 8082)}
    print("cpu from the operator:", seen)
    assert seen == {22: True, 80: True, 443: True, 3306: False, 8080: False, 8081: False,
                    8082: False}  # fmt: skip


def test_a_listener_on_a_closed_cpu_port_is_still_unreachable(fw):
    """3306 is closed by its own config too (bind 127.0.0.1), 8080 by the firewall:
    a listener on every address of a port the firewall closes shows the table does it."""
    cpu = fw.addresses["cpu"]
    on(fw, "cpu", "systemd-run --unit=fw-probe -p RuntimeMaxSec=60 "
                  "python3 -m http.server 8081 --bind 0.0.0.0")  # fmt: skip
    try:
        on(fw, "cpu", "for _ in $(seq 50); do curl -fsS -o /dev/null localhost:8081/ && exit 0; "
                      "sleep 0.1; done; exit 1")  # fmt: skip
        assert on(fw, "cpu", "ss -Hltn 'sport = :8081'").count("0.0.0.0:8081") == 1
        assert not is_open(cpu, 8081)
    finally:
        fw.run("cpu", "systemctl stop fw-probe", timeout=30)


def test_gpu_serves_the_ai_to_the_cpu_host_only(fw):
    cpu, gpu = fw.addresses["cpu"], fw.addresses["gpu"]
    seen = {port: is_open(gpu, port) for port in (22, 80, 8000, 8001, 8002)}
    print("gpu from the operator:", seen)
    assert seen == {22: True, 80: False, 8000: False, 8001: False, 8002: False}
    # from the CPU host (the backend's side): open
    out = on(fw, "cpu", f"curl -fsS --max-time 5 http://{gpu}:8000/health", user="deploy")
    assert '"ok"' in out
    assert on(fw, "gpu", f"nft list table {TABLE}").count(cpu) == 1


def test_an_open_ssh_session_survives_the_first_rules(fw):
    """The session running setup (as admin) when the first table is loaded: never tracked before (no
    ct rule in the namespace yet), picked up as established. Here the new table lets SSH in
    only from 192.0.2.0/24, so nothing but ``ct state established`` keeps the session: it
    keeps working while a new connection from the same address is dropped."""
    cpu = fw.addresses["cpu"]
    on(fw, "cpu", f"nft delete table {TABLE}")  # no table, no connection tracking
    on(fw, "cpu", "sed 's|tcp dport 22 accept|ip saddr 192.0.2.0/24 tcp dport 22 accept|' "
                  "/etc/dojangkok-deploy/firewall.nft > /tmp/only-established.nft")  # fmt: skip
    script = ("read a; echo first-$a; sudo -n nft -f /tmp/only-established.nft && echo applied; "
              "read b; echo second-$b; sudo -n nft -f /etc/dojangkok-deploy/firewall.nft "
              "&& echo restored")  # fmt: skip
    session = subprocess.Popen(
        [*fw.ssh_command("cpu", "admin"), "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=3",
         "--", script],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        session.stdin.write("1\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "first-1"
        assert session.stdout.readline().strip() == "applied"
        time.sleep(1)
        assert not is_open(cpu, 22)  # a new connection from here: dropped
        session.stdin.write("2\n")
        session.stdin.flush()
        out, err = session.communicate(timeout=20)
        assert out.split() == ["second-2", "restored"], err
    finally:
        if session.poll() is None:
            session.kill()
    assert is_open(cpu, 22) and not is_open(cpu, 8081)


def test_setup_puts_back_a_flushed_table_and_says_so(fw, tmp_path):
    on(fw, "cpu", f"nft delete table {TABLE}")
    assert is_open(fw.addresses["gpu"], 22)
    res = fab(fw, tmp_path, "-H", "cpu", "setup", "--yes")
    assert res.returncode == 0, res.stderr
    assert f"nft -f (table {TABLE})" in res.stdout
    assert "policy drop" in on(fw, "cpu", f"nft list table {TABLE}")
    res = fab(fw, tmp_path, "-H", "cpu", "setup", "--yes")
    assert res.returncode == 0 and "변경 없음: cpu는 이미 setup된 상태입니다" in res.stdout


def test_ssh_allow_from_without_this_session_is_refused_before_any_change(fw, tmp_path):
    before = on(
        fw, "cpu", f"nft -s list table {TABLE}; ls -l --time-style=+%s /etc/dojangkok-deploy"
    )
    res = fab(fw, tmp_path, "-H", "cpu", "setup", "--yes", ssh_allow_from='["192.0.2.0/24"]')
    assert res.returncode != 0
    assert "ssh_allow_from (192.0.2.0/24) leaves out 10.77.0.1" in res.stderr, res.stderr
    assert (
        on(fw, "cpu", f"nft -s list table {TABLE}; ls -l --time-style=+%s /etc/dojangkok-deploy")
        == before
    )


def test_firewall_off_removes_only_the_tools_table(fw, tmp_path):
    on(fw, "gpu", "nft add table inet someone_else")
    res = fab(fw, tmp_path, "-H", "gpu", "setup", "--yes", firewall="off")
    assert res.returncode == 0, res.stderr
    assert f"deleted table {TABLE}" in res.stdout
    tables = on(fw, "gpu", "nft list tables")
    assert "inet someone_else" in tables and "inet dojangkok" not in tables, tables
    assert fw.run("gpu", "systemctl is-enabled dojangkok-firewall").returncode != 0
    assert is_open(fw.addresses["gpu"], 8000)  # nothing else filters it (ai_ip_allow empty)
