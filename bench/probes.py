"""Outside probes: what a user on the operator side sees while a deploy runs.

Each endpoint gets its own thread that sends one request every `interval` seconds (20 ms
by default) and records when it was sent, whether it was ok and which version answered.
The thread probes like a browser that has visited before (:class:`Visitor`): every probe
is a new TCP connection (no keep-alive, so a restart or a refused port fails the probe),
but once `http://cpu/…` has answered with setup's permanent redirect to https, the next
probes ask the https URL directly (HSTS and a cached 301 make a browser do the same), and
each https probe offers the TLS session of the previous one (nginx's shared session cache;
a session the server no longer knows costs a full handshake, nothing else). That halves
what probing costs this machine, which also runs the lab's hosts and fab. The pure
functions below turn a probe list into the numbers of the report.
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
REDIRECTS = (301, 302, 307, 308)
PERMANENT = (301, 308)  # a browser remembers these (and HSTS upgrades http to https)
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
    `fab setup`, which redirects 80 → 443: the :class:`Visitor` follows it once, then asks
    https directly)."""
    return {
        "frontend": Endpoint("frontend", f"http://{cpu}/", "page"),
        "backend": Endpoint("backend", f"http://{cpu}/api/version", "json", '"version"'),
        "ai": Endpoint("ai", f"http://{gpu}:8000/health", "json", '"ok"'),
    }


def remembered(url: str, status: int, location: str) -> str:
    """The URL the next probe asks after `url` answered `status` with `location`: the
    redirect's target when it is a permanent redirect from http to https on the same host
    (what a browser does after HSTS or a cached 301), else `url` again."""
    if status not in PERMANENT or not location:
        return url
    target = urljoin(url, location)
    old, new = urlsplit(url), urlsplit(target)
    if old.scheme == "http" and new.scheme == "https" and old.hostname == new.hostname:
        return target
    return url


class _ResumingHTTPS(http.client.HTTPSConnection):
    """An https connection that offers a remembered TLS session and keeps its SSL socket,
    so the server's new session can be read once the answer is in (TLS 1.3 sends it after
    the handshake: it is processed while the response is read)."""

    def __init__(self, host, port, ctx: ssl.SSLContext, session: ssl.SSLSession | None):
        super().__init__(host, port, timeout=TIMEOUT, context=ctx)
        self.ctx, self.offer, self.tls = ctx, session, None

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP (with the timeout), no tunnel
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=self.host, session=self.offer)
        self.tls = self.sock


class Visitor:
    """One endpoint's visitor, like a browser that has been there before; one per prober
    thread (its state is not shared). Each :meth:`ask` is a new TCP connection per request;
    the visitor remembers a permanent http → https redirect (:func:`remembered`) and the
    TLS session of its last https answer."""

    def __init__(self, ep: Endpoint, ctx: ssl.SSLContext | None = None):
        self.ep = ep
        self.ctx = ctx or ssl.create_default_context()
        self.url = ep.url  # what the next probe asks first
        self.session: ssl.SSLSession | None = None
        self.https = 0  # https answers read (counters: read them once the thread stopped)
        self.resumed = 0  # … of them over a resumed TLS session

    def _get(self, url: str) -> tuple[int, str, str]:
        """(status, Location header, body) of one GET on a new connection."""
        u = urlsplit(url)
        if u.scheme != "https":
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=TIMEOUT)
            try:
                conn.request("GET", u.path or "/", headers={"Connection": "close"})
                res = conn.getresponse()
                return res.status, res.getheader("Location") or "", _body(res)
            finally:
                conn.close()
        # no `Connection: close` here: with it, http.client drops the socket as the answer
        # arrives; the connection is closed below instead. A server may still close it (its
        # own `Connection: close`): then the socket is gone once the body is read, so the
        # session is read as soon as the headers are in (a TLS 1.3 server sends its session
        # ticket before the answer) and again after the body if the socket is still open.
        conn = _ResumingHTTPS(u.hostname, u.port or 443, self.ctx, self.session)
        try:
            conn.request("GET", u.path or "/")
            res = conn.getresponse()
            session, reused = conn.tls.session, conn.tls.session_reused
            out = res.status, res.getheader("Location") or "", _body(res)
            session = conn.tls.session or session
            self.https += 1
            self.resumed += bool(reused)
            self.session = session or self.session
            return out
        finally:
            conn.close()

    def ask(self) -> tuple[bool, str]:
        """One probe: (ok, version). Follows one redirect (http → https after `fab setup`)
        and remembers it when it is permanent. http.client, not requests: the probers share
        the lab machine's two cores with the deploy they measure."""
        try:
            status, location, body = self._get(self.url)
            if status in REDIRECTS and location:
                target = urljoin(self.url, location)
                self.url = remembered(self.url, status, location)
                status, _, body = self._get(target)
        except (OSError, http.client.HTTPException):
            return False, ""
        return judge(self.ep, status, body)


def _body(res: http.client.HTTPResponse) -> str:
    return res.read(65536).decode(errors="replace")


def judge(ep: Endpoint, status: int, body: str) -> tuple[bool, str]:
    """(ok, version) of an answer: 200 with the version in the page or the JSON body."""
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


def ask(ep: Endpoint, ctx: ssl.SSLContext | None = None) -> tuple[bool, str]:
    """One request like a first-time visitor (nothing remembered): (ok, version)."""
    return Visitor(ep, ctx).ask()


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Trusts the roots cpu's certificate chains to (tests/lab/site.py: the lab's ACME server)."""
    return ssl.create_default_context(cafile=cafile)


class Prober(threading.Thread):
    """Probes one endpoint every `interval` seconds (start to start) until stopped, with
    its own :class:`Visitor`."""

    def __init__(self, ep: Endpoint, ctx: ssl.SSLContext | None, interval: float = INTERVAL):
        super().__init__(daemon=True, name=f"probe-{ep.name}")
        self.ep, self.interval = ep, interval
        self.visitor = Visitor(ep, ctx)
        self.halt = threading.Event()
        self.probes: list[Probe] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        tick = time.monotonic()
        while not self.halt.is_set():
            t = time.monotonic()
            ok, version = self.visitor.ask()
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

    def resumption(self) -> dict[str, tuple[int, int]]:
        """Per endpoint: (https answers, how many of them resumed the TLS session)."""
        return {n: (th.visitor.https, th.visitor.resumed) for n, th in self.threads.items()}

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
