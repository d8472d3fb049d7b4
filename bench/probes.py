"""Outside probes: what a user on the operator side sees while a deploy runs.

Each endpoint gets its own thread that sends one fresh request every `interval` seconds
(20 ms by default) and records when it was sent, whether it was ok and which version
answered. The pure functions below turn such a list into the numbers of the report.
"""

from __future__ import annotations

import bisect
import http.client
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

INTERVAL = 0.02
TIMEOUT = 1.0
_META = re.compile(r'name="dojangkok-version" content="([^"]*)"')


@dataclass(frozen=True)
class Probe:
    t: float  # time.monotonic() when sent
    ok: bool
    version: str = ""  # the version that answered ("" when it failed)


@dataclass(frozen=True)
class Endpoint:
    """One public URL and how to read a good answer from it."""

    name: str  # the component it belongs to
    url: str
    kind: str  # "page" (frontend HTML), "json" (version in a JSON body)
    expect: str = ""  # text a good JSON body must contain


def endpoints(cpu: str, gpu: str) -> dict[str, Endpoint]:
    """The three endpoints; `cpu`'s page and API go through nginx (http, or https after
    `fab setup`, which redirects 80 → 443: `ask` follows it)."""
    return {
        "frontend": Endpoint("frontend", f"http://{cpu}/", "page"),
        "backend": Endpoint("backend", f"http://{cpu}/api/version", "json", '"version"'),
        "ai": Endpoint("ai", f"http://{gpu}:8000/health", "json", '"ok"'),
    }


def _get(url: str, ctx: ssl.SSLContext | None) -> tuple[int, str, str]:
    """(status, Location header, body) of one GET on a fresh connection."""
    u = urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=TIMEOUT, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT)
    try:
        conn.request("GET", u.path or "/", headers={"Connection": "close"})
        res = conn.getresponse()
        return res.status, res.getheader("Location") or "", res.read(65536).decode(errors="replace")
    finally:
        conn.close()


def ask(ep: Endpoint, ctx: ssl.SSLContext | None = None) -> tuple[bool, str]:
    """One request, like a new visitor: (ok, version). Follows one redirect (http → https
    after `fab setup`). http.client, not requests: a probe costs a fifth of the CPU, and
    the probers share the lab machine's two cores with the deploy they measure."""
    try:
        status, location, body = _get(ep.url, ctx)
        if status in (301, 302, 307, 308) and location:
            status, _, body = _get(urljoin(ep.url, location), ctx)
    except (OSError, http.client.HTTPException):
        return False, ""
    if status != 200:
        return False, ""
    if ep.kind == "page":
        m = _META.search(body)
        return (True, m.group(1)) if m else (False, "")
    if ep.expect not in body:
        return False, ""
    try:
        return True, str(json.loads(body).get("version", ""))
    except (ValueError, AttributeError):
        return True, ""


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Trusts the lab CA (.lab/tls/ca.pem), which signed cpu's certificate."""
    return ssl.create_default_context(cafile=cafile)


class Prober(threading.Thread):
    """Probes one endpoint every `interval` seconds (start to start) until stopped."""

    def __init__(self, ep: Endpoint, ctx: ssl.SSLContext | None, interval: float = INTERVAL):
        super().__init__(daemon=True, name=f"probe-{ep.name}")
        self.ep, self.ctx, self.interval = ep, ctx, interval
        self.halt = threading.Event()
        self.probes: list[Probe] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        tick = time.monotonic()
        while not self.halt.is_set():
            t = time.monotonic()
            ok, version = ask(self.ep, self.ctx)
            with self._lock:
                self.probes.append(Probe(t, ok, version))
            tick += self.interval
            now = time.monotonic()
            if tick < now:  # a slow answer: skip the ticks it overran
                tick = now
            self.halt.wait(tick - now)

    def since(self, t0: float) -> list[Probe]:
        with self._lock:
            return self.probes[bisect.bisect_left(self.probes, t0, key=lambda p: p.t) :]

    def stop(self) -> None:
        self.halt.set()
        self.join()


@dataclass
class Probers:
    """One prober per endpoint, running for the whole benchmark."""

    eps: dict[str, Endpoint]
    ctx: ssl.SSLContext | None = None
    interval: float = INTERVAL
    threads: dict[str, Prober] = field(default_factory=dict)

    def __enter__(self) -> Probers:
        for name, ep in self.eps.items():
            self.threads[name] = Prober(ep, self.ctx, self.interval)
            self.threads[name].start()
        return self

    def __exit__(self, *exc) -> None:
        for th in self.threads.values():
            th.stop()

    def window(self, t0: float, t1: float) -> dict[str, list[Probe]]:
        return {n: [p for p in th.since(t0) if p.t <= t1] for n, th in self.threads.items()}

    def healthy_for(self, names, seconds: float, since: float) -> bool:
        """Every named endpoint answered ok in each probe of the last `seconds`."""
        now = time.monotonic()
        for n in names:
            recent = self.threads[n].since(max(since, now - seconds))
            if not recent or not all(p.ok for p in recent) or recent[0].t > now - seconds * 0.8:
                return False
        return True

    def wait_healthy(self, names, seconds: float, timeout: float, since: float = 0.0) -> bool:
        """Wait until `healthy_for`; False after `timeout` seconds."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.healthy_for(names, seconds, since):
                return True
            time.sleep(0.1)
        return False


# -- the numbers ------------------------------------------------------------------------
@dataclass(frozen=True)
class Outage:
    start: float
    end: float  # the first ok probe after it, or the last failed probe + one interval

    @property
    def seconds(self) -> float:
        return self.end - self.start


def outages(probes: list[Probe], interval: float = INTERVAL) -> list[Outage]:
    """Runs of consecutive failed probes, each from its first failure to the next ok probe
    (or, when it lasts to the end, to one interval after its last failure)."""
    out, start, last = [], None, None
    for p in probes:
        if not p.ok:
            start = p.t if start is None else start
            last = p.t
        elif start is not None:
            out.append(Outage(start, p.t))
            start = None
    if start is not None:
        out.append(Outage(start, last + interval))
    return out


def longest_outage(probes: list[Probe], interval: float = INTERVAL) -> float:
    return max((o.seconds for o in outages(probes, interval)), default=0.0)


def failed(probes: list[Probe]) -> int:
    return sum(not p.ok for p in probes)


def final_state(probes: list[Probe]) -> tuple[bool, str]:
    """(up, version) of the last probe; (False, "") when there is none."""
    return (probes[-1].ok, probes[-1].version) if probes else (False, "")


def segments(
    probes: list[Probe], t_end: float | None = None
) -> list[tuple[float, float, str | None]]:
    """The probe list as (start, end, state) bands for a timeline: state is the version
    that answered, or None for a failure. Each probe lasts until the next one."""
    out: list[tuple[float, float, str | None]] = []
    for i, p in enumerate(probes):
        nxt = probes[i + 1].t if i + 1 < len(probes) else (t_end or p.t + INTERVAL)
        state = p.version if p.ok else None
        if out and out[-1][2] == state and abs(out[-1][1] - p.t) < 1e-9:
            out[-1] = (out[-1][0], nxt, state)
        else:
            out.append((p.t, nxt, state))
    return out
