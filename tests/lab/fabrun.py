"""Running `fab` against the lab as an operator does: an inventory, `fab`, a look at a host.

The inventory fragments are appended to the lab's own inventory (`Lab.write_inventory`); a
later section's value wins, so they compose: ``MANUAL + polling(20) + SMOKE_NOTES_URL``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .acme import site_ca

ROOT = Path(__file__).resolve().parents[2]
FAB = Path(sys.executable).parent / "fab"

#: the manual strategy (the cached setup layer's; tests of the manual steps start from it)
MANUAL = "\n[all:vars]\nstrategy=manual\n"


def strategy(name: str) -> str:
    return f"\n[all:vars]\nstrategy={name}\n"


def polling(tries: int = 30) -> str:
    """Health polled every second (the manual: 12 × 5 s), so a failing check costs seconds."""
    return (
        f"\n[cpu:vars]\nbackend_health_interval=1\nbackend_health_tries={tries}\n"
        f"frontend_page_interval=1\n"
        f"\n[gpu:vars]\nai_health_interval=1\nai_health_tries={tries}\n"
    )


#: config as code on the lab: a small swap (the site's name and its certificate, tls=acme
#: from the lab's ACME server, are the lab inventory's: tests/lab/keys.py)
SERVED_CONFIG = """
[cpu:vars]
swap_size=64M

[gpu:vars]
swap_size=64M
"""

#: the backend smoke test in the url form, on the service's usual local port
SMOKE_NOTES_URL = """
[cpu:vars]
backend_smoke=[{"method": "GET", "url": "http://localhost:8080/api/notes"}]
"""

#: the backend smoke test in the path form (asked of whichever instance is being checked)
SMOKE_VERSION = """
[cpu:vars]
backend_smoke=[{"method": "GET", "path": "/api/version"}]
"""

AI_SMOKE = """
[gpu:vars]
ai_smoke=[{"method": "POST", "path": "/api/v1/analyze", "body": {"text": "계약서"}}]
"""

#: the release strategy's lab: served as a real site, health polled every second, both
#: smoke requests (the backend's version route, the AI's POST)
RELEASE_VARS = SERVED_CONFIG + polling(30) + SMOKE_VERSION + AI_SMOKE


def numbered_inventory(lab, work: Path, extra: str, **cpu_vars: str) -> Path:
    """A new inventory file in ``work`` (hosts-0.ini, hosts-1.ini, ...): earlier runs' stay."""
    path = work / f"hosts-{len(list(work.glob('hosts-*')))}.ini"
    return lab.write_inventory(path, extra, **cpu_vars)


def fab_env(lab, work: Path, inv: Path, env: Path | None = None, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "DOJANGKOK_HOSTS": str(inv),
        "DOJANGKOK_ENV": str(env or lab.env_file),
        "DOJANGKOK_HISTORY": str(work / "history.jsonl"),
        # this machine trusts the lab's ACME roots, as an operator's trusts the site's CA
        # (`fab health` asks https://<server_name>/ from here)
        "SSL_CERT_FILE": str(site_ca(lab.settings)),
        **more,
    }


def fab(lab, work: Path, *args: str, inv: Path, env: Path | None = None,
        raw: Path | None = None, leak: bool = False):  # fmt: skip
    """`fab <args>` from this checkout, as an operator runs it; its output kept in the log.

    ``raw``: run through tests/leak_probe.py, which appends what the tool hands its masker
    (unmasked) to that file (made 0600 here); ``leak``: the deliberately leaky tool.
    """
    environ, argv = fab_env(lab, work, inv, env), [str(FAB), *args]
    if raw is not None:
        raw.touch(mode=0o600)
        raw.chmod(0o600)
        environ["DOJANGKOK_TEST_RAW"] = str(raw)
        environ["DOJANGKOK_TEST_LEAK"] = "1" if leak else "0"
        argv = [sys.executable, str(ROOT / "tests/leak_probe.py"), *args]
    res = subprocess.run(argv, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=900)
    print(f"$ fab {' '.join(args)}\n{res.stdout[-6000:]}\n{res.stderr[-3000:]}")
    return res


def on(lab, host: str, command: str) -> str:
    """``command``'s output on ``host`` (as root); it must succeed."""
    res = lab.run(host, command, timeout=120)
    assert res.returncode == 0, f"{host}$ {command}\n{res.stdout}\n{res.stderr}"
    return res.stdout.strip()


def invocation(lab, host: str, service: str) -> str:
    """systemd's id of the service's current run: it changes on every (re)start."""
    return on(lab, host, f"systemctl show -p InvocationID --value {service}")


def exposure(lab, host: str, unit: str) -> float:
    out = on(lab, host, f"systemd-analyze security --no-pager {unit}")
    return float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
