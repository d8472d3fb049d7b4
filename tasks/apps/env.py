"""Each app's .env, written by `fab setup` from the operator's side, and who may read it.

Keys come from the app's own ``.env.example`` (in its checkout, at the deployed revision);
values from the inventory (``<component>_env``: the values that are no secret) and, for a
value written ``${NAME}``, from the operator's .env (secrets: they reach the host only in a
0600 upload, never on a command line). The candidate values are uploaded; the command on the
host keeps exactly the keys of .env.example, in its order, and names every key without a
value (then nothing is written). The file is replaced only when it differs (the old one is
kept as ``<checkout>/.env.bak.<run id>``, 0600). The deploy login writes it: no root step
reads or writes a .env (tasks/engine/safepath.py says why).

Where it is. A service's unit reads it as root (systemd's ``EnvironmentFile=``, before it
drops privileges), and follows links: in a directory the deploy login owns, a link there to
a root-only KEY=VALUE file would hand that file's values to the app, i.e. to the deploy
login. So a service's .env is :func:`system_path` (``<env_dir>/<component>.env``, by default
``/etc/dojangkok/env/backend.env``):
the directory is root's (setup makes it, and the file in it: tasks/setup/setup.py), so
the deploy login can change what the file says but not what the name points at. The
checkout's ``.env`` (and ``shared/.env`` of the release strategy) is a link to it, so the app
that reads its own .env (python-dotenv, in its working directory), the manual's
``diff .env .env.example`` and an operator's editor (editing through the link) find it where
they did. The frontend has no service: its .env stays a file in the checkout, read at build.

Ownership, the one scheme for every app's .env (setup and every deploy apply it):
  owner = the login user (who deploys; the manual's "누락 시 추가" edits it),
  group = the service's group (the app reads its own .env, e.g. python-dotenv, and runs
          as the service user with PrivateUsers=yes: only its own group maps inside),
  mode  = 0640 (no one else). The frontend's group is the login user's own.
"""

from __future__ import annotations

import re

from tasks.apps import registry
from tasks.apps.base import AppEnv, system_env_path
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import ch, tracked
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.shell import q

MODE = "640"
SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")
KEYS = (
    "keys() { sed -n 's/^[[:space:]]*\\(export[[:space:]]*\\)\\{0,1\\}"
    "\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\2/p' -- \"$1\" | awk '!seen[$0]++'; }"
)


system_path = system_env_path  # the .env a service's unit reads (tasks/apps/base.py)


def of(component: str, s: Settings) -> AppEnv:
    """The .env of the app named ``component`` (its App says: tasks/apps/<app>/)."""
    return registry.get(component).env(s)


def secret_keys(app: AppEnv) -> list[str]:
    """The operator's .env keys this app's values name (``${NAME}``)."""
    return [m.group(1) for v in app.values.values() if (m := SECRET_REF.match(str(v)))]


