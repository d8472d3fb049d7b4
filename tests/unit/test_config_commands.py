"""tasks/config/commands.py run for real where a stub can stand in for the service."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tasks.config import commands, render
from tasks.hosts.inventory import Host
from tasks.hosts.settings import Settings

NGINX_STUB = """#!/bin/bash
# nginx -t -c FILE: print every line of the config it reads (paths included), then "ok"
conf=$3
echo "reading $conf"
cat -- "$conf"
IFS=$'\\n'
for f in $(sed -n 's/^include \\(.*\\);/\\1/p' "$conf"); do echo "include $f"; cat -- "$f"; done
echo "nginx: configuration file $conf test is successful"
"""


def test_validate_nginx_rewrites_paths_with_sed_special_characters(tmp_path, monkeypatch):
    """The copy of the nginx tree points at itself; the output points back at the live tree,
    whatever characters the paths hold (sed's # . & \\ and the shell's $ ' and spaces)."""
    root = tmp_path / "ng#i.nx&$x 'q'\\"
    (root / "sites-available").mkdir(parents=True)
    (root / "sites-enabled").mkdir()
    (root / "nginx.conf").write_text(f"include {root}/sites-enabled/*;\n")
    (root / "sites-enabled" / "default").write_text("server { listen 80; }\n")
    monkeypatch.setattr(commands, "ROOT_DIR", str(tmp_path / "ro ot"))  # root's, on a host
    s = Settings(nginx_site=f"{root}/sites-available/site", server_name="dojangkok.example.com")
    h = Host("cpu", "10.0.0.2", "deploy", 22, None, ("cpu",), s)
    (f,) = [f for f in render.config_files(h) if f.kind == "nginx"]
    staged = Path(commands.staged(f))
    staged.parent.mkdir(parents=True)
    staged.write_text(f"server {{ root {root}/www; }}\n")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "nginx").write_text(NGINX_STUB)
    (bin_ / "nginx").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}"}
    res = subprocess.run(["bash", "-o", "pipefail", "-c", commands.validate_nginx(f, s)],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert res.returncode == 0, res.stderr
    tree = f"{commands.staging_dir()}/nginx-tree"
    out = res.stdout
    # nginx read the copy (its own include, the new site linked, the default site removed)
    assert f"include {root}/sites-enabled/site" in out  # printed back as the live path
    assert f"server {{ root {root}/www; }}" in out and "listen 80" not in out
    assert tree not in out and "test is successful" in out
    assert not Path(tree).exists(), "the copy is removed"
    assert (root / "sites-enabled" / "default").exists(), "the live tree is untouched"
    assert not (root / "sites-enabled" / "site").exists()
