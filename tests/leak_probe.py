"""`fab` with its masker observed, for the leak tests (tests/test_deploy_lab.py). Test-only.

    DOJANGKOK_TEST_RAW=<file> python tests/leak_probe.py <fab arguments...>

Everything the tool hands to its masker (``Secrets.mask``: every printed line and every
history record; ``StreamMasker``: every chunk of a command's output, local or on a host) is
appended, before it is masked, to the file that ``DOJANGKOK_TEST_RAW`` names. That file must
already exist, belong to this user and have mode 0600 (the test creates it so): the raw text
is what masking exists to hide. Nothing here is part of the tool: the wrapper replaces a few
methods in memory, the way tests/build_faults.py does, and an installed `fab` has no such
hook (no environment variable of the tool's turns it on).

``DOJANGKOK_TEST_LEAK=1`` makes it a deliberately broken tool, to prove that each channel of
the leak tests can see a leak (tests/test_deploy_lab.py::test_the_leak_detectors_fire):
the first command on a host is preceded by one that carries MYSQL_ROOT_PASSWORD in its
command line, through sudo and the root helper (the process list shows it; sudo logs the
helper's command line to the journal, and the helper refuses the call), the
password is printed once (the raw output has it; the masked output does not) and the
history records are written unmasked with the password in them (both history files).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _raw_file() -> Path:
    path = Path(os.environ["DOJANGKOK_TEST_RAW"])
    st = path.lstat()  # must exist already: created 0600 by the test, never by us
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        sys.exit(f"leak_probe: {path} must be a regular file of yours with mode 0600")
    return path


def observe_masker(raw: Path) -> None:
    from tasks.hosts import masking, secrets

    def keep(text: str) -> None:
        fd = os.open(raw, os.O_WRONLY | os.O_APPEND)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")

    mask = secrets.Secrets.mask

    def observed_mask(self, text):
        keep(text)
        return mask(self, text)

    feed = masking.StreamMasker.feed

    def observed_feed(self, chunk):
        keep(chunk)
        return feed(self, chunk)

    secrets.Secrets.mask = observed_mask
    masking.StreamMasker.feed = observed_feed


def leak() -> None:
    """The broken tool: the password in a command line, in the output and in the history."""
    import shlex

    from tasks.engine import console, records
    from tasks.hosts import remote, secrets
    from tasks.shell import ROOT_HELPER

    loaded: list = []
    load = secrets.Secrets.load.__func__

    def load_and_keep(cls, path=None):
        s = load(cls, path)
        loaded.append(s)
        return s

    secrets.Secrets.load = classmethod(load_and_keep)

    def password() -> str:
        return next(s._values["MYSQL_ROOT_PASSWORD"] for s in loaded)

    run, done = remote.Remote.run, []

    def leaky_run(self, command, sudo=False, **kw):
        if not done:
            done.append(1)
            pw = shlex.quote(password())
            run(self, f"sudo -n {ROOT_HELPER} systemctl stop {pw}; sleep 1.5; true # {pw}")
        return run(self, command, sudo=sudo, **kw)

    remote.Remote.run = leaky_run

    out, printed = console.Console.out, []

    def leaky_out(self, text=""):
        if not printed:
            printed.append(1)
            out(self, f"leak: {password()}")
        return out(self, text)

    console.Console.out = leaky_out

    append = records.append

    def leaky_append(session, entry, *args, **kwargs):
        entry = {**entry, "leak": password()}
        mask = session.secrets.mask
        session.secrets.mask = lambda text: text
        try:
            return append(session, entry, *args, **kwargs)
        finally:
            session.secrets.mask = mask

    records.append = leaky_append  # every caller says records.append


if __name__ == "__main__":
    observe_masker(_raw_file())
    if os.environ.get("DOJANGKOK_TEST_LEAK") == "1":
        leak()
    from fabric.main import program

    sys.argv[0] = "fab"
    sys.exit(program.run())
