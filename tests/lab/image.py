"""The shared base image: a Debian 12 rootfs cached under <cache>/base-<recipe hash>.

debootstrap (minbase + systemd/sshd) into a temp dir, then apt-get install the package list
inside it (systemd-nspawn used as a chroot that cleans up its own mounts), then one atomic
rename. A crash leaves only a `tmp-*` dir, which is never taken for an image and is swept on
the next build.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .config import MIRROR, PROVISION_DIR, SUITE, LabError, Settings, hash_paths, run

RECIPE = ("debootstrap.txt", "packages.txt", "base.sh")


def recipe_hash() -> str:
    return hash_paths(*(PROVISION_DIR / f for f in RECIPE), extra=f"{MIRROR} {SUITE}")


def base_path(s: Settings) -> Path:
    return s.cache / f"base-{recipe_hash()}"


def _packages(name: str) -> list[str]:
    lines = (PROVISION_DIR / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def ensure_base(s: Settings, log=print) -> Path:
    """Return the cached base image, building it first when the recipe changed."""
    final = base_path(s)
    if (final / "etc" / "dojangkok-lab-image").exists():
        return final
    s.cache.mkdir(parents=True, exist_ok=True)
    for stale in s.cache.glob("tmp-base-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = s.cache / f"tmp-base-{recipe_hash()}-{int(time.time())}"
    log(f"building base image {final.name} (debootstrap + apt, a few minutes) ...")
    t0 = time.monotonic()
    try:
        include = ",".join(_packages("debootstrap.txt"))
        run(
            ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(tmp), MIRROR],
            timeout=900,
        )
        log(f"  debootstrap done in {time.monotonic() - t0:.0f}s")
        work = tmp / "var" / "tmp" / "lab-build"
        work.mkdir(parents=True)
        for name in ("packages.txt", "base.sh"):
            shutil.copy(PROVISION_DIR / name, work / name)
        run(
            [
                "systemd-nspawn",
                "--register=no",
                "--keep-unit",
                "-q",
                "--pipe",
                "-D",
                str(tmp),
                "--machine=dk-image",
                "/bin/bash",
                "/var/tmp/lab-build/base.sh",
            ],
            timeout=1200,
        )
        shutil.rmtree(work)
        (tmp / "etc" / "dojangkok-lab-image").write_text(f"{final.name}\n")
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"  base image ready in {time.monotonic() - t0:.0f}s")
    return final


def remove_images(s: Settings) -> None:
    """Delete every cached image, golden layer and wheelhouse (for a cold start)."""
    if s.cache.exists():
        shutil.rmtree(s.cache)


def require_base(s: Settings) -> Path:
    path = base_path(s)
    if not path.exists():
        raise LabError(f"no base image at {path}: run `python -m tests.lab up`")
    return path
