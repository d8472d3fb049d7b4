"""`fab` with one fault put into the second method, for the lab tests (tests/test_build_lab.py).

    python tests/build_faults.py <fault> <fab arguments...>

Faults (the tool's own code is untouched; the wrapper replaces one function in memory):

- ``corrupt-upload``: every file sent over SFTP gets one more byte on the host after it
  arrived, as a broken transfer or disk would leave it;
- ``python-3.12``: the local wheelhouse holds its native wheel tagged for CPython 3.12, as a
  wheelhouse made for (or cached from) another Python would;
- ``ssh-cut``: the SSH connection is cut (its TCP socket shut down under the transport, as a
  network drop leaves it) just before the deploy step that ``DOJANGKOK_TEST_CUT_BEFORE``
  names (e.g. ``B8``) starts: the fault suite's "SSH cut at each step boundary in turn"
  (tests/test_faults_lab.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def corrupt_upload() -> None:
    from tasks.localbuild import ship

    send = ship.put_file

    def put_file(sftp, local, remote, progress=None):
        size = send(sftp, local, remote, progress)
        with sftp.open(remote, "ab") as fh:
            fh.write(b"\0")
        return size

    ship.put_file = put_file


def python_312() -> None:
    from tasks.localbuild import artifacts

    collect = artifacts.collect

    def retagged(v):
        root = artifacts.root_of(v)
        for wheel in root.glob("*-cp311-cp311-*.whl"):
            wheel.rename(wheel.with_name(wheel.name.replace("cp311", "cp312")))
        return collect(v)

    artifacts.collect = retagged


def ssh_cut() -> None:
    import os
    import socket
    import time

    from tasks.engine import runner

    where, attempt = os.environ["DOJANGKOK_TEST_CUT_BEFORE"], runner.Runner.attempt
    done: list[str] = []

    def cut_then_attempt(self, item, phase):
        if not done and f"{item['section']}{item['number']}" == where:
            done.append(where)
            print(f"[fault] SSH connection cut before {where}", flush=True)
            sock = self.session.remote.conn.transport.sock
            sock.shutdown(socket.SHUT_RDWR)
            deadline = time.monotonic() + 10
            while self.session.remote.alive and time.monotonic() < deadline:
                time.sleep(0.05)
        return attempt(self, item, phase)

    runner.Runner.attempt = cut_then_attempt


FAULTS = {"corrupt-upload": corrupt_upload, "python-3.12": python_312, "ssh-cut": ssh_cut}

if __name__ == "__main__":
    FAULTS[sys.argv.pop(1)]()
    from fabric.main import program

    sys.argv[0] = "fab"
    sys.exit(program.run())
