"""Least privilege: the root helper's checks, what setup installs for it, and that no deploy
or rollback runs anything as root but the helper (tasks/onhost/roothelper.py,
tasks/setup/privilege.py)."""

from __future__ import annotations

import getpass
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.apps import registry
from tasks.apps.database import backup
from tasks.apps.registry import APPS
from tasks.engine import hostscript
from tasks.engine.steps import Kind, Plan
from tasks.engine.view import RunView
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.onhost import roothelper
from tasks.onhost.roothelper import Refused
from tasks.setup import detect, privilege
from tasks.setup import setup as host_setup
from tasks.strategies import deploy, firstlook
from tasks.strategies.release.flow import pair_of

from .conftest import make_host

HELPER = "/usr/local/sbin/dojangkok-root"
ROOT = f"sudo -n {HELPER}"
RUN_ID = "20260101_120000_000000_abcd"


def conf_of(host: Host, login: str = "deploy") -> dict:
    """The config setup writes for ``host``, as the helper reads it."""
    return json.loads(privilege.config_text(host, login))


CPU = conf_of(make_host())
GPU = conf_of(make_host(None, "gpu", "gpu"))


# --- (a) roothelper.plan: what each verb does, after every check ------------------------------
@pytest.mark.parametrize(
    ("argv", "actions"),
    [
        (["systemctl", "restart", "dojangkok"], [["systemctl", "restart", "--", "dojangkok"]]),
        (["systemctl", "restart", "dojangkok.service"],
         [["systemctl", "restart", "--", "dojangkok.service"]]),
        (["systemctl", "start", "dojangkok@8082"], [["systemctl", "start", "--", "dojangkok@8082"]]),
        (["systemctl", "stop", "dojangkok@8081.service"],
         [["systemctl", "stop", "--", "dojangkok@8081.service"]]),
        (["systemctl", "reset-failed", "dojangkok@8081"],
         [["systemctl", "reset-failed", "--", "dojangkok@8081"]]),
        (["systemctl", "stop", "dojangkok-retire-8081.timer"],
         [["systemctl", "stop", "--", "dojangkok-retire-8081.timer"]]),
        (["systemctl", "enable", "dojangkok"],
         [["systemctl", "enable", "-q", "--no-reload", "--", "dojangkok"]]),
        (["systemctl", "disable", "dojangkok@8082"],
         [["systemctl", "disable", "-q", "--no-reload", "--", "dojangkok@8082"]]),
        (["nginx-reload"], [["sh", "-c", "nginx -t"], ["sh", "-c", "nginx -s reload"]]),
        (["switch", "backend", "8082"], [
            ("switch", "/etc/dojangkok-deploy/switch/backend.nft",
             roothelper.switch_ruleset("backend", 8090, 8082),
             "dojangkok-retire-8082.timer", "dojangkok@8082",
             "/etc/nginx/dojangkok-upstream.conf",
             roothelper.upstream_text("dojangkok_backend", 8090)),
            ("together", [["systemctl", "enable", "-q", "--no-reload", "--", "dojangkok@8082"],
                          ["systemctl", "disable", "-q", "--no-reload", "--", "dojangkok@8081"]]),
            ("drain", 5),
        ]),
        (["switch", "backend", "8081"], [
            ("switch", "/etc/dojangkok-deploy/switch/backend.nft",
             roothelper.switch_ruleset("backend", 8090, 8081),
             "dojangkok-retire-8081.timer", "dojangkok@8081",
             "/etc/nginx/dojangkok-upstream.conf",
             roothelper.upstream_text("dojangkok_backend", 8090)),
            ("together", [["systemctl", "enable", "-q", "--no-reload", "--", "dojangkok@8081"],
                          ["systemctl", "disable", "-q", "--no-reload", "--", "dojangkok@8082"]]),
            ("drain", 5),
        ]),
        (["retire", "backend", "8081", "600"], [
            ("quiet", ["systemctl", "stop", "--", "dojangkok-retire-8081.timer"]),
            ["systemd-run", "--unit=dojangkok-retire-8081", "--on-active=600s",
             "--timer-property=AccuracySec=1s", "--collect", "--quiet", "--",
             "systemctl", "stop", "--", "dojangkok@8081"],
        ]),
        (["hostrun", "20260101_120000_000000_abcd", "Backend 배포"],
         [("hostrun", "/var/lib/dojangkok-deploy/hostrun/20260101_120000_000000_abcd",
           "20260101_120000_000000_abcd", "Backend 배포")]),
    ],
)  # fmt: skip
def test_each_verb_s_accepted_form(argv, actions):
    assert roothelper.plan(CPU, argv) == actions


