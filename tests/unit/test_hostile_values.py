"""Hostile setting values, every plan, every command run in a sandbox: nothing injected runs.

For each hostile payload (quotes, ``$( )``, backticks, spaces, line breaks, a leading ``-``,
``;``, redirections, ...), every setting that is not raw shell (``*_cmd``) either refuses it
with a ConfigError naming the setting, or takes it (as is, or inside an absolute path, a
relative path or a URL: the first form its rules accept). Settings made of every accepted
value then render EVERY plan (deploy and rollback of each component, backup and restore,
setup, the config push and its rollback), the checklist checks, the state, lock, record
and health commands; each command runs as ``bash -o pipefail -c <command>`` in a sandbox:
a temporary directory, PATH holding only stub executables that log their argv and exit
with $STUB_RC (0, then 1, so both sides of every ``||`` run), bash's own builtins kept
(``cd`` is logged instead of changing directory, so the commands run past it), and an
unprivileged user when the tests run as root. The test asserts that no injected command
ran (no CANARY file, no stub called with a canary) and that no argv element is a piece of
a hostile value that was split apart, or a hostile ``-x`` read as an option.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tasks.apps import registry
from tasks.apps.backend.release import (
    convert_adopt_plan as backend_adopt_plan,
)
from tasks.apps.backend.release import (
    convert_switch_plan as backend_switch_plan,
)
from tasks.apps.backend.release import (
    convert_undo_plan as backend_undo_plan,
)
from tasks.apps.database import backup
from tasks.config import commands as config_commands
from tasks.config import render, state
from tasks.config.plan import push_plan
from tasks.engine import lock, records
from tasks.engine.console import Console
from tasks.engine.session import Session
from tasks.engine.steps import Kind, Plan
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts import site, validate, values
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.setup import setup, tls
from tasks.strategies.release import layout as release
from tasks.strategies.release.convert import is_converted
from tasks.strategies.release.flow import example_plans

from .fakes import FakeRemote

FROM, TO, BACK = "a1b2c3d" + "0" * 33, "b" * 40, "c3d4e5f6a7"
RUN_ID = "20260101_120000_000000_abcd"

#: {t} is the setting's tag: HA{t}/HB{t} mark the two halves of one value, CANARY_{t} is
#: created (or passed to a stub) only if an injected command runs
PAYLOADS = {
    "dollar": "$(touch CANARY_{t})",
    "backtick": "`touch CANARY_{t}`",
    "single-quote": "HA{t}';touch CANARY_{t};'HB{t}",
    "double-quote": 'HA{t}";touch CANARY_{t};"HB{t}',
    "space": "HA{t} HB{t}",
    "newline": "HA{t}\ntouch CANARY_{t}\nHB{t}",
    "dash": "-HD{t}",
    "semicolon": "HA{t};touch CANARY_{t};HB{t}",
    "redirect": "HA{t}>CANARY_{t}",
    "and-or": "HA{t}&&touch CANARY_{t}||touch CANARY_{t}",
    "pipe": "HA{t}|touch CANARY_{t}",
    "ifs": "HA{t}${{IFS}}HB{t}",
    "nested-quotes": "'\"$(touch CANARY_{t})\"'HA{t} HB{t}",
    "backslash": "HA{t}\\'HB{t}\\",
    "glob-and-tilde": "~HA{t}*HB{t}?",
}

STRING_SETTINGS = [
    f.name
    for f in dataclasses.fields(Settings)
    if f.type == "str" and f.name not in validate.RAW_SHELL
]
LIST_SETTINGS = ["nginx_sites_disabled", "ai_device_allow"]
TAGS = {name: f"s{i:02d}x" for i, name in enumerate([*STRING_SETTINGS, *LIST_SETTINGS,
                                                       "smoke", "restore_from", "message"])}  # fmt: skip

#: the commands a hostile value could reach and the sandbox has stubs for
STUBS = (
    "git", "systemctl", "npm", "curl", "mysqldump", "mysql", "nginx", "install", "rm", "cp",
    "ln", "mv", "ls", "tail", "head", "xargs", "grep", "sed", "find", "sort", "cut", "comm",
    "mktemp", "gzip", "zcat", "id", "useradd", "numfmt", "swapon", "mkswap", "fallocate", "dd",
    "chmod", "chown", "stat", "awk", "systemd-analyze", "systemd-detect-virt", "journalctl",
    "sha256sum", "seq", "sleep", "hostname", "python", "python3", "pip", "touch", "readlink",
    "mariadbd", "mysqld", "cat", "mkdir", "tee", "wc",
)  # fmt: skip


def payload(kind: str, name: str) -> str:
    return PAYLOADS[kind].format(t=TAGS[name])


# --- settings made of hostile values ---------------------------------------------------------
def forms(value: str, base: str, name: str) -> list:
    """The shapes a setting's rules may accept the value in, most hostile first."""
    if name in LIST_SETTINGS:
        return [[value], [f"x{value}"]]
    if name == "nginx_site":  # the nginx tree validate_nginx copies is this path's parent's
        return [f"{base}/{value}/sites-available/dojangkok", f"{base}/x{value}/conf.d/x.conf"]
    return [value, f"{base}/{name}/{value}", f"x{value}", f"http://localhost/{value}",
            f"/{value}"]  # fmt: skip


