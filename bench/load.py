"""The manual's V1 load beside the probers: what keep-alive users see while a deploy runs.

The probers (bench/probes.py) open a new connection for each GET. Users don't: browsers and
the team's clients keep connections alive, and they POST. The manual's load for V1 (§ 부하:
50 concurrent users × 2 requests/s = 100 req/s) runs here with locust (`bench` extra),
`HttpUser` keep-alive sessions (Python `requests`, which retries nothing: a connection the
server closes under a request is a failed request) asking what the sample apps offer.

locust patches the standard library for gevent as it is imported, so it runs in a process
of its own (bench/loadgen.py, locust as a library: `locust.env.Environment`), never in the
probers' threads. That process writes one line per finished request (:func:`row`); this
module starts it, reads its lines by time window (:class:`Load`), and turns them into the
report's numbers (pure functions at the end).
"""

from __future__ import annotations

import bisect
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

USERS = 50
RATE = 2.0  # requests per second per user (locust's constant_throughput, jittered: loadgen.steady)
JITTER = 0.2  # each wait within ±20 % of constant_throughput's
TIMEOUT = 5.0  # seconds a request may take before it counts as failed
FLUSH = 0.5  # seconds between the load process's writes
#: what a user asks, with weights (one request per task): the page, the version the page
#: shows, the notes list and a new note. POSTs are few enough that the list (every note,
#: the sample app has no paging) stays small over a cell.
MIX = (
    ("GET", "/", 4),
    ("GET", "/api/version", 4),
    ("GET", "/api/notes", 1),
    ("POST", "/api/notes", 1),
)
NICE = -5  # the load generator's priority: a user's client is not starved by the server
IDLE_SECONDS = 30.0  # the idle baseline's length
TARGET_P99_RATIO = 3.0  # p99 during a command at most this × the idle p99
TARGET_MAX_MS = 500.0  # every request under this during a command
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


@dataclass(frozen=True)
class Request:
    t: float  # time.monotonic() when sent (one clock for every process of the machine)
    ms: float  # until the whole answer was read, or the failure
    method: str
    name: str  # the path asked
    status: int  # 0: no answer
    error: str = ""  # "" when good, else why: "HTTP 502", "RemoteDisconnected", "bad body"

    @property
    def ok(self) -> bool:
        return not self.error


def row(r: Request) -> str:
    """One request as the load process writes it (tab-separated, one line)."""
    return f"{r.t:.4f}\t{r.ms:.2f}\t{r.method}\t{r.name}\t{r.status}\t{r.error}\n"


def parse(line: str) -> Request:
    t, ms, method, name, status, error = line.rstrip("\n").split("\t")
    return Request(float(t), float(ms), method, name, int(status), error)


def judge(method: str, name: str, status: int, body: str) -> str:
    """Why an answer is not a good one ("" when it is): the status a user expects, and the
    version in what shows it."""
    want = 201 if method == "POST" else 200
    if status != want:
        return f"HTTP {status}"
    if name == "/" and 'name="dojangkok-version"' not in body:
        return "bad body"
    if name == "/api/version" and '"version"' not in body:
        return "bad body"
    return ""


def exception_kind(exc: BaseException) -> str:
    """The innermost cause of a client error, by class name (e.g. requests'
    ConnectionError(ProtocolError(..., RemoteDisconnected(...))) → "RemoteDisconnected")."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        inner = inner or exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if inner is None:
            break
        exc = inner
    return type(exc).__name__


def steady(rate: float, jitter: float = JITTER, clock=time.perf_counter, draw=random.uniform):
    """`rate` tasks per second per user on average, as locust's `constant_throughput`
    (each wait is the rest of the 1/rate period the task left), but each wait drawn from
    ±`jitter` of that rest. constant_throughput keeps every user's phase for good, so a stall
    that lines users up (a reset times every request out at once) leaves them asking in
    bursts of 50 from then on (measured: 100 ms windows without a request, then bursts);
    with the jitter they drift apart again within seconds, as people do. Used by
    bench/loadgen.py as its users' `wait_time`."""
    period = 1 / rate

    def wait(user) -> float:
        now = clock()
        last = getattr(user, "_steady", None)  # (when the last wait began, its length)
        ran = now - (last[0] + last[1]) if last else 0.0
        rest = max(0.0, period - ran) * draw(1 - jitter, 1 + jitter)
        user._steady = (now, rest)
        return rest

    return wait


def site_url(frontend_url: str) -> str:
    """The site's base URL for the load: the prober's frontend endpoint (bench/probes.py
    decides how the site is addressed) asked over https, as a browser does after setup's
    permanent redirect and HSTS."""
    u = urlsplit(frontend_url)
    return f"https://{u.netloc}"


def _sent(r: Request) -> float:
    return r.t


