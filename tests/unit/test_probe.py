"""The lab tests' prober counts what a visitor would see: a kept-alive connection that the
server closes as a request goes out is resent once (as browsers do), anything else fails."""

from __future__ import annotations

import socket
import threading
import time

from tests.lab.probe import Prober

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


def serve(answers_per_connection: int) -> tuple[str, socket.socket]:
    """A server answering the first ``answers_per_connection`` requests of each connection,
    then closing it when the next request arrives (what an nginx reload does to a kept-alive
    connection, caught at the worst moment). 0: every connection closed unanswered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def handle(conn: socket.socket) -> None:
        with conn:
            for k in range(answers_per_connection + 1):
                if not conn.recv(65536):
                    return
                if k == answers_per_connection:
                    return  # closed unanswered
                conn.sendall(OK)

    def accept() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}/", sock


def probe(url: str, seconds: float = 0.3) -> Prober:
    with Prober(url, every=0.01, expect="ok") as p:
        time.sleep(seconds)
    return p


def test_a_kept_alive_connection_closed_as_the_request_goes_out_is_resent():
    url, sock = serve(answers_per_connection=1)
    try:
        p = probe(url)
    finally:
        sock.close()
    assert p.samples and not p.failures, p.summary()
    assert p.resent >= 1


def test_a_server_that_never_answers_fails_every_probe():
    url, sock = serve(answers_per_connection=0)
    try:
        p = probe(url)
    finally:
        sock.close()
    assert p.samples and len(p.failures) == len(p.samples), p.summary()


def test_nothing_listening_fails():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()
    p = probe(url, 0.1)
    assert p.samples and len(p.failures) == len(p.samples)
