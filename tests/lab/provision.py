"""Golden layers: each host as a cloud image gives it (bare: no application), then cached.

Cold path: boot each host on [base] with a temp upper dir, seed its identity, run
provision/common.sh + provision/<host>.sh as root over ssh (a sudo password, cpu's TLS
certificate, gpu's pip.conf: what the cloud or its admin provides), power it off cleanly,
and rename the upper dirs (plus the secrets bundle they bake in) to <cache>/golden-<key> in
one step. The key covers the base image, the provisioning scripts, the wheelhouse and the
subnet, so editing any of them makes the next `up` re-provision. The application is not in
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
from .config import HOSTS, PROVISION_DIR, LabError, Settings, hash_paths, run
from .image import ensure_base, recipe_hash

SCRIPTS = ("common.sh", "cpu.sh", "gpu.sh")
LAYOUT = "3"  # bump when the golden layer's layout changes (3: bare hosts, no git/ snapshot)
KEEP_GOLDEN = 3  # golden layers kept in the cache (the newest)


def wheelhouse(s: Settings, log=print) -> Path:
    """pip download the AI app's requirements once (operator side, Python 3.11)."""
    req = s.apps_dir / "ai" / "requirements.txt"
    dest = s.cache / f"wheelhouse-{hash_paths(req)}"
    if dest.is_dir():
        return dest
    log("downloading the AI wheelhouse ...")
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
            "--python-version=3.11",
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
                      extra=f"{LAYOUT} {recipe_hash()} {wheels.name} {s.subnet} {SITE_NAME}")  # fmt: skip


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
    older = sorted(s.cache.glob("golden-*"), key=lambda d: d.stat().st_mtime, reverse=True)
    for old in older[KEEP_GOLDEN - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    log(f"  golden layers ready in {time.monotonic() - t0:.0f}s")
    return final
