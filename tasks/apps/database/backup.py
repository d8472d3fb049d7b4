"""MySQL backups (manual B3–B4) and the manual's "(필요 시) DB 복원", password never in argv.

Backups run as the deploy login with their own database account (``db_backup_user``, the
.env key ``db_backup_password_env``), which `fab setup` makes with only what mysqldump
needs, on ``db_name`` only (:func:`backup_account_sql`): the database admin's password
(``db_password_env``, root's) never reaches the deploy login. The account's password is
uploaded into a 0600 option file (the step's upload) that ``mysqldump
--defaults-extra-file`` reads and the command deletes. Backups are gzipped, verified (gzip
integrity and mysqldump's "Dump completed" trailer), kept 0600 and rotated.

A restore replaces tables, views and triggers: it needs the admin account. Its one root step
(D4) runs over ``admin_user``'s login, like setup's (tasks/hosts/connect.py admin_steps), with
the admin's option file its upload; the dump itself is read with the deploy login's rights
(``runuser``), since the deploy login owns the backup directory, and the mysql client takes
it as SQL alone (:data:`RESTORE_CLIENT`: a dump the deploy login planted runs no command and
reads no file as root; its SQL still runs as the database admin).
"""

from __future__ import annotations

from dataclasses import replace

from tasks import shell
from tasks.apps.common import prepare_step
from tasks.engine import safepath, staging
from tasks.engine.steps import Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.onhost.policy import Policy
from tasks.shell import q

PREFIX = "backup_"


def backup_file(v: RunView) -> str:
    return f"{v.s.backup_dir}/{PREFIX}{v.run_id}.sql.gz"


def option_file(v: RunView) -> str:
    return f"{v.s.state_dir}/.my.cnf.{v.run_id}"


def option_text(user: str, password: str | None) -> str:
    """A MySQL client option file; without a password: the socket's own authentication."""
    user = _option_value(user)
    if password is None:
        return f'[client]\nuser="{user}"\n'
    return f'[client]\nuser="{user}"\npassword="{_option_value(password)}"\n'


def _option_value(value: str) -> str:
    """A double-quoted option file value: backslashes and quotes escaped, one line."""
    if any(c in value for c in "\n\r\0"):
        raise ConfigError("MySQL 사용자 이름이나 비밀번호에 줄바꿈이 들어 있습니다",
                          "줄바꿈을 지우십시오 (옵션 파일에 다른 옵션을 끼워 넣게 됩니다)")  # fmt: skip
    return value.replace("\\", "\\\\").replace('"', '\\"')


def credentials(v: RunView) -> tuple[Upload, ...]:
    """The backup account's 0600 option file the dump reads (and deletes)."""
    user, key = v.s.db_backup_user, v.s.db_backup_password_env
    return (
        Upload(option_file(v), "600", f"MySQL 백업 계정 ({user}, .env의 {key})",
               lambda secrets: option_text(user, secrets.require(key, "MySQL 백업"))),
    )  # fmt: skip


def admin_option_file() -> str:
    """Where the restore's admin option file lands: its root step's own root-only directory
    (tasks/engine/staging.py), never a place the deploy login can read or swap."""
    return staging.path("db-admin.cnf")


def admin_credentials(v: RunView) -> tuple[Upload, ...]:
    """The admin's 0600 option file a restore reads: a root step's upload."""
    user, key = v.s.db_user, v.s.db_password_env
    return (
        Upload(admin_option_file(), "600", f"MySQL 관리자 ({user}, .env의 {key})",
               lambda secrets: option_text(user, secrets.require(key, "MySQL 복원"))),
    )  # fmt: skip


def dump_command(v: RunView) -> str:
    out = q(backup_file(v))
    return (
        f"""opt={q(option_file(v))}; trap 'rm -f -- "$opt"' EXIT; umask 077; """
        'mysqldump --defaults-extra-file="$opt" --single-transaction --routines --triggers '
        f"--no-tablespaces -- {q(v.s.db_name)} | gzip > {out} || {{ rm -f -- {out}; exit 1; }}"
    )


def check_dump(path: str) -> str:
    """A dump is usable: non-empty, intact gzip, and mysqldump's last line says it finished."""
    f = q(path)
    return (
        f"ls -la -- {f} && test -s {f} && gzip -t -- {f} "
        f"&& zcat -- {f} | tail -n 1 | grep -q 'Dump completed'"
    )


