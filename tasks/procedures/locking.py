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
        raise ConfigError(f"cannot read the lock on {host.alias}: {res.tail(3)}", "")
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
    what = holder.describe(stale) if holder else "held, but its info.json is missing"
    console.out(f"{host.alias}: LOCKED — {what}")
    return True


def unlock(host: Host, secrets: Secrets, console: Console, yes: bool, connect_host=connect) -> None:
    """Remove the lock after naming its holder and asking."""
    remote = connect_host(host, secrets)
    try:
        locked, holder = _read(remote, host)
        if not locked:
            console.out(f"{host.alias}: 잠금 없음 (free): nothing to do")
            return
        what = holder.describe(host.settings.lock_stale_after) if holder else "no info.json"
        console.out(f"{host.alias}: LOCKED — {what}")
        question = (
            f"{host.alias}의 배포 잠금을 풀까요? 그 배포가 정말 끝났거나 죽었는지 확인했습니까?"
        )
        if not ask(question, yes)[0]:
            raise ConfigError("unlock declined", "the lock stays")
        res = remote.run(locks.break_command(host.settings))
        if not res.ok:
            raise ConfigError(f"cannot remove the lock on {host.alias}: {res.tail(3)}",
                              "check the login user's rights on state_dir")  # fmt: skip
        console.out(f"{host.alias}: 잠금을 풀었습니다 (was: {holder.run_id if holder else '?'})")
    finally:
        remote.close()
