"""Manual §D: the full deploy (`fab full-deploy`): frontend, backend, then AI.

Hosts come from the inventory groups ([cpu] for frontend and backend, [gpu] for AI).
Everything that can be checked without a host is checked for all three first; then every
host's deploy lock is taken (all or none), so nobody deploys in between the components. In
the manual's order, the first component that fails stops the run (its own policy already
rolled it back); what was deployed stays deployed and the summary says what did not run.

``--parallel`` runs the [cpu] chain (frontend → backend) and the [gpu] chain (AI) at the
same time, each in the manual's order; the manual ran them one after another. When every
host deploys with the ``release`` strategy (no downtime to space out), the chains run at
the same time unless ``--sequential``. Ctrl-C stops every chain the same way
(tasks/engine/interrupt.py).

In parallel, a host on the ``release`` strategy deploys its components at the same time
too, each on its own connection: they share nothing on the host (each its own releases,
``current``, units and record stack; the host's deploy lock, taken once, covers them all),
and none has downtime to space out. A failure then stops only its own component (which its
policy rolled back); the others finish.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tasks.apps import registry
from tasks.apps.base import App, strategy_for
from tasks.durations import downtime_text, duration_text
from tasks.engine.console import Console
from tasks.engine.lock import HostLock
from tasks.engine.report import result_text
from tasks.engine.view import RunView, new_run_id
from tasks.errors import ConfigError, DeployToolError, StepFailed
from tasks.hosts import environment
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Host, Inventory
from tasks.hosts.missing import Missing
from tasks.hosts.remote import Remote
from tasks.hosts.secrets import Secrets
from tasks.strategies import confirm
from tasks.strategies.deploy import Options, deploy_host, preflight


@dataclass(frozen=True)
class Job:
    number: int
    component: App
    host: Host


@dataclass
class Outcome:
    job: Job
    result: str
    seconds: float
    downtime: float | None = None


def jobs(inv: Inventory) -> list[Job]:
    """Every (component, host) in the manual's order."""
    pairs = [(c, h) for c in registry.ORDER for h in inv.group(c.group)]
    return [Job(k, c, h) for k, (c, h) in enumerate(pairs, 1)]


def chains(todo: list[Job], opts: Options | None = None) -> list[list[Job]]:
    """The jobs split by host, each keeping the manual's order (for --parallel); with
    ``opts``, a host on the release strategy: one chain per component."""
    by_host: dict[str, list[Job]] = {}
    for job in todo:
        apart = (
            opts is not None and strategy_for(opts.strategy_for(job.host)).deploys_without_outage
        )
        key = f"{job.host.alias}:{job.component.name}" if apart else job.host.alias
        by_host.setdefault(key, []).append(job)
    return list(by_host.values())


def _prefix(chain: list[Job], groups: list[list[Job]]) -> str:
    """``[cpu] `` for a host's chain; ``[cpu:backend] `` when the host has several."""
    alias = chain[0].host.alias
    shared = sum(1 for g in groups if g[0].host.alias == alias) > 1
    return f"[{alias}:{chain[0].component.name}] " if shared else f"[{alias}] "


def runs_in_parallel(todo: list[Job], opts: Options, parallel: bool, sequential: bool) -> bool:
    """``--parallel`` or ``--sequential`` when given; otherwise at the same time exactly when
    every host deploys with the release strategy (the manual strategy keeps the manual's
    one-by-one order: its outages are spaced out)."""
    if parallel and sequential:
        raise ConfigError(
            "--parallel과 --sequential은 함께 쓸 수 없습니다", "둘 중 하나만 쓰십시오"
        )
    if parallel or sequential:
        return parallel
    return all(strategy_for(opts.strategy_for(job.host)).deploys_without_outage for job in todo)