class Load:
    """The load process for the whole benchmark; :meth:`window` reads what it wrote."""

    def __init__(self, base: str, cafile: str | None, out: Path, users: int = USERS,
                 rate: float = RATE, settle: float = TIMEOUT + 2 * FLUSH):  # fmt: skip
        self.base, self.cafile, self.out, self.users, self.rate = base, cafile, out, users, rate
        self.settle = settle  # seconds until a request sent has surely been written
        self.proc: subprocess.Popen | None = None
        self.requests: list[Request] = []
        self._offset, self._rest = 0, ""

    def argv(self) -> list[str]:
        argv = [sys.executable, str(LOADGEN), "--host", self.base, "--out", str(self.out),
                "--users", str(self.users), "--rate", str(self.rate)]  # fmt: skip
        return argv + (["--ca", self.cafile] if self.cafile else [])

    def __enter__(self) -> Load:
        self.out.write_text("")
        log = open(self.out.with_suffix(".log"), "w")  # noqa: SIM115 (the child's, kept open)
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=lambda: os.nice(NICE) if os.geteuid() == 0 else None)  # fmt: skip
        log.close()
        end = time.monotonic() + 30
        while not self._read() and time.monotonic() < end and self.proc.poll() is None:
            time.sleep(0.2)
        if not self.requests:
            self.__exit__()
            tail = self.out.with_suffix(".log").read_text()[-2000:]
            raise RuntimeError(f"the load ({' '.join(self.argv())}) answered nothing:\n{tail}")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._read()

    def _read(self) -> int:
        """Reads what the load process wrote since the last call (whole lines only)."""
        with open(self.out, encoding="utf-8") as f:
            f.seek(self._offset)
            text = f.read()
            self._offset = f.tell()
        lines = (self._rest + text).split("\n")
        self._rest = lines.pop()
        new = sorted((parse(line) for line in lines if line), key=_sent)
        if new and self.requests and new[0].t < self.requests[-1].t:
            self.requests = sorted(self.requests + new, key=_sent)  # written as they finished
        else:
            self.requests += new
        return len(new)

    def window(self, t0: float, t1: float) -> list[Request]:
        """The requests sent from t0 to t1, every one of them: a request is written when it
        ends, so this waits until one sent at t1 has ended (TIMEOUT) and been written."""
        time.sleep(max(0.0, t1 + self.settle - time.monotonic()))
        self._read()
        i = bisect.bisect_left(self.requests, t0, key=lambda r: r.t)
        j = bisect.bisect_right(self.requests, t1, key=lambda r: r.t)
        return self.requests[i:j]

    def cpu_seconds(self) -> float:
        """CPU seconds the load process has used so far (user + system)."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the numbers ------------------------------------------------------------------------
@dataclass(frozen=True)
class Latency:
    n: int
    p50: float
    p95: float
    p99: float
    max: float


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (a value that was measured): the smallest value with at
    least p % of the values at or below it; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n·p/100), at least the first
    return ordered[int(rank) - 1]


def latency(reqs: list[Request]) -> Latency:
    """Latency of every request, failed ones included (a user waited for those too)."""
    ms = [r.ms for r in reqs]
    return Latency(len(ms), *(percentile(ms, p) for p in (50, 95, 99)), max(ms, default=0.0))


def failures(reqs: list[Request]) -> dict[str, int]:
    """Failed requests by method and why ("POST HTTP 502", "GET RemoteDisconnected"), most
    first."""
    counts = Counter(f"{r.method} {r.error}" for r in reqs if not r.ok)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def failure_text(reqs: list[Request]) -> str:
    """'0', or e.g. '15: POST HTTP 502 ×12, GET RemoteDisconnected ×3'."""
    f = failures(reqs)
    if not f:
        return "0"
    return f"{sum(f.values())}: " + ", ".join(f"{k} ×{n}" for k, n in f.items())


def ms_text(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


@dataclass(frozen=True)
class Verdict:
    failed: int
    p99_ratio: float  # p99 during the command ÷ the idle p99
    max_ms: float

    @property
    def zero_failed(self) -> bool:
        return self.failed == 0

    @property
    def p99_ok(self) -> bool:
        return self.p99_ratio <= TARGET_P99_RATIO

    @property
    def max_ok(self) -> bool:
        return self.max_ms < TARGET_MAX_MS

    @property
    def ok(self) -> bool:
        return self.zero_failed and self.p99_ok and self.max_ok


def verdict(reqs: list[Request], idle: Latency) -> Verdict:
    """A command's requests judged against the targets and the run's idle baseline."""
    lat = latency(reqs)
    ratio = lat.p99 / idle.p99 if idle.p99 > 0 else float("inf")
    return Verdict(sum(not r.ok for r in reqs), ratio, lat.max)


def describe(users: int = USERS, rate: float = RATE) -> str:
    mix = ", ".join(f"{m} `{p}` ×{w}" for m, p, w in MIX)
    return (
        f"{users} users × {rate:g} requests/s each ({users * rate:.0f} req/s; locust "
        f"`HttpUser`, keep-alive, `constant_throughput({rate:g})` with each wait within "
        f"±{JITTER:.0%} so users stay out of step), one request per task, "
        f"tasks weighted {mix}; a request fails on a connection error, a {TIMEOUT:.0f} s "
        "timeout, a status other than 200 (201 for the POST) or a page or version without "
        "the version"
    )


def rows(reqs: list[Request]) -> list[list]:
    """Requests as JSON-friendly rows (bench/store.py)."""
    return [[round(r.t, 4), round(r.ms, 2), r.method, r.name, r.status, r.error] for r in reqs]


def from_rows(rows_: list[list]) -> list[Request]:
    return [Request(t, ms, m, n, s, e) for t, ms, m, n, s, e in rows_]


def _main() -> None:
    """`python -m bench.load FILE`: the numbers of a load file, for a quick look."""
    text = Path(sys.argv[1]).read_text(encoding="utf-8")
    reqs = [parse(line) for line in text.splitlines() if line.strip()]
    print(json.dumps({"latency": latency(reqs).__dict__, "failed": failures(reqs)}, indent=1))


if __name__ == "__main__":
    _main()
