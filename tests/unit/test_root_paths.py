"""No root step acts through a path the deploy login could have planted a link in.

Every root (sudo) step of `fab setup`, `fab push-config`, the conversion to releases and
`fab restore-db`, for each kind of host and setting that changes them, and the root commands
run outside a step (the deploy lock's state directory, push-config's look at the live
config): each command (and its cleanup) may name a
path under a directory the deploy login owns (the checkouts, the web root, the backup
directories, the state directory, releases_root: tasks/hosts/settings.py LOGIN_DIRS) only
where a guard keeps root from following a link there:

- ``own dir|file PATH ...`` (tasks/engine/safepath.py: openat with O_NOFOLLOW, a link
  refused by name);
- ``[ -L PATH ]`` and ``stat`` without ``-L`` (they look at a link, never through it);
- ``runuser -u <login> -- ...`` (read with the deploy login's own rights);
- the target of ``ln -s`` (the text a link holds, not a path root opens);
- a message (``ch``/``note``/``echo``: words shown, not paths opened).

No exception is let through by name: a root step's files travel on its own standard input
into a root-only directory (``$STAGE``, tasks/engine/staging.py), push-config's staging and
backups live in a root-owned directory (tasks/config/commands.py ``ROOT_DIR``), so no root
command reads a staged upload under state_dir.
"""

from __future__ import annotations

import itertools
import re

import pytest

from tasks.apps.ai import release as ai_release
from tasks.apps.backend import release as backend_release
from tasks.apps.database import backup
from tasks.apps.frontend import release as release_frontend
from tasks.apps.frontend_node import release as node_release
from tasks.config import state
from tasks.config.plan import push_plan
from tasks.config.render import render
from tasks.config.state import Change
from tasks.engine import lock
from tasks.engine.steps import Kind, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import validate
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.onhost.policy import Policy
from tasks.setup import detect
from tasks.setup import setup as host_setup
from tasks.strategies.release import layout as release

RUN = "20260101_120000_000000_abcd"
RESTORE = "/app/backups/backup_20251231_120000_000000_abcd.sql.gz"

#: the same settings, with optional parts switched on: deploy keys (state_dir/keys), writable
#: paths inside the checkouts (manual) and outside them
VARIANTS = {
    "defaults": {},
    "keys and writable paths": {
        "backend_deploy_key": __file__, "git_known_hosts": __file__,
        "backend_writable_paths": ["uploads", "/srv/dojangkok/files"],
        "ai_writable_paths": ["vector_store"],
    },
    "blue-green ai": {"ai_switch": "blue-green"},
    # the frontend as a Node server pair (tasks/apps/frontend_node): its template unit, its
    # upstream file, its conversion from the static site
    "node frontend": {"frontend_kind": "node"},
    # deploy-owned directories inside each other: the state and backup directories in a
    # checkout, so a command that makes them names a path the deploy login could plant in
    "nested dirs": {"state_dir": "/app/frontend/.dojangkok-state",
                    "backup_dir": "/app/frontend/.dojangkok-backups"},
}  # fmt: skip


def host(group: str, strategy: str, variant: dict) -> Host:
    s = Settings(strategy=strategy, server_name="dojangkok.example.com", **variant)
    return detect.offline(Host(group, "10.0.0.2", "deploy", 22, None, (group,), s))


def root_plans() -> list[tuple[str, RunView, Plan]]:
    """(name, view, plan) for every plan setup, push-config and a conversion run."""
    out = []
    for (label, variant), group, strategy in itertools.product(
        VARIANTS.items(), ("cpu", "gpu"), ("manual", "release")
    ):
        if strategy == "release" and variant.get("backend_writable_paths"):
            variant = {**variant, "backend_writable_paths": ["/srv/dojangkok/files"],
                       "ai_writable_paths": ["/srv/dojangkok/store"]}  # fmt: skip
        h = host(group, strategy, variant)
        name = f"{group} {strategy} {label}"
        view = RunView("setup", "setup", h, RUN, strategy)
        out.append((f"{name} setup", view, host_setup.plan(view)))
        changes = [Change(f, text, old) for (f, text), old in
                   zip(render(h).items(), itertools.cycle(["old", None]), strict=False)]  # fmt: skip
        plan, rollback = push_plan(changes)
        out += [(f"{name} push-config", view, plan),
                (f"{name} push-config rollback", view, rollback(view, "failed"))]  # fmt: skip
        if group == "cpu":
            r = RunView("restore", "database", h, RUN, strategy, restore_from=RESTORE)
            out.append((f"{name} restore-db", r, backup.restore_plan(r)))
        out.append((f"{name} outside a step", view, outside_steps(view)))
        if strategy != "release":
            continue
        for comp in ("frontend", "backend") if group == "cpu" else ("ai",):
            v = RunView("deploy", comp, h, RUN, strategy, from_rev="a" * 40, to_rev="b" * 40)
            out += [(f"{name} {comp} conversion {p.title}", v, p) for p in conversion(comp, v)]
    return out


def outside_steps(view: RunView) -> Plan:
    """The root commands a run sends outside its plans, as steps: the deploy lock's state
    directory when it is missing (tasks/engine/lock.py), push-config's look at the live
    config (tasks/setup/provision.py read_state)."""
    s = view.s
    commands = [lock.state_dir_create(s, view.login),
                state.state_command(list(render(view.host)), s)]  # fmt: skip
    steps = tuple(Step(str(i), "outside a step", "", "", Policy.ABORT, sudo=True,
                       command=lambda v, c=c: c) for i, c in enumerate(commands))  # fmt: skip
    return Plan("setup", "X", "outside a step", "", "", "", steps)


