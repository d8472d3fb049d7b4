"""The backend switch under load, isolated: what keep-alive users see at each switch and at
each plain nginx reload, with nothing else running.

A release deploy's outage-free switch (tasks/onhost/roothelper.py `switch`: the pair's
nftables table replaced, the boot links, then the wait until nginx's pooled connections to
the old instance are done; no nginx reload) is a few seconds inside a deploy of a minute;
deploy_bench.py's cells show it among everything else. This repeats just the switch,
between the two backend instances a release deploy leaves running (the old one stays warm),
and just a plain nginx reload (`nginx-reload`), each as the deploy user through the root
helper, as fab runs them, while the V1 load (bench/load.py) runs. Per event it prints the load's numbers in the seconds after it, for
the page (served by nginx alone) and for the API (proxied to the backend) apart.

    scripts/lab-lock .venv/bin/python bench/switch_bench.py [--events switch,reload] \\
        [--repeat 5] [--gap 8] [--keep]

It resets the lab, prepares cpu as deploy_bench's `release` column does, deploys 1.1.0
(so that 1.0.0 stays warm beside it), then measures. `--keep`: use the lab as it is (a
previous run's deploy, within its warm window). Not a test; numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load as ld  # noqa: E402
from bench import methods  # noqa: E402
from bench import probes as pr  # noqa: E402
from bench.scenarios import NEW, push_files  # noqa: E402
from tests.lab.acme import SITE_NAME  # noqa: E402
from tests.lab.machines import cgroups  # noqa: E402
from tests.lab.site import site  # noqa: E402

HELPER = "sudo -n /usr/local/sbin/dojangkok-root"
#: on the host, around the root helper's call: the kernel's monotonic clock, which the lab's
#: containers share with this machine (so the times compare with the load's)
CLOCKED = "python3 -c 'import time; print(time.monotonic())'; {cmd}; rc=$?; " \
          "python3 -c 'import time; print(time.monotonic())'; exit $rc"  # fmt: skip
ERROR_LOG = "/var/log/nginx/error.log"
#: --server-log: nginx's view of every request (a conf.d file of the lab host's, removed at
#: the end): when it read the request ($msec, the end of the request), how long it took
#: ($request_time) and the connection's request count (1: a new connection)
SERVER_LOG = "/var/log/nginx/bench-switch.log"
SERVER_LOG_CONF = "/etc/nginx/conf.d/zz-bench-switch.conf"
SERVER_LOG_TEXT = (
    "log_format bench_switch '$msec $request_time $connection_requests $status $request_uri';\n"
    f"access_log {SERVER_LOG} bench_switch;\n"
)
AFTER = 3.0  # seconds after an event's start counted as its effect
BEFORE = 1.0  # … and before it (a request sent just before may wait for it)


def backend_pair(lab) -> tuple[str, list[int], int]:
    """(pair name, its ports, the port serving now) from the root helper's config and the
    pair's live port as a deploy reads it (tasks/strategies/release/bluegreen.py)."""
    from tasks.apps.backend.release import PAIR
    from tasks.hosts.settings import Settings

    res = lab.run("cpu", "cat /etc/dojangkok/sudo.json")
    if res.returncode != 0:
        raise SystemExit("cpu is not set up for releases (no /etc/dojangkok/sudo.json): "
                         "run without --keep")  # fmt: skip
    conf = json.loads(res.stdout)
    name, pair = next((n, p) for n, p in conf["pairs"].items() if "backend" in n or "backend" in p["service"])  # fmt: skip
    live = lab.run("cpu", f"bash -c {shlex.quote(PAIR.live_port_command(Settings()))}").stdout
    return name, pair["ports"], int(live)


def timed(lab, cmd: str) -> tuple[float, float, int, str]:
    """(start, end, exit code, output) of `cmd` run on cpu as the deploy user."""
    res = lab.run("cpu", CLOCKED.format(cmd=cmd), user="deploy", timeout=60)
    lines = res.stdout.split()
    return float(lines[0]), float(lines[-1]), res.returncode, res.stderr.strip()


def effect(reqs: list[ld.Request], t0: float) -> str:
    """The load's numbers from BEFORE seconds before `t0` to AFTER seconds after it, the
    page and the API apart."""
    parts = []
    for label, test in (("page", lambda r: r.name == "/"), ("api", lambda r: r.name != "/")):
        mine = [r for r in reqs if test(r) and t0 - BEFORE <= r.t <= t0 + AFTER]
        lat = ld.latency(mine)
        slow = sum(r.ms >= 200 for r in mine)
        parts.append(f"{label}: n={lat.n} p99={lat.p99:.0f} max={lat.max:.0f} ms, "
                     f"≥200 ms: {slow}, failed {ld.failure_text(mine)}")  # fmt: skip
    return " | ".join(parts)


def error_kinds(log: str) -> Counter:
    """nginx error log lines by message, without time, pid and the client's details."""
    kinds: Counter = Counter()
    for line in log.splitlines():
        text = re.sub(r"^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?", r"[\1] ", line)
        kinds[re.sub(r", client: .*$", "", text)[:160]] += 1
    return kinds


def server_view(lines: list[str], t0: float, clock: float) -> str:
    """nginx's side of an event: new connections and the slowest request_time among the
    requests it finished from t0 to AFTER seconds later (`clock`: the host's wall clock
    minus the monotonic one, to put $msec on the load's clock)."""
    new, slowest, n = 0, 0.0, 0
    for line in lines:
        msec, took, nth, *_ = line.split()
        t = float(msec) - clock
        if t0 <= t <= t0 + AFTER:
            n += 1
            new += nth == "1"
            slowest = max(slowest, float(took) * 1000)
    return f"nginx: {n} requests, {new} on new connections, slowest request_time {slowest:.0f} ms"