def test_the_gpu_host_s_pair_and_unit():
    assert roothelper.plan(GPU, ["systemctl", "restart", "fastapi"]) == [
        ["systemctl", "restart", "--", "fastapi"]
    ]
    switch, (_, (enable, disable)), _ = roothelper.plan(GPU, ["switch", "ai", "8002"])
    assert switch == ("switch", "/etc/dojangkok-deploy/switch/ai.nft",
                      roothelper.switch_ruleset("ai", 8003, 8002), "fastapi-retire-8002.timer",
                      "fastapi@8002", "/etc/nginx/dojangkok-ai-upstream.conf",
                      roothelper.upstream_text("dojangkok_ai", 8003))  # fmt: skip
    assert "table ip dojangkok_switch_ai {" in switch[2]
    assert "ip daddr 127.0.0.1 tcp dport 8003 redirect to :8002\n" in switch[2]
    assert enable[-1] == "fastapi@8002" and disable[-1] == "fastapi@8001"
    for refused in (["systemctl", "restart", "dojangkok"], ["switch", "backend", "8082"]):
        with pytest.raises(Refused):
            roothelper.plan(GPU, refused)


@pytest.mark.parametrize("seconds", ["1", "86400"])
def test_retire_s_bounds_are_accepted(seconds):
    timer = roothelper.plan(CPU, ["retire", "backend", "8082", seconds])[-1]
    assert f"--on-active={seconds}s" in timer and timer[-1] == "dojangkok@8082"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "no verb"),
        (["reboot"], "unknown verb"),
        (["bash", "-c", "id"], "unknown verb"),
        (["systemctl"], "usage"),
        (["systemctl", "restart"], "usage"),
        (["systemctl", "restart", "dojangkok", "nginx"], "usage"),
        (["systemctl", "restart", "nginx"], "not one of this host's app units"),
        (["systemctl", "restart", "ssh.service"], "not one of this host's app units"),
        (["systemctl", "restart", "fastapi"], "not one of this host's app units"),
        (["systemctl", "start", "dojangkok@9999"], "not one of this host's app units"),
        (["systemctl", "stop", "dojangkok-retire-9999.timer"], "not one of this host's app units"),
        (["systemctl", "restart", "--global"], "not one of this host's app units"),
        (["systemctl", "edit", "dojangkok"], "only start"),
        (["systemctl", "mask", "dojangkok"], "only start"),
        (["systemctl", "daemon-reload", "dojangkok"], "only start"),
        (["systemctl", "--now", "dojangkok"], "only start"),
        (["nginx-reload", "now"], "usage"),
        (["switch", "backend"], "usage"),
        (["switch", "backend", "8082", "8081"], "usage"),
        (["switch", "ai", "8001"], "no blue/green pair"),
        (["switch", "backend", "8083"], "not one of the pair's ports"),
        (["switch", "backend", "80"], "not one of the pair's ports"),
        (["switch", "backend", "8090"], "not one of the pair's ports"),  # the switch port
        (["switch", "../backend", "8082"], "no blue/green pair"),
        (["switch", "backend", "8082 "], "not one of the pair's ports"),
        (["switch", "backend", "08082x"], "not one of the pair's ports"),
        (["retire", "backend", "8081"], "usage"),
        (["retire", "backend", "8081", "600", "x"], "usage"),
        (["retire", "backend", "8083", "600"], "not one of the pair's ports"),
        (["retire", "backend", "8081", "0"], "seconds"),
        (["retire", "backend", "8081", "86401"], "seconds"),
        (["retire", "backend", "8081", "10;id"], "seconds"),
        (["retire", "backend", "8081", "-1"], "seconds"),
        (["retire", "backend", "8081", ""], "seconds"),
        (["hostrun", "RUN"], "usage"),
        (["hostrun", "RUN", "t", "x"], "usage"),
        (["hostrun", "a/b", "t"], "run id"),
        (["hostrun", "..", "t"], "run id"),
        (["hostrun", "../etc", "t"], "run id"),
        (["hostrun", "-x", "t"], "run id"),
        (["hostrun", "--help", "t"], "run id"),
        (["hostrun", "", "t"], "run id"),
        (["hostrun", "a" * 82, "t"], "run id"),
        (["hostrun", "RUN", "a\nb"], "title"),
        (["hostrun", "RUN", "a\tb"], "title"),
        (["hostrun", "RUN", "x" * 121], "title"),
    ],
)
def test_refusals_name_what_is_wrong(argv, says):
    with pytest.raises(Refused, match=re.escape(says)):
        roothelper.plan(CPU, argv)


