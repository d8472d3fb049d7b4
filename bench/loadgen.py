"""The load process (bench/load.py starts it): locust as a library, until SIGTERM.

    python bench/loadgen.py --host https://cpu.dojangkok.test --ca .lab/tls/site-ca.pem --out load.tsv \\
        [--users 50] [--rate 2]

Every user is a locust `HttpUser` (its own `requests` session: one keep-alive connection)
that runs one request per task at `--rate` tasks per second (:func:`steady`: locust's
`constant_throughput` with jittered waits), tasks weighted by bench/load.py's MIX. Each
finished request is a line of `--out` (bench.load.row), written within FLUSH seconds;
statistics are bench/load.py's, not locust's (which keeps no per-request times).
"""

from __future__ import annotations

import argparse
import random
import signal
import ssl
import sys
import time
from pathlib import Path

import gevent
import gevent.event
from locust import HttpUser
from locust.clients import LocustHttpAdapter
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import FLUSH, MIX, TIMEOUT, Request, exception_kind, judge, row, steady  # noqa: E402


class TrustOnce(LocustHttpAdapter):
    """A user's https adapter with one TLS context for the whole process, the CA read once
    (as a browser keeps its trust store). With `verify=<CA file>`, requests builds a new
    context and reads the file for every new connection: ~1.2 ms of this process's CPU per
    reconnect, 90 ms when a reload makes all 50 users reconnect at once (measured here: 50
    reconnects, 90 ms of client CPU with `verify=path`, 32 ms with a shared context)."""

    def __init__(self, context: ssl.SSLContext):
        self.context = context
        super().__init__(pool_manager=None)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        pool["ssl_context"] = self.context  # (locust's own: the public CAs, read once)
        return host, pool


def user_class(host: str, cafile: str | None, rate: float) -> type[HttpUser]:
    context = ssl.create_default_context(cafile=cafile)

    def asking(method: str, path: str):
        def ask(self) -> None:
            kwargs = {"json": {"text": "bench note"}} if method == "POST" else {}
            with self.client.request(method, path, name=path, timeout=TIMEOUT,
                                     catch_response=True, **kwargs) as res:  # fmt: skip
                if res.status_code:  # 0: no answer (the exception is reported as it is)
                    why = judge(method, path, res.status_code, res.text)
                    res.failure(why) if why else res.success()

        ask.__name__ = f"{method.lower()}_{path.strip('/').replace('/', '_') or 'page'}"
        return ask

    weighted = {asking(m, p): w for m, p, w in MIX}

    class Visitor(HttpUser):
        wait_time = steady(rate)
        tasks = weighted  # in the class body: locust's metaclass reads the weights there

        def on_start(self) -> None:
            self.client.mount("https://", TrustOnce(context))
            gevent.sleep(random.uniform(0, 1 / rate))  # users out of step, like people

    Visitor.host = host
    return Visitor


class Recorder:
    """Buffers finished requests and writes them to `out` every half second."""

    def __init__(self, out: Path):
        self.file = open(out, "a", encoding="utf-8")  # noqa: SIM115 (open until the end)
        self.buffer: list[str] = []

    def on_request(self, request_type, name, response_time, response=None, exception=None,
                   **_) -> None:  # fmt: skip
        status = getattr(response, "status_code", 0) or 0
        error = ""
        if exception is not None:  # an answer judged bad says why (judge), else the cause
            error = str(exception) if status else exception_kind(exception)
        t = time.monotonic() - response_time / 1000
        self.buffer.append(row(Request(t, response_time, request_type, name, int(status), error)))

    def flush(self) -> None:
        if self.buffer:
            self.file.write("".join(self.buffer))
            self.file.flush()
            self.buffer.clear()

    def every(self, seconds: float) -> None:
        while True:
            gevent.sleep(seconds)
            self.flush()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--ca")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--rate", type=float, default=2.0)
    args = p.parse_args()
    env = Environment(user_classes=[user_class(args.host, args.ca, args.rate)])
    rec = Recorder(args.out)
    env.events.request.add_listener(rec.on_request)
    runner = env.create_local_runner()
    done = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, done.set)
    gevent.signal_handler(signal.SIGINT, done.set)
    writer = gevent.spawn(rec.every, FLUSH)
    runner.start(args.users, spawn_rate=args.users)
    done.wait()
    runner.quit()
    writer.kill()
    rec.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
