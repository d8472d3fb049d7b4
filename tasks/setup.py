"""`fab -H cpu setup` / `fab -H gpu setup`: a host from bare Debian/Ubuntu (packages installed).

Service accounts, directories with their owners and modes, the swap file, the database and
its application account (cpu), then the config (tasks/config.py). Every step is idempotent:
a second run changes nothing. Passwords travel in 0600 files by SFTP, never on a command line.
"""

from __future__ import annotations

from tasks.common import prepare_step
from tasks.context import Run, q
from tasks.inventory import Host
from tasks.settings import Settings
from tasks.steps import Kind, Plan, Policy, Step

#: the login user (who runs the deploys: git pull, builds) owns the code and the web root
LOGIN = '"$SUDO_USER"'


def roles(host: Host) -> set[str]:
    return ({"cpu", "gpu"} & (set(host.groups) | {host.alias})) or {"cpu", "gpu"}


def service_users(s: Settings, host_roles: set[str]) -> list[str]:
    return ([s.backend_user] if "cpu" in host_roles else []) + (
        [s.ai_user] if "gpu" in host_roles else []
    )


def users_command(users: list[str]) -> str:
    """System accounts without a login shell or home, one group each; existing ones stay."""
    parts = []
    for u in users:
        parts.append(
            f"if id -u {q(u)} >/dev/null 2>&1; then echo 'user {u}: exists'; else "
            f"useradd --system --user-group --no-create-home --home-dir /nonexistent "
            f"--shell /usr/sbin/nologin {q(u)} && echo 'user {u}: created'; fi"
        )
    return " && ".join(parts) or "true"


def directories(s: Settings, host_roles: set[str]) -> list[tuple[str, str, str]]:
    """(path, mode, owner) for every directory the deploys and services use."""
    dirs = [(s.state_dir, "755", LOGIN)]
    if "cpu" in host_roles:
        dirs += [
            (s.frontend_dir, "755", LOGIN),
            (s.backend_dir, "755", LOGIN),
            (s.web_root, "755", LOGIN),
            (s.frontend_backup_dir, "755", LOGIN),
            (s.backup_dir, "700", LOGIN),  # database dumps
        ]
    if "gpu" in host_roles:
        dirs.append((s.ai_dir, "755", LOGIN))
    return dirs


def directories_command(s: Settings, host_roles: set[str]) -> str:
    parts = [
        f"install -d -m {mode} -o {owner} {q(path)}"
        for path, mode, owner in directories(s, host_roles)
    ]
    if "cpu" in host_roles:  # the backend's secrets: systemd (root) reads the EnvironmentFile
        env = q(f"{s.backend_dir}/{s.backend_env_file}")
        parts.append(f"if [ -f {env} ]; then chmod 600 {env}; chown {LOGIN} {env}; fi")
    return " && ".join(parts) + " && echo ok"


SWAP_SKIPPED = "swap: swapon is not permitted in a container"


def swap_command(s: Settings) -> str:
    """Create, enable and register the swap file; skip (exit 0) where swapon is not allowed."""
    f, name = q(s.swap_file), s.swap_file
    fstab_line = q(f"{name} none swap sw 0 0")
    register = (
        f"awk -v f={f} '$1 == f && $3 == \"swap\" {{ found = 1 }} END {{ exit !found }}' /etc/fstab "
        f"|| echo {fstab_line} >> /etc/fstab"
    )
    return (
        f"bytes=$(numfmt --from=iec {q(s.swap_size)}) || exit 1; "
        f"if swapon --show=NAME --noheadings | grep -qxF {f}; then {register}; "
        f"echo {q(f'swap {name}: already on')}; exit 0; fi; "
        f'if [ ! -f {f} ] || [ "$(stat -c %s {f})" != "$bytes" ]; then rm -f {f}; '
        f'fallocate -l "$bytes" {f} 2>/dev/null '
        f"|| dd if=/dev/zero of={f} bs=1M count=$((bytes / 1048576)) status=none || exit 1; "
        f"chmod 600 {f}; mkswap {f} >/dev/null || exit 1; fi; chmod 600 {f}; "
        f"if out=$(swapon {f} 2>&1); then {register}; echo {q(f'swap {name}: on ({s.swap_size})')}; "
        "elif virt=$(systemd-detect-virt --container); then "
        f'echo "{SWAP_SKIPPED} ($virt): skipped; {name} is ready but not on ($out)"; '
        'else echo "$out" >&2; exit 1; fi'
    )