def test_a_unit_and_its_service_name_are_the_same_unit():
    units = roothelper.allowed_units(CPU)
    assert "dojangkok.service" in units and "dojangkok@8081.service" in units
    assert "dojangkok-retire-8082.timer" in units
    for unit in ("dojangkok", "dojangkok.service"):
        assert roothelper.plan(CPU, ["systemctl", "stop", unit])[0][-1] == unit


# --- (b) main: a refusal runs nothing -------------------------------------------------------
@pytest.fixture
def helper(tmp_path: Path, monkeypatch):
    """main() with its config in a temp file and every command recorded, never run."""
    conf = conf_of(make_host())
    conf["state_dir"] = str(tmp_path / "state")
    conf["pairs"]["backend"]["upstream_file"] = str(tmp_path / "upstream.conf")
    path = tmp_path / "sudo.json"
    path.write_text(json.dumps(conf))
    monkeypatch.setattr(roothelper, "CONFIG", str(path))
    ran, codes = [], {}

    def run(argv, quiet=False):
        ran.append(argv)
        return codes.get(" ".join(argv), 0)

    monkeypatch.setattr(roothelper, "_run", run)
    return ran, codes, conf


@pytest.mark.parametrize(
    "argv",
    [
        ["systemctl", "edit", "dojangkok"],
        ["systemctl", "restart", "nginx"],
        ["switch", "backend", "8083"],
        ["retire", "backend", "8081", "10;id"],
        ["hostrun", "../x", "t"],
        ["sh", "-c", "id"],
        [],
    ],
)
def test_main_refuses_with_2_and_runs_nothing(helper, capsys, argv):
    ran, _, _ = helper
    assert roothelper.main(argv) == 2
    assert "dojangkok-root: refused:" in capsys.readouterr().err
    assert ran == []


def test_main_runs_an_accepted_call_as_planned(helper):
    ran, _, conf = helper
    assert roothelper.main(["systemctl", "restart", "dojangkok"]) == 0
    assert roothelper.main(["nginx-reload"]) == 0
    assert ran == [["systemctl", "restart", "--", "dojangkok"],
                   ["sh", "-c", "nginx -t"], ["sh", "-c", "nginx -s reload"]]  # fmt: skip


def test_main_without_its_config_refuses(helper, monkeypatch, tmp_path, capsys):
    ran, _, _ = helper
    monkeypatch.setattr(roothelper, "CONFIG", str(tmp_path / "missing.json"))
    assert roothelper.main(["systemctl", "restart", "dojangkok"]) == 2
    assert "run `fab setup`" in capsys.readouterr().err and ran == []