def accepted(name: str, value) -> bool:
    """Settings.from_vars takes it, or refuses it with a ConfigError naming the setting."""
    try:
        Settings.from_vars({name: value}, where="test")
    except ConfigError as exc:
        assert name in str(exc), exc
        return False
    return True


def smoke_spec(kind: str, base: str) -> list:
    v = payload(kind, "smoke")
    for spec in ({"method": "POST", "path": f"/{v}", "body": {"k": v, v: [v]}, "expect": v},
                 {"method": "POST", "path": "/ok", "body": {"k": v}, "expect": v},
                 {"url": "http://localhost:8080/ok", "body": {"k": v}}):  # fmt: skip
        if accepted("backend_smoke", [spec]):
            return [spec]
    raise AssertionError("a smoke request with a hostile JSON body is fine")


def hostile_settings(kind: str, base: str) -> tuple[Settings, dict[str, object], list[str]]:
    chosen: dict[str, object] = {}
    refused = []
    for name in [*STRING_SETTINGS, *LIST_SETTINGS]:
        value = payload(kind, name)
        for form in forms(value, base, name):
            if accepted(name, form):
                chosen[name] = form
                break
        else:
            refused.append(name)
    chosen["backend_smoke"] = chosen["ai_smoke"] = smoke_spec(kind, base)
    # server_name is a list of names split on spaces on purpose, each a strict host name
    # (test_server_name_takes_only_names): the site's name, as setup needs one
    chosen["server_name"] = "dojangkok.example.com"
    ca = Path(base) / "acme-ca.pem"  # a file on this machine: its name reaches no command
    ca.parent.mkdir(parents=True, exist_ok=True)
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    chosen["acme_ca_bundle"] = str(ca)
    if not site.tls_mode(Settings(**chosen)):  # a hostile server_name that is no DNS name
        chosen["tls"] = "provided" if chosen.get("tls_cert") and chosen.get("tls_key") else "off"
    s = Settings(**chosen)
    validate.settings(s)  # the settings together are fine: only the values are hostile
    return s, chosen, refused


# --- every command of every plan -------------------------------------------------------------
def host(s: Settings, group: str) -> Host:
    return Host(group, "10.0.0.2", "deploy", 22, None, (group,), s)


class Commands(list):
    """The commands rendered so far. ``lenient``: settings that skipped validation, so a
    builder may refuse a value itself (a ConfigError): that command is then left out."""

    def __init__(self, lenient: bool = False) -> None:
        super().__init__()
        self.lenient, self.refused = lenient, 0

    def add(self, build, *args) -> None:
        try:
            out = build(*args)
        except ConfigError:
            if not self.lenient:
                raise
            self.refused += 1
            return
        self.extend(out if isinstance(out, list) else [out])

    def plan(self, plan: Plan, view: RunView) -> None:
        for step in plan.steps:
            if step.kind is Kind.SHELL:
                self.add(step.render, view)
            for extra in (step.cleanup, step.diagnose):
                if extra is not None:
                    self.add(extra, view)


