"""The shared base image: a Debian rootfs cached under <cache>/base-<recipe hash>.

debootstrap (minbase + systemd/sshd) into a temp dir, then apt-get install the package list
inside it (systemd-nspawn used as a chroot that cleans up its own mounts), then one atomic
rename. A crash leaves only a `tmp-*` dir, which is never taken for an image and is swept on
the next build.

The suite is the Settings' (DOJANGKOK_LAB_SUITE: bookworm, the default, or trixie). The
package list is packages.txt for every suite; provision/suite-<suite>.txt, when there is
one, names the packages that suite calls otherwise (`<packages.txt name> <its name>` per
line: trixie has no OpenJDK 17). The suite and its file are part of the recipe hash, so each
suite has its own image.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .config import MIRROR, PROVISION_DIR, LabError, Settings, hash_paths, run

RECIPE = ("debootstrap.txt", "packages.txt", "base.sh")


def suite_file(suite: str) -> Path:
    return PROVISION_DIR / f"suite-{suite}.txt"


def recipe_hash(suite: str) -> str:
    files = [PROVISION_DIR / f for f in RECIPE]
    if suite_file(suite).exists():
        files.append(suite_file(suite))
    return hash_paths(*files, extra=f"{MIRROR} {suite}")


def base_path(s: Settings) -> Path:
    return s.cache / f"base-{recipe_hash(s.suite)}"


def _lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _packages(name: str) -> list[str]:
    return _lines(PROVISION_DIR / name)


def packages(suite: str) -> list[str]:
    """packages.txt with the suite's own names (suite-<suite>.txt) in place of bookworm's."""
    names = _packages("packages.txt")
    if not suite_file(suite).exists():
        return names
    pairs = [line.split() for line in _lines(suite_file(suite))]
    if any(len(pair) != 2 for pair in pairs):
        raise LabError(f"{suite_file(suite).name}: each line is `<packages.txt name> <new name>`")
    renames = dict(pairs)
    unknown = sorted(set(renames) - set(names))
    if unknown:
        raise LabError(
            f"{suite_file(suite).name} renames {', '.join(unknown)}, which packages.txt does "
            "not list: fix the file"
        )
    return [renames.get(n, n) for n in names]


def ensure_base(s: Settings, log=print) -> Path:
    """Return the cached base image, building it first when the recipe changed."""
    final = base_path(s)
    if (final / "etc" / "dojangkok-lab-image").exists():
        return final
    s.cache.mkdir(parents=True, exist_ok=True)
    for stale in s.cache.glob("tmp-base-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = s.cache / f"tmp-{final.name}-{int(time.time())}"
    log(f"building base image {final.name} ({s.suite}: debootstrap + apt, a few minutes) ...")
    t0 = time.monotonic()
    try:
        include = ",".join(_packages("debootstrap.txt"))
        run(
            ["debootstrap", "--variant=minbase", f"--include={include}", s.suite, str(tmp), MIRROR],
            timeout=900,
        )
        log(f"  debootstrap done in {time.monotonic() - t0:.0f}s")
        work = tmp / "var" / "tmp" / "lab-build"
        work.mkdir(parents=True)
        (work / "packages.txt").write_text("\n".join(packages(s.suite)) + "\n")
        shutil.copy(PROVISION_DIR / "base.sh", work / "base.sh")
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