@pytest.fixture
def switching(helper, tmp_path, monkeypatch):
    """The helper fixture, with the switch tables' directory in tmp, nginx's upstream file as
    setup writes it, and the drain's sleeps recorded."""
    ran, codes, conf = helper
    monkeypatch.setattr(roothelper, "SWITCH_DIR", str(tmp_path / "switch"))
    Path(conf["pairs"]["backend"]["upstream_file"]).write_text(
        roothelper.upstream_text("dojangkok_backend", 8090))  # fmt: skip
    slept = []
    monkeypatch.setattr(roothelper.time, "sleep", slept.append)
    return ran, codes, tmp_path / "switch" / "backend.nft", slept


def test_a_switch_loads_the_table_in_one_nft_call_and_never_reloads_nginx(switching, capsys):
    ran, codes, table, slept = switching
    new = f"{table}.new"
    assert roothelper.main(["switch", "backend", "8082"]) == 0
    assert table.read_text() == roothelper.switch_ruleset("backend", 8090, 8082)
    # the target's retire timer stopped, then the instance seen running, then the table
    # loaded from the file it keeps; then (at once) the boot links
    assert ran[:3] == [["systemctl", "stop", "--", "dojangkok-retire-8082.timer"],
                       ["systemctl", "is-active", "--quiet", "--", "dojangkok@8082"],
                       ["nft", "-f", new]]  # fmt: skip
    assert sorted(a[-1] for a in ran[3:]) == ["dojangkok@8081", "dojangkok@8082"]
    assert not any("nginx" in " ".join(a) for a in ran)  # no reload, no nginx -t
    assert slept == []  # the first table moved nothing: no connection to drain
    ran.clear()
    assert roothelper.main(["switch", "backend", "8081"]) == 0  # moved: waits for the drain
    assert table.read_text() == roothelper.switch_ruleset("backend", 8090, 8081)
    assert slept == [roothelper.DRAIN] and "5초 기다립니다" in capsys.readouterr().out
    assert roothelper.main(["switch", "backend", "8081"]) == 0  # where it is: no wait
    assert slept == [roothelper.DRAIN]


def test_a_table_nft_refuses_changes_nothing(switching, capsys):
    ran, codes, table, slept = switching
    assert roothelper.main(["switch", "backend", "8081"]) == 0
    ran.clear()
    codes[f"nft -f {table}.new"] = 1
    assert roothelper.main(["switch", "backend", "8082"]) == 1
    assert table.read_text() == roothelper.switch_ruleset("backend", 8090, 8081)
    assert not Path(f"{table}.new").exists() and slept == []
    assert len(ran) == 3 and "nft refused the table" in capsys.readouterr().err  # no boot links


def test_a_switch_refuses_an_instance_that_does_not_run(switching, capsys):
    """A warm rollback's target retired by its timer after the health check: no switch."""
    ran, codes, table, _ = switching
    assert roothelper.main(["switch", "backend", "8082"]) == 0
    ran.clear()
    codes["systemctl is-active --quiet -- dojangkok@8081"] = 3
    assert roothelper.main(["switch", "backend", "8081"]) == 1
    assert table.read_text() == roothelper.switch_ruleset("backend", 8090, 8082)
    assert not any(a[0] == "nft" for a in ran) and len(ran) == 2
    assert "dojangkok@8081이(가) 실행 중이 아닙니다" in capsys.readouterr().err


def test_a_switch_refuses_while_nginx_s_upstream_does_not_name_the_switch_port(switching, capsys):
    """A host set up before the switch table (its upstream names an instance): a table
    would change nothing nginx does, and the deploy would say it switched."""
    ran, _, table, _ = switching
    conf = json.loads(Path(roothelper.CONFIG).read_text())
    upstream = Path(conf["pairs"]["backend"]["upstream_file"])
    upstream.write_text("upstream dojangkok_backend {\n    server 127.0.0.1:8082;\n}\n")
    assert roothelper.main(["switch", "backend", "8081"]) == 1
    assert ran == [] and not table.exists()
    assert "`fab setup`을 실행하십시오. 바뀐 것은 없습니다" in capsys.readouterr().err


