"""The per-host deploy lock: one task that changes a host at a time.

Taken atomically on the host with ``mkdir <state_dir>/deploy.lock`` (mkdir either creates
the directory or fails: two operators cannot both succeed; 0700, the deploy login's alone),
then ``info.json`` inside (0600) says
who holds it: operator, machine and process, the task, component and revision, when, and a
message. A second task is refused with those details and the way out. The lock is released
in every exit path (success, failure, rollback, Ctrl-C); only its holder's run id releases
it. A lock older than the ``lock_stale_after`` setting is reported as stale, never broken
silently: ``fab -H <host> unlock`` asks, names the holder, then removes it.
``--lock-wait=SECONDS`` (Kamal's) waits for a held lock instead of refusing at once.
``--dry-run`` takes no lock.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from tasks.durations import duration_text
from tasks.engine import safepath
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.live import Live
from tasks.engine.records import RUN_FILE_MODE
from tasks.engine.upload import Upload
from tasks.engine.view import RunView, operator_host, operator_name
from tasks.errors import ConfigError, DeployToolError
from tasks.hosts.remote import Remote
from tasks.hosts.settings import Settings
from tasks.shell import q


def lock_dir(s: Settings) -> str:
    return f"{s.state_dir}/deploy.lock"


@dataclass(frozen=True)
class LockInfo:
    run_id: str
    operator: str
    machine: str  # where the holding fab process runs
    pid: int
    task: str
    component: str
    revision: str
    message: str
    since: float  # epoch seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> LockInfo | None:
        try:
            data = json.loads(text)
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            return None

    def age(self, now: float | None = None) -> float:
        return max(0.0, (now or time.time()) - self.since)

    def describe(self, stale_after: float, now: float | None = None) -> str:
        when = datetime.fromtimestamp(self.since).strftime("%Y-%m-%d %H:%M:%S")
        age = self.age(now)
        text = (
            f"{self.operator} ({self.machine}, pid {self.pid})가 {when}부터 "
            f"({duration_text(age)} 전) 잡고 있습니다: {self.task} {self.component} "
            f"{self.revision[:12]}" + (f" — {self.message}" if self.message else "")
        )
        if age > stale_after:
            text += (f"\n  오래된 잠금 (STALE): lock_stale_after({duration_text(stale_after)})"
                     "보다 오래되었습니다")  # fmt: skip
        if self.machine == _machine() and not _alive(self.pid):
            text += (f"\n  이 컴퓨터의 그 프로세스 {self.pid}는 더 이상 실행 중이 아닙니다 "
                     "(no longer running)")  # fmt: skip
        return text


class LockHeld(DeployToolError):
    """Another task holds the host's deploy lock."""


def acquire_command(s: Settings, info: LockInfo) -> str:
    """The lock and its info, the deploy login's alone (0700, 0600: who deploys what, when,
    with which message, is nobody else's to read)."""
    d = q(lock_dir(s))
    return f"mkdir -- {d} 2>/dev/null && chmod 700 -- {d} && {_write_info(d, info)}"


def _write_info(d: str, info: LockInfo) -> str:
    """Writes ``info.json`` in the lock ``d`` (a shell word), 0600 (umask in a subshell: the
    commands around it keep theirs)."""
    return f"(umask 077 && printf '%s\\n' {q(info.to_json())} > {d}/info.json)"


def read_command(s: Settings) -> str:
    """Prints the holder's info.json; ``{}`` for a lock without one; nothing when free."""
    d = q(lock_dir(s))
    return f"if [ -d {d} ]; then cat -- {d}/info.json 2>/dev/null || echo '{{}}'; fi"


def release_command(s: Settings, run_id: str) -> str:
    d = q(lock_dir(s))
    return f"if grep -qF -- {q(run_id)} {d}/info.json 2>/dev/null; then rm -rf -- {d}; fi"


def break_command(s: Settings) -> str:
    return f"rm -rf -- {q(lock_dir(s))}"


