"""Deploy benchmark on the lab: time and downtime of each deploy, measured two ways.

For each component a new version is pushed to the lab's origin and deployed with `fab`.
The tool's own record gives step timings and the downtime window it saw; a prober on the
operator side polls the component's public endpoint every 50 ms during the deploy and
measures the downtime users would see (the longest run of failed requests).

    .venv/bin/python bench/deploy_bench.py [--rounds N]

Writes bench/reports/deploy.md and prints it. Not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lab import Lab  # noqa: E402

FAB = Path(sys.executable).parent / "fab"
TASKS = {
    "frontend": ("cpu", "deploy-frontend", "http://{cpu}/"),
    "backend": ("cpu", "deploy-backend", "http://{cpu}:8080/health"),
    "ai": ("gpu", "deploy-ai", "http://{gpu}:8000/health"),
}


class Prober(threading.Thread):
    """Polls a URL; records the longest stretch during which it did not answer 200."""

    def __init__(self, url: str, interval: float = 0.05):
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.stop = threading.Event()
        self.longest = 0.0
        self.failures = 0
        self.requests = 0

    def run(self) -> None:
        down_since = None
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                ok = requests.get(self.url, timeout=1).status_code == 200
            except requests.RequestException:
                ok = False
            self.requests += 1
            if ok and down_since is not None:
                self.longest = max(self.longest, t - down_since)
                down_since = None
            elif not ok:
                self.failures += 1
                down_since = down_since or t
            time.sleep(self.interval)
        if down_since is not None:
            self.longest = max(self.longest, time.monotonic() - down_since)


def fab_env(lab: Lab, history: Path) -> dict[str, str]:
    return {**os.environ, "DOJANGKOK_HOSTS": str(lab.inventory),
            "DOJANGKOK_ENV": str(lab.env_file), "DOJANGKOK_HISTORY": str(history)}  # fmt: skip


def fab(lab: Lab, history: Path, *args: str) -> float:
    """Run fab; its wall time. Any failure ends the benchmark with fab's output."""
    t0 = time.monotonic()
    res = subprocess.run([str(FAB), *args], cwd=ROOT, env=fab_env(lab, history),
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(
            f"fab {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}"
        )
    return time.monotonic() - t0


def measured(lab: Lab, name: str, label: str, history: Path, *args: str) -> dict:
    """One fab run with the prober watching the component's public endpoint."""
    prober = Prober(TASKS[name][2].format(**lab.addresses))
    prober.start()
    total = fab(lab, history, *args)
    time.sleep(0.5)
    prober.stop.set()
    prober.join()
    record = json.loads(history.read_text().splitlines()[-1])
    return {
        "component": label,
        "total": total,
        "tool_downtime": record["downtime_seconds"],
        "probe_downtime": prober.longest,
        "probe_failures": f"{prober.failures}/{prober.requests}",
        "steps": {s["number"]: s["seconds"] for s in record["steps"]},
    }


def deploy(lab: Lab, name: str, version: str, history: Path) -> dict:
    host, task, _ = TASKS[name]
    lab.push_app(name, {"VERSION": version + "\n"}, f"bench {version}")
    return measured(lab, name, name, history, "-H", host, task, "--yes")


def rollback(lab: Lab, name: str, history: Path) -> dict:
    host = TASKS[name][0]
    return measured(lab, name, f"{name} rollback", history, "-H", host, f"rollback-{name}", "--yes")


def full(lab: Lab, version: str, history: Path, parallel: bool) -> float:
    for name in TASKS:
        lab.push_app(name, {"VERSION": version + "\n"}, f"bench {version}")
    return fab(lab, history, "full-deploy", "--yes", *(["--parallel"] if parallel else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    lab = Lab.from_repo()
    if not lab.is_up():
        lab.up()
    lab.reset()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.jsonl"
        for r in range(args.rounds):
            for name in TASKS:
                rows.append(deploy(lab, name, f"1.{r + 1}.0", history))
        for name in TASKS:
            rows.append(rollback(lab, name, history))
        sequential = full(lab, "2.0.0", history, parallel=False)
        parallel = full(lab, "2.1.0", history, parallel=True)
    lines = [
        "# Deploy benchmark (manual strategy, lab)",
        "",
        f"{datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {os.cpu_count()} cores, "
        f"{args.rounds} round(s). Reproduce: `make lab-up && .venv/bin/python bench/deploy_bench.py`.",
        "",
        "| component | total | downtime (tool: stop → health) | downtime (prober, 50 ms) | failed probes |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        tool = "-" if row["tool_downtime"] is None else f"{row['tool_downtime']:.1f} s"
        lines.append(
            f"| {row['component']} | {row['total']:.1f} s | {tool} | "
            f"{row['probe_downtime']:.2f} s | {row['probe_failures']} |"
        )
    lines += [
        "",
        f"Full deploy (`fab full-deploy --yes`): {sequential:.1f} s one host after another "
        f"(the manual), {parallel:.1f} s with `--parallel`.",
        "",
        "Step timings (seconds):",
        "",
    ]
    for row in rows:
        steps = ", ".join(f"{k}: {v}" for k, v in row["steps"].items())
        lines.append(f"- {row['component']}: {steps}")
    report = "\n".join(lines) + "\n"
    out = ROOT / "bench" / "reports" / "deploy.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
