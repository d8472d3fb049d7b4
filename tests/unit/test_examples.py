"""The operator's examples stay true: hosts.ini parses with every commented setting turned
on (a renamed or misspelt setting there would be an error the day an operator uses it), and
.env.example names every secret the tool reads by default."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.engine import notify
from tasks.hosts import inventory
from tasks.hosts.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTING_LINE = re.compile(r"^# ([a-z_]+)=(.*)$")


def test_every_commented_setting_of_the_example_inventory_parses(tmp_path):
    lines, turned_on = [], []
    for line in (ROOT / "hosts.ini").read_text(encoding="utf-8").splitlines():
        m = SETTING_LINE.match(line)
        if m and m.group(1) in Settings.names():
            line = f"{m.group(1)}={m.group(2)}"
            turned_on.append(m.group(1))
        elif m:
            raise AssertionError(f"hosts.ini names no setting of this tool: {line}")
        lines.append(line)
    (tmp_path / "hosts.ini").write_text("\n".join(lines) + "\n")
    inv = inventory.load(tmp_path / "hosts.ini")
    cpu, gpu = inv.hosts["cpu"].settings, inv.hosts["gpu"].settings
    assert cpu.backend_health_path == "/actuator/health" and gpu.ai_service == "ai-server"
    assert cpu.admin_user == "ubuntu" and cpu.frontend_repo and gpu.ai_repo
    for name in ("known_hosts_file", "admin_user", "server_name", "frontend_repo", "backend_repo",
                 "ai_repo", "ai_allow_from", "ssh_config_file", "tls", "acme_email", "tls_cert"):  # fmt: skip
        assert name in turned_on, f"the setup block names {name}"


def test_the_env_example_names_every_secret_the_tool_reads():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    keys = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, re.M))
    s = Settings()
    assert {s.db_password_env, s.db_app_password_env, notify.WEBHOOK_KEY, "SUDO_PASSWORD"} <= keys
    assert "sudo_password_env=SUDO_PASSWORD" in (ROOT / "hosts.ini").read_text(encoding="utf-8")
    for line in text.splitlines():  # no value is shipped
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert line.endswith("="), line