def state_dir_ready(s: Settings) -> str:
    """Succeeds when the login user can create the lock (state_dir exists, writable)."""
    return f"test -d {q(s.state_dir)} -a -w {q(s.state_dir)}"


def state_dir_create(s: Settings, owner: str = '"$SUDO_USER"') -> str:
    """Run as root: the state dir, owned by the deploy login (``owner``, a shell word), made
    or fixed without following a link (tasks/engine/safepath.py: a state_dir whose
    parent the deploy login can write could hold a link it planted; ``install -d -o`` would
    hand the link's target over)."""

    return f"{safepath.OWN_FN}; own dir {q(s.state_dir)} 755 {owner} ''"


#: a lock without its info.json (a task killed between the two)
NO_INFO = "잡혀 있지만 info.json이 없습니다 (info.json missing)"


def refused(host: str, holder: LockInfo | None, stale_after: float) -> LockHeld:
    what = holder.describe(stale_after) if holder else NO_INFO
    return LockHeld(
        f"{host}의 배포 잠금을 다른 작업이 잡고 있습니다 (locked by another deploy): {what}",
        f"끝날 때까지 기다리거나(`fab -H {host} lock-status`, 또는 --lock-wait=초), 그 작업이 "
        f"죽었다면 호스트를 확인한 뒤 `fab -H {host} unlock`을 실행하십시오",
    )


#: how often a waiting task (``--lock-wait``) tries the lock again (seconds)
WAIT_POLL = 2.0


def _who(holder: LockInfo | None) -> str:
    if holder is None:
        return "알 수 없음 (info.json 없음)"
    what = " ".join(p for p in (holder.task, holder.component, holder.revision[:12]) if p)
    return f"{holder.operator} ({holder.machine}) {what}".strip()


def waiting_message(host: str, holder: LockInfo | None, stale_after: float, wait: float) -> str:
    """What a task waiting for a held lock says first."""
    what = holder.describe(stale_after) if holder else NO_INFO
    return (
        f"{host}의 배포 잠금을 다른 작업이 잡고 있습니다: {what}\n"
        f"  → 풀릴 때까지 최대 {wait:.0f}초 기다립니다 (--lock-wait; Ctrl-C로 그만둡니다)"
    )


def parse(stdout: str) -> tuple[bool, LockInfo | None]:
    """``read_command`` output → (locked, holder)."""
    text = stdout.strip()
    if not text:
        return False, None
    return True, LockInfo.from_json(text)