def conversion(comp: str, v: RunView) -> list[Plan]:
    if comp == "frontend" and v.s.frontend_kind == "node":
        port = int(v.s.frontend_ports[0])
        return [node_release.convert_table_plan(v, port), node_release.build_plan(v, port),
                node_release.convert_start_plan(v, port), node_release.convert_current_plan(v)]  # fmt: skip
    if comp == "frontend":
        return [release_frontend.convert_plan(v)]
    if comp == "backend":
        return [backend_release.convert_adopt_plan(v), backend_release.convert_switch_plan(v),
                backend_release.convert_undo_plan(v)]  # fmt: skip
    port = v.s.ai_ports[0]
    return [
        ai_release.convert_adopt_plan(),
        Plan("ai", "C", "prepare", "", "", "", release.root_prepare_steps()),
        ai_release.convert_start_plan(v.s, port, "REL"),
        ai_release.convert_takeover_plan(v.s, port),
    ]


PLANS = root_plans()

#: what a guard keeps root from following (see the module's docstring)
GUARDS = [
    re.compile(r"\bown (?:dir|file) \S+"),
    re.compile(r"\[ -L \S+ \]"),  # a test that does not follow
    re.compile(r"\bstat -c \S+ -- \S+"),  # stat without -L: the link itself
    re.compile(r"\brunuser -u \S+ -- [^;|&]*"),
    re.compile(r"\bln -s\S* -- \S+"),
    re.compile(r"\b(?:ch|note|echo) (?:'[^']*'|\S+)(?:\"[^\"]*\")?"),
]


def deploy_owned(s: Settings) -> list[str]:
    return [getattr(s, name).rstrip("/") for name in validate.LOGIN_DIRS]


def unguarded(command: str, s: Settings) -> list[str]:
    """The paths under a deploy-owned directory the command names outside a guard."""
    text = command
    for guard in GUARDS:
        text = guard.sub(" ", text)
    found = []
    for d in deploy_owned(s):
        found += [m.group(0) for m in re.finditer(rf"{re.escape(d)}/[^ ;'\"|&)]*", text)]
    return found


def root_commands(view: RunView, plan: Plan):
    for step in plan.steps:
        if step.sudo and step.kind is Kind.SHELL:
            for c in (step.render(view), step.cleanup and step.cleanup(view)):
                if c:
                    yield step, c


def test_the_enumeration_covers_setup_push_config_and_every_conversion():
    names = " ".join(n for n, _, _ in PLANS)
    for part in ("cpu release defaults setup", "gpu manual defaults push-config rollback",
                 "backend conversion", "frontend conversion", "ai conversion",
                 "cpu manual defaults restore-db", "gpu release nested dirs outside a step",
                 "cpu release node frontend setup", "cpu release node frontend frontend conversion"):  # fmt: skip
        assert part in names, part
    roots = [(v, st, c) for _, v, p in PLANS for st, c in root_commands(v, p)]
    assert len(roots) > 100
    # every guard and both kinds of deploy-owned path occur, so the check below sees them
    text = "\n".join(c for _, _, c in roots)
    assert "own dir /var/lib/dojangkok-deploy/keys" in text and "own dir /app/releases " in text
    assert "own dir /app/ai-server/vector_store" in text and "ln -s -- /app/releases/" in text
    assert "own dir /app/frontend/.dojangkok-state 755" in text  # the lock's, nested
    assert f"runuser -u deploy -- cat -- {RESTORE}" in text  # restore-db's D4
    assert "dojangkok-frontend-upstream.conf" in text  # the Node frontend's pair, as root


@pytest.mark.parametrize(("name", "view", "plan"), PLANS, ids=[p[0] for p in PLANS])
def test_no_root_step_names_a_deploy_owned_path_without_a_guard(name, view, plan):
    for step, command in root_commands(view, plan):
        found = unguarded(command, view.s)
        where = f"{name}: {plan.section}{step.number} {step.title}"
        assert not found, f"{where} acts as root on {found} without a guard:\n{command}"


def test_the_check_sees_a_root_step_through_a_deploy_owned_path():
    """(the check above relies on it) what today's builders did before the guards."""
    s = Settings(server_name="dojangkok.example.com")
    for bad in ("chown -- deploy:dojangkok /app/backend/.env",
                "install -d -m 755 -o deploy -- /app/releases/backend/shared",
                "install -m 640 -- /app/ai-server/.env /app/releases/ai/shared/.env",
                "chown -- fastapi:fastapi /app/ai-server/vector_store",
                "cat /var/lib/dojangkok-deploy/history.jsonl | mysql x",
                "gzip -dc /app/backups/backup_x.sql.gz | mysql x"):  # fmt: skip
        assert unguarded(bad, s), bad
    for fine in ("r=$(own dir /app/releases 755 deploy ''); [ -z \"$r\" ] || ch /app/releases",
                 "runuser -u deploy -- cat -- /app/backups/x.sql.gz | gzip -dc",
                 "ln -s -- /app/releases/frontend/current/build /var/www/dojangkok.RUN",
                 "echo 'no /app/backend/.env.example: kept'"):  # fmt: skip
        assert not unguarded(fine, s), fine
    # a staged upload under state_dir (how root's files travelled before tasks/engine/staging.py)
    for staged in ("mysql < /var/lib/dojangkok-deploy/.setup-db.RUN.sql",
                   "nginx -t -p /var/lib/dojangkok-deploy/config-staging/nginx-tree",
                   "cp -p -- /var/lib/dojangkok-deploy/config-backup/RUN/x /etc/x"):  # fmt: skip
        assert unguarded(staged, s), staged
