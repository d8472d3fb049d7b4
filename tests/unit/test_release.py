"""The release strategy's pure parts: its plans, the release bookkeeping, its config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tasks.apps.ai import release as release_ai
from tasks.apps.backend import release as release_backend
from tasks.apps.registry import APPS
from tasks.config.render import render
from tasks.engine import hostscript
from tasks.engine.steps import Kind
from tasks.hosts.settings import Settings
from tasks.onhost import roothelper
from tasks.setup import privilege
from tasks.strategies.release import layout as release
from tasks.strategies.release.flow import example_plans

from .conftest import make_host, make_view

ROOT = "sudo -n /usr/local/sbin/dojangkok-root"


def rel(name: str, status: str = "ready", current: bool = False, switched: int = 0) -> dict:
    return {"release": name, "status": status, "current": current, "switched": switched}


def test_the_previous_good_release_skips_failed_and_bad_ones():
    found = [
        rel("1-aaaaaaa", switched=1),
        rel("2-bbbbbbb", switched=2),
        rel("3-ccccccc", "bad", switched=3),
        rel("4-ddddddd", "failed"),
        rel("5-eeeeeee", current=True, switched=4),
    ]
    assert release.previous_good(found) == "2-bbbbbbb"
    assert release.previous_good(found, to="aaaaaaa") == "1-aaaaaaa"
    assert release.previous_good(found, to="ccccccc") == "3-ccccccc"  # asked for by name
    assert release.previous_good(found, to="ddddddd") is None  # a failed build never serves
    assert release.previous_good([rel("1-a", current=True, switched=1)]) is None


def test_cleanup_never_removes_the_current_or_the_previous_release():
    found = [rel(f"{i}-{i:07d}", switched=i) for i in range(1, 7)]
    found[2].update(current=True, switched=7)  # rolled back to an old one
    assert release.previous_good(found) == "6-0000006"
    gone = release.to_remove(found, keep=2)
    assert "3-0000003" not in gone and "6-0000006" not in gone
    assert gone == ["1-0000001", "2-0000002", "4-0000004"]


def test_remove_deletes_releases_and_the_venvs_no_release_uses(tmp_path):
    s = Settings(releases_root=str(tmp_path))
    v = make_view("ai", s)
    base = tmp_path / "ai"
    for name, venv in (("1-a", "k1"), ("2-b", "k2"), ("3-c", "k2")):
        (base / "releases" / name).mkdir(parents=True)
        (base / "venvs" / venv).mkdir(parents=True, exist_ok=True)
        (base / "releases" / name / "venv").symlink_to(base / "venvs" / venv)
    (base / "releases" / "my release").mkdir()  # a hostile name stays whole
    res = subprocess.run(["bash", "-c", release.remove(v, ["1-a", "my release"])],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (base / "releases").iterdir()) == ["2-b", "3-c"]
    assert sorted(p.name for p in (base / "venvs").iterdir()) == ["k2"]


def test_the_list_command_reads_a_real_layout(tmp_path):
    s = Settings(releases_root=str(tmp_path))
    v = make_view("frontend", s)
    base = tmp_path / "frontend"
    for name, status in (("1-aaaaaaa", "ready"), ("2-bbbbbbb", "failed"), ("3-ccccccc", "ready")):
        (base / "releases" / name).mkdir(parents=True)
        (base / "releases" / name / ".status").write_text(status + "\n")
    (base / "current").symlink_to(base / "releases" / "3-ccccccc")
    (base / "switches").write_text("t 1-aaaaaaa\nt 3-ccccccc\n")
    # the revision: the release's own, not its build's (written after it); none: unknown
    info = {"release": "3-ccccccc", "revision": "c" * 40, "build": {"revision": "d" * 40}}
    (base / "releases" / "3-ccccccc" / ".release.json").write_text(json.dumps(info) + "\n")
    (base / "releases" / "2-bbbbbbb" / ".release.json").write_text('{"revision": "x y"}\n')
    out = subprocess.run(["bash", "-c", release.list_command(v)], capture_output=True, text=True)
    assert out.stderr == ""
    found = release.parse_list(out.stdout)
    assert [(r["release"], r["status"], r["current"], r["switched"], r["revision"])
            for r in found] == [
        ("1-aaaaaaa", "ready", False, 1, ""), ("2-bbbbbbb", "failed", False, 0, ""),
        ("3-ccccccc", "ready", True, 2, "c" * 40)]  # fmt: skip
    assert release.revision_in(found, "3-ccccccc") == "c" * 40
    assert release.previous_good(found) == "1-aaaaaaa"
    # switched again later: its last switch counts; no status file: unknown; no switches
    # file at all: never switched, and nothing on stderr
    (base / "switches").write_text("t 1-aaaaaaa\nt 3-ccccccc\nt 1-aaaaaaa\n")
    (base / "releases" / "4-ddddddd").mkdir()
    out = subprocess.run(["bash", "-c", release.list_command(v)], capture_output=True, text=True)
    assert [(r["release"], r["status"], r["switched"]) for r in release.parse_list(out.stdout)] == [
        ("1-aaaaaaa", "ready", 3), ("2-bbbbbbb", "failed", 0), ("3-ccccccc", "ready", 2),
        ("4-ddddddd", "unknown", 0)]  # fmt: skip
    (base / "switches").unlink()
    out = subprocess.run(["bash", "-c", release.list_command(v)], capture_output=True, text=True)
    assert out.stderr == "" and {r["switched"] for r in release.parse_list(out.stdout)} == {0}


@pytest.mark.parametrize("name", ["frontend", "backend", "ai"])
def test_every_host_part_compiles_for_the_host_script(name):
    comp = APPS[name]
    view = make_view(name).but(strategy="release")
    plans = example_plans(comp, view)
    for plan in plans[1:]:  # everything after the build runs on the host
        assert all(s.kind is Kind.SHELL and not s.uploads for s in plan.steps), plan.title
        doc = json.loads(hostscript.compile_plan(plan, plans[2], view, {}))
        assert doc["steps"] and all(st["command"] for st in doc["steps"])
    # nothing in the build touches what serves: no sudo but the directories, no systemctl
    build = plans[0]
    assert not any("systemctl" in s.render(view) for s in build.steps if s.number != "2")


def test_blue_green_gates_on_health_before_the_switch():
    view = make_view("backend").but(strategy="release")
    plan = release_backend.PAIR.switch_plan(view, "B", 8081, 8082)
    order = [s.render(view) for s in plan.steps]
    start = next(i for i, c in enumerate(order) if "systemctl start dojangkok@8082" in c)
    health = next(i for i, c in enumerate(order) if "localhost:8082/health" in c)
    switch = next(i for i, c in enumerate(order) if f"{ROOT} switch backend 8082" in c)
    assert start < health < switch
    assert "seq 1 600" in order[health] and "sleep 0.2" in order[health]  # 24 × 5 s, every 0.2 s
    assert f"{ROOT} systemctl start dojangkok@8082" in order[start]
    retire = order[-1]
    assert retire.startswith(f"{ROOT} retire backend 8081 600 ")
    # what the root helper makes of the two calls: the switch table to 8082, a 600 s timer
    conf = json.loads(privilege.config_text(view.host, "deploy"))
    table, (_, (enable, disable)), _ = roothelper.plan(conf, ["switch", "backend", "8082"])
    assert table[0] == "switch" and "tcp dport 8090 redirect to :8082\n" in table[2]
    assert enable[:2] == ["systemctl", "enable"] and enable[-1] == "dojangkok@8082"
    assert disable[:2] == ["systemctl", "disable"] and disable[-1] == "dojangkok@8081"
    timer = roothelper.plan(conf, ["retire", "backend", "8081", "600"])[-1]
    assert "--on-active=600s" in timer
    assert timer[-4:] == ["systemctl", "stop", "--", "dojangkok@8081"]


def test_a_warm_rollback_only_switches_a_cold_one_starts_first():
    view = make_view("backend").but(strategy="release")
    warm = release_backend.PAIR.rollback_plan(view, "B", "1-a", "2-b", 8082, 8081, True)
    cold = release_backend.PAIR.rollback_plan(view, "B", "1-a", "2-b", 8082, 8081, False)
    assert not any("systemctl start" in s.render(view) for s in warm.steps)
    assert "systemctl start dojangkok@8081" in cold.steps[0].render(view)
    # the left instance retires in one helper call: the switch stopped the target's timer
    for plan in (warm, cold):
        leave = next(s for s in plan.steps if s.number == "R5").render(view)
        assert (
            leave.count("dojangkok-root") == 1 and "dojangkok-root retire backend 8082 10" in leave
        )


def test_release_config_renders_the_template_unit_and_the_upstream_include():
    s = Settings(server_name="dojangkok.example.com")
    files = {f.key: (f, text) for f, text in render(make_host(s)).items()}
    unit, text = files["backend"]
    assert unit.dest.endswith("/dojangkok@.service") and not unit.restart
    assert "-jar /app/releases/backend/slots/%i/app.jar --server.port=%i" in text
    site = files["nginx"][1]
    assert "include /etc/nginx/dojangkok-upstream.conf;" in site
    assert "proxy_pass http://dojangkok_backend;" in site
    manual = {f.key: t for f, t in render(make_host(s.replace(strategy="manual"))).items()}
    assert (
        "include" not in manual["nginx"] and "proxy_pass http://127.0.0.1:8080;" in manual["nginx"]
    )


def test_ai_blue_green_config_and_the_gpu_memory_check(tmp_path):
    s = Settings(ai_switch="blue-green", ai_gpu_memory_mb=8000)
    files = {f.key: t for f, t in render(make_host(s, "gpu", "gpu")).items()}
    assert "--host 127.0.0.1 --port %i" in files["ai"]
    # by default nothing filters the AI's packets (its calls out: an LLM API, a model
    # download); the firewall keeps its port to the [cpu] host
    assert "listen 8000;" in files["ai-proxy"] and "deny all;" not in files["ai-proxy"]
    assert "IPAddress" not in files["ai"]
    limited = s.replace(ai_ip_allow="10.0.0.0/8")
    files = {f.key: t for f, t in render(make_host(limited, "gpu", "gpu")).items()}
    assert "allow 10.0.0.0/8;" in files["ai-proxy"] and "deny all;" in files["ai-proxy"]
    assert "IPAddressDeny=any\nIPAddressAllow=localhost 10.0.0.0/8\n" in files["ai"]
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "nvidia-smi").write_text("#!/bin/sh\necho 6000\necho 15000\n")
    (bin_ / "nvidia-smi").chmod(0o755)
    check = release_ai.gpu_memory(make_view("ai", s))
    res = subprocess.run(["bash", "-c", check], capture_output=True, text=True,
                         env={"PATH": f"{bin_}:/usr/bin:/bin"})  # fmt: skip
    assert res.returncode == 1 and "needs 8000 MiB" in res.stderr and "has 6000 MiB" in res.stderr


def test_release_names_are_sortable_and_name_the_revision():
    v = make_view()
    assert release.name(v) == f"{v.run_id}-{v.to_rev[:7]}"
    assert release.revision_of(release.name(v)) == v.to_rev[:7]


def test_the_switch_is_a_rename(tmp_path):
    (tmp_path / "r1").mkdir()
    (tmp_path / "r2").mkdir()
    link = tmp_path / "current"
    link.symlink_to(tmp_path / "r1")
    res = subprocess.run(["bash", "-c", release.switch(str(link), str(tmp_path / "r2"), "x")])
    assert res.returncode == 0 and Path(link).resolve() == tmp_path / "r2"
    assert not (tmp_path / "current.x").exists()


def test_the_web_root_becomes_a_symlink_in_one_step(tmp_path):
    """Conversion swaps the served directory and the symlink (RENAME_EXCHANGE): there is no
    moment without a web root."""
    from tasks.apps.frontend import release as release_frontend

    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text("old")
    s = Settings(web_root=str(root), releases_root=str(tmp_path / "rel"))
    v = make_view("frontend", s)
    k2 = release_frontend.convert_plan(v).step("K2").render(v)
    res = subprocess.run(["bash", "-c", k2], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert root.is_symlink() and str(root.readlink()) == release_frontend.live_root(v)
    (old,) = [p for p in tmp_path.iterdir() if p.name.startswith("www.manual-")]
    assert (old / "index.html").read_text() == "old"


@pytest.mark.parametrize("pair,port_key,usual,idle", [
    (release_backend.PAIR, "backend_smoke", 8080, 8082),
    (release_ai.PAIR, "ai_smoke", 8000, 8002),
])  # fmt: skip
def test_a_smoke_url_on_the_usual_port_asks_the_new_instance(pair, port_key, usual, idle):
    """A smoke url written for the manual layout (localhost:8080) would ask whatever serves
    there: nothing once the host runs blue/green, or the old release behind a proxy."""
    specs = [
        {"method": "GET", "url": f"http://localhost:{usual}/api/notes"},
        {"method": "GET", "url": f"http://127.0.0.1:{usual}"},
        {"method": "GET", "url": f"http://localhost:{usual + 1}/other"},
        {"method": "GET", "url": "https://example.test/"},
        {"method": "GET", "path": "/api/version"},
    ]
    view = make_view(pair.component.name, Settings(**{port_key: specs})).but(strategy="release")
    plan = pair.switch_plan(view, "X", idle - 1, idle)
    (smoke,) = [s.render(view) for s in plan.steps if "curl -sS" in s.render(view)]
    assert f"-X GET http://localhost:{idle}/api/notes)" in smoke
    assert f"-X GET http://127.0.0.1:{idle})" in smoke
    assert f"localhost:{usual}" not in smoke and f"127.0.0.1:{usual}" not in smoke
    assert f"-X GET http://localhost:{usual + 1}/other)" in smoke  # another port: as written
    assert "-X GET https://example.test/)" in smoke
    assert f"-X GET http://localhost:{idle}/api/version)" in smoke


@pytest.mark.parametrize(
    ("lock", "modules", "does"),
    [
        ("same", True, "hard links"),
        ("same", False, "npm ci"),  # nothing to reuse
        ("other", True, "npm ci"),  # another lock file: never the current release's modules
        ("other", False, "npm ci"),
    ],
)
def test_the_frontend_install_reuses_the_current_release_only_for_the_same_lock_file(
    tmp_path, lock, modules, does
):
    from tasks.apps.frontend import release as release_frontend

    s = Settings(releases_root=str(tmp_path), frontend_install_cmd="echo RAN-NPM-CI")
    v = make_view("frontend", s)
    cur, new = tmp_path / "frontend/releases/old", Path(release.path(v))
    for d in (cur, new):
        d.mkdir(parents=True)
    (cur / "package-lock.json").write_text("{}\n")
    (new / "package-lock.json").write_text("{}\n" if lock == "same" else '{"v": 2}\n')
    if modules:
        (cur / "node_modules/left-pad").mkdir(parents=True)
        (cur / "node_modules/left-pad/index.js").write_text("module.exports = 1\n")
    (tmp_path / "frontend/current").symlink_to(cur)
    res = subprocess.run(["bash", "-c", release_frontend.install(v)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    ran = "RAN-NPM-CI" in res.stdout
    assert ran == (does == "npm ci"), res.stdout
    assert (new / "node_modules/left-pad").is_dir() == (does == "hard links")
    if does == "hard links":  # the same files, not copies
        js = "node_modules/left-pad/index.js"
        assert (new / js).stat().st_ino == (cur / js).stat().st_ino


def test_the_frontend_install_reads_as_it_runs():
    """What is shown is what runs: the install is a reuse test and npm ci, nothing more."""
    from tasks.apps.frontend import release as release_frontend

    v = make_view("frontend", Settings()).but(strategy="release")
    command = release_frontend.install(v)
    assert len(command) < 600, command
    assert "python3" not in command and "json.load" not in command
    assert command.endswith("&& npm ci; fi")


def test_the_slots_read_says_what_runs_on_each_port(tmp_path):
    from tasks.strategies.release.bluegreen import parse_slots

    s = Settings(releases_root=str(tmp_path))
    v = make_view("backend", s).but(strategy="release")
    slots = tmp_path / "backend" / "slots"
    slots.mkdir(parents=True)
    (slots / "8081").symlink_to(tmp_path / "backend" / "releases" / "1-aaaaaaa")
    bin_ = tmp_path / "bin"
    bin_.mkdir()  # systemctl is-active: one line per unit, in order
    (bin_ / "systemctl").write_text(
        '#!/bin/sh\necho "$*" > "$0.args"\necho active\necho inactive\n'
    )
    (bin_ / "systemctl").chmod(0o755)
    res = subprocess.run(["bash", "-c", release_backend.PAIR.slots_command(v)], capture_output=True,
                         text=True, env={"PATH": f"{bin_}:/usr/bin:/bin"})  # fmt: skip
    assert res.returncode == 0 and res.stderr == ""
    assert (bin_ / "systemctl.args").read_text().split() == [
        "is-active", "--", "dojangkok@8081", "dojangkok@8082"]  # fmt: skip
    assert parse_slots(res.stdout) == {8081: ("active", "1-aaaaaaa"), 8082: ("inactive", "")}


def test_the_live_port_is_read_from_an_earlier_version_s_upstream_file_by_bash(tmp_path):
    """(a host set up before the switch table; the table's own: test_switchtable.py)"""
    from tasks.apps.backend.release import PAIR
    from tasks.onhost.roothelper import upstream_text

    upstream = tmp_path / "upstream.conf"
    s = Settings(nginx_upstream_file=str(upstream))

    def live() -> tuple[int, str, str]:
        res = subprocess.run(
            ["bash", "-c", PAIR.live_port_command(s)], capture_output=True, text=True
        )
        return res.returncode, res.stdout, res.stderr

    upstream.write_text(upstream_text("dojangkok_backend", 8082))  # an instance's port
    assert live() == (0, "8082\n", "")
    upstream.write_text("# none yet\n")
    assert live() == (0, "", "")
    upstream.unlink()
    assert live() == (0, "", "")  # no upstream (not converted): nothing, and not a failure