def checklist_commands(plan: Plan, view: RunView, out: Commands) -> None:
    remote = FakeRemote([(r"rev-parse|rev-list", 0, TO)])
    secrets = Secrets({})
    session = Session(view, secrets, yes=True, console=Console(secrets, write=lambda t: None),
                      remote=remote, title="test")  # fmt: skip
    for item in plan.checklist:
        if item.check is not None:  # (what a check answers is no command: dropped)
            out.add(lambda check=item.check: check(session) and [])
    records.read_stack(session)
    records.write_stack(session, [FROM, TO])
    records.append(session, {"run": view.run_id})
    out.extend(c for _, c in remote.calls)


def every_command(s: Settings, restore_from: str | None, message: str,
                  lenient: bool = False) -> list[str]:  # fmt: skip
    cmds = Commands(lenient)
    cpu, gpu = host(s, "cpu"), host(s, "gpu")
    for name, proc in ((a.name, a.plans("manual")) for a in registry.ORDER):
        h = gpu if name == "ai" else cpu
        # (a dry run's commands, with placeholders for revisions, are printed, never run)
        view = RunView("deploy", name, h, RUN_ID, from_rev=FROM, to_rev=TO, target=BACK)
        plan = proc.plan(view)
        cmds.plan(plan, view)
        cmds.plan(proc.rollback_plan(view), view)
        cmds.add(proc.state_command, view)
        checklist_commands(plan, view, cmds)
        cmds.add(lambda n=name: registry.get(n).health(s, None).command())
        # the release strategy: the build, the host's switch and rollbacks, the conversion
        rview = view.but(strategy="release")
        for rplan in example_plans(registry.get(name), rview):
            cmds.plan(rplan, rview)
        rel = registry.get(name).plans("release")
        cmds.add(rel.state_command, rview)
        cmds.add(release.list_command, rview)
        cmds.add(release.remove, rview, ["1-a", "2-b"])
        cmds.add(is_converted, registry.get(name), rview)
        if name == "frontend":
            cmds.plan(rel.convert_plan(rview), rview)
        if name == "backend":
            cmds.plan(backend_adopt_plan(rview), rview)
            cmds.plan(backend_switch_plan(rview), rview)
            cmds.plan(backend_undo_plan(rview), rview)
    db = RunView("restore", "database", cpu, RUN_ID, restore_from=restore_from or "")
    for plan in (backup.backup_plan(db), backup.restore_plan(db)):
        cmds.plan(plan, db)
    for h in (cpu, gpu):
        view = RunView("setup", "setup", h, RUN_ID)
        cmds.plan(setup.plan(view), view)
        cmds.add(config_push_commands, h, lenient)
    tls_view = RunView("setup", "setup", cpu, RUN_ID)  # every TLS mode, not only the detected one
    for build in (tls.acme_command, tls.provided_command, tls.off_command):
        cmds.add(build, tls_view)
    info = lock.LockInfo(RUN_ID, "op", "machine", 1, "deploy", "backend", FROM, message, 0.0)
    cmds.add(lock.acquire_command, s, info)
    cmds.add(lock.release_command, s, RUN_ID)
    for build in (lock.read_command, lock.break_command, lock.state_dir_ready,
                  lock.state_dir_create):  # fmt: skip
        cmds.add(build, s)
    return list(dict.fromkeys(cmds))


