"""The shell text of a push (pure): stage, validate, back up, install, reload, check.

A push sends the changed files over the root connection into root's own staging directory
(:data:`ROOT_DIR`, 0700, outside anything the deploy login owns: a file it could change
between the check and the install would be what root installs), validates them there as
they would take effect (``nginx -t`` against a copy of the whole nginx tree with the new
site in it, ``systemd-analyze verify``, mariadbd), backs up the live files (in the same
root-only directory: a rollback restores them as root), moves the new ones into place
(``mv`` in the same directory: atomic), then reloads or restarts only what changed and
checks it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tasks import shell
from tasks.apps import registry
from tasks.config.render import ConfigFile, nginx_dir, nginx_links, touched_paths
from tasks.config.state import Change
from tasks.engine import staging
from tasks.engine.view import RunView
from tasks.hosts import values
from tasks.hosts.settings import Settings
from tasks.shell import q

#: push-config's own directory, root's alone (0700), outside anything the deploy login
#: owns: the staged files, their validation copy and the backups a rollback restores
ROOT_DIR = "/var/lib/dojangkok-deploy-root"
NOT_ROOTS = (
    f"{ROOT_DIR}은(는) root 소유의 0700 디렉터리가 아닙니다 (심볼릭 링크이거나 다른 소유자·권한): "
    "root가 그 안의 파일을 설치할 수 없어 멈췄습니다. 누가 만들었는지 확인하고 지운 뒤 다시 실행하세요"
)


def staging_dir() -> str:
    return f"{ROOT_DIR}/config-staging"


def backup_dir(v: RunView) -> str:
    return f"{ROOT_DIR}/config-backup/{v.run_id}"


def staged(f: ConfigFile) -> str:
    return f"{staging_dir()}/{f.staged_name}"


def upload_name(f: ConfigFile) -> str:
    """The file's name in the upload step's root-only directory (tasks/engine/staging.py)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{f.key}.{PurePosixPath(f.dest).name}")


def root_dir_ready() -> str:
    """Make :data:`ROOT_DIR` (root's, 0700), or refuse one that is anything else (a symlink,
    another owner, other modes): root must not write through it."""
    d = q(ROOT_DIR)
    return (
        f"if [ -L {d} ] || {{ [ -e {d} ] && "
        f"[ \"$(stat -c '%u %g %a %F' -- {d})\" != '0 0 700 directory' ]; }}; then "
        f"echo {q(NOT_ROOTS)} >&2; exit 1; fi; install -d -o root -g root -m 700 -- {d}"
    )


def stage_command(changes_: list[Change]) -> str:
    """Root's staging directory made afresh, each uploaded file (in the step's root-only
    directory, ``$STAGE``) moved into it, then listed with its size."""
    st = staging_dir()
    dirs = " ".join(sorted({q(f"{st}/{c.file.key}") for c in changes_}))
    moves = " && ".join(
        f'install -m 644 -- "{staging.path(upload_name(c.file))}" {q(staged(c.file))}'
        for c in changes_
    )
    return (
        f"{root_dir_ready()} && rm -rf -- {q(st)} && install -d -m 700 -- {q(st)} {dirs} && "
        f"{moves} && cd -- {q(st)} && stat -c '%n: %s bytes' -- */*"
    )


def sed_replace(old: str, new: str) -> str:
    """A sed ``s###g`` expression replacing the literal text ``old`` by ``new`` (for q())."""
    pattern = "".join("\\" + c if c in "\\#.*[]^$" else c for c in old)
    replacement = "".join("\\" + c if c in "\\#&" else c for c in new)
    return f"s#{pattern}#{replacement}#g"


def validate_nginx(f: ConfigFile, s: Settings) -> str:
    """``nginx -t`` of a copy of the whole nginx tree with the staged site in place."""
    root = nginx_dir(s)
    tree = f"{staging_dir()}/nginx-tree"
    site = PurePosixPath(f.dest)
    link, disabled = nginx_links(s, f.dest)
    rel = site.relative_to(root) if site.is_relative_to(root) else PurePosixPath(site.name)
    enabled = f"{tree}/{PurePosixPath(link).relative_to(root)}" if link else ""
    removals = " ".join(q(f"{tree}/{PurePosixPath(p).relative_to(root)}") for p in disabled)
    to_tree, from_tree = (
        q(sed_replace(f"{root}/", f"{tree}/")),
        q(sed_replace(f"{tree}/", f"{root}/")),
    )
    return (
        f"command -v nginx >/dev/null || {{ echo 'nginx가 설치되어 있지 않습니다 (nginx not installed)' >&2; exit 1; }}; "
        f'T={q(tree)}; rm -rf -- "$T"; trap \'rm -rf -- "$T"\' EXIT; cp -a -- {q(root)} "$T" && '
        f'install -m 644 -- {q(staged(f))} "$T"/{q(str(rel))} && '
        + (f'rm -f -- {q(enabled)} && cp -- "$T"/{q(str(rel))} {q(enabled)} && ' if link else "")
        + (f"rm -f -- {removals} && " if removals else "")
        + f'( cd -- "$T" && find . -type f -exec sed -i -e {to_tree} -- {{}} + ) && '
        f'nginx -t -c "$T/nginx.conf" 2>&1 | sed -e {from_tree}'
    )


