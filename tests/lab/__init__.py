"""The dojangkok test lab: two real hosts (`cpu`, `gpu`) on this machine.

Each host is a Debian container booted with `systemd-nspawn --boot` (systemd as PID 1,
sshd, its own network namespace) on the lab bridge dklab0: Debian 12 (bookworm) by default,
Debian 13 (trixie) with DOJANGKOK_LAB_SUITE=trixie (`make demo LAB_SUITE=trixie`). Every
cache entry below is the suite's own; `up` with another suite than the one running takes
the lab down first. Addresses come from the /24 in
DOJANGKOK_LAB_SUBNET (default 10.77.0.0/24): operator (this machine) .1, cpu .2, gpu .3.
Hosts reach only the bridge: no NAT, no forwarding.

The hosts are bare, as a cloud image gives them: the distribution's packages (nginx,
MariaDB, a JDK, node, python3-venv, nftables; provision/packages.txt), an `admin` with
passwordless sudo (like `ubuntu`; the inventory's admin_user), the deploy login `deploy`
without sudo (setup gives it the tool's root helper only), `deploypw` with a sudo password,
on cpu a TLS certificate for the site's name signed by
a lab CA (what the cloud or its admin provides; setup's default, tls=acme, gets its own from
the lab's ACME server instead: tests/lab/acme.py), on gpu a pip.conf reading a local
wheelhouse (the lab has no internet). Nothing of the application: no service users, no
checkouts, no units, no site, no database. `fab setup` makes them serve.

Layers (overlayfs), cached under /var/cache/dojangkok-lab (DOJANGKOK_LAB_CACHE):
  base-<recipe hash>     debootstrap + packages (provision/*.txt, base.sh); ~1.5 min cold
  golden-<key>/<host>    the bare host (provision/common.sh + <host>.sh); ~15 s cold
  golden-<key>/secrets   the secrets baked into that golden layer: client key, host keys
                         and the .env (MYSQL_ROOT_PASSWORD, DB_PASSWORD, LAB_SUDO_PASSWORD).
                         They are generated fresh whenever a golden layer is provisioned and
                         copied to .lab/ by every `up` (not regenerated on a warm `up`).
  setup-<key>/<host>     the host after `fab setup` (tests/lab/served.py): tests that need
                         the apps served start from it (`reset(setup=True)`)
  <rundir>/<host>/upper  throw-away upper dir per host, under /var/lib/dojangkok-lab
                         (DOJANGKOK_LAB_RUNDIR); `reset` = kill host, wipe it, boot again.
Every cache entry is built in a tmp-* dir and renamed into place, so a crash never leaves a
half entry that looks valid. The golden key covers the base recipe, the provisioning
scripts, the wheelhouse and the subnet.

Operator-side files in .lab/: hosts.ini, ssh_config, id_ed25519(.pub), known_hosts, .env,
tls/cloud-ca.pem (the lab CA that signed cpu's provided certificate at /etc/ssl/dojangkok/),
tls/acme-server-ca.pem, tls/acme-root.pem, tls/site-ca.pem (the ACME server's: acme.py),
git/<app>.git (served read-only by `git daemon` on <operator ip>:9418), <host>.log (console),
<host>.pid, git-daemon.pid, pebble.pid, acme-dns.pid, lab.json. `up` also adds one marked
line to /etc/hosts (the site's name → cpu); `down` removes it.

One lab per machine: hold /tmp/dojangkok-lab.lock while using it (tests/lab/lock.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import acme, gitrepos, keys, machines, network, provision, remote, served
from .config import DEFAULT_SUITE, HOSTS, LabError, Settings, check_prereqs

__all__ = ["Lab", "LabError", "HOSTS"]

SERVICES = {"cpu": ("ssh", "nginx", "mariadb", "dojangkok"), "gpu": ("ssh", "fastapi")}


def _locked(method):
    """Serialize up/down/reset machine-wide (the bridge and machine names are global)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with open("/run/dojangkok-lab.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            return method(self, *args, **kwargs)

    return wrapper


def _parallel(fn, items):
    with ThreadPoolExecutor(max(1, len(items))) as pool:
        return [f.result() for f in [pool.submit(fn, i) for i in items]]


class Lab:
    def __init__(self, root: Path, log=print):
        self.settings = Settings(Path(root).resolve())
        self.log = log
        s = self.settings
        self.root = s.root
        self.state_dir = s.state
        self.inventory = s.state / "hosts.ini"
        self.env_file = s.state / ".env"
        self.ssh_config = s.state / "ssh_config"
        self.known_hosts = s.state / "known_hosts"
        self.key_file = s.state / "id_ed25519"
        self.git_dir = gitrepos.git_dir(s)
        self.addresses = s.addresses
        self.operator_ip = s.operator_ip

    @classmethod
    def from_repo(cls, start: Path | None = None, log=print) -> Lab:
        here = Path(start or Path(__file__)).resolve()
        for d in [here, *here.parents]:
            if (d / "pyproject.toml").exists() and (d / "tests" / "lab").is_dir():
                return cls(d, log=log)
        raise LabError(f"no dojangkok-deploy repo above {here}")

    # -- life cycle ---------------------------------------------------------------
    def running_suite(self) -> str | None:
        """The suite of the lab this checkout brought up (None: not up from here)."""
        try:
            return self._meta().get("suite", DEFAULT_SUITE)
        except FileNotFoundError:
            return None

    def is_up(self) -> bool:
        """Up from this checkout, with the suite asked for (DOJANGKOK_LAB_SUITE)."""
        s = self.settings
        return (
            self.running_suite() == s.suite
            and network.bridge_exists()
            and all(machines.is_running(h) for h in HOSTS)
            and bool(gitrepos.daemon_pids(s))
            and acme.running(s)
        )

    @_locked
    def up(self) -> dict:
        check_prereqs()
        s = self.settings
        if self.is_up():
            self.log("lab is already up")
            return self.status()
        if self.running_suite() not in (None, s.suite):
            self.log(f"the lab runs {self.running_suite()}: taking it down for {s.suite}")
        self._down(quiet=True)
        golden = provision.ensure_golden(s, self.log)
        wheels = provision.wheelhouse(s, self.log)
        keys.write_state(s, golden / "secrets")
        tls = s.state / "tls"
        tls.mkdir(exist_ok=True)
        (tls / "ca.pem").unlink(missing_ok=True)  # (older labs: the site's CA was the cloud's)
        shutil.copy(golden / "cpu/etc/ssl/dojangkok/ca.pem", tls / "cloud-ca.pem")
        network.bridge_up(s)
        meta = {"golden": str(golden), "wheelhouse": str(wheels), "subnet": str(s.subnet),
                "suite": s.suite}  # fmt: skip
        (s.state / "lab.json").write_text(json.dumps(meta, indent=2) + "\n")
        self.reset_git()
        gitrepos.start_daemon(s)
        try:
            acme.start(s, self.addresses["cpu"])
            acme.resolve_name(s, self.addresses["cpu"])
            _parallel(self._boot, HOSTS)
        except BaseException:
            self._down(quiet=True)
            raise
        hosts = ", ".join(f"{h}={a}" for h, a in self.addresses.items())
        self.log(f"lab is up ({s.suite}, Debian {s.debian_version}): {hosts}")
        return self.status()

    def _meta(self) -> dict:
        return json.loads((self.settings.state / "lab.json").read_text())

    def _boot(self, host: str, setup: Path | None = None) -> None:
        s = self.settings
        meta = self._meta()
        golden, wheels = Path(meta["golden"]), Path(meta["wheelhouse"])
        machines.stop(s, host)
        machines.wipe(s, host)
        d = machines.layer_dirs(s, host)
        lowers = provision.lowers(s, golden, host)
        if setup is not None:
            lowers.insert(0, setup / host)
        machines.mount(lowers, d["upper"], d["work"], d["merged"])
        # the roots cpu's certificate may chain to: the running pebble's, the layer's
        acme.trust_on_host(d["merged"], acme.site_roots(s, setup))
        machines.start(s, host, d["merged"], provision.binds(host, wheels))
        if remote.wait_ready(s, host) != "running":
            failed = self.run(host, "systemctl --failed --no-legend", timeout=15).stdout
            self.log(f"warning: {host} booted degraded:\n{failed}")

    @_locked
    def reset(self, hosts=HOSTS, git: bool = True, setup: bool = False) -> None:
        """Hosts back to bare (or, ``setup``: as `fab setup` left them), git repos to initial.

        ``setup``: the first time (per version of the tool, the apps and the lab settings)
        this runs `fab setup` on bare hosts and caches the result (tests/lab/served.py).
        """
        check_prereqs(build=False)
        if not self.is_up():
            raise LabError(
                f"the lab is not up with {self.settings.suite}: run `python -m tests.lab up`"
            )
        if isinstance(hosts, str):
            hosts = (hosts,)
        if git:
            self.reset_git()
        if not setup:
            self._reset_bare(tuple(hosts))
            return
        layer = served.ensure(self, Path(self._meta()["golden"]))
        _parallel(lambda h: self._boot(h, layer), tuple(hosts))

    def _reset_bare(self, hosts) -> None:
        _parallel(self._boot, tuple(hosts))

    @contextlib.contextmanager
    def host_stopped(self, host: str):
        """Within: ``host``'s machine is off (killed, its link gone: a crashed server, as the
        tool sees it); after: booted again as `fab setup` left it (the cached layer)."""
        machines.stop(self.settings, host)
        try:
            yield
        finally:
            self._boot_setup(host)

    @_locked
    def _boot_setup(self, host: str) -> None:
        self._boot(host, served.ensure(self, Path(self._meta()["golden"])))

    @_locked
    def down(self, quiet: bool = False) -> None:
        """Stop everything the lab started; safe after a crash or a half-finished up."""
        self._down(quiet)

    def _down(self, quiet: bool = False) -> None:
        check_prereqs(build=False)
        s = self.settings
        _parallel(lambda h: machines.stop(s, h), HOSTS)
        for pid in machines.nspawn_pids():  # machines not recorded anywhere
            subprocess.run(["kill", "-KILL", str(pid)], check=False)
        machines.umount_all(s.rundir, s.cache)
        for host in HOSTS:
            machines.wipe(s, host)
        for cg in machines.cgroups("x"):
            with contextlib.suppress(OSError):
                cg.parent.rmdir()
        network.bridge_down()
        gitrepos.stop_daemon(s)
        acme.stop(s)
        acme.forget_name()
        (s.state / "lab.json").unlink(missing_ok=True)
        if not quiet:
            self.log("lab is down")

    # -- inspection and helpers ---------------------------------------------------
    def status(self) -> dict:
        s = self.settings
        out = {"bridge": network.bridge_exists(), "git_daemon": bool(gitrepos.daemon_pids(s)),
               "suite": self.running_suite() or "-", "acme": acme.running(s)}  # fmt: skip
        for host in HOSTS:
            running = machines.is_running(host)
            info = {"running": running, "address": self.addresses[host], "system": "-"}
            if running:
                info["system"] = remote.system_state(s, host)
                res = self.run(host, f"systemctl is-active {' '.join(SERVICES[host])}", timeout=15)
                states = res.stdout.split() or ["unknown"] * len(SERVICES[host])
                info["services"] = dict(zip(SERVICES[host], states, strict=False))
            out[host] = info
        return out

    def env(self) -> dict[str, str]:
        return keys.read_env(self.env_file)

    def write_inventory(self, path: Path, extra: str = "", **cpu_vars: str) -> Path:
        """A copy of the lab's inventory at ``path`` (key paths made absolute), followed by
        ``extra`` sections, then ``cpu_vars`` in a last [cpu:vars] section (so they win)."""
        text = self.inventory.read_text()
        text = text.replace("=id_ed25519", f"={self.key_file}")
        text = text.replace("known_hosts_file=known_hosts", f"known_hosts_file={self.known_hosts}")
        text = text.replace("acme_ca_bundle=tls/", f"acme_ca_bundle={self.state_dir / 'tls'}/")
        text += extra
        if cpu_vars:
            text += "\n[cpu:vars]\n" + "".join(f"{k}={v}\n" for k, v in cpu_vars.items())
        path.write_text(text)
        return path

    def run(
        self,
        host: str,
        command: str,
        user: str = "root",
        *,
        login: str | None = None,
        timeout: float = 600,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a bash command on host (as root or any user via admin's sudo, or ssh as login)."""
        return remote.run_on(
            self.settings, host, command, user, login=login, timeout=timeout, input=input
        )

    def tunnel(self, via: str = "cpu", target: str = "gpu", port: int = 8000):
        """A context manager: a local address forwarded over ssh through ``via`` to
        ``target:port`` (setup's firewall opens the AI server to the CPU host only)."""
        return remote.tunnel(self.settings, via, self.addresses.get(target, target), port)

    def ssh_command(self, host: str, login: str = "deploy") -> list[str]:
        return remote.ssh_argv(self.settings, host, login)

    def push_app(self, app: str, files: dict[str, str | None], message: str = "lab change") -> str:
        return gitrepos.push_app(self.settings, app, files, message)

    def reset_git(self) -> dict[str, str]:
        """Bare repos back to their initial commit (made from tests/apps); returns {app: sha}.

        The initial commits are deterministic, so the checkouts in a cached setup layer
        fast-forward from them.
        """
        return gitrepos.create_repos(self.settings)
