"""MySQL backups (manual B3–B4), without the password on any command line.

The password (the .env key named by the ``db_password_env`` setting) travels by SFTP into a
0600 option file that ``mysqldump --defaults-extra-file`` reads and the command deletes.
Backups are gzipped, verified (gzip integrity and mysqldump's "Dump completed" trailer),
kept 0600 and rotated.
"""

from __future__ import annotations

from dataclasses import replace

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
    return f"{check_dump(backup_file(run))} && " + shell.keep_newest(
        run.s.backup_dir, PREFIX, run.s.backup_keep
    )


def with_credentials(run: Run, command: str, why: str) -> None:
    """Upload the 0600 option file ``command`` reads (and deletes), then run it."""
    assert run.runner is not None
    password = run.secrets.require(run.s.db_password_env, why)
    run.runner.put_text(option_text(run.s.db_user, password), option_file(run), mode="600")
    res = run.runner.sh(command)
    if not res.ok:
        raise RuntimeError(res.tail())


def dump(run: Run) -> str:
    """The LOCAL action of step B3."""
    with_credentials(run, dump_command(run), "MySQL backup before deploy")
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


def check_dump(path: str) -> str:
    """A dump is usable: non-empty, intact gzip, and mysqldump's last line says it finished."""
    f = q(path)
    return f"ls -la {f} && test -s {f} && gzip -t {f} && zcat {f} | tail -n 1 | grep -q 'Dump completed'"


def restore_source(run: Run) -> str:
    return run.notes.get("restore_from", "<복원할 백업 파일>")


def restore_command(run: Run) -> str:
    opt, src = q(option_file(run)), q(restore_source(run))
    return (
        f"trap 'rm -f {opt}' EXIT; "
        f"zcat {src} | mysql --defaults-extra-file={opt} {q(run.s.db_name)}"
    )


def restore(run: Run) -> str:
    """The LOCAL action of the restore step: load the dump."""
    with_credentials(run, restore_command(run), "MySQL restore")
    return f"{restore_source(run)} → {run.s.db_name}"


def backup_plan() -> Plan:
    from tasks.common import prepare_step

    prepare = prepare_step(lambda run: [run.s.state_dir, run.s.backup_dir])
    return Plan("backend", "B", "MySQL 백업", "CPU Instance", "약 2분", "0분", (prepare, *steps()))


def restore_plan() -> Plan:
    """The manual's "(필요 시) DB 복원", with a safety backup of the current data first."""
    from tasks.common import prepare_step

    dump, verify = steps()
    plan = (
        prepare_step(lambda run: [run.s.state_dir, run.s.backup_dir]),
        Step("D1", "복원할 백업 확인", "10초", "다른 백업 파일 지정 (--backup)", Policy.ABORT,
             command=lambda run: check_dump(restore_source(run))),
        replace(dump, number="D2", title="현재 DB 백업 (복원 전 안전장치)",
                on_failure="백업 실패 시 복원 중단",
                added="복원이 지우는 현재 데이터를 먼저 백업한다: 복원도 되돌릴 수 있다"),
        # no rotation here: it could delete the very dump about to be restored
        replace(verify, number="D3", on_failure="백업이 온전하지 않으면 복원 중단",
                command=lambda run: check_dump(backup_file(run))),
        Step("D4", "DB 복원", "2분", "D2의 백업으로 다시 복원 (`--backup`)", Policy.ABORT,
             kind=Kind.LOCAL, command=restore_command, action=restore),
    )  # fmt: skip
    return Plan("backend", "B", "MySQL 복원", "CPU Instance", "약 5분", "0분", plan)
