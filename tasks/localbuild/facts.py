"""What the host runs, read before anything on it changes; and the tools on this machine.

:func:`host_command` is one read-only shell command (OS, ``uname -m``, the Java that runs the
jar, ``javac``, ``node``, ``rsync``, the checkout's origin URL, the Python that runs the AI
venv); :func:`parse` turns its output into :class:`~tasks.localbuild.model.HostFacts`. The
runtime checks (runtime.py) compare an artifact with these facts.
"""

from __future__ import annotations

import json
import platform
import socket
import subprocess
import sys

from tasks.apps.base import strategy_for
from tasks.engine.view import RunView
from tasks.localbuild import kind
from tasks.localbuild.model import HostFacts
from tasks.shell import q

MARK = "@@fact"

#: run by the AI venv's Python (or python3) on the host: what a wheel must match
PY_SNIPPET = (
    "import json, os, platform, sys, sysconfig\n"
    "try:\n    g = os.confstr('CS_GNU_LIBC_VERSION') or ''\n"
    "except (ValueError, OSError):\n    g = ''\n"
    "print(json.dumps({'version': '%d.%d' % sys.version_info[:2],"
    " 'implementation': sys.implementation.name,"
    " 'soabi': sysconfig.get_config_var('SOABI') or '', 'machine': platform.machine(),"
    " 'glibc': g.split()[-1] if g.startswith('glibc') else '', 'executable': sys.executable}))"
)


def python_on_host(v: RunView) -> str:
    """The interpreter the AI venv runs: the manual's venv, or python3 (release venvs are
    made with ``python3 -m venv``)."""
    if not strategy_for(v.strategy).keeps_releases:
        return f"{v.s.ai_dir}/{v.s.ai_venv}/bin/python"
    return "python3"


def checkout_of(v: RunView) -> str:
    return kind.app(v).checkout(v.s)


def host_command(v: RunView) -> str:
    """Prints ``@@fact <name> <value>`` lines; changes nothing."""
    s, m = v.s, MARK
    parts = [
        f'echo "{m} os $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"',
        f'echo "{m} machine $(uname -m)"',
        f"command -v rsync >/dev/null && echo '{m} rsync yes'",
        f'echo "{m} origin $(git -C {q(checkout_of(v))} remote get-url {q(s.git_remote)} 2>/dev/null)"',
    ]
    built = kind.kind(v)
    if built == kind.JAR:
        parts += [
            f'echo "{m} java $({q(s.backend_java)} -version 2>&1 | head -n 1)"',
            f'command -v javac >/dev/null && echo "{m} javac $(javac -version 2>&1 | head -n 1)"',
        ]
    if built == kind.TREE:
        parts.append(f'command -v node >/dev/null && echo "{m} node $(node --version 2>&1)"')
    if built == kind.WHEELHOUSE:
        py = python_on_host(v)
        parts.append(
            f'py={q(py)}; command -v "$py" >/dev/null || py=python3; '
            f'echo "{m} python $("$py" -c {q(PY_SNIPPET)} 2>/dev/null)"'
        )
    return "; ".join(parts) + "; true"


def parse(alias: str, stdout: str) -> HostFacts:
    found: dict[str, str] = {}
    for line in stdout.splitlines():
        if line.startswith(MARK + " "):
            _, name, *rest = line.split(" ", 2)
            found[name] = rest[0].strip() if rest else ""
    try:
        python = json.loads(found.get("python") or "{}")
    except ValueError:
        python = {}
    if python:
        python = {**python, "abi": abi_tag(python), "implementation": impl_tag(python)}
    return HostFacts(
        alias=alias, os=found.get("os", ""), machine=found.get("machine", ""),
        java=found.get("java", ""), javac=found.get("javac", ""), node=found.get("node", ""),
        rsync=found.get("rsync") == "yes", origin=found.get("origin", ""), python=python,
    )  # fmt: skip


def impl_tag(py: dict) -> str:
    name = py.get("implementation", "")
    return {"cpython": "cp", "pypy": "pp"}.get(name, name[:2])


def abi_tag(py: dict) -> str:
    """``cpython-311-x86_64-linux-gnu`` → ``cp311`` (as pip names the ABI)."""
    soabi = py.get("soabi", "")
    if soabi.startswith("cpython-"):
        return "cp" + soabi.split("-")[1]
    if soabi.startswith("pypy"):
        return soabi.split("-")[0].replace("-", "_").replace(".", "_")
    return "cp" + py.get("version", "").replace(".", "") if py.get("version") else ""


# --- this machine ------------------------------------------------------------------------
def _tool(*argv: str) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (res.stdout.strip() or res.stderr.strip()).splitlines()
    return out[0] if out and res.returncode == 0 else ""


def local_os() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.platform())
    except OSError:
        return platform.platform()


def local_tools(built: str) -> dict:
    """Where a local build ran: this machine, its OS, the tools a build of kind ``built``
    used."""
    tools = {"git": _tool("git", "--version")}
    if built == kind.JAR:
        tools["javac"] = _tool("javac", "-version")
    elif built == kind.TREE:
        tools["node"] = _tool("node", "--version")
        tools["npm"] = _tool("npm", "--version")
    else:
        tools["python"] = platform.python_version()
        tools["pip"] = _tool(sys.executable, "-m", "pip", "--version").split(" from ")[0]
    return {"host": socket.gethostname(), "os": local_os(), "machine": platform.machine(),
            "tools": tools}  # fmt: skip
