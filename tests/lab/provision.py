"""Golden layers: each host as a cloud image gives it (bare: no application), then cached.

Cold path: boot each host on [base] with a temp upper dir, seed its identity, run
provision/common.sh + provision/<host>.sh as root over ssh (a sudo password, cpu's TLS
certificate, gpu's pip.conf: what the cloud or its admin provides), power it off cleanly,
and rename the upper dirs (plus the secrets bundle they bake in) to <cache>/golden-<key> in
one step. The key covers the base image (so the suite), the provisioning scripts, the
wheelhouse and the subnet, so editing any of them makes the next `up` re-provision. Each
suite keeps its own newest layers (config.stale_layers). The application is not in
it: `fab setup` puts it on the hosts (tests/lab/served.py caches that result separately).
"""

from __future__ import annotations

import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import keys, machines, network, remote
from .acme import SITE_NAME
from .config import HOSTS, PROVISION_DIR, LabError, Settings, hash_paths, run, stale_layers
from .image import ensure_base, recipe_hash

SCRIPTS = ("common.sh", "cpu.sh", "gpu.sh")
LAYOUT = "3"  # bump when the golden layer's layout changes (3: bare hosts, no git/ snapshot)
KEEP_GOLDEN = 3  # golden layers kept in the cache (the newest of each suite)


def wheelhouse_path(s: Settings) -> Path:
    """Keyed by the AI app's requirements and the hosts' Python (the suite's)."""
    req = s.apps_dir / "ai" / "requirements.txt"
    return s.cache / f"wheelhouse-{hash_paths(req, extra=f'python {s.python_version}')}"


def wheelhouse(s: Settings, log=print) -> Path:
    """pip download the AI app's requirements once (operator side), for the hosts' Python
    (the suite's: 3.11 on bookworm, 3.13 on trixie)."""
    req = s.apps_dir / "ai" / "requirements.txt"
    dest = wheelhouse_path(s)
    if dest.is_dir():
        return dest
    log(f"downloading the AI wheelhouse (Python {s.python_version}) ...")
    tmp = dest.with_name(f"tmp-{dest.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            f"--python-version={s.python_version}",
            "-r",
            str(req),
            "-d",
            str(tmp),
        ],
        timeout=600,
    )
    tmp.rename(dest)
    return dest


def golden_key(s: Settings, wheels: Path) -> str:
    scripts = [PROVISION_DIR / f for f in SCRIPTS]
    return hash_paths(*scripts,
                      extra=f"{LAYOUT} {recipe_hash(s.suite)} {wheels.name} {s.subnet} {SITE_NAME}")  # fmt: skip


def binds(host: str, wheels: Path) -> dict[str, str]:
    return {str(wheels): "/srv/wheelhouse"} if host == "gpu" else {}


def lowers(s: Settings, golden: Path, host: str) -> list[Path]:
    return [golden / host, ensure_base(s)]


def ensure_golden(s: Settings, log=print) -> Path:
    """Return <cache>/golden-<key> (with cpu/, gpu/, secrets/), provisioning it if needed."""
    base = ensure_base(s, log)
    wheels = wheelhouse(s, log)
    final = s.cache / f"golden-{golden_key(s, wheels)}"
    if (final / "secrets" / "env").exists():
        return final
    for stale in s.cache.glob("tmp-golden-*"):
        machines.umount_all(stale)
        shutil.rmtree(stale, ignore_errors=True)
    tmp = s.cache / f"tmp-{final.name}"
    log(f"provisioning golden layers {final.name} (bare hosts, ~15 s) ...")
    t0 = time.monotonic()
    bundle = keys.generate(tmp / "secrets")
    keys.write_state(s, bundle)
    network.bridge_up(s)
    env = {**keys.read_env(bundle / "env"), "OPERATOR": s.operator_ip,
           "CPU_IP": s.addresses["cpu"], "SITE": SITE_NAME}  # fmt: skip

    def provision(host: str) -> None:
        upper, work, merged = tmp / host, tmp / f"work-{host}", s.rundir / host / "merged"
        machines.stop(s, host)
        machines.mount([base], upper, work, merged)
        keys.seed_host(s, host, bundle, merged)
        machines.start(s, host, merged, binds(host, wheels))
        remote.wait_ready(s, host)
        script = "\n".join((PROVISION_DIR / f).read_text() for f in ("common.sh", f"{host}.sh"))
        res = remote.run_on(s, host, "bash -s", input=script, env=env, timeout=900, via="deploy")
        (s.state / f"provision-{host}.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0:
            raise LabError(
                f"provisioning {host} failed (see .lab/provision-{host}.log):\n"
                f"{(res.stdout + res.stderr)[-2000:]}"
            )
        machines.stop(s, host, clean=True)
        shutil.rmtree(work, ignore_errors=True)

    try:
        with ThreadPoolExecutor(len(HOSTS)) as pool:
            for f in [pool.submit(provision, h) for h in HOSTS]:
                f.result()
    except BaseException:
        for h in HOSTS:
            machines.stop(s, h)
        machines.umount_all(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # keep a few: checkouts with other provisioning scripts share this cache
    (tmp / "suite").write_text(f"{s.suite}\n")
    for old in stale_layers(s.cache, "golden", s.suite, KEEP_GOLDEN):
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    log(f"  golden layers ready in {time.monotonic() - t0:.0f}s")
    return final
