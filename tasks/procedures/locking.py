"""`fab lock-status` and `fab unlock`: look at, and (after asking) break, a host's deploy lock."""

from __future__ import annotations

from tasks.engine import lock as locks
from tasks.engine.checklist import ask
from tasks.engine.console import Console
from tasks.errors import ConfigError
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets


def _read(remote, host: Host) -> tuple[bool, locks.LockInfo | None]:
    res = remote.run(locks.read_command(host.settings))
    if not res.ok:
        raise ConfigError(
            f"{host.alias}의 배포 잠금을 읽지 못했습니다 ({res.tail(3)})",
            "배포 계정이 state_dir을 읽을 수 있는지 확인하십시오 (설정 전이라면 먼저 setup)",
        )
    return locks.parse(res.stdout)


def lock_status(host: Host, secrets: Secrets, console: Console, connect_host=connect) -> bool:
    """Prints the holder; returns whether the host is locked."""
    remote = connect_host(host, secrets)
    try:
        locked, holder = _read(remote, host)
    finally:
        remote.close()
    if not locked:
        console.out(f"{host.alias}: 잠금 없음 (free)")
        return False
    stale = host.settings.lock_stale_after
    what = holder.describe(stale) if holder else "잠겨 있지만 info.json이 없습니다"
    console.out(f"{host.alias}: 잠김 — {what}")
    return True


def unlock(host: Host, secrets: Secrets, console: Console, yes: bool, connect_host=connect) -> None:
    """Remove the lock after naming its holder and asking."""
    remote = connect_host(host, secrets)
    try:
        locked, holder = _read(remote, host)
        if not locked:
            console.out(f"{host.alias}: 잠금 없음 (free): 할 일이 없습니다")
            return
        what = holder.describe(host.settings.lock_stale_after) if holder else "info.json 없음"
        console.out(f"{host.alias}: 잠김 — {what}")
        question = (
            f"{host.alias}의 배포 잠금을 풀까요? 그 배포가 정말 끝났거나 죽었는지 확인했습니까?"
        )
        if not ask(question, yes)[0]:
            raise ConfigError("잠금 해제를 취소했습니다", "잠금은 그대로 남아 있습니다")
        res = remote.run(locks.break_command(host.settings))
        if not res.ok:
            raise ConfigError(f"{host.alias}의 배포 잠금을 풀지 못했습니다 ({res.tail(3)})",
                              "배포 계정이 state_dir에 쓸 수 있는지 확인하십시오")  # fmt: skip
        console.out(
            f"{host.alias}: 잠금을 풀었습니다 (풀린 잠금: {holder.run_id if holder else '?'})"
        )
    finally:
        remote.close()
