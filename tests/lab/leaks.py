"""Leak channels for the lab's leak tests: everything a secret could reach during a run.

``Watch(lab, tmp)`` wraps one or more `fab` runs (a context manager). While it is open, each
host's process list is sampled (`ps -eo args` every 100 ms, over its own ssh connection);
when it closes, it reads each host's journal since it opened (``-o verbose``: every field,
with the command line of each process that logged) and each host's history file (its text,
and its mode and owner). With the raw output the tool handed its masker (tests/leak_probe.py)
and the local history, ``leaks`` looks for every secret of the lab's .env in every channel.

Failure messages name the key and the channel, never the value: a leak test must not leak.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.lab.config import HOSTS

HISTORY = "/var/lib/dojangkok-deploy/history.jsonl"
SAMPLE_EVERY = 0.1


class Watch:
    def __init__(self, lab, tmp: Path, hosts=HOSTS):
        self.lab, self.tmp, self.hosts = lab, Path(tmp), tuple(hosts)
        self.channels: dict[str, str] = {}
        self.history_stat: dict[str, str] = {}
        self.samples: dict[str, int] = {}  # how many process lists were taken per host
        self._samplers: dict[str, tuple[subprocess.Popen, Path]] = {}
        self._since: dict[str, str] = {}

    def __enter__(self) -> Watch:
        for host in self.hosts:
            self._since[host] = self.lab.run(host, "date +%s", timeout=30).stdout.strip()
            out = self.tmp / f"ps-{host}.txt"
            loop = f"while :; do ps -eo args; echo '@@ {{sample}}'; sleep {SAMPLE_EVERY}; done"
            proc = subprocess.Popen(
                [*self.lab.ssh_command(host), "--", loop],
                stdin=subprocess.DEVNULL, stdout=out.open("w"), stderr=subprocess.DEVNULL,
            )  # fmt: skip
            self._samplers[host] = (proc, out)
        time.sleep(0.5)  # the first samples are in before the run starts
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)
        for host, (proc, out) in self._samplers.items():
            proc.terminate()
            proc.wait(timeout=10)
            text = out.read_text(errors="replace")
            self.channels[f"process list of {host}"] = text
            self.samples[host] = text.count("@@ {sample}")
        for host in self.hosts:
            since = self._since[host]
            journal = self.lab.run(
                host, f"journalctl --since=@{since} -o verbose --no-pager", timeout=120
            )
            self.channels[f"journal of {host}"] = journal.stdout
            hist = self.lab.run(
                host, f"stat -c '%a %U' {HISTORY} 2>/dev/null && cat {HISTORY}", timeout=30
            )
            first, _, rest = hist.stdout.partition("\n")
            self.history_stat[host] = first.strip()
            self.channels[f"history of {host} ({HISTORY})"] = rest

    def add(self, name: str, text: str) -> None:
        self.channels[name] = self.channels.get(name, "") + text


def secrets_of(lab) -> dict[str, str]:
    """The lab's secrets: every value in its .env (all long random values)."""
    return {k: v for k, v in lab.env().items() if v}


def leaks(secrets: dict[str, str], channels: dict[str, str]) -> list[str]:
    """``KEY in <channel>`` for every secret found in a channel (names only, no value)."""
    return [
        f"{key} in {name}"
        for name, text in channels.items()
        for key, value in secrets.items()
        if value in text
    ]