def encode(key: str, value: str, component: str) -> str:
    """One .env line that systemd's EnvironmentFile= and python-dotenv read the same way."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ConfigError(
            f"{component}_env: {key!r}는 .env 키로 쓸 수 없습니다",
            "키는 영문자, 숫자, _로 쓰고 숫자로 시작하지 마십시오",
        )
    if PLAIN.match(value):
        return f"{key}={value}"
    if "'" in value or "\n" in value or "\r" in value:
        raise ConfigError(
            f"{key}의 값({component} .env)에 작은따옴표나 줄바꿈이 들어 있습니다",
            "systemd와 python-dotenv가 이 값을 서로 다르게 읽습니다. 다른 값을 쓰십시오",
        )
    return f"{key}='{value}'"  # single quotes: no $ expansion, no escapes, in both readers


def candidates(app: AppEnv, secrets: Secrets) -> str:
    """The uploaded candidate lines (every configured key; the host keeps the example's)."""
    lines = []
    for key, raw in app.values.items():
        m = SECRET_REF.match(str(raw))
        value = secrets.require(m.group(1), f"{app.component} .env {key}") if m else str(raw)
        lines.append(encode(key, value, app.component))
    return "".join(f"{line}\n" for line in lines)


def candidates_file(v: RunView, component: str) -> str:
    return f"{v.s.state_dir}/.setup-env.{component}.{v.run_id}"


#: a deploy's .env check runs as the deploy login itself
SELF = '"$(id -un)"'


def group_expr(app: AppEnv, owner: str) -> str:
    return q(app.group) if app.group else f'"$(id -gn -- {owner})"'


def ownership(app: AppEnv, owner: str) -> str:
    """Owner, group and mode of an existing .env as the scheme says (ch when fixed);
    ``owner``: the deploy login as a shell word."""
    e = q(app.path)
    return (
        f'o={owner}; g={group_expr(app, "$o")}; if [ -f {e} ] && [ ! -L {e} ] && [ "$(stat -c "%U:%G %a" -- {e})" != '
        f'"$o:$g {MODE}" ]; then chown -- "$o:$g" {e} && chmod {MODE} -- {e} '
        f"&& {ch(f'{app.env_file} owner/mode')}; fi"
    )


def write_command(v: RunView, app: AppEnv, shared: str = "") -> str:
    """As the deploy login: the .env from .env.example's keys and the uploaded candidates.

    What the app had is the file at the checkout's .env (a hand-made one, or the one an
    earlier version of this tool wrote there), else the file itself; a link there is never
    read. A service's file is written in place (its directory is root's), then the checkout's
    .env (and ``shared``'s, the release strategy's, when that directory exists) becomes a
    link to it; a file found there is kept as ``.env.bak.<run id>``."""
    cand, env, ex, link = (q(candidates_file(v, app.component)), q(app.path), q(app.example),
                           q(app.link))  # fmt: skip
    backup = q(f"{app.link}.bak.{v.run_id}")
    kept = f"echo {q(f'no {app.example}: {app.env_file} kept')}"
    had = (  # what the app had: never read through a link
        f"old=; if [ -f {link} ] && [ ! -L {link} ]; then old={link}; "
        + (f"elif [ -s {env} ]; then old={env}; " if app.service else "")
        + "fi; write=1; "
    )
    keep = (
        f'if [ -n "$old" ]; then cat -- "$old" > "$new"; fi; {kept}; '
        if app.service
        else f'if [ -n "$old" ]; then cat -- "$old" > "$new"; {kept}; else write=; '
        f"echo {q(f'no {app.example}: no {app.env_file} needed')}; fi; "
    )
    write = (
        f'cat -- "$new" > {env}'  # in place: the file is root-made, in root's directory
        if app.service
        else f'install -m {MODE} -- "$new" {q(app.link + ".new")} && mv -fT -- {q(app.link + ".new")} {env}'
    )
    secret = '(인벤토리)에 적으십시오. 비밀값은 "${NAME}"으로 적고 NAME을 .env에 두십시오'
    body = (
        f'cand={cand}; new=$(mktemp); trap \'rm -f -- "$cand" "$new"\' EXIT; umask 077; {KEYS}; '
        f"cd -- {q(app.checkout)}; {had}"
        f"if [ ! -f {ex} ]; then {keep}else missing=; "
        f'for k in $(keys {ex}); do line=$(grep -m1 "^$k=" "$cand") || {{ missing="$missing $k"; continue; }}; '
        'printf \'%s\\n\' "$line" >> "$new"; done; '
        f'if [ -n "$missing" ]; then echo {q(f"{app.example}의 다음 키에 값이 없습니다 (needs a value for):")}"$missing"'
        f"{q(f'. {app.component}_env{secret}')} >&2; exit 1; fi; fi; "
        'if [ -n "$write" ]; then '
        f'if [ -s "$old" ] && ! cmp -s -- "$new" "$old"; then cat -- "$old" > {backup}; fi; '
        f'if [ -L {env} ] || ! cmp -s -- "$new" {env}; then {write}; {ch(f"{app.env_file} ({app.example}의 키)")}; fi; fi; '
        + (f"{linked(app, app.checkout, v.run_id, keep=False)}; " if app.service else "")
        + (f"{linked(app, shared, v.run_id)}; " if app.service and shared else "")
        + ownership(app, SELF)
    )
    return tracked(body)


def linked(app: AppEnv, directory: str, run_id: str, say=ch, keep: bool = True) -> str:
    """As the deploy login: ``<directory>/<env_file>`` is a link to the service's .env; a
    file found there is kept as ``.env.bak.<run id>`` (0600; ``keep=False``: removed, its
    content already taken over); a missing directory is left alone. ``say``: how the change
    is told (``ch`` in a tracked command)."""
    d, at = q(directory), q(f"{directory}/{app.env_file}")
    bak = q(f"{directory}/{app.env_file}.bak.{run_id}")
    old = f"mv -f -- {at} {bak} && chmod 600 -- {bak}" if keep else f"rm -f -- {at}"
    return (
        f'if [ -d {d} ] && [ "x$(readlink -- {at})" != {q("x" + app.path)} ]; then '
        f"if [ -f {at} ] && [ ! -L {at} ]; then {old}; fi; "
        f"ln -sfn -- {q(app.path)} {at}; {say(f'{directory}/{app.env_file} → {app.path}')}; fi"
    )


def mode_command(app: AppEnv) -> str:
    """Every deploy: the .env's owner, group and mode as the scheme says, checked (and set)
    by the deploy login: it owns the file and is in the service's group (setup)."""
    return tracked(ownership(app, SELF), f"{app.path} {MODE}")