def validate_unit(f: ConfigFile, s: Settings) -> str:
    """``systemd-analyze verify``; any message about the unit itself is a failure."""
    path = q(staged(f))
    name = PurePosixPath(f.dest).name
    return (
        f"out=$(systemd-analyze verify -- {path} 2>&1); rc=$?; "
        f'msg=$(printf "%s\\n" "$out" | grep -F -- {q(name)}); '
        f'if [ $rc -ne 0 ] || [ -n "$msg" ]; then echo {q(f"systemd-analyze verify {name}:")} >&2; '
        f'printf "%s\\n" "$out" >&2; exit 1; fi; echo {q(f"{name}: ok")}'
    )


def validate_mysql(f: ConfigFile, s: Settings) -> str:
    """mariadbd/mysqld parses the distribution's config plus the staged file."""
    return (
        "d=$(command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd /usr/sbin/mysqld "
        "2>/dev/null | head -1); "
        '[ -n "$d" ] || { echo "no mariadbd/mysqld on this host" >&2; exit 1; }; '
        f'out=$("$d" --defaults-extra-file={q(staged(f))} --user=mysql --help --verbose 2>&1 >/dev/null); '
        'if printf "%s\\n" "$out" | grep -qiE "\\[ERROR\\]|unknown (variable|option)|Error while setting value"; '
        f'then printf "%s\\n" "$out" >&2; exit 1; fi; echo {q(PurePosixPath(f.dest).name + ": ok")}'
    )


VALIDATORS = {"nginx": validate_nginx, "unit": validate_unit, "mysql": validate_mysql}


def validate_command(changes_: list[Change], s: Settings) -> str:
    return (
        " && ".join(
            f"( {VALIDATORS[c.file.kind](c.file, s)} )" for c in changes_ if c.content_changed
        )
        or "true"
    )


def backup_command(run: RunView, changes_: list[Change]) -> str:
    """Copy every path a push may change to the backup dir (``N.absent`` if it is absent)."""
    b = backup_dir(run)
    parts = [f"install -d -m 700 -- {q(b)}"]
    for i, path in enumerate(_all_paths(changes_, run.s)):
        p = q(path)
        parts.append(
            f"if [ -e {p} ] || [ -L {p} ]; then cp -a -- {p} {q(f'{b}/{i}')}; "
            f"else touch -- {q(f'{b}/{i}.absent')}; fi"
        )
    return "; ".join(parts[:1]) + " && { " + "; ".join(parts[1:]) + "; }"


def restore_command(run: RunView, changes_: list[Change]) -> str:
    b = backup_dir(run)
    parts = []
    for i, path in enumerate(_all_paths(changes_, run.s)):
        p, saved = q(path), q(f"{b}/{i}")
        parts.append(
            f"if [ -e {q(f'{b}/{i}.absent')} ]; then rm -f -- {p}; "
            f"elif [ -e {saved} ] || [ -L {saved} ]; then cp -a -- {saved} {p}.dojangkok-old "
            f"&& mv -fT -- {p}.dojangkok-old {p}; fi"
        )
    return "; ".join(parts) + f"; echo {q(f'복원했습니다: {b}')}"


def install_command(changes_: list[Change], s: Settings) -> str:
    parts = []
    for c in changes_:
        f, d = c.file, q(c.file.dest)
        parts.append(
            f"install -m {f.mode} -o root -g root -- {q(staged(f))} {d}.dojangkok-new "
            f"&& mv -fT -- {d}.dojangkok-new {d}"
        )
        if f.kind == "nginx":
            link, disabled = nginx_links(s, f.dest)
            if link:
                parts.append(
                    f"ln -sfn -- {d} {q(link)}.dojangkok-new "
                    f"&& mv -fT -- {q(link)}.dojangkok-new {q(link)}"
                )
            if disabled:
                parts.append("rm -f -- " + " ".join(q(p) for p in disabled))
    return " && ".join(parts)


def _all_paths(changes_: list[Change], s: Settings) -> list[str]:
    return [p for c in changes_ for p in touched_paths(c.file, s)]


def apply_actions(changes_: list[Change]) -> list[tuple[str, ConfigFile]]:
    """What makes each changed file take effect, in apply order: (action, file)."""
    out: list[tuple[str, ConfigFile]] = []
    units = [c for c in changes_ if c.file.kind == "unit" and c.content_changed]
    if units:
        out.append(("daemon-reload", units[0].file))
    for c in changes_:
        if c.file.kind == "nginx":
            out.append(("reload", c.file))
        elif c.content_changed and c.file.restart:  # a mode-only change needs no restart
            out.append(("restart", c.file))
    return out


def action_command(action: str, f: ConfigFile, s: Settings) -> str:
    if action == "daemon-reload":
        return "systemctl daemon-reload"
    if action == "reload":
        return f"{s.nginx_test_cmd} && {s.nginx_reload_cmd}"
    svc = q(values.unit_name(f.service))
    enable = f"systemctl enable -q {svc} && " if f.kind == "unit" else ""
    return f"{enable}systemctl restart {svc}"


def check_command(f: ConfigFile, s: Settings) -> str:
    """After a reload/restart: is the service serving? (its health check, polled)"""
    app = next((a for a in registry.ORDER if f.key in a.config_keys), None)
    active = shell.poll(f"systemctl is-active --quiet {q(values.unit_name(f.service))}", 10, 2)
    # nothing of the app serves yet (a new host): the service runs, at least
    return active if app is None else app.health_once_serving(s, active)
