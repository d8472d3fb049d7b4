"""`fab -H cpu setup` / `fab -H gpu setup`: a host from bare Debian/Ubuntu (packages installed).

Service accounts, directories with their owners and modes, the swap file, the database and
its application account (cpu), then the config (tasks/config/). Every step is idempotent:
a second run changes nothing. Passwords travel in 0600 files by SFTP, never on a command line.
"""

from __future__ import annotations

from tasks import components
from tasks.engine.policy import Policy
from tasks.engine.steps import Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.hosts import validate
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings
from tasks.procedures.backup import option_text
from tasks.procedures.common import prepare_step
from tasks.shell import q

#: the login user (who runs the deploys: git pull, builds) owns the code and the web root
LOGIN = '"$SUDO_USER"'


def roles(host: Host) -> set[str]:
    return components.roles(host.groups, host.alias) or set(components.GROUPS)


def service_users(s: Settings, host_roles: set[str]) -> list[str]:
    return ([s.backend_user] if "cpu" in host_roles else []) + (
        [s.ai_user] if "gpu" in host_roles else []
    )


def users_command(users: list[str]) -> str:
    """System accounts without a login shell or home, one group each; existing ones stay."""
    parts = []
    for u in users:
        u = validate.user_name(u, "service user")
        parts.append(
            f"if id -u {q(u)} >/dev/null 2>&1; then echo {q(f'user {u}: exists')}; else "
            f"useradd --system --user-group --no-create-home --home-dir /nonexistent "
            f"--shell /usr/sbin/nologin {q(u)} && echo {q(f'user {u}: created')}; fi"
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
        f"install -d -m {mode} -o {owner} -- {q(path)}"
        for path, mode, owner in directories(s, host_roles)
    ]
    if "cpu" in host_roles:  # the backend's secrets: systemd (root) reads the EnvironmentFile
        env = q(f"{s.backend_dir}/{s.backend_env_file}")
        parts.append(f"if [ -f {env} ]; then chmod 600 -- {env}; chown {LOGIN} -- {env}; fi")
    return " && ".join(parts) + " && echo ok"


SWAP_SKIPPED = "swap: swapon is not permitted in a container"


def swap_command(s: Settings) -> str:
    """Create, enable and register the swap file; skip (exit 0) where swapon is not allowed."""
    f, name = q(s.swap_file), s.swap_file
    fstab_line = q(f"{name} none swap sw 0 0")
    register = (
        f'f={f} awk \'$1 == ENVIRON["f"] && $3 == "swap" {{ found = 1 }} END {{ exit !found }}\' '
        f"/etc/fstab || echo {fstab_line} >> /etc/fstab"
    )
    return (
        f"bytes=$(numfmt --from=iec -- {q(s.swap_size)}) || exit 1; "
        f"if swapon --show=NAME --noheadings | grep -qxF -- {f}; then {register}; "
        f"echo {q(f'swap {name}: already on')}; exit 0; fi; "
        f'if [ ! -f {f} ] || [ "$(stat -c %s -- {f})" != "$bytes" ]; then rm -f -- {f}; '
        f'fallocate -l "$bytes" -- {f} 2>/dev/null '
        f"|| dd if=/dev/zero of={f} bs=1M count=$((bytes / 1048576)) status=none || exit 1; "
        f"chmod 600 -- {f}; mkswap -- {f} >/dev/null || exit 1; fi; chmod 600 -- {f}; "
        f"if out=$(swapon -- {f} 2>&1); then {register}; echo {q(f'swap {name}: on ({s.swap_size})')}; "
        "elif virt=$(systemd-detect-virt --container); then "
        f'echo "{SWAP_SKIPPED} ($virt): skipped; "{q(name)}" is ready but not on ($out)"; '
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


def sql_file(v: RunView) -> str:
    return f"{v.s.state_dir}/.setup-db.{v.run_id}.sql"


def option_file(v: RunView) -> str:
    return f"{v.s.state_dir}/.setup-db.{v.run_id}.cnf"


def database_uploads(v: RunView) -> tuple[Upload, ...]:
    """The SQL (with the app's password) and the root option file, both 0600."""
    s = v.s

    def sql(secrets) -> str:
        password = secrets.require(s.db_app_password_env, "the app's database account")
        return database_sql(s.db_name, s.db_app_user, password)

    return (
        Upload(sql_file(v), "600", f"DB와 앱 계정 SQL (.env의 {s.db_app_password_env})", sql),
        # without a root password in .env: root by the unix socket (the command runs as root)
        Upload(option_file(v), "600", f"MySQL 접속 정보 ({s.db_user})",
               lambda secrets: option_text(s.db_user, secrets.get(s.db_password_env))),
    )  # fmt: skip


def database_command(v: RunView) -> str:
    done = f"database {v.s.db_name}, account {v.s.db_app_user}@localhost: ok"
    return (
        f"sql={q(sql_file(v))}; opt={q(option_file(v))}; "
        """trap 'rm -f -- "$sql" "$opt"' EXIT; """
        f'mysql --defaults-extra-file="$opt" < "$sql" && echo {q(done)}'
    )


def plan(view: RunView) -> Plan:
    r = roles(view.host)
    steps = [
        prepare_step(lambda v: [v.s.state_dir]),
        Step("1", "서비스 계정 생성", "1초", "계정 생성 실패 시 중단", Policy.ABORT,
             command=lambda v: users_command(service_users(v.s, r)), sudo=True),
        Step("2", "디렉터리 생성 (소유자·권한)", "1초", "권한 확인", Policy.ABORT,
             command=lambda v: directories_command(v.s, r), sudo=True),
        Step("3", "스왑 파일", "30초", "디스크 공간 확인", Policy.ABORT,
             command=lambda v: swap_command(v.s), sudo=True,
             skip_if=lambda v: None if v.s.swap_size else "swap_size가 비어 있음"),
    ]  # fmt: skip
    if "cpu" in r:
        steps.append(
            Step("4", "데이터베이스와 앱 계정", "5초", "MariaDB 상태 확인", Policy.ABORT,
                 uploads=database_uploads, command=database_command, sudo=True,
                 added="비밀번호는 명령줄이 아닌 0600 파일(SQL, --defaults-extra-file)로 전달")
        )  # fmt: skip
    where = "CPU Instance" if "cpu" in r else "GPU Instance"
    return Plan("setup", "S", "서버 준비 (setup)", where, "1분", "0분", tuple(steps))