def test_a_config_of_an_older_setup_is_refused_with_setup_as_the_fix():
    old = json.loads(json.dumps(CPU))
    del old["pairs"]["backend"]["switch_port"]
    with pytest.raises(
        Refused, match=re.escape("is another version's (pair 'backend'): run `fab setup`")
    ):
        roothelper.plan(old, ["switch", "backend", "8082"])


def test_the_switch_table_text():
    text = roothelper.switch_ruleset("backend", 8090, 8082)
    # declared, deleted, written again: one transaction that leaves exactly this table
    assert text.splitlines()[5:8] == ["table ip dojangkok_switch_backend",
                                      "delete table ip dojangkok_switch_backend",
                                      "table ip dojangkok_switch_backend {"]  # fmt: skip
    rules = [line.strip() for line in text.splitlines() if line.startswith("\t\t")]
    # nat at the output hook: connections this host opens, to 127.0.0.1 only
    assert rules == ["type nat hook output priority -100; policy accept;",
                     "ip daddr 127.0.0.1 tcp dport 8090 redirect to :8082"]  # fmt: skip
    assert roothelper.live_in(text) == 8082 and roothelper.live_in("# none\n") is None
    assert roothelper.switch_table("ai") == "ip dojangkok_switch_ai"
    up = roothelper.upstream_text("dojangkok_backend", 8090)
    assert "server 127.0.0.1:8090;" in up
    assert f"keepalive_time {roothelper.KEEPALIVE_TIME}s;" in up
    assert f"keepalive_timeout {roothelper.KEEPALIVE_IDLE}s;" in up
    assert roothelper.DRAIN > roothelper.KEEPALIVE_TIME + roothelper.KEEPALIVE_IDLE


def test_hostrun_runs_only_the_deploy_login_s_own_directory(helper, tmp_path, capsys):
    ran, _, conf = helper
    me = getpass.getuser()
    conf = dict(conf, login=me)
    Path(roothelper.CONFIG).write_text(json.dumps(conf))
    where = Path(conf["state_dir"]) / "hostrun" / "RUN"
    where.mkdir(parents=True)
    (where / "hostrun.py").write_text("")
    assert roothelper.main(["hostrun", "RUN", "Backend 배포"]) == 0
    (argv,) = ran
    assert argv[:2] == ["systemd-run", "--unit=dojangkok-deploy-RUN"]
    assert f"--uid={me}" in argv
    assert argv[-4:] == ["/usr/bin/python3", "-IS", f"{where}/hostrun.py", str(where)]
    if os.getuid() != 0:
        return  # only root can give the directory to someone else
    ran.clear()
    os.chown(where / "hostrun.py", 65534, 65534)  # not the deploy login's: refused
    assert roothelper.main(["hostrun", "RUN", "t"]) == 2
    assert "not a file of the deploy user's own" in capsys.readouterr().err and ran == []


# --- (c) the config setup writes ------------------------------------------------------------
def test_the_cpu_host_s_config():
    assert CPU["login"] == "deploy" and CPU["state_dir"] == "/var/lib/dojangkok-deploy"
    assert CPU["units"] == ["dojangkok"]
    assert CPU["pairs"] == {"backend": {
        "service": "dojangkok", "ports": [8081, 8082],
        "upstream_file": "/etc/nginx/dojangkok-upstream.conf", "upstream": "dojangkok_backend",
        "switch_port": 8090}}  # fmt: skip
    assert (CPU["nginx_test"], CPU["nginx_reload"]) == ("nginx -t", "nginx -s reload")
    assert CPU["groups"] == ["systemd-journal", "dojangkok"]  # no adm: no system log is read


