"""Manual §D: the full deploy (`fab full-deploy`): frontend, backend, then AI.

Hosts come from the inventory groups ([cpu] for frontend and backend, [gpu] for AI).
Everything that can be checked without a host is checked for all three first. The first
component that fails stops the run (its own policy already rolled it back); what was
deployed stays deployed and the summary says what did not run.
"""

from __future__ import annotations

import time

from tasks.deploy import COMPONENTS, deploy_host, preflight
from tasks.errors import StepFailed
from tasks.inventory import Inventory
from tasks.secrets import Secrets

ORDER = (
    ("frontend", "React 배포", "다운타임 없음"),
    ("backend", "Spring Boot 배포", "서비스 중단이 발생합니다."),
    ("ai", "FastAPI 배포", "별도 인스턴스, 다운타임 1-2분"),
)


def full_deploy(inv: Inventory, secrets: Secrets, dry_run=False, yes=False, out=print) -> list:
    plan = [(COMPONENTS[name], inv.group(COMPONENTS[name].group), title, note)
            for name, title, note in ORDER]  # fmt: skip
    for comp, hosts, _, _ in plan:
        preflight(comp, hosts, secrets)
    out("==========================================")
    out("  도장콕 전체 배포" + ("  (DRY RUN)" if dry_run else ""))
    out(f"  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    out("==========================================")
    results = []
    started = time.monotonic()
    for k, (comp, hosts, title, note) in enumerate(plan, 1):
        for host in hosts:
            out(f"[{k}/{len(plan)}] {title}... ({host.alias}) {note}")
            t0 = time.monotonic()
            try:
                report = deploy_host(comp, host, secrets, dry_run=dry_run, yes=yes)
            except StepFailed:
                results.append((comp.name, host.alias, "failed", time.monotonic() - t0, None))
                _table(results, plan, out, time.monotonic() - started)
                raise
            results.append(
                (comp.name, host.alias, report.result, time.monotonic() - t0, report.downtime)
            )
    _table(results, plan, out, time.monotonic() - started)
    return results


def _table(results, plan, out, total: float) -> None:
    done = {(r[0], r[1]) for r in results}
    out("")
    out("==========================================")
    out("  전체 배포 결과")
    out(f"  {'컴포넌트':<10}{'호스트':<8}{'결과':<12}{'소요':>8}{'다운타임':>10}")
    for name, host, result, secs, down in results:
        d = "-" if down is None else f"{down:.1f}s"
        out(f"  {name:<10}{host:<8}{result:<12}{secs:>7.1f}s{d:>10}")
    for comp, hosts, _, _ in plan:
        for h in hosts:
            if (comp.name, h.alias) not in done:
                out(f"  {comp.name:<10}{h.alias:<8}{'not run':<12}")
    out(f"  총 소요시간: {total:.1f}s")
    out("==========================================")
