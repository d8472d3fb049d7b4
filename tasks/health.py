"""`fab health`: every host's health checks, run on the host (the ports are not public)."""

from __future__ import annotations

from tasks import shell
from tasks.connect import connect, explain
from tasks.inventory import Inventory
from tasks.runner import Runner
from tasks.secrets import Secrets
from tasks.settings import Settings


def checks_for(groups: tuple[str, ...], s: Settings) -> list[tuple[str, str]]:
    checks = []
    if "cpu" in groups:
        checks.append(("frontend", shell.page(s.frontend_url, s.frontend_expect)))
        checks.append(("backend", shell.health(s.backend_health_url, s.backend_health_expect)))
    if "gpu" in groups:
        checks.append(("ai", shell.health(s.ai_health_url, s.ai_health_expect)))
    return checks


def check_all(inv: Inventory, secrets: Secrets, out=print) -> bool:
    healthy = True
    out(f"{'호스트':<8}{'컴포넌트':<10}결과")
    for host in inv.hosts.values():
        runner = Runner(connect(host, secrets), secrets, out=out)
        for name, command in checks_for(host.groups, host.settings):
            try:
                res = runner.sh(command)
            except Exception as exc:
                raise explain(host, exc) from None
            healthy &= res.ok
            out(f"{host.alias:<8}{name:<12}{'UP' if res.ok else 'DOWN  ' + res.tail(1)}")
    return healthy
