"""The lab's ACME server: Debian's pebble on the operator's address, with real HTTP-01.

`up` starts two processes beside the git daemon (and `down` stops them):

- ``pebble-challtestsrv`` as the lab's DNS (``<operator>:8053``): it answers one A record,
  the site's name (:data:`SITE_NAME`) → cpu, and nothing else (no default address);
- ``pebble`` (``https://<operator>:14000/dir``) resolving names through it, validating
  HTTP-01 on port 80 of the address it finds: the challenge goes to cpu's nginx, as Let's
  Encrypt's would (no ``PEBBLE_VA_ALWAYS_VALID``). No artificial sleeps, no rejected nonces,
  no reused authorizations (a renewal is validated again).

pebble's own HTTPS certificate is signed by a small CA made once per cache
(``<cache>/acme-server-<operator ip>/``, openssl on this machine); the lab inventory gives
its CA to setup as ``acme_ca_bundle`` (certbot trusts it for the ACME server). pebble makes a
new root for what it issues at every start: `up` fetches it from the management port (on
127.0.0.1 only) into ``.lab/tls/acme-root.pem``. A cached setup layer holds a certificate
from the pebble that ran when it was made, so that root is kept with the layer
(``acme-root.pem``); :func:`site_roots` is both. Every host boot trusts them (the lab's
hosts trust the lab's CA, as an organisation's hosts trust its private CA), and the tests ask
the site by name against them (:mod:`tests.lab.site`).

The operator's machine resolves the name through a marked line in /etc/hosts, added by `up`
and removed by `down` (the tests, `fab health` and a browser on this machine ask
``https://cpu.dojangkok.test/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from .config import LabError, Settings, processes, run

#: the site's DNS name on the lab: the inventory's server_name, cpu's address in the lab DNS
SITE_NAME = "cpu.dojangkok.test"
DNS_PORT, ACME_PORT, MANAGEMENT_PORT, DNS_MANAGEMENT_PORT = 8053, 14000, 15000, 8055
#: what pebble's certificates last: Let's Encrypt's 90 days (pebble's own default is 5
#: years, which no public CA issues and Mozilla's profile refuses)
CERT_DAYS = 90
HOSTS_FILE = Path("/etc/hosts")
HOSTS_MARK = "# dojangkok-lab"
#: where the hosts' trust store gets the site's roots
TRUST_DIR = "usr/local/share/ca-certificates"
TRUST_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
TRUST_PREFIX = "dojangkok-lab-acme"


def server_url(s: Settings) -> str:
    return f"https://{s.operator_ip}:{ACME_PORT}/dir"


def tls_dir(s: Settings) -> Path:
    return s.state / "tls"


def server_ca(s: Settings) -> Path:
    """The CA of pebble's own HTTPS certificate (the inventory's acme_ca_bundle)."""
    return tls_dir(s) / "acme-server-ca.pem"


def current_root(s: Settings) -> Path:
    """The root of what the running pebble issues."""
    return tls_dir(s) / "acme-root.pem"


def site_ca(s: Settings) -> Path:
    """Every root a lab host's site certificate may chain to (:func:`site_roots`)."""
    return tls_dir(s) / "site-ca.pem"


# --- pebble's own certificate (made once per cache) -------------------------------------------
def _server_cert_dir(s: Settings) -> Path:
    """<cache>/acme-server-<ip>/: ca.pem, cert.pem, key.pem (made once; a crash leaves no half)."""
    final = s.cache / f"acme-server-{s.operator_ip}"
    if (final / "key.pem").exists():
        return final
    tmp = s.cache / f"tmp-{final.name}"
    run(["rm", "-rf", str(tmp)])
    tmp.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256"]
    run(["openssl", "req", "-x509", *ec, "-days", "3650", "-subj", "/CN=dojangkok lab ACME server CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.pem")])  # fmt: skip
    run(["openssl", "req", *ec, "-subj", "/CN=dojangkok lab ACME server",
         "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.csr")])  # fmt: skip
    (tmp / "cert.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
        f"subjectAltName=IP:{s.operator_ip},IP:127.0.0.1\n"
    )
    run(["openssl", "x509", "-req", "-in", str(tmp / "cert.csr"), "-CA", str(tmp / "ca.pem"),
         "-CAkey", str(tmp / "ca.key"), "-CAcreateserial", "-days", "3650", "-sha256",
         "-extfile", str(tmp / "cert.ext"), "-out", str(tmp / "cert.pem")])  # fmt: skip
    (tmp / "key.pem").chmod(0o600)
    (tmp / "ca.key").unlink()
    tmp.rename(final)
    return final


def layer_key(s: Settings) -> str:
    """Changes when what a cached setup layer holds from pebble would: its server's CA (the
    layer's cpu trusts a copy) or its certificates' lifetime."""
    import hashlib

    digest = hashlib.sha256((_server_cert_dir(s) / "ca.pem").read_bytes()).hexdigest()[:16]
    return f"{digest} {CERT_DAYS}"


# --- the processes ------------------------------------------------------------------------
def pids(s: Settings) -> list[int]:
    """pebble and its DNS serving the lab's address (from any checkout: the address is one)."""
    marker = f"{s.operator_ip}:{DNS_PORT}"
    found = []
    for pid, cmd in processes():
        if Path(cmd[0]).name in ("pebble", "pebble-challtestsrv") and marker in cmd:
            found.append(pid)
    return found


