"""The hosts after `fab setup`, cached as a layer, so tests that need a running app start fast.

Every lab host boots bare (a cloud image: tests/lab/provision.py). Tests that need the sample
apps served need `fab setup` on both hosts first: the real provisioning path, run here as an
operator would (the `fab` of this checkout, the lab's inventory and .env). Its result is kept
as one more overlay layer, <cache>/setup-<key>/<host> (the hosts' upper dirs after a clean
poweroff), and later resets boot [setup, golden, base] in ~3 s. The key covers the golden
layer (its secrets are baked into the database), the tool (tasks/, templates/, fabfile.py),
the sample apps, the lab's inventory settings and its ACME server's CA: a change to any of
them runs setup again. Setup obtains cpu's certificate from the lab's pebble (tls=acme), whose
root changes at every start: the layer keeps the one that issued it (acme-root.pem), which
the hosts booted from the layer and the tests trust too (tests/lab/acme.py).

The cache is set up with strategy=manual (MANUAL): the manual steps' tests start from it, and
the release strategy's tests convert it with their first release deploy, as on a host that
was deployed before the release strategy existed. `make demo` sets up with the configured
strategy (the default, release), so the demo ends on releases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import acme, keys, machines
from .config import HOSTS, LabError, Settings, hash_paths, stale_layers

LAYOUT = "3"  # 3: the layer keeps setup's output (setup-<host>.log)
#: appended to the lab's inventory for the cached setup (a last section wins)
MANUAL = "\n[cpu:vars]\nstrategy=manual\n\n[gpu:vars]\nstrategy=manual\n"
KEEP = 3  # setup layers kept in the cache (the newest of each suite)


def fab_path() -> Path:
    return Path(sys.executable).parent / "fab"


def setup_key(s: Settings, golden: Path) -> str:
    tool = [s.root / "tasks", s.root / "templates", s.root / "fabfile.py"]
    apps = [s.apps_dir / a for a in ("frontend", "backend", "ai")]
    # (pebble: certbot on the layer's cpu trusts the CA it had, the certificate's lifetime)
    extra = f"{LAYOUT} {golden.name} {keys.lab_vars(s)}{MANUAL} {acme.layer_key(s)}"
    return hash_paths(*tool, *apps, extra=extra)


def layer(s: Settings, golden: Path) -> Path:
    return s.cache / f"setup-{setup_key(s, golden)}"


def setup_inventory(s: Settings) -> Path:
    """The lab's inventory with strategy=manual last (the cached setup's)."""
    path = s.state / "hosts-setup.ini"
    path.write_text((s.state / "hosts.ini").read_text() + MANUAL)
    return path


def fab_env(s: Settings, history: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DOJANGKOK_HOSTS": str(setup_inventory(s)),
        "DOJANGKOK_ENV": str(s.state / ".env"),
        "DOJANGKOK_HISTORY": str(history),
    }


def run_setup(s: Settings, host: str, log=print) -> subprocess.CompletedProcess:
    """`fab -H <host> setup --yes` on the lab; its output in .lab/setup-<host>.log."""
    res = subprocess.run(
        [str(fab_path()), "-H", host, "setup", "--yes"],
        cwd=s.root, env=fab_env(s, s.state / "history-setup.jsonl"),
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    (s.state / f"setup-{host}.log").write_text(res.stdout + res.stderr)
    return res


def build(lab, golden: Path) -> Path:
    """Reset to bare, `fab setup` both hosts, power them off and keep their upper dirs."""
    s = lab.settings
    final = layer(s, golden)
    lab.log(f"caching `fab setup` of both hosts as {final.name} (~1-2 min) ...")
    t0 = time.monotonic()
    lab._reset_bare(HOSTS)
    with ThreadPoolExecutor(len(HOSTS)) as pool:
        results = dict(zip(HOSTS, pool.map(lambda h: run_setup(s, h), HOSTS), strict=True))
    for host, res in results.items():
        if res.returncode != 0:
            raise LabError(
                f"`fab -H {host} setup` failed on the bare lab host (see .lab/setup-{host}.log):\n"
                f"{(res.stdout + res.stderr)[-3000:]}"
            )
    tmp = s.cache / f"tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for host in HOSTS:
            machines.stop(s, host, clean=True)
            shutil.move(str(machines.layer_dirs(s, host)["upper"]), tmp / host)
            machines.wipe(s, host)
            shutil.copy(s.state / f"setup-{host}.log", tmp / f"setup-{host}.log")
        (tmp / "suite").write_text(f"{s.suite}\n")
        # the root of the pebble that issued the layer's certificate (a later pebble has another)
        shutil.copy(acme.current_root(s), tmp / "acme-root.pem")
        (tmp / "made").write_text(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in stale_layers(s.cache, "setup", s.suite, KEEP):
        machines.umount_all(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    lab.log(f"  setup layer ready in {time.monotonic() - t0:.0f}s")
    return final


def ensure(lab, golden: Path) -> Path:
    """The setup layer, made if missing; its `fab setup` output back in .lab/setup-<host>.log.

    The cache outlives the checkout (a fresh clone, as in CI, finds a layer an earlier clone
    made), so setup's output is kept with the layer, not only in this checkout's .lab/.
    """
    path = layer(lab.settings, golden)
    if (path / "made").exists():
        for host in HOSTS:
            shutil.copy(path / f"setup-{host}.log", lab.settings.state / f"setup-{host}.log")
        return path
    for stale in lab.settings.cache.glob("tmp-setup-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return build(lab, golden)