def full_deploy(inv: Inventory, secrets: Secrets, opts: Options, parallel: bool = False,
                console: Console | None = None, connect_host=connect,
                sequential: bool = False) -> list[Outcome]:  # fmt: skip
    console = console or Console(secrets)
    todo = jobs(inv)
    missing = Missing(secrets, files=not opts.dry_run)  # every component's, refused once
    for job in todo:
        preflight(job.component, [job.host], secrets, opts, missing=missing)
    missing.check()
    confirm.confirm([job.host for job in todo], "full-deploy", dry_run=opts.dry_run, yes=opts.yes,
                    say=console.out)  # fmt: skip
    parallel = runs_in_parallel(todo, opts, parallel, sequential)
    console.out("==========================================")
    console.out(f"  도장콕 {environment.label()}전체 배포" + ("  (DRY RUN)" if opts.dry_run else "")
                + ("  (병렬)" if parallel else ""))  # fmt: skip
    console.out(f"  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    console.out("==========================================")
    hosts = {job.host.alias: job.host for job in todo}
    remotes: dict[str, Remote] = {}
    extra: dict[int, Remote] = {}  # a host's second (third) chain's own connection
    locks: list[HostLock] = []
    groups = chains(todo, opts) if parallel else [todo]
    results: list[Outcome] = []
    started = time.monotonic()
    try:
        if not opts.dry_run:
            run_id = new_run_id()
            for alias, host in hosts.items():
                remotes[alias] = connect_host(host, secrets, label=run_id)
                view = RunView("deploy", "full", host, run_id, opts.strategy)
                locks.append(HostLock.take(remotes[alias], view, opts.message,
                                           wait=opts.lock_wait, say=console.out))  # fmt: skip
            first: set[str] = set()
            for k, chain in enumerate(groups):
                alias = chain[0].host.alias
                if alias in first:
                    extra[k] = connect_host(hosts[alias], secrets, label=run_id)
                first.add(alias)

        def run_chain(k: int, chain: list[Job], prefix: str) -> DeployToolError | None:
            out = console.child(prefix)
            for job in chain:  # one chain may span hosts (sequential): each job its host's
                remote = extra.get(k) or remotes.get(job.host.alias)
                title = job.component.manual_title
                note = _note(job.component, opts.strategy_for(job.host), job.host)
                out.out(f"[{job.number}/{len(todo)}] {title}... ({job.host.alias}) {note}")
                t0 = time.monotonic()
                try:
                    s = deploy_host(job.component, job.host, secrets, opts, console=out,
                                    remote=remote)  # fmt: skip
                except StepFailed as failed:
                    result = failed.report.result if failed.report else "failed"
                    results.append(Outcome(job, result, time.monotonic() - t0))
                    return failed
                except DeployToolError as failed:
                    results.append(Outcome(job, "refused", time.monotonic() - t0))
                    return failed
                results.append(Outcome(job, s.report.result, time.monotonic() - t0,
                                       s.report.downtime))  # fmt: skip
            return None

        if parallel:
            with ThreadPoolExecutor(len(groups)) as pool:
                failures = list(pool.map(lambda k: run_chain(k, groups[k], _prefix(groups[k], groups)),
                                         range(len(groups))))  # fmt: skip
        else:
            failures = [run_chain(0, todo, "")]
    finally:
        for held in locks:
            held.release()
        for remote in [*remotes.values(), *extra.values()]:
            remote.close()
    _table(console, results, todo, time.monotonic() - started)
    failed = [f for f in failures if f is not None]
    if failed:
        raise failed[0]
    return results


def _note(c: App, strategy: str, host: Host) -> str:
    """The manual's word on downtime (§D), or what the release strategy does instead."""
    return strategy_for(strategy).downtime_note(c, host.settings)


def _table(console: Console, results: list[Outcome], todo: list[Job], total: float) -> None:
    done = {r.job.number for r in results}
    rows = [
        (r.job.component.name, r.job.host.alias, result_text(r.result), duration_text(r.seconds),
         downtime_text(r.downtime))
        for r in sorted(results, key=lambda r: r.job.number)
    ]  # fmt: skip
    rows += [
        (j.component.name, j.host.alias, "실행 안 함", "", "") for j in todo if j.number not in done
    ]
    console.out("")
    console.out("==========================================")
    console.out("  전체 배포 결과")
    console.table(("컴포넌트", "호스트", "결과", "소요", "다운타임"), rows, right=(3, 4))
    console.out(f"  총 소요 시간: {duration_text(total)}")
    console.out("==========================================")