def verify_command(v: RunView) -> str:
    return f"{check_dump(backup_file(v))} && " + shell.keep_newest(
        v.s.backup_dir, PREFIX, v.s.backup_keep
    )


def steps() -> tuple[Step, Step]:
    return (
        Step("3", "MySQL 백업", "2분", "백업 실패 시 배포 중단", Policy.ABORT,
             uploads=credentials, command=dump_command,
             added="백업 전용 계정(db_backup_user: 덤프에 필요한 권한만)으로; 비밀번호는 명령줄이 아닌 "
                   "0600 옵션 파일(--defaults-extra-file)로 전달, gzip 압축"),
        Step("4", "백업 파일 확인", "30초", "백업이 온전하지 않으면 배포 중단", Policy.ABORT,
             command=verify_command,
             added="크기만 보지 않고 gzip 무결성과 'Dump completed' 표식까지 확인, 오래된 백업 정리"),
    )  # fmt: skip


def restore_source(v: RunView) -> str:
    return v.restore_from or "<복원할 백업 파일>"


#: the mysql client, run as root on a dump the deploy login could have written: it reads
#: the dump as SQL and nothing else. ``--binary-mode``: no client command but ``\C`` and
#: ``DELIMITER`` (a ``\! cmd`` or ``system cmd`` line would run a shell as root; ``source``,
#: ``tee`` and ``pager`` would read or write root's files); ``--local-infile=0``: no
#: ``LOAD DATA LOCAL INFILE`` (the client, root, would read a root-only file into a table
#: the deploy login reads)
RESTORE_CLIENT = "--binary-mode --local-infile=0"


def restore_command(v: RunView) -> str:
    """As root (the admin's login): the dump read with the deploy login's rights (it owns
    the backup directory), loaded with the admin's option file by a client that takes it
    as SQL alone (:data:`RESTORE_CLIENT`)."""
    read = safepath.as_login(v.login, f"cat -- {q(restore_source(v))}")
    return (
        f'opt="{admin_option_file()}"; set -o pipefail; {read} | gzip -dc '
        f'| mysql --defaults-extra-file="$opt" {RESTORE_CLIENT} -- {q(v.s.db_name)}'
    )


def _dirs(v: RunView) -> list[str]:
    return [v.s.state_dir]


def _private(v: RunView) -> list[str]:
    return [v.s.backup_dir]  # the dumps: 0700, as setup makes it


def backup_plan(view: RunView | None = None) -> Plan:
    return Plan("database", "B", "MySQL 백업", "CPU Instance", "약 2분", "0분",
                (prepare_step(_dirs, _private), *steps()))  # fmt: skip


def restore_plan(view: RunView | None = None) -> Plan:
    """The manual's "(필요 시) DB 복원", with a safety backup of the current data first."""
    dump, verify = steps()
    plan = (
        prepare_step(_dirs, _private),
        Step("D1", "복원할 백업 확인", "10초", "다른 백업 파일 지정 (--backup)", Policy.ABORT,
             command=lambda v: check_dump(restore_source(v))),
        replace(dump, number="D2", title="현재 DB 백업 (복원 전 안전장치)",
                on_failure="백업 실패 시 복원 중단",
                added="복원이 지우는 현재 데이터를 먼저 백업한다: 복원도 되돌릴 수 있다"),
        # no rotation here: it could delete the very dump about to be restored
        replace(verify, number="D3", on_failure="백업이 온전하지 않으면 복원 중단",
                command=lambda v: check_dump(backup_file(v))),
        Step("D4", "DB 복원", "2분", "D2의 백업으로 다시 복원 (`--backup`)", Policy.ABORT,
             uploads=admin_credentials, command=restore_command, sudo=True,
             added="관리자 계정이 필요한 유일한 단계: admin_user로 로그인해 root로 실행, 백업 "
                   "파일은 배포 계정의 권한으로 읽는다 (백업 디렉터리는 배포 계정 것)"),
    )  # fmt: skip
    return Plan("database", "B", "MySQL 복원", "CPU Instance", "약 5분", "0분", plan)
