"""The blue/green switch table's root command, run by bash against stand-ins for nft,
systemctl, nginx and sleep (tasks/strategies/release/switchtable.py): what a conversion and setup
make, what a second run leaves alone, what it refuses. The helper's own switch is tested in
test_privilege.py; the kernel's part on the lab (tests/test_release_lab.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tasks.apps.ai import release as release_ai
from tasks.apps.backend import release as release_backend
from tasks.engine.view import RunView
from tasks.hosts.settings import Settings
from tasks.onhost import roothelper
from tasks.setup import detect
from tasks.setup import setup as host_setup
from tasks.strategies.release import switchtable

from .conftest import make_host

PAIR = release_backend.PAIR
OLD_UPSTREAM = "upstream dojangkok_backend {\n    server 127.0.0.1:8082;\n    keepalive 16;\n}\n"

STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$LOG"
case "$(basename "$0") $1" in
  "nft list") exit "${NFT_LIST_RC:-0}";;
  "nft -f") exit "${NFT_RC:-0}";;
  "nginx -t") exit "${NGINX_T_RC:-0}";;
  "systemctl is-enabled") exit "${ENABLED_RC:-1}";;
  "systemctl is-active") exit "${ENABLED_RC:-1}";;
esac
exit 0
"""


class Host:
    """A directory standing in for the host: bin/ (the stand-ins), the files' places."""

    def __init__(self, tmp: Path, monkeypatch):
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name in ("nft", "systemctl", "nginx", "sleep"):
            (self.bin / name).write_text(STUB)
            (self.bin / name).chmod(0o755)
        monkeypatch.setattr(roothelper, "SWITCH_DIR", str(tmp / "switch"))
        self.stage = tmp / "stage"
        self.stage.mkdir()
        (self.stage / switchtable.STAGED_UNIT).write_text(switchtable.unit_text())
        (tmp / "systemd").mkdir()
        self.s = Settings(nginx_upstream_file=str(tmp / "upstream.conf"),
                          systemd_dir=str(tmp / "systemd"))  # fmt: skip
        self.upstream = tmp / "upstream.conf"
        self.table = tmp / "switch" / "backend.nft"
        self.log = tmp / "log"

    def run(self, command: str, **env: str) -> subprocess.CompletedProcess:
        self.log.write_text("")
        full = {"PATH": f"{self.bin}:/usr/bin:/bin", "LOG": str(self.log),
                "STAGE": str(self.stage), **env}  # fmt: skip
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=full)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def host(tmp_path, monkeypatch) -> Host:
    return Host(tmp_path, monkeypatch)


def test_a_host_set_up_before_the_switch_table_gets_it_from_the_port_it_serves(host):
    """setup on a release host of an earlier version: the table names the port nginx's
    upstream named, then the upstream names the switch port and nginx reloads once."""
    host.upstream.write_text(OLD_UPSTREAM)
    command = PAIR.table_command(host.s, None, reload=True)
    res = host.run(command)
    assert res.returncode == 0, res.stderr
    assert host.table.read_text() == roothelper.switch_ruleset("backend", 8090, 8082)
    assert host.upstream.read_text() == roothelper.upstream_text("dojangkok_backend", 8090)
    calls = host.calls()
    # the table before the upstream that relies on it
    assert calls.index(f"nft -f {host.table}.new") < calls.index("nginx -s reload")
    assert "nginx -t" in calls and "systemctl daemon-reload" in calls
    assert "systemctl enable -q -- dojangkok-switch@backend.service" in calls
    assert "systemctl start -- dojangkok-switch@backend.service" in calls
    assert (
        host.tmp / "systemd" / "dojangkok-switch@.service"
    ).read_text() == switchtable.unit_text()
    assert not any(c.startswith("sleep") for c in calls)  # nothing moved
    assert res.stdout.startswith("변경:") and "→ 8082" in res.stdout
    # again: nothing to do (the table is in the kernel, the unit enabled)
    res = host.run(command, ENABLED_RC="0")
    assert res.returncode == 0 and res.stdout.startswith("변경 없음"), res.stdout
    assert host.calls() == ["nft list table ip dojangkok_switch_backend",
                            "systemctl is-enabled -q -- dojangkok-switch@backend.service",
                            "systemctl is-active -q -- dojangkok-switch@backend.service"]  # fmt: skip
    # the kernel lost the table (nftables.service's flush): loaded again, nginx left alone
    res = host.run(command, ENABLED_RC="0", NFT_LIST_RC="1")
    assert res.returncode == 0 and f"nft -f {host.table}.new" in host.calls()
    assert not any(c.startswith("nginx") for c in host.calls())


def test_a_conversion_points_the_table_at_the_manual_port_and_back(host):
    command = PAIR.table_command(host.s, 8080)  # K2: no upstream yet, no reload
    res = host.run(command)
    assert res.returncode == 0, res.stderr
    assert roothelper.live_in(host.table.read_text()) == 8080
    assert host.upstream.read_text() == roothelper.upstream_text("dojangkok_backend", 8090)
    assert not any(c.startswith("nginx") for c in host.calls())
    host.table.write_text(roothelper.switch_ruleset("backend", 8090, 8081))  # the helper's K5
    res = host.run(command)  # KR1: back to the manual port, then the drain
    assert res.returncode == 0 and roothelper.live_in(host.table.read_text()) == 8080
    assert host.calls()[-1] == f"sleep {roothelper.DRAIN}"


