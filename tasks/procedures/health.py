"""`fab health`: every host's health checks, run on the host (the ports are not public)."""

from __future__ import annotations

from tasks import components
from tasks.engine.console import Console
from tasks.hosts.connect import connect
from tasks.hosts.inventory import Inventory
from tasks.hosts.remote import ConnectionLost
from tasks.hosts.secrets import Secrets
from tasks.procedures.release_backend import PAIR


def check_all(inv: Inventory, secrets: Secrets, console: Console | None = None,
              connect_host=connect) -> bool:  # fmt: skip
    console = console or Console(secrets)
    healthy, rows = True, []
    for host in inv.hosts.values():
        remote = connect_host(host, secrets)
        try:
            for comp in components.on_host(host.groups, host.alias):
                check = comp.health(host.settings, None).command()
                if comp.name == "backend" and host.settings.strategy == "release":
                    check = PAIR.live_health(host.settings)  # the instance nginx sends requests to
                try:
                    res = remote.run(check, timeout=30)
                    ok, why = res.ok, res.tail(1)
                except ConnectionLost as exc:
                    ok, why = False, f"연결 끊김: {exc}"
                healthy &= ok
                rows.append((host.alias, comp.name, "UP" if ok else f"DOWN  {why}"))
        finally:
            remote.close()
    console.table(("호스트", "컴포넌트", "결과"), rows)
    return healthy
