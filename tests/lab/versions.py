"""What the lab serves, and on what: `make demo`'s last step (`python -m tests.lab served`).

The versions are asked as the lab tests ask them after a deploy (tests/conftest.py's
``served``: the page over HTTPS, the backend's /api/version through nginx, the AI server's
/health through cpu), and must be the sample apps' (tests/apps/*/VERSION, the lab repos'
first commit, which the demo deploys); the hosts must run the suite the lab was asked for
(their /etc/os-release; gpu's python3 the suite's). A demo that exits 0 without serving, or
on another suite's hosts, fails here.
"""

from __future__ import annotations

from .config import APPS, SUITES, LabError

#: one read-only command per host: the suite, then the versions worth reporting
STACK = {
    "cpu": '. /etc/os-release; echo "$VERSION_CODENAME"; /usr/sbin/nginx -v 2>&1; '
    "java -version 2>&1 | head -1; mariadb --version; systemctl --version | head -1",
    "gpu": '. /etc/os-release; echo "$VERSION_CODENAME"; python3 -V; systemctl --version | head -1',
}


def expected(lab) -> dict[str, str]:
    """The sample apps' versions (what the lab's repos hold after `reset_git`)."""
    apps = lab.settings.apps_dir
    return {app: (apps / app / "VERSION").read_text().strip() for app in APPS}


def stack(lab, host: str) -> list[str]:
    res = lab.run(host, STACK[host], user="deploy", timeout=30)
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if res.returncode != 0 or not lines:
        raise LabError(f"cannot read what {host} runs: {(res.stdout + res.stderr).strip()}")
    return lines


def mismatches(want: dict[str, str], got: dict[str, str], suite: str, hosts: dict) -> list[str]:
    """What is wrong with what the lab serves (empty: all good). Pure."""
    out = [
        f"{app} serves {got.get(app)!r}, not {v!r}" for app, v in want.items() if got.get(app) != v
    ]
    python = SUITES[suite][1]
    for host, lines in hosts.items():
        if lines[0] != suite:
            out.append(f"{host} runs {lines[0] or 'an unknown release'}, not {suite}")
    gpu_python = next((ln for ln in hosts.get("gpu", []) if ln.startswith("Python ")), "")
    if "gpu" in hosts and not gpu_python.startswith(f"Python {python}."):
        out.append(f"gpu's python3 is {gpu_python or 'missing'}, not {python}")
    return out


def check(lab, timeout: float = 90) -> str:
    """`make demo`'s last check: what it serves and on what; LabError when it is wrong."""
    from tests.conftest import served  # the tests' own check (needs the venv: requests)

    s = lab.settings
    try:
        got = served(lab, timeout)
    except Exception as exc:  # noqa: BLE001 (any failure to be served is the finding)
        raise LabError(f"the lab does not serve the sample apps: {exc}") from exc
    hosts = {h: stack(lab, h) for h in STACK}
    problems = mismatches(expected(lab), got, s.suite, hosts)
    if problems:
        raise LabError("the demo did not end as it should: " + "; ".join(problems))
    apps = ", ".join(f"{a} {v}" for a, v in got.items())
    lines = [f"served on Debian {s.debian_version} ({s.suite}): {apps}"]
    lines += [f"  {h}: " + "; ".join(rest[1:]) for h, rest in hosts.items()]
    lines.append(f"  https://{lab.addresses['cpu']}/ (CA: .lab/tls/ca.pem)")
    return "\n".join(lines)