def config_push_commands(h: Host, lenient: bool = False) -> list[str]:
    rendered = render.render(h)
    absent = "".join(f"{state.STATE_MARK} {f.key}\nabsent\n" for f in rendered)
    link, disabled = render.nginx_links(h.settings)
    absent += f"{state.STATE_MARK} link\n{state.STATE_MARK} disabled\n" + "".join(
        f"{p}\n" for p in disabled
    )
    found = state.changes(rendered, state.parse_state(absent), h.settings)
    assert found, "every file is new"
    plan, rollback = push_plan(found)
    view = RunView("config", "config", h, RUN_ID)
    out = Commands(lenient)
    out.add(state.state_command, list(rendered), h.settings)
    out.plan(plan, view)
    out.plan(rollback(view), view)
    # each validator alone too: joined with &&, a stub's answer may stop the chain early
    for c in found:
        out.add(config_commands.VALIDATORS[c.file.kind], c.file, h.settings)
    return list(out)


# --- the sandbox ---------------------------------------------------------------------------
#: one record per call, written with one write() (the stages of a pipeline run at once)
STUB = """#!/bin/sh
us=$(printf '\\037') rec="$CMD_ID$(printf '\\035')${0##*/}"
for a in "$@"; do rec="$rec$us$a"; done
printf '%s\\036' "$rec" >> "$STUB_LOG"
case ${0##*/} in seq) echo 1;; mktemp) echo "$TMPDIR/stub-tmp";; esac
exit "${STUB_RC:-0}"
"""
#: BASH_ENV: read by every `bash -c` before its command. Unknown commands are logged like
#: stubs; so are `cd`, `.`, `source`, `[` and `test`, which answer $STUB_RC: the commands
#: run past a `cd` into a directory that is not here, and both sides of every `if [ -f ]`.
PREAMBLE = """
_dk_log() { local rec=$CMD_ID$'\\035'$1 a; shift; for a in "$@"; do rec+=$'\\037'$a; done; \
printf '%s\\036' "$rec" >> "$STUB_LOG"; }
command_not_found_handle() { _dk_log "$@"; return "${STUB_RC:-0}"; }
cd() { _dk_log cd "$@"; return "${STUB_RC:-0}"; }
.() { _dk_log . "$@"; return "${STUB_RC:-0}"; }
source() { _dk_log source "$@"; return "${STUB_RC:-0}"; }
[() { _dk_log [ "$@"; return "${STUB_RC:-0}"; }
test() { _dk_log test "$@"; return "${STUB_RC:-0}"; }
"""
DRIVER = """
for f in "$CMDS"/*; do
  CMD_ID=${f##*/} PATH="$STUBS" /bin/bash -o pipefail -c "$(< "$f")" dk-sandbox \
    </dev/null >/dev/null 2>&1
done
exit 0
"""


class Sandbox:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dk-hostile-", dir="/tmp"))
        self.root.chmod(0o777)
        self.stubs = self.root / "stubs"
        self.stubs.mkdir()
        for name in STUBS:
            (self.stubs / name).write_text(STUB)
            (self.stubs / name).chmod(0o755)
        (self.root / "preamble.sh").write_text(PREAMBLE)
        self.work = self.root / "work"  # the commands' working directory

    def run(
        self, cmds: list[str], rc: int, jobs: int = 2 * (os.cpu_count() or 2)
    ) -> list[tuple[str, list[str]]]:
        """Run every command; returns the stub calls as (command id, argv)."""
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir()
        self.work.chmod(0o777)
        chunks = [cmds[i::jobs] for i in range(jobs)]
        logs = []
        for j, chunk in enumerate(chunks):
            d = self.root / f"cmds-{rc}-{j}"
            if d.exists():
                shutil.rmtree(d)
            d.mkdir()
            for i, cmd in enumerate(chunk):
                (d / f"{j:02d}-{i:04d}").write_text(cmd)
            logs.append(self.root / f"log-{rc}-{j}")
            logs[-1].write_text("")
            logs[-1].chmod(0o666)
            for p in (d, *d.iterdir()):
                p.chmod(0o755 if p.is_dir() else 0o644)

        def drive(j: int) -> None:
            env = {"CMDS": str(self.root / f"cmds-{rc}-{j}"), "STUBS": str(self.stubs),
                   "STUB_LOG": str(logs[j]), "STUB_RC": str(rc), "HOME": str(self.work),
                   "TMPDIR": str(self.work), "SUDO_USER": "deploy", "LANG": "C.UTF-8",
                   "BASH_ENV": str(self.root / "preamble.sh"), "PATH": "/usr/bin:/bin"}  # fmt: skip
            drop = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
            subprocess.run(["/bin/bash", "-c", DRIVER], cwd=self.work, env=env, check=True,
                           timeout=600, **drop)  # fmt: skip

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(drive, range(jobs)))
        self.by_id = {
            f"{j:02d}-{i:04d}": c for j, ch in enumerate(chunks) for i, c in enumerate(ch)
        }
        calls = []
        for log in logs:
            for record in log.read_text(errors="surrogateescape").split("\x1e"):
                if record:
                    cmd_id, _, argv = record.partition("\x1d")
                    calls.append((cmd_id, argv.split("\x1f")))
        return calls

    def canaries(self) -> list[str]:
        return [str(p) for p in self.root.rglob("CANARY*")]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    yield box
    box.close()