def test_the_gpu_host_s_config():
    assert GPU["units"] == ["fastapi"]
    assert GPU["pairs"] == {"ai": {
        "service": "fastapi", "ports": [8001, 8002],
        "upstream_file": "/etc/nginx/dojangkok-ai-upstream.conf", "upstream": "dojangkok_ai",
        "switch_port": 8003}}  # fmt: skip
    assert GPU["groups"] == ["systemd-journal", "dojangkok-ai"]


def test_adm_only_when_a_configured_log_reads_the_system_s_logs():
    """adm reads every system log (auth.log, syslog, nginx's): the deploy login joins it only
    when backend_log_cmd names a file under /var/log outside the apps' LogsDirectory=; a
    setup takes it out again when nothing needs it (an earlier version put it in)."""
    nginx = make_host(Settings(backend_log_cmd="tail -n 100 /var/log/nginx/error.log"))
    assert conf_of(nginx)["groups"] == ["systemd-journal", "dojangkok", "adm"]
    for cmd in ("tail -100 /var/log/dojangkok/error.log", "journalctl -u dojangkok -n 100"):
        assert "adm" not in conf_of(make_host(Settings(backend_log_cmd=cmd)))["groups"]
    assert "adm" not in conf_of(make_host(Settings(
        backend_logs_directory="app", backend_log_cmd="tail /var/log/app/e.log")))["groups"]  # fmt: skip

    def setup_command(host):
        return privilege.command(RunView("setup", "setup", detect.offline(host), "RUN"))

    assert "gpasswd -d deploy adm" in setup_command(make_host())
    assert "gpasswd" not in setup_command(nginx) and "adm" in setup_command(nginx)


def test_a_host_in_both_groups_gets_both():
    both = conf_of(make_host(None, "all", "other"))  # no known group: every role
    assert both["units"] == ["dojangkok", "fastapi"] and set(both["pairs"]) == {"backend", "ai"}


def test_the_settings_reach_the_config_and_the_checks():
    s = Settings(backend_service="be-svc", backend_ports=[9001, 9002], backend_user="be-user",
                 backend_switch_port=9000,
                 nginx_test_cmd="/usr/sbin/nginx -t -q",
                 nginx_reload_cmd="systemctl reload nginx")  # fmt: skip
    conf = conf_of(make_host(s), "ops")
    assert conf["login"] == "ops" and conf["units"] == ["be-svc"]
    assert conf["pairs"]["backend"]["service"] == "be-svc"
    assert conf["pairs"]["backend"]["ports"] == [9001, 9002]
    assert conf["pairs"]["backend"]["switch_port"] == 9000
    assert conf["groups"][-1] == "be-user"
    assert roothelper.plan(conf, ["nginx-reload"]) == [
        ["sh", "-c", "/usr/sbin/nginx -t -q"], ["sh", "-c", "systemctl reload nginx"]]  # fmt: skip
    assert roothelper.plan(conf, ["systemctl", "restart", "be-svc"])[0][-1] == "be-svc"
    switch = roothelper.plan(conf, ["switch", "backend", "9002"])[0]
    assert switch[4] == "be-svc@9002" and "tcp dport 9000 redirect to :9002\n" in switch[2]
    for old in (["systemctl", "restart", "dojangkok"], ["switch", "backend", "8082"]):
        with pytest.raises(Refused):
            roothelper.plan(conf, old)


# --- (d) the sudoers drop-in ----------------------------------------------------------------
def test_the_sudoers_rule_allows_the_helper_only():
    text = privilege.sudoers_text("deploy")
    rules = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert [r for r in rules if not r.startswith("Defaults")] == [
        f"deploy ALL=(root) NOPASSWD: {HELPER}"
    ]
    assert rules == [f"Defaults!{HELPER} !requiretty", f"deploy ALL=(root) NOPASSWD: {HELPER}"]
    assert "ALL=(ALL)" not in text and "NOPASSWD: ALL" not in text and "(ALL" not in text