def stress(n: int) -> list[subprocess.Popen]:
    """`n` busy loops on this machine (the lab's too): the other sessions that share it."""
    loop = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(n)]


def host_cpu(host: str) -> float:
    """CPU seconds the lab host has used (its cgroup's cpu.stat; 0 when unreadable)."""
    for top in cgroups(host):
        with contextlib.suppress(OSError):
            stat = dict(line.split() for line in (top / "cpu.stat").read_text().splitlines())
            return int(stat["usage_usec"]) / 1e6
    return 0.0


def prepare(lab, fab: methods.FabMethod) -> None:
    lab.reset(setup=True)
    fab.prepare_hosts(lab)
    lab.push_app("backend", push_files("backend", "new", lab.settings.apps_dir), "switch bench")
    cmd = fab.command(lab, "deploy", "backend")
    res = subprocess.run(cmd.argv, cwd=cmd.cwd, env=cmd.env, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{cmd.shown} failed:\n{res.stdout[-3000:]}{res.stderr[-2000:]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", default="switch,reload", help="what one round does, in order")
    p.add_argument("--repeat", type=int, default=5, help="rounds")
    p.add_argument("--gap", type=float, default=8.0, help="seconds between events")
    p.add_argument("--users", type=int, default=ld.USERS)
    p.add_argument("--keep", action="store_true", help="measure the lab as it is")
    p.add_argument("--save", type=Path, help="also keep the load's requests (load.tsv)")
    p.add_argument("--server-log", action="store_true", help="nginx's view of each event")
    p.add_argument("--stress", type=int, default=0, help="busy loops on this machine meanwhile")
    args = p.parse_args()
    from tests.lab import Lab

    lab = Lab.from_repo(ROOT)
    if not lab.is_up():
        lab.up()
    fab = methods.FabMethod("release", ROOT)
    if not args.keep:
        prepare(lab, fab)
    name, ports, live = backend_pair(lab)
    print(f"pair {name}: ports {ports}, {live} serving ({NEW} deployed)", flush=True)
    if args.server_log:
        lab.run("cpu", f"printf %s {shlex.quote(SERVER_LOG_TEXT)} > {SERVER_LOG_CONF} && "
                f": > {SERVER_LOG} && chown www-data {SERVER_LOG} && nginx -s reload")  # fmt: skip
    clock = float(lab.run("cpu", "python3 -c 'import time; print(time.time() - time.monotonic())'").stdout)  # fmt: skip
    busy = stress(args.stress)
    log_from = int(lab.run("cpu", f"wc -l < {ERROR_LOG} || echo 0").stdout.split()[0]) + 1
    eps = pr.endpoints(SITE_NAME, lab.addresses["gpu"])  # the site by its name (tests/lab/site.py)
    cafile = site(lab).ca
    with tempfile.TemporaryDirectory() as tmp:
        out = args.save or Path(tmp) / "load.tsv"
        with ld.Load(ld.site_url(eps["frontend"].url), cafile, out, args.users) as load:
            cpu0, t_start = load.cpu_seconds(), time.monotonic()
            time.sleep(2)
            h0, l0, t_idle = host_cpu("cpu"), load.cpu_seconds(), time.monotonic()
            time.sleep(max(args.gap, 5.0))
            host_idle = (host_cpu("cpu") - h0) / (time.monotonic() - t_idle)
            load_idle = (load.cpu_seconds() - l0) / (time.monotonic() - t_idle)
            idle = load.window(t_idle, time.monotonic())
            print(f"idle: {ld.latency(idle)} failed {ld.failure_text(idle)}; "
                  f"the cpu host used {host_idle:.2f} cores, the load {load_idle:.2f}", flush=True)  # fmt: skip
            events = []
            for _ in range(args.repeat):
                for ev in args.events.split(","):
                    if ev == "switch":
                        live = next(p for p in ports if p != live)
                        cmd = f"{HELPER} switch {name} {live}"
                    else:
                        cmd = f"{HELPER} nginx-reload"
                    h0, l0 = host_cpu("cpu"), load.cpu_seconds()
                    t0, t1, rc, err = timed(lab, cmd)
                    time.sleep(max(0.0, t0 + AFTER - time.monotonic()))
                    took = time.monotonic() - t0
                    used = ((host_cpu("cpu") - h0) / took, (load.cpu_seconds() - l0) / took)
                    events.append((ev, t0, t1, rc, err, used))
                    time.sleep(max(0.0, args.gap - AFTER))
            reqs = load.window(t_start, time.monotonic())
            share = (load.cpu_seconds() - cpu0) / (time.monotonic() - t_start)
        for ev, t0, t1, rc, err, used in events:
            tail = f" (exit {rc}: {err[-200:]})" if rc else ""
            print(f"{ev:6} took {(t1 - t0) * 1000:4.0f} ms{tail}, cpu host {used[0]:.2f} cores, "
                  f"load {used[1]:.2f}: "
                  f"{effect(reqs, t0)}")  # fmt: skip
        for b in busy:
            b.kill()
        served = []
        if args.server_log:
            served = lab.run("cpu", f"cat {SERVER_LOG}; rm -f {SERVER_LOG_CONF}; nginx -s reload").stdout.splitlines()  # fmt: skip
        for ev, t0, *_ in events if served else []:
            print(f"{ev:6} {server_view(served, t0, clock)}")
        print(f"the load process used {share:.0%} of one core")
    said = lab.run("cpu", f"tail -n +{log_from} {ERROR_LOG}").stdout
    print(f"nginx's error log meanwhile ({ERROR_LOG}, by message):")
    for text, n in error_kinds(said).most_common(12):
        print(f"  {n:5} × {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