def _spawn(s: Settings, name: str, argv: list[str], env: dict[str, str] | None = None):
    log = open(s.state / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, **(env or {})})  # fmt: skip
    log.close()
    (s.state / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc


def _wait(what: str, probe, proc, s: Settings, log: str, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise LabError(f"{what} exited: {(s.state / log).read_text()[-800:]}")
        with contextlib.suppress(OSError, ValueError):
            if probe():
                return
        time.sleep(0.1)
    raise LabError(f"{what} did not answer within {timeout:.0f}s (see .lab/{log})")


def start(s: Settings, cpu_address: str) -> None:
    """The lab DNS (the site's name → cpu), then pebble; its root into .lab/tls/."""
    stop(s)
    certs = _server_cert_dir(s)
    tls = tls_dir(s)
    tls.mkdir(parents=True, exist_ok=True)
    server_ca(s).write_bytes((certs / "ca.pem").read_bytes())
    ip = s.operator_ip
    dns = _spawn(s, "acme-dns", [
        "pebble-challtestsrv", "-defaultIPv4", "", "-defaultIPv6", "",
        "-dns01", f"{ip}:{DNS_PORT}", "-http01", "", "-https01", "", "-tlsalpn01", "",
        "-management", f"127.0.0.1:{DNS_MANAGEMENT_PORT}",
    ])  # fmt: skip

    def add_record() -> bool:
        body = json.dumps({"host": f"{SITE_NAME}.", "addresses": [cpu_address]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{DNS_MANAGEMENT_PORT}/add-a", data=body)
        return urllib.request.urlopen(req, timeout=2).status == 200

    _wait("pebble-challtestsrv (the lab DNS)", add_record, dns, s, "acme-dns.log")
    config = s.state / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"{ip}:{ACME_PORT}",
        "managementListenAddress": f"127.0.0.1:{MANAGEMENT_PORT}",
        "certificate": str(certs / "cert.pem"), "privateKey": str(certs / "key.pem"),
        "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
        "certificateValidityPeriod": CERT_DAYS * 86400,
    }}, indent=2))  # fmt: skip
    pebble = _spawn(s, "pebble", ["pebble", "-config", str(config), "-strict=false",
                                  "-dnsserver", f"{ip}:{DNS_PORT}"],
                    env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
                         "PEBBLE_AUTHZREUSE": "0"})  # fmt: skip
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))

    def fetch_root() -> bool:
        url = f"https://127.0.0.1:{MANAGEMENT_PORT}/roots/0"
        pem = urllib.request.urlopen(url, context=ctx, timeout=2).read()
        current_root(s).write_bytes(pem)
        return b"BEGIN CERTIFICATE" in pem

    _wait("pebble", fetch_root, pebble, s, "pebble.log")


def stop(s: Settings) -> None:
    found = pids(s)
    for p in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    end = time.monotonic() + 5
    while time.monotonic() < end and any(Path(f"/proc/{p}").exists() for p in found):
        for p in found:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, os.WNOHANG)
        time.sleep(0.05)
    for name in ("acme-dns", "pebble"):
        (s.state / f"{name}.pid").unlink(missing_ok=True)


def running(s: Settings) -> bool:
    return len(pids(s)) >= 2 and current_root(s).exists()


# --- trust: the roots a lab host's certificate may chain to ---------------------------------
def site_roots(s: Settings, layer: Path | None = None) -> bytes:
    """The running pebble's root, and the one of the pebble that made ``layer`` (a cached
    setup layer); written to .lab/tls/site-ca.pem, which the tests verify against."""
    roots = [current_root(s).read_bytes()]
    kept = layer / "acme-root.pem" if layer is not None else None
    if kept is not None and kept.exists() and kept.read_bytes() not in roots:
        roots.append(kept.read_bytes())
    bundle = b"".join(r if r.endswith(b"\n") else r + b"\n" for r in roots)
    site_ca(s).write_bytes(bundle)
    return bundle


def trust_on_host(merged: Path, bundle: bytes) -> None:
    """Before a host boots: the site's roots in its trust store (update-ca-certificates's
    files: one per root in /usr/local/share/ca-certificates, and the bundle curl reads)."""
    certs = [c + b"-----END CERTIFICATE-----\n" for c in bundle.split(b"-----END CERTIFICATE-----")
             if b"BEGIN CERTIFICATE" in c]  # fmt: skip
    local = merged / TRUST_DIR
    local.mkdir(parents=True, exist_ok=True)
    for old in local.glob(f"{TRUST_PREFIX}-*.crt"):
        old.unlink()
    for i, cert in enumerate(certs):
        (local / f"{TRUST_PREFIX}-{i}.crt").write_bytes(cert.lstrip(b"\n"))
    store = merged / TRUST_BUNDLE
    if store.exists():
        text = store.read_bytes()
        store.write_bytes(
            text + b"".join(c.lstrip(b"\n") for c in certs if c.lstrip(b"\n") not in text)
        )


# --- the operator's name for the site ------------------------------------------------------
def hosts_line(s: Settings, cpu_address: str) -> str:
    return f"{cpu_address} {SITE_NAME} {HOSTS_MARK}"


def resolve_name(s: Settings, cpu_address: str) -> None:
    """/etc/hosts: the site's name → cpu (one marked line, replaced in place: /etc/hosts may
    be a bind mount)."""
    lines = [ln for ln in HOSTS_FILE.read_text().splitlines() if not ln.endswith(HOSTS_MARK)]
    HOSTS_FILE.write_text("\n".join([*lines, hosts_line(s, cpu_address)]) + "\n")


def forget_name() -> None:
    if not HOSTS_FILE.exists():
        return
    text = HOSTS_FILE.read_text()
    lines = [ln for ln in text.splitlines() if not ln.endswith(HOSTS_MARK)]
    if len(lines) != len(text.splitlines()):
        HOSTS_FILE.write_text("\n".join(lines) + "\n")