#: (command, option) pairs whose next argument is the option's value, never an option
OPTION_VALUES = {("git", "-C"), ("journalctl", "-u"), ("pip", "-r"), ("curl", "-X"),
                 ("curl", "--data-binary"), ("nginx", "-c"), ("visudo", "-f")}  # fmt: skip
#: test's unary operators: `[ -f -x ]` tests a file named -x
TEST_OPERATORS = {"-e", "-f", "-d", "-L", "-s", "-n", "-z", "-r", "-w", "-x"}


def option_value(argv: list[str], i: int) -> bool:
    before = argv[i - 1] if i else ""
    if argv[0] in ("[", "test"):
        return before in TEST_OPERATORS
    return (argv[0], before) in OPTION_VALUES


#: space-separated lists by design (server_name: nginx's list of names, each a strict host
#: name: test_server_name_takes_only_names)
SPLIT_ON_PURPOSE = {"server_name"}


def problems(calls, box: Sandbox) -> list[str]:
    """What the stub calls show: injected commands, split values, hostile values as options."""
    tag_of = {t: name for name, t in TAGS.items()}
    found = []
    for cmd_id, argv in calls:
        where = f"{box.by_id.get(cmd_id, cmd_id)!r}\n    argv={argv!r}"
        for i, arg in enumerate(argv):
            for t, name in tag_of.items():
                if arg == f"CANARY_{t}":
                    found.append(f"{name}: an injected command ran: {where}")
                if ((f"HA{t}" in arg) != (f"HB{t}" in arg) and f"HB{t}" in " ".join(argv)
                        and name not in SPLIT_ON_PURPOSE):  # fmt: skip
                    found.append(f"{name}: a value was split apart: {where}")
                if (
                    arg.startswith(f"-HD{t}")
                    and not {"--", "--end-of-options"} & set(argv[:i])
                    and not option_value(argv, i)
                ):
                    found.append(f"{name}: a value starting with - was an option: {where}")
    return found


# --- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", PAYLOADS)
def test_hostile_values_are_refused_or_inert(kind, sandbox, monkeypatch):
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(sandbox.root / "history.jsonl"))
    base = str(sandbox.root / "h")
    s, chosen, refused = hostile_settings(kind, base)
    restore_from = f"{base}/restore/{payload(kind, 'restore_from')}"
    try:
        values.restore_source(restore_from)
    except ConfigError:
        restore_from = None
    cmds = every_command(s, restore_from, payload(kind, "message"))
    assert len(cmds) > 90
    fstab = Path("/etc/fstab")
    before = hashlib.sha256(fstab.read_bytes()).hexdigest() if fstab.exists() else None
    found = []
    for rc in (0, 1):
        calls = sandbox.run(cmds, rc)
        assert calls, "the stubs were called"
        found += problems(calls, sandbox)
        found += [f"CANARY file created: {p}" for p in sandbox.canaries()]
    after = hashlib.sha256(fstab.read_bytes()).hexdigest() if fstab.exists() else None
    assert before == after, "/etc/fstab changed"
    assert not found, "\n".join(dict.fromkeys(found))
    # free text reaches the commands as is; names and paths refuse what they cannot take
    if kind != "newline":
        assert {"frontend_expect", "backend_health_expect"} <= set(chosen) - set(refused)
        assert chosen["frontend_expect"] == payload(kind, "frontend_expect")
    else:
        assert set(refused) >= set(STRING_SETTINGS)  # a setting is one line


