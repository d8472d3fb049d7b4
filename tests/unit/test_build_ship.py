"""The frontend's rsync, run for real: its ssh forwards nothing to the host whatever the
operator's ~/.ssh/config says, and the paths travel in rsync's protocol, never on the remote
shell's command line (``--protect-args``).

``ssh -G`` prints the options ssh would use (it connects nowhere); the transfer itself goes
through a stand-in ``ssh`` that records its arguments and runs the remote command here, as
the host's shell would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.hosts.settings import Settings
from tasks.localbuild import ship
from tasks.localbuild.checkout import real_path, work

from .test_build_plans import local

pytestmark = pytest.mark.skipif(not (shutil.which("ssh") and shutil.which("rsync")),
                                reason="needs ssh and rsync")  # fmt: skip

FORWARDING_CONFIG = """Host *
  ForwardAgent yes
  ForwardX11 yes
  LocalForward 8080 localhost:80
  RemoteForward 9090 localhost:22
  DynamicForward 1080
"""


def ssh_argv(v) -> list[str]:
    """The ssh command rsync runs (``-e``), split as rsync splits it."""
    return shlex.split(ship.ssh_command(v))


def test_rsync_s_ssh_forwards_nothing_even_when_the_config_does(tmp_path):
    config = tmp_path / "ssh_config"
    config.write_text(FORWARDING_CONFIG)
    v = local("frontend", "release", settings=Settings(known_hosts_file=str(tmp_path / "kh")))
    argv = ssh_argv(v)
    res = subprocess.run([argv[0], "-G", "-F", str(config), *argv[1:], "cpu.example"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    seen = dict(line.split(" ", 1) for line in res.stdout.splitlines() if " " in line)
    assert seen["forwardagent"] == "no" and seen["forwardx11"] == "no"
    assert seen["clearallforwardings"] == "yes"
    assert not {"localforward", "remoteforward", "dynamicforward"} & seen.keys(), res.stdout
    # host keys as before: checked, against the tool's known_hosts only
    assert seen["stricthostkeychecking"] == "true" and seen["batchmode"] == "yes"
    assert seen["userknownhostsfile"] == str(tmp_path / "kh")


FAKE_SSH = """#!/bin/bash
printf '%s\\n' "$@" > "$SSH_ARGV"
while [ $# -gt 0 ] && [ "$1" != rsync ]; do shift; done
exec sh -c "$*"
"""


def test_the_paths_go_over_rsync_s_protocol_not_the_remote_command_line(tmp_path):
    site = tmp_path / "a site $(touch CANARY) 'x'"
    site.mkdir()  # the checkout, on the host
    s = Settings(frontend_dir=str(site), build_work_dir=str(tmp_path / "builds"))
    v = local("frontend", "manual", settings=s)
    build = real_path(work(v)) / s.frontend_build_dir
    (build / "static").mkdir(parents=True)
    (build / "index.html").write_text("<html>v2</html>\n")
    (build / "static" / "app.js").write_text("console.log(2)\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "SSH_ARGV": str(tmp_path / "ssh-argv")}  # fmt: skip
    res = subprocess.run(["bash", "-c", ship.rsync(v)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    dest = Path(ship.destination(v))
    assert (dest / "index.html").read_text() == "<html>v2</html>\n"
    assert (dest / "static" / "app.js").exists()
    assert not list(tmp_path.rglob("CANARY"))
    argv = (tmp_path / "ssh-argv").read_text().splitlines()
    remote = " ".join(argv[argv.index("rsync") :])
    assert "site" not in remote and str(dest) not in remote, remote  # only in the protocol
    for option in ("-a", "-x", "ForwardAgent=no", "ClearAllForwardings=yes",
                   "StrictHostKeyChecking=yes", "BatchMode=yes"):  # fmt: skip
        assert option in argv[: argv.index("rsync")], (option, argv)