# --- database ----------------------------------------------------------------------------
def _sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sql_name(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


def database_sql(db: str, user: str, password: str) -> str:
    """The database and its app account (the password is kept in step with .env)."""
    account = f"{_sql_string(user)}@'localhost'"
    return (
        f"CREATE DATABASE IF NOT EXISTS {_sql_name(db)} "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"ALTER USER {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"GRANT ALL PRIVILEGES ON {_sql_name(db)}.* TO {account};\n"
        "FLUSH PRIVILEGES;\n"
    )


def sql_file(run: Run) -> str:
    return f"{run.s.state_dir}/.setup-db.{run.stamp}.sql"


def option_file(run: Run) -> str:
    return f"{run.s.state_dir}/.setup-db.{run.stamp}.cnf"


def database_command(run: Run) -> str:
    sql, opt = q(sql_file(run)), q(option_file(run))
    return (
        f"trap 'rm -f {sql} {opt}' EXIT; "
        f"mysql --defaults-extra-file={opt} < {sql} && echo 'database {run.s.db_name}, "
        f"account {run.s.db_app_user}@localhost: ok'"
    )


def database(run: Run) -> str:
    """LOCAL action: upload the SQL and the root option file (0600), run them, delete them."""
    from tasks.backup import option_text

    assert run.runner is not None
    s = run.s
    password = run.secrets.require(s.db_app_password_env, "the app's database account")
    run.runner.put_text(database_sql(s.db_name, s.db_app_user, password), sql_file(run), "600")
    root = run.secrets.get(s.db_password_env)  # absent: root by unix socket (sudo)
    opt = option_text(s.db_user, root) if root else f'[client]\nuser="{s.db_user}"\n'
    run.runner.put_text(opt, option_file(run), "600")
    res = run.runner.sh(database_command(run), sudo=True)
    if not res.ok:
        raise RuntimeError(res.tail())
    return res.stdout.strip()


def shown(command):
    """A LOCAL action that runs ``command(settings)`` as root and reports what it printed."""

    def action(run: Run) -> str:
        assert run.runner is not None
        res = run.runner.sh(command(run.s), sudo=True)
        if not res.ok:
            raise RuntimeError(res.tail())
        return res.stdout.strip().replace("\n", "; ")

    return action


def plan(host: Host) -> Plan:
    r = roles(host)
    steps = [
        prepare_step(lambda run: [run.s.state_dir]),
        Step("1", "서비스 계정 생성", "1초", "계정 생성 실패 시 중단", Policy.ABORT,
             command=lambda run: users_command(service_users(run.s, r)), sudo=True),
        Step("2", "디렉터리 생성 (소유자·권한)", "1초", "권한 확인", Policy.ABORT,
             command=lambda run: directories_command(run.s, r), sudo=True),
        Step("3", "스왑 파일", "30초", "디스크 공간 확인", Policy.ABORT, kind=Kind.LOCAL,
             command=lambda run: swap_command(run.s), action=shown(swap_command),
             skip_if=lambda run: None if run.s.swap_size else "swap_size가 비어 있음"),
    ]  # fmt: skip
    if "cpu" in r:
        steps.append(
            Step("4", "데이터베이스와 앱 계정", "5초", "MariaDB 상태 확인", Policy.ABORT,
                 kind=Kind.LOCAL, action=database, command=database_command,
                 added="비밀번호는 명령줄이 아닌 0600 파일(SQL, --defaults-extra-file)로 전달")
        )  # fmt: skip
    where = "CPU Instance" if "cpu" in r else "GPU Instance"
    return Plan("setup", "S", "서버 준비 (setup)", where, "1분", "0분", tuple(steps))
