"""Each app's .env, written by `fab setup` from the operator's side, and who may read it.

Keys come from the app's own ``.env.example`` (in its checkout, at the deployed revision);
values from the inventory (``<component>_env``: the values that are no secret) and, for a
value written ``${NAME}``, from the operator's .env (secrets: they reach the host only in a
0600 upload, never on a command line). The candidate values are uploaded; the command on the
host keeps exactly the keys of .env.example, in its order, and names every key without a
value (then nothing is written). The file is replaced only when it differs (the old one is
kept as ``.env.bak.<run id>``, 0600).

Ownership, the one scheme for every app's .env (setup and every deploy apply it):
  owner = the login user (who deploys; the manual's "누락 시 추가" edits it),
  group = the service's group (the app reads its own .env, e.g. python-dotenv, and runs
          as the service user with PrivateUsers=yes: only its own group maps inside),
  mode  = 0640 (no one else). systemd reads EnvironmentFile= as root before dropping
          privileges. The frontend has no service: its group is the login user's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.engine import staging
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hosts.secrets import Secrets
from tasks.hosts.settings import Settings
from tasks.procedures.hostfacts import ch, tracked
from tasks.shell import q

MODE = "640"
SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")
KEYS = (
    "keys() { sed -n 's/^[[:space:]]*\\(export[[:space:]]*\\)\\{0,1\\}"
    "\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\2/p' -- \"$1\" | awk '!seen[$0]++'; }"
)


@dataclass(frozen=True)
class AppEnv:
    component: str
    checkout: str
    env_file: str  # relative to the checkout
    example: str  # relative to the checkout
    values: dict  # the inventory's <component>_env
    group: str  # the service's group ("" = the login user's own group)

    @property
    def path(self) -> str:
        return f"{self.checkout}/{self.env_file}"


def of(component: str, s: Settings) -> AppEnv:
    if component == "frontend":
        return AppEnv("frontend", s.frontend_dir, ".env", ".env.example", s.frontend_env, "")
    if component == "backend":
        return AppEnv("backend", s.backend_dir, s.backend_env_file, s.backend_env_example,
                      s.backend_env, s.backend_user)  # fmt: skip
    return AppEnv("ai", s.ai_dir, s.ai_env_file, ".env.example", s.ai_env, s.ai_user)


def secret_keys(app: AppEnv) -> list[str]:
    """The operator's .env keys this app's values name (``${NAME}``)."""
    return [m.group(1) for v in app.values.values() if (m := SECRET_REF.match(str(v)))]


def encode(key: str, value: str, component: str) -> str:
    """One .env line that systemd's EnvironmentFile= and python-dotenv read the same way."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise ConfigError(f"{component}_env: {key!r} is not a .env key", "use letters, digits, _")
    if PLAIN.match(value):
        return f"{key}={value}"
    if "'" in value or "\n" in value or "\r" in value:
        raise ConfigError(
            f"the value for {key} ({component} .env) holds a quote or a line break",
            "systemd and python-dotenv would read it differently: choose another value",
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
    """Setup's root step reads it in its root-only directory (tasks/engine/staging.py)."""
    return staging.path(f"env.{component}")


#: a deploy's .env check runs as the deploy login itself
SELF = '"$(id -un)"'


def group_expr(app: AppEnv, owner: str) -> str:
    return q(app.group) if app.group else f'"$(id -gn -- {owner})"'


def ownership(app: AppEnv, owner: str) -> str:
    """Owner, group and mode of an existing .env as the scheme says (ch when fixed);
    ``owner``: the deploy login as a shell word."""
    e = q(app.path)
    return (
        f'o={owner}; g={group_expr(app, "$o")}; if [ -f {e} ] && [ "$(stat -c "%U:%G %a" -- {e})" != '
        f'"$o:$g {MODE}" ]; then chown -- "$o:$g" {e} && chmod {MODE} -- {e} '
        f"&& {ch(f'{app.env_file} owner/mode')}; fi"
    )


def write_command(v: RunView, app: AppEnv, needs_file: bool) -> str:
    """As root: build the .env from .env.example's keys and the uploaded candidates."""
    cand, env, ex = f'"{candidates_file(v, app.component)}"', q(app.path), q(app.example)
    backup = q(f"{app.path}.bak.{v.run_id}")
    owner = v.login
    empty = (
        f'install -m {MODE} -o {owner} -g "$g" -- /dev/null {env}; '
        f"{ch(f'empty {app.env_file} (no {app.example})')}"
        if needs_file
        else f"echo {q(f'no {app.example}: no {app.env_file} needed')}"
    )
    body = (
        f'cand={cand}; trap \'rm -f -- "$cand" "$new"\' EXIT; new=$(mktemp); {KEYS}; '
        f"cd -- {q(app.checkout)}; g={group_expr(app, owner)}; "
        f"if [ ! -f {ex} ]; then if [ -f {env} ]; then echo {q(f'no {app.example}: {app.env_file} kept')}; "
        f"else {empty}; fi; else missing=; "
        f'for k in $(keys {ex}); do line=$(grep -m1 "^$k=" "$cand") || {{ missing="$missing $k"; continue; }}; '
        'printf \'%s\\n\' "$line" >> "$new"; done; '
        f'if [ -n "$missing" ]; then echo {q(f"{app.example} needs a value for:")}"$missing"'
        f"{q(f': set it in {app.component}_env (inventory), a secret as ' + chr(34) + '${NAME}' + chr(34) + ' with NAME in .env')} >&2; exit 1; fi; "
        f'if ! cmp -s -- "$new" {env}; then if [ -f {env} ]; then install -m 600 -o {owner} -- {env} {backup}; fi; '
        f'install -m {MODE} -o {owner} -g "$g" -- "$new" {env}; {ch(f"{app.env_file} ({app.example}의 키)")}; fi; fi; '
        + ownership(app, owner)
    )
    return tracked(body)


def mode_command(app: AppEnv) -> str:
    """Every deploy: the .env's owner, group and mode as the scheme says, checked (and set)
    by the deploy login: it owns the file and is in the service's group (setup)."""
    return tracked(ownership(app, SELF), f"{app.env_file} {MODE}")