@pytest.mark.parametrize("kind", ["dollar", "single-quote", "double-quote", "space", "dash",
                                  "semicolon", "backslash"])  # fmt: skip
def test_builders_are_safe_without_the_validation(kind, sandbox, monkeypatch):
    """Defence in depth: the raw hostile value in every string setting, past every rule
    (Settings built directly). A builder may refuse a value itself; what it renders is inert."""
    monkeypatch.setenv("DOJANGKOK_HISTORY", str(sandbox.root / "history.jsonl"))
    raw = {name: payload(kind, name) for name in STRING_SETTINGS}
    raw |= {name: [payload(kind, name)] for name in LIST_SETTINGS}
    raw["backend_smoke"] = [{"method": "POST", "url": "http://localhost/x",
                             "expect": payload(kind, "smoke"), "body": {"k": "v"}}]  # fmt: skip
    s = Settings(**raw)
    with pytest.raises(ConfigError):
        validate.settings(s)
    cmds = every_command(s, payload(kind, "restore_from"), payload(kind, "message"), True)
    assert len(cmds) > 50
    found = []
    for rc in (0, 1):
        found += problems(sandbox.run(cmds, rc), sandbox)
        found += [f"CANARY file created: {p}" for p in sandbox.canaries()]
    assert not found, "\n".join(dict.fromkeys(found))


@pytest.mark.parametrize("kind", PAYLOADS)
def test_names_refuse_every_hostile_value(kind):
    """Values used as bare names (units, users, databases) take no hostile value. (A git
    branch may hold ; > $ and more, as git allows: it is always quoted.)"""
    for name in ("backend_service", "ai_service", "db_service", "backend_user", "ai_user",
                 "db_name", "db_user", "db_app_user", "db_password_env", "db_app_password_env",
                 "swap_size", "swap_file"):  # fmt: skip
        value = payload(kind, name)
        with pytest.raises(ConfigError, match=name):
            Settings.from_vars({name: value}, where="test")


@pytest.mark.parametrize("kind", PAYLOADS)
def test_server_name_takes_only_names(kind):
    """server_name: space-separated host names, IP addresses or *. wildcards, nothing else
    (a space splits two names, as nginx reads it; each is quoted wherever a command uses it)."""
    value = payload(kind, "server_name")
    if kind == "space":
        assert Settings.from_vars({"server_name": value}).server_name == value
        return
    with pytest.raises(ConfigError, match="server_name"):
        Settings.from_vars({"server_name": value}, where="test")


def test_the_sandbox_catches_an_unquoted_value(sandbox):
    """The check itself works: a builder that forgets q() is caught."""
    value = payload("dollar", "web_root") + " " + payload("space", "web_root")
    calls = sandbox.run([f"rm -rf {value}/*", f"echo 'x {payload('single-quote', 'web_root')}'"], 0)
    found = problems(calls, sandbox) + sandbox.canaries()
    assert any("injected" in p for p in found) and any("split" in p for p in found)
    dash = sandbox.run([f"ls -la {payload('dash', 'web_root')}"], 0)
    assert any("option" in p for p in problems(dash, sandbox))


def test_every_setting_is_classified():
    """A new setting must be given rules, or be declared free text, template-only or raw."""
    known = set(validate.RULES) | set(validate.RAW_SHELL) | set(validate.FREE_TEXT)
    assert Settings.names() == known | set(validate.TEMPLATE_ONLY)
    assert not set(validate.RULES) & set(validate.FREE_TEXT + validate.TEMPLATE_ONLY)


def test_stub_files_are_executable(sandbox):
    assert all(os.stat(p).st_mode & stat.S_IXOTH for p in sandbox.stubs.iterdir())
