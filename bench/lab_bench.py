"""Time the lab's life cycle: cold up (with --cold), warm up, reset, down.

Writes bench/reports/lab.md (a markdown table with the numbers, date and machine) and
prints it. Leaves the lab up at the end. Run as root from the repo root:

    .venv/bin/python bench/lab_bench.py [--cold]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import Lab, image  # noqa: E402

TARGETS = {"cold up": "< 300 s", "warm up": "< 30 s", "reset": "< 15 s", "down": "-"}


def timed(results: dict, name: str, fn) -> None:
    t0 = time.monotonic()
    fn()
    results[name] = time.monotonic() - t0
    print(f"{name}: {results[name]:.1f}s", flush=True)


def machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, "
        f"Linux {platform.release()}"
    )


def startup_ms(python: Path, runs: int = 5) -> float:
    """This machine's speed, in the unit fab pays on every run: the median wall time (ms)
    of a Python that imports fabric (the bulk of fab's start-up), ``runs`` times."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run([str(python), "-c", "import fabric"], check=True)
        times.append((time.monotonic() - t0) * 1000)
    return statistics.median(times)


def report(results: dict) -> str:
    rows = ["| step | seconds | target |", "|---|---:|---|"]
    rows += [f"| {k} | {v:.1f} | {TARGETS.get(k, '-')} |" for k, v in results.items()]
    head = [
        "# Lab benchmark",
        "",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}",
        "",
    ]
    return "\n".join(head + rows) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cold", action="store_true", help="delete the cached images first")
    args = p.parse_args()
    lab = Lab.from_repo(ROOT, log=lambda *a: None)
    results: dict[str, float] = {}
    lab.down(quiet=True)
    if args.cold:
        image.remove_images(lab.settings)
        timed(results, "cold up", lab.up)
        lab.down(quiet=True)
    timed(results, "warm up", lab.up)
    timed(results, "reset", lab.reset)
    timed(results, "down", lab.down)
    lab.up()  # leave it up for whoever runs next
    text = report(results)
    out = ROOT / "bench" / "reports" / "lab.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
