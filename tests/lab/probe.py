"""An outside prober: asks a URL every few milliseconds and keeps every answer.

Tests assert on it ("no request failed during the deploy"). It keeps its connection alive
as a browser does, and like a browser (RFC 9112 §9.3.1) it resends a request once on a new
connection when the server closed the kept-alive one as the request went out: an nginx
reload closes idle keep-alive connections, which no visitor sees. Any other failure, and a
failure on the new connection, counts.
"""

from __future__ import annotations

import threading
import time

import requests
import urllib3

urllib3.disable_warnings()


def closed_while_kept_alive(exc: requests.ConnectionError) -> bool:
    """The server closed a reused connection before answering ("Connection aborted"), as
    opposed to refusing a new one or timing out."""
    text = str(exc)
    return "Connection aborted" in text and (
        "RemoteDisconnected" in text or "Connection reset" in text or "BrokenPipe" in text
    )


class Prober(threading.Thread):
    def __init__(self, url: str, every: float = 0.02, verify: str | bool = False,
                 expect: str = "") -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.url, self.every, self.verify, self.expect = url, every, verify, expect
        self.samples: list[tuple[float, bool, str]] = []  # (time, ok, what)
        self._halt = threading.Event()
        self.session = requests.Session()
        self.resent = 0  # requests resent after a kept-alive connection was closed

    def run(self) -> None:
        while not self._halt.is_set():
            t = time.monotonic()
            try:
                try:
                    r = self.session.get(self.url, timeout=2, verify=self.verify)
                except requests.ConnectionError as exc:
                    if not closed_while_kept_alive(exc):
                        raise
                    self.session.close()  # its pool holds the closed connection
                    self.session = requests.Session()
                    r = self.session.get(self.url, timeout=2, verify=self.verify)
                    self.resent += 1
                ok = r.status_code == 200 and self.expect in r.text
                what = f"{r.status_code}"
            except requests.RequestException as exc:
                ok, what = False, type(exc).__name__
            self.samples.append((t, ok, what))
            time.sleep(max(0.0, self.every - (time.monotonic() - t)))

    def __enter__(self) -> Prober:
        self.start()
        time.sleep(self.every * 3)
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self.join(timeout=5)

    @property
    def failures(self) -> list[tuple[float, bool, str]]:
        return [s for s in self.samples if not s[1]]

    def longest_outage(self) -> float:
        longest, since = 0.0, None
        for t, ok, _ in self.samples:
            if not ok and since is None:
                since = t
            elif ok and since is not None:
                longest, since = max(longest, t - since), None
        if since is not None:
            longest = max(longest, self.samples[-1][0] - since)
        return longest

    def summary(self) -> str:
        kinds = sorted({w for _, ok, w in self.samples if not ok})
        return (f"{len(self.failures)}/{len(self.samples)} failed, longest outage "
                f"{self.longest_outage():.2f}s {kinds}, {self.resent} resent")  # fmt: skip


class KeepAliveUsers:
    """Users that keep their connections alive and never resend (Python `requests` as the
    team's clients use it): each a thread with its own session, asking GET /api/version and
    POST /api/notes in turn every ``every`` seconds. A request the server drops (a closed
    kept-alive connection, a reset) is a failure, as it is for such a client."""

    def __init__(self, api: str, users: int = 4, every: float = 0.02, verify: str | bool = False):
        self.api, self.every, self.verify = api.rstrip("/"), every, verify
        #: (start, method, ok, what: the status or exception, the version served or "")
        self.samples: list[tuple[float, str, bool, str, str]] = []
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=self._user, args=(i,), daemon=True)
                         for i in range(users)]  # fmt: skip

    def _user(self, i: int) -> None:
        session = requests.Session()  # requests' default: no retry of any kind
        n = i
        while not self._halt.is_set():
            t, post = time.monotonic(), n % 2 == 1
            n += 1
            try:
                if post:
                    r = session.post(f"{self.api}/notes", json={"text": "keep-alive"}, timeout=5,
                                     verify=self.verify)  # fmt: skip
                    ok, version = r.status_code == 201, ""
                else:
                    r = session.get(f"{self.api}/version", timeout=5, verify=self.verify)
                    ok = r.status_code == 200
                    version = r.json().get("version", "") if ok else ""
                what = str(r.status_code)
            except (requests.RequestException, ValueError) as exc:
                ok, what, version = False, f"{type(exc).__name__}: {str(exc)[:120]}", ""
            self.samples.append((t, "POST" if post else "GET", ok, what, version))
            time.sleep(max(0.0, self.every - (time.monotonic() - t)))

    def __enter__(self) -> KeepAliveUsers:
        for th in self._threads:
            th.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        for th in self._threads:
            th.join(timeout=10)

    @property
    def failures(self) -> list[tuple[float, str, bool, str, str]]:
        return [s for s in self.samples if not s[2]]

    def versions(self, since: float = 0.0) -> set[str]:
        """The versions GETs started at ``since`` or later were served."""
        return {v for t, m, ok, _, v in self.samples if ok and m == "GET" and t >= since}

    def summary(self) -> str:
        kinds = sorted({w for _, m, ok, w, _ in self.samples if not ok})
        posts = sum(m == "POST" for _, m, *_ in self.samples)
        return (f"{len(self.failures)}/{len(self.samples)} failed ({posts} POSTs) {kinds}")  # fmt: skip
