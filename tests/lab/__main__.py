"""CLI: python -m tests.lab up [--bare] | down | reset [--host cpu|gpu] [--setup] | status | image
| served.

The suite of the hosts is DOJANGKOK_LAB_SUITE's (bookworm, the default, or trixie).
`served` (make demo's last step) checks that the sample apps answer with their versions on
hosts of that suite, and prints what serves them.

Holds the machine's lab lock (tests/lab/lock.py) while it works.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import HOSTS, Lab, LabError, versions
from .config import check_prereqs
from .image import ensure_base
from .lock import LabLock


def print_status(st: dict) -> None:
    print(
        f"bridge dklab0: {'up' if st['bridge'] else 'absent'}; "
        f"git daemon: {'running' if st['git_daemon'] else 'stopped'}; suite: {st['suite']}; "
        f"ACME server (pebble): {'running' if st.get('acme') else 'stopped'}"
    )
    for host in HOSTS:
        h = st[host]
        line = f"{host:4} {h['address']:15} {'running' if h['running'] else 'stopped':8}"
        line += f" system={h['system']}"
        for svc, state in h.get("services", {}).items():
            line += f" {svc}={state}"
        print(line)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    p.add_argument("command", choices=["up", "down", "reset", "status", "image", "served"])
    p.add_argument("--host", action="append", choices=HOSTS, help="reset only these hosts")
    p.add_argument("--setup", action="store_true",
                   help="reset: to the hosts as `fab setup` left them (cached), not bare")  # fmt: skip
    p.add_argument("--bare", action="store_true",
                   help="up: bare hosts even when the lab was already up (resets them)")  # fmt: skip
    args = p.parse_args(argv)
    t0 = time.monotonic()
    held = LabLock() if args.command != "status" else None
    try:
        lab = Lab.from_repo()
        if args.command == "up":
            was_up = lab.is_up()
            status = lab.up()
            if args.bare and was_up:
                lab.reset()
                status = lab.status()
            print_status(status)
        elif args.command == "down":
            lab.down()
        elif args.command == "image":  # the base image alone (stdlib only: any python3)
            check_prereqs()
            ensure_base(lab.settings)
        elif args.command == "served":
            if not lab.is_up():
                raise LabError(f"the lab is not up with {lab.settings.suite}: nothing to check")
            print(versions.check(lab))
        elif args.command == "reset":
            lab.reset(tuple(args.host or HOSTS), setup=args.setup)
            print_status(lab.status())
        else:
            st = lab.status()
            print_status(st)
            return 0 if all(st[h]["running"] for h in HOSTS) else 3
    except LabError as exc:
        print(f"lab error: {exc}", file=sys.stderr)
        return 2
    finally:
        if held is not None:
            held.release()
    print(f"({args.command} took {time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