def _machine() -> str:
    return operator_host()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class HostLock:
    """The lock this process holds on one host."""

    def __init__(self, remote: Remote, s: Settings, info: LockInfo):
        self.remote, self.s, self.info = remote, s, info
        self.unsaved = False  # info changed but not written yet (update(now=False))

    @classmethod
    def take(cls, remote: Remote, view: RunView, message: str = "", wait: float = 0,
             say: Callable[[str], None] = print) -> HostLock:  # fmt: skip
        """Take the host's lock or raise LockHeld naming the holder (changes nothing else).
        ``wait`` (``--lock-wait``): seconds to wait for a held lock, saying who holds it and,
        once taken, how long it waited; after that, the same LockHeld (and how long)."""
        s = view.s
        info = LockInfo(
            run_id=view.run_id, operator=operator_name(), machine=operator_host(),
            pid=os.getpid(), task=view.task, component=view.component,
            revision=view.target or view.to_rev, message=message, since=time.time(),
        )  # fmt: skip
        # one command when the lock is free (the usual case); the state dir is looked at
        # (and made) only when that failed
        if remote.run(acquire_command(s, info)).ok:
            return cls(remote, s, info)
        if not remote.run(state_dir_ready(s)).ok:
            made = remote.run(state_dir_create(s, view.login), sudo=True)
            if not made.ok:
                raise ConfigError(
                    f"{view.host.alias}에 배포 로그인이 쓸 수 있는 {s.state_dir}이(가) 없고 "
                    f"만들지도 못했습니다 ({made.tail(1)}): 이 도구로 setup하지 않은 호스트입니다 "
                    "(no writable state_dir)",
                    f"먼저 `fab -H {view.host.alias} setup`을 실행하십시오 (상태 디렉터리를 배포 "
                    "로그인의 것으로 만듭니다; 루트 도우미만 가진 배포 로그인은 만들 수 없습니다)",
                )
            if remote.run(acquire_command(s, info)).ok:
                return cls(remote, s, info)
        _, holder = parse(remote.run(read_command(s)).stdout)
        if wait > 0:
            return cls._waited(remote, view, info, holder, wait, say)
        raise refused(view.host.alias, holder, s.lock_stale_after)

    @classmethod
    def _waited(cls, remote: Remote, view: RunView, info: LockInfo, holder: LockInfo | None,
                wait: float, say: Callable[[str], None]) -> HostLock:  # fmt: skip
        """Try again every :data:`WAIT_POLL` seconds until ``wait`` has passed; a change of
        holder is said. Ctrl-C stops the wait (nothing was changed)."""
        s, alias = view.s, view.host.alias
        say(waiting_message(alias, holder, s.lock_stale_after, wait))
        started = time.monotonic()
        while (left := wait - (time.monotonic() - started)) > 0:
            if INTERRUPT.cancel.wait(min(WAIT_POLL, left)):
                raise LockHeld(f"{alias}의 배포 잠금을 기다리다 멈췄습니다 (Ctrl-C)",
                               "바뀐 것은 없습니다. 준비되면 다시 실행하십시오")  # fmt: skip
            mine = replace(info, since=time.time())
            if remote.run(acquire_command(s, mine)).ok:
                waited = time.monotonic() - started
                say(f"{alias}의 배포 잠금을 잡았습니다 ({waited:.0f}초 기다림; 앞서 잡고 있던 작업: "
                    f"{_who(holder)})")  # fmt: skip
                return cls(remote, s, mine)
            _, now = parse(remote.run(read_command(s)).stdout)
            if now is not None and (holder is None or now.run_id != holder.run_id):
                say(f"{alias}의 배포 잠금을 이제 다른 작업이 잡고 있습니다: {_who(now)}")
                holder = now
        waited = time.monotonic() - started
        exc = refused(alias, holder, s.lock_stale_after)
        exc.problem += f" (--lock-wait: {waited:.0f}초 기다렸습니다)"
        raise exc

    def update(self, now: bool = True, **changes) -> None:
        """The holder's info changed (e.g. the revision found out). ``now``: written in a
        round trip of its own; otherwise by the next host run's launch (:meth:`upload`)."""
        self.info = replace(self.info, **changes)
        self.unsaved = not now
        if now:
            self.remote.run(_write_info(q(lock_dir(self.s)), self.info))

    def upload(self) -> Upload | None:
        """The info as a file a step writes (with the host run's launch) when it changed
        after it was last written in a round trip of its own; None otherwise."""
        if not self.unsaved:
            return None
        text = self.info.to_json() + "\n"
        return Upload(f"{lock_dir(self.s)}/info.json", RUN_FILE_MODE, "배포 잠금 정보 (대상 리비전)",
                      lambda secrets: text)  # fmt: skip

    def release(self, session: Live | None = None) -> None:
        """Release it if still ours; a host we cannot reach keeps it, and we say so."""
        try:
            if not self.remote.alive:
                self.remote.reconnect()
            if self.remote.run(release_command(self.s, self.info.run_id)).ok:
                return
        except Exception as exc:  # noqa: BLE001 - whatever happened, say it and go on
            problem = str(exc)
        else:
            problem = "잠금 해제 명령이 실패했습니다 (release command failed)"
        if session is not None:
            session.console.out(
                f"!!! {session.view.host.alias}의 배포 잠금을 풀지 못했습니다 ({problem}). "
                f"확인 후: fab -H {session.view.host.alias} unlock"
            )
