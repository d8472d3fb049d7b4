"""`fab releases` and `fab deploy-status`: what the release strategy left on a host."""

from __future__ import annotations

from tasks.apps import registry
from tasks.engine import hostscript
from tasks.engine.console import Console
from tasks.engine.report import result_text
from tasks.engine.session import Session
from tasks.engine.view import RunView, new_run_id
from tasks.errors import ConfigError
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host
from tasks.hosts.secrets import Secrets
from tasks.shell import q
from tasks.strategies.release import layout as release

#: a release's status as `fab releases` shows it (tasks/strategies/release/layout.py; one word
#: each, so a row splits on spaces)
RELEASE_STATUSES = {"building": "빌드중", "ready": "준비됨", "failed": "실패", "bad": "롤백됨"}


def list_releases(
    host: Host, secrets: Secrets, only: str | None = None, connect_host=connect
) -> None:
    console = Console(secrets)
    remote = connect_host(host, secrets)
    try:
        for comp in registry.on_host(host.groups, host.alias):
            if only and comp.name != only:
                continue
            v = RunView("releases", comp.name, host, new_run_id())
            found = release.parse_list(remote.run(release.list_command(v)).stdout)
            back = release.previous_good(found)
            rows = []
            for r in found:
                role = "현재" if r["current"] else ("이전" if r["release"] == back else "")
                status = RELEASE_STATUSES.get(r["status"], r["status"])
                rows.append((r["release"], release.revision_of(r["release"]), status, role))
            console.out(f"── {host.alias} {comp.name} ({release.base(v)}) ──")
            if rows:
                console.table(("release", "리비전", "상태", "역할"), rows)
            else:
                console.out("  (release 없음: manual 전략이거나 아직 배포한 적이 없습니다)")
    finally:
        remote.close()


def status(host: Host, secrets: Secrets, run: str | None, connect_host=connect) -> None:
    """Print (and follow, while it runs) the newest critical section's events."""
    view = RunView("status", "-", host, run or "")
    remote = connect_host(host, secrets)
    try:
        if not run:
            base = f"{host.settings.state_dir}/hostrun"
            run = remote.run(f"ls -1t -- {q(base)} 2>/dev/null | head -n 1").stdout.strip()
            if not run:
                raise ConfigError(
                    f"{host.alias}에서 release 배포를 한 적이 없습니다",
                    f"release 배포 뒤에 다시 보거나, `fab -H {host.alias} releases`로 release를 "
                    "확인하십시오",
                )
        view = view.but(run_id=run)
        s = Session(view, secrets, yes=True, console=Console(secrets), remote=remote,
                    title="deploy-status")  # fmt: skip
        s.console.out(f"=== {host.alias}: {hostscript.unit(view)} ===")
        done = hostscript.follow(s, ack="never")
        recorded = remote.run(
            f"grep -q recorded -- {q(hostscript.run_dir(view) + '/status.jsonl')}"
        ).ok
        s.console.out(
            f"결과: {result_text(done['result'])}"
            + (f" — {done['problem']}" if done.get("problem") else "")
        )
        if recorded:
            s.console.out("(운영자 쪽이 없어서 호스트가 기록을 쓰고 잠금을 풀었습니다)")
    finally:
        remote.close()