def test_an_unknown_live_port_or_a_refusal_changes_nothing(host):
    # the upstream names the switch port and the table's file is gone: which port serves?
    host.upstream.write_text(roothelper.upstream_text("dojangkok_backend", 8090))
    res = host.run(PAIR.table_command(host.s, None, reload=True))
    assert res.returncode == 1 and "지금 서빙하는 포트를 알 수 없습니다" in res.stderr
    assert host.calls() == [] and not host.table.exists()
    # nft refuses the table: no file kept, the upstream as it was
    host.upstream.write_text(OLD_UPSTREAM)
    res = host.run(PAIR.table_command(host.s, None, reload=True), NFT_RC="1")
    assert res.returncode == 1 and "nft가 전환 테이블을 거부했습니다" in res.stderr
    assert not host.table.exists() and not Path(f"{host.table}.new").exists()
    assert host.upstream.read_text() == OLD_UPSTREAM
    # nginx refuses the new upstream: the old file comes back, nothing reloads
    res = host.run(PAIR.table_command(host.s, None, reload=True), NGINX_T_RC="1")
    assert res.returncode == 1 and "nginx가 새 upstream을 거부했습니다" in res.stderr
    assert host.upstream.read_text() == OLD_UPSTREAM and "nginx -s reload" not in host.calls()


def test_the_live_port_is_the_table_s_and_before_it_the_upstream_s(host):
    def live() -> tuple[int, str, str]:
        res = host.run(PAIR.live_port_command(host.s))
        return res.returncode, res.stdout, res.stderr

    assert live() == (0, "", "")  # nothing converted: nothing, and not a failure
    host.upstream.write_text(OLD_UPSTREAM)  # set up before the switch table
    assert live() == (0, "8082\n", "")
    host.upstream.write_text(roothelper.upstream_text("dojangkok_backend", 8090))
    assert live() == (0, "", "")  # the switch port is no instance's
    host.table.parent.mkdir()
    host.table.write_text(roothelper.switch_ruleset("backend", 8090, 8081))
    assert live() == (0, "8081\n", "")


def test_setup_makes_the_table_of_each_converted_pair_only_under_the_release_strategy():
    def plan(host):
        view = RunView("setup", "setup", detect.offline(host), "RUN", dry_run=True)
        return view, [st for st in host_setup.plan(view).steps if "전환 테이블" in st.title]

    view, (step,) = plan(make_host())
    assert step.sudo and [u.path for u in step.uploads(view)] == ["$STAGE/switch.service"]
    command = step.render(view)
    # only a pair whose upstream file root made (converted); the AI's is not on a cpu host
    assert '[ "$(stat -c %u -- /etc/nginx/dojangkok-upstream.conf)" = 0 ]' in command
    assert "dojangkok_switch_backend" in command and "dojangkok_switch_ai" not in command
    view, (step,) = plan(make_host(None, "gpu", "gpu"))
    assert "/etc/nginx/dojangkok-ai-upstream.conf" in step.render(view)
    assert plan(make_host(Settings(strategy="manual")))[1] == []
    # its place: after the services and their health check, before the firewall
    titles = [st.title for st in host_setup.plan(plan(make_host())[0]).steps]
    at = titles.index(step.title)
    assert titles[at - 1] == "헬스체크" and titles[at + 1] == "방화벽 (nftables)"


def test_the_boot_unit_loads_the_table_before_nginx():
    text = switchtable.unit_text()
    assert f"ExecStart=/usr/sbin/nft -f {roothelper.SWITCH_DIR}/%i.nft" in text
    assert f"ConditionPathExists={roothelper.SWITCH_DIR}/%i.nft" in text
    assert "Before=nginx.service" in text and "PartOf=nftables.service" in text
    assert "After=local-fs.target nftables.service" in text
    assert release_ai.PAIR.switch_port(Settings()) == 8003


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"backend_switch_port": 8081}, "backend_switch_port (8081) is also backend_ports"),
        ({"backend_switch_port": 8080}, "backend_switch_port (8080) is also backend_port"),
        ({"ai_switch_port": 8000}, "ai_switch_port (8000) is also ai_listen_port"),
        ({"ai_switch_port": 8090}, "backend_switch_port (8090) is also ai_switch_port"),
        ({"backend_switch_port": 443}, "backend_switch_port (443) is also the site"),
    ],
)
def test_a_switch_port_something_listens_on_is_refused(settings, says):
    from tasks.errors import ConfigError
    from tasks.hosts import validate

    with pytest.raises(
        ConfigError, match=r"^전환 포트가 이미 쓰이는 포트입니다 \(" + re.escape(says)
    ) as err:
        validate.settings(Settings(**settings))
    (value,) = settings.values()  # the fix names a port that is free, not the same one
    assert re.search(r"예: \w+=(\d+)$", err.value.fix).group(1) not in (str(value), "8000")
    validate.settings(Settings(**settings, strategy="manual"))  # the manual strategy has none
