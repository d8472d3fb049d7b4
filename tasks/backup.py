"""MySQL backups (manual B3–B4), without the password on any command line.

The password (the .env key named by the ``db_password_env`` setting) travels by SFTP into a
0600 option file that ``mysqldump --defaults-extra-file`` reads and the command deletes.
Backups are gzipped, verified (gzip integrity and mysqldump's "Dump completed" trailer),
kept 0600 and rotated.
"""

from __future__ import annotations

from tasks import shell
from tasks.context import Run, q
from tasks.steps import Kind, Plan, Policy, Step

PREFIX = "backup_"


def backup_file(run: Run) -> str:
    return f"{run.s.backup_dir}/{PREFIX}{run.stamp}.sql.gz"


def option_file(run: Run) -> str:
    return f"{run.s.state_dir}/.my.cnf.{run.stamp}"


def option_text(user: str, password: str) -> str:
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'[client]\nuser="{user}"\npassword="{escaped}"\n'


def dump_command(run: Run) -> str:
    s, out, opt = run.s, q(backup_file(run)), q(option_file(run))
    return (
        f"trap 'rm -f {opt}' EXIT; umask 077; "
        f"mysqldump --defaults-extra-file={opt} --single-transaction --routines --triggers "
        f"{q(s.db_name)} | gzip > {out} || {{ rm -f {out}; exit 1; }}"
    )


def verify_command(run: Run) -> str:
    f = q(backup_file(run))
    return (
        f"ls -la {f} && test -s {f} && gzip -t {f} && "
        f"zcat {f} | tail -n 1 | grep -q 'Dump completed' && "
        + shell.keep_newest(run.s.backup_dir, PREFIX, run.s.backup_keep)
    )


def dump(run: Run) -> str:
    """Upload the option file, then dump (the LOCAL action of step B3)."""
    assert run.runner is not None
    password = run.secrets.require(run.s.db_password_env, "MySQL backup before deploy")
    run.runner.put_text(option_text(run.s.db_user, password), option_file(run), mode="600")
    res = run.runner.sh(dump_command(run))
    if not res.ok:
        raise RuntimeError(res.tail())
    run.notes["backup"] = backup_file(run)
    return backup_file(run)


def steps() -> tuple[Step, Step]:
    return (
        Step("3", "MySQL 백업", "2분", "백업 실패 시 배포 중단", Policy.ABORT, kind=Kind.LOCAL,
             command=dump_command, action=dump,
             added="비밀번호는 명령줄이 아닌 0600 옵션 파일(--defaults-extra-file)로 전달, gzip 압축"),
        Step("4", "백업 파일 확인", "30초", "백업이 온전하지 않으면 배포 중단", Policy.ABORT,
             command=verify_command,
             added="크기만 보지 않고 gzip 무결성과 'Dump completed' 표식까지 확인, 오래된 백업 정리"),
    )  # fmt: skip


def restore_command(run: Run, path: str) -> str:
    opt = q(option_file(run))
    return (
        f"trap 'rm -f {opt}' EXIT; test -s {q(path)} && "
        f"zcat -f {q(path)} | mysql --defaults-extra-file={opt} {q(run.s.db_name)}"
    )


def backup_plan() -> Plan:
    from tasks.common import prepare_step

    prepare = prepare_step(lambda run: [run.s.state_dir, run.s.backup_dir])
    return Plan("backend", "B", "MySQL 백업", "CPU Instance", "약 2분", "0분", (prepare, *steps()))
