"""Manual §D: the full deploy (`fab full-deploy`): frontend, backend, then AI.

Hosts come from the inventory groups ([cpu] for frontend and backend, [gpu] for AI).
Everything that can be checked without a host is checked for all three first. In the
manual's order, the first component that fails stops the run (its own policy already
rolled it back); what was deployed stays deployed and the summary says what did not run.

``--parallel`` runs the [cpu] chain (frontend → backend) and the [gpu] chain (AI) at the
same time, each in the manual's order; the manual ran them one after another.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tasks.deploy import COMPONENTS, deploy_host, preflight
from tasks.errors import StepFailed
from tasks.inventory import Inventory
from tasks.secrets import Secrets

ORDER = (
    ("frontend", "React 배포", "다운타임 없음"),
    ("backend", "Spring Boot 배포", "서비스 중단이 발생합니다."),
    ("ai", "FastAPI 배포", "별도 인스턴스, 다운타임 1-2분"),
)


def jobs(inv: Inventory) -> list[tuple]:
    """(component, host, title, note) in the manual's order."""
    return [
        (COMPONENTS[name], host, title, note)
        for name, title, note in ORDER
        for host in inv.group(COMPONENTS[name].group)
    ]


def chains(todo: list[tuple]) -> list[list[tuple]]:
    """The jobs split by host, each keeping the manual's order (for --parallel)."""
    by_host: dict[str, list[tuple]] = {}
    for job in todo:
        by_host.setdefault(job[1].alias, []).append(job)
    return list(by_host.values())


def full_deploy(
    inv: Inventory, secrets: Secrets, dry_run=False, yes=False, parallel=False, out=print
) -> list:
    todo = jobs(inv)
    for comp, host, _, _ in todo:
        preflight(comp, [host], secrets)
    out("==========================================")
    out(
        "  도장콕 전체 배포" + ("  (DRY RUN)" if dry_run else "") + ("  (병렬)" if parallel else "")
    )
    out(f"  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    out("==========================================")
    results: list[tuple] = []
    lock = threading.Lock()
    started = time.monotonic()

    def run_chain(chain: list[tuple], prefix: str) -> StepFailed | None:
        def say(text: str) -> None:
            with lock:
                out(prefix + text if prefix else text)

        for comp, host, title, note in chain:
            k = todo.index((comp, host, title, note)) + 1
            say(f"[{k}/{len(todo)}] {title}... ({host.alias}) {note}")
            t0 = time.monotonic()
            try:
                report = deploy_host(comp, host, secrets, dry_run=dry_run, yes=yes, out=say)
            except StepFailed as failed:
                results.append((comp.name, host.alias, "failed", time.monotonic() - t0, None))
                return failed
            results.append((comp.name, host.alias, report.result, time.monotonic() - t0,
                            report.downtime))  # fmt: skip
        return None

    if parallel:
        groups = chains(todo)
        with ThreadPoolExecutor(len(groups)) as pool:
            failures = list(pool.map(lambda c: run_chain(c, f"[{c[0][1].alias}] "), groups))
    else:
        failures = [run_chain(todo, "")]
    _table(results, todo, out, time.monotonic() - started)
    failed = [f for f in failures if f is not None]
    if failed:
        raise failed[0]
    return results


def _table(results, todo, out, total: float) -> None:
    done = {(r[0], r[1]) for r in results}
    out("")
    out("==========================================")
    out("  전체 배포 결과")
    out(f"  {'컴포넌트':<10}{'호스트':<8}{'결과':<12}{'소요':>8}{'다운타임':>10}")
    for name, host, result, secs, down in results:
        d = "-" if down is None else f"{down:.1f}s"
        out(f"  {name:<10}{host:<8}{result:<12}{secs:>7.1f}s{d:>10}")
    for comp, host, _, _ in todo:
        if (comp.name, host.alias) not in done:
            out(f"  {comp.name:<10}{host.alias:<8}{'not run':<12}")
    out(f"  총 소요시간: {total:.1f}s")
    out("==========================================")