@pytest.mark.skipif(not shutil.which("visudo"), reason="visudo is not installed here")
def test_the_sudoers_drop_in_passes_visudo(tmp_path):
    f = tmp_path / "dojangkok"
    f.write_text(privilege.sudoers_text("deploy"))
    f.chmod(0o440)
    res = subprocess.run(["visudo", "-c", "-q", "-f", str(f)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_setup_installs_the_helper_the_config_and_the_rule_last():
    host = detect.offline(make_host())
    view = RunView("setup", "setup", host, "RUN", dry_run=True)
    step = host_setup.plan(view).steps[-1]
    assert step.title == "최소 권한 sudo (배포 계정)" and step.sudo
    helper, conf, sudoers = step.uploads(view)
    assert helper.content(None) == Path(roothelper.__file__).read_text(encoding="utf-8")
    assert json.loads(conf.content(None)) == CPU
    assert sudoers.content(None) == privilege.sudoers_text("deploy")
    command = step.render(view)
    assert 'visudo -c -q -f "$sudoers" ||' in command
    assert command.index("visudo") < command.index("install -D -o root")
    assert "-m 440" in command and "/etc/sudoers.d/dojangkok" in command


# --- (e) deploys and rollbacks: root only through the helper --------------------------------
OTHER_SUDO = re.compile(r"\bsudo\b(?! -n /usr/local/sbin/dojangkok-root )")
CALL = re.compile(r"sudo -n /usr/local/sbin/dojangkok-root ((?:[^;&|()<>'\n]|'[^']*')*)")


def helper_calls(command: str) -> list[list[str]]:
    """The root helper's argv in each of the command's calls of it."""
    command = re.sub(r"\s+[0-9]?>\s*/dev/null", "", command)
    return [shlex.split(args) for args in CALL.findall(command)]


def hosts() -> list[tuple[str, Host]]:
    return [("cpu", make_host()), ("gpu", make_host(None, "gpu", "gpu")),
            ("gpu blue-green", make_host(Settings(ai_switch="blue-green"), "gpu", "gpu"))]  # fmt: skip


def deploy_plans():
    """(name, view, plan) for every plan a deploy, rollback, backup or restore may run."""
    out = []
    for label, host in hosts():
        for comp in registry.ORDER:
            if comp.group not in host.groups:
                continue
            for task, strategy, build_on in itertools.product(
                ("deploy", "rollback"), ("manual", "release"), ("host", "local")
            ):
                name = f"{label} {task} {comp.name} {strategy} {build_on}"
                view = RunView(task, comp.name, host, RUN_ID, strategy, dry_run=True,
                               build_on=build_on)  # fmt: skip
                found = deploy.plans(comp, host, task, strategy, build_on)
                out += [(name, view, plan) for plan in found]
                if strategy == "release" and task == "deploy" and build_on == "host":
                    # the host part's launch (release_flow._host_part) and its undo
                    pair = pair_of(comp, view.s)
                    part, back = (found[-4], found[-3]) if pair else (found[-3], found[-2])
                    launch = hostscript.launch_step(part, back, lambda v: {})
                    out.append((f"{label} {comp.name} launch", view,
                                Plan(comp.name, "H", part.title, "", "", "", (launch,))))  # fmt: skip
                    if pair:
                        live = pair.ports(view.s)[0]
                        out.append((f"{label} {comp.name} keep live", view,
                                    pair.keep_live_plan(view, "B", live)))  # fmt: skip
    view = RunView("backup", "database", make_host(), RUN_ID, dry_run=True,
                   restore_from="/app/backups/x.sql.gz")  # fmt: skip
    out += [("backup", view, backup.backup_plan(view)),
            ("restore", view, backup.restore_plan(view))]  # fmt: skip
    return out


PLANS = deploy_plans()


def commands(step, view) -> list[str]:
    if step.kind is not Kind.SHELL:
        return []
    return [c for c in (step.render(view), step.cleanup and step.cleanup(view),
                        step.diagnose and step.diagnose(view)) if c]  # fmt: skip


def test_the_enumeration_covers_every_component_and_the_pairs():
    names = " ".join(name for name, _, _ in PLANS)
    for comp in APPS:
        assert f"deploy {comp} manual" in names and f"rollback {comp} release" in names
    assert "gpu blue-green ai keep live" in names and "cpu backend keep live" in names
    assert "cpu frontend launch" in names and "gpu ai launch" in names
    # every verb is called somewhere, so the check below sees the calls it checks
    verbs = {argv[0] for _, view, plan in PLANS for st in plan.steps
             for c in commands(st, view) for argv in helper_calls(c)}  # fmt: skip
    assert verbs == {"systemctl", "nginx-reload", "switch", "retire", "hostrun"}


@pytest.mark.parametrize(("name", "view", "plan"), PLANS, ids=[p[0] for p in PLANS])
def test_no_deploy_step_runs_as_root(name, view, plan):
    """restore-db's D4 excepted: it loads the dump as the database admin, over admin_user's
    login (tasks/strategies/deploy.py restore_host), so the admin's password never reaches
    the deploy login."""
    for step in plan.steps:
        if name == "restore" and step.number == "D4":
            assert step.sudo
            continue
        assert not step.sudo, f"{name}: {plan.section}{step.number} {step.title} uses sudo"


@pytest.mark.parametrize(("name", "view", "plan"), PLANS, ids=[p[0] for p in PLANS])
def test_every_sudo_is_a_call_of_the_helper_that_it_accepts(name, view, plan):
    conf = conf_of(view.host)
    for step in plan.steps:
        for command in commands(step, view):
            where = f"{name}: {plan.section}{step.number} {step.title}"
            assert not OTHER_SUDO.search(command), f"{where}: {command}"
            for argv in helper_calls(command):
                try:
                    roothelper.plan(conf, argv)
                except Refused as exc:
                    pytest.fail(f"{where}: the helper refuses {argv}: {exc}")


def test_the_helper_call_parser_sees_every_call():
    """(the check above relies on it)"""
    command = (f"{ROOT} systemctl stop dojangkok-retire-8082.timer 2>/dev/null; "
               f"{ROOT} systemctl stop dojangkok@8082 && {ROOT} hostrun RUN 'Backend 배포' && "
               f"echo ok")  # fmt: skip
    assert helper_calls(command) == [
        ["systemctl", "stop", "dojangkok-retire-8082.timer"],
        ["systemctl", "stop", "dojangkok@8082"],
        ["hostrun", "RUN", "Backend 배포"],
    ]
    for bad in ("sudo systemctl stop x", "sudo -n -H -- bash -c x", f"echo; sudo -n {HELPER}x",
                f"sudo -n {HELPER}"):  # fmt: skip
        assert OTHER_SUDO.search(bad), bad
    assert not OTHER_SUDO.search(f"{ROOT} nginx-reload; id -nG | grep sudoers")


def test_setup_may_use_sudo():
    view = RunView("setup", "setup", detect.offline(make_host()), "RUN", dry_run=True)
    assert any(st.sudo for st in host_setup.plan(view).steps)


def test_a_deploy_refuses_a_host_whose_helper_is_missing_or_another_version_s():
    """In the deploy's first round trip, before anything on the host changes."""
    from tasks.errors import ConfigError

    from .conftest import make_session
    from .fakes import FakeRemote

    for printed, said in (("", "cpu에 root 헬퍼"), ("0" * 64, "이 도구와 다른 버전입니다")):
        remote = FakeRemote([(r"^sha256sum -- ", 0, printed)])
        with pytest.raises(ConfigError, match=said) as err:
            firstlook.read(make_session(remote, task="deploy"), APPS["backend"])
        assert "fab -H cpu setup" in err.value.fix and len(remote.calls) == 1
    remote = FakeRemote()  # the helper this version installs
    firstlook.read(make_session(remote, task="deploy"), APPS["backend"])
    assert privilege.helper_check() in remote.commands()
