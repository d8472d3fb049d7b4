"""An outside prober: asks a URL every few milliseconds and keeps every answer.

Tests assert on it ("no request failed during the deploy"); the benchmark turns the same
samples into outage numbers and timelines.
"""

from __future__ import annotations

import threading
import time

import requests
import urllib3

urllib3.disable_warnings()


class Prober(threading.Thread):
    def __init__(self, url: str, every: float = 0.02, verify: str | bool = False,
                 expect: str = "") -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.url, self.every, self.verify, self.expect = url, every, verify, expect
        self.samples: list[tuple[float, bool, str]] = []  # (time, ok, what)
        self._halt = threading.Event()
        self.session = requests.Session()

    def run(self) -> None:
        while not self._halt.is_set():
            t = time.monotonic()
            try:
                r = self.session.get(self.url, timeout=2, verify=self.verify)
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
                f"{self.longest_outage():.2f}s {kinds}")  # fmt: skip
