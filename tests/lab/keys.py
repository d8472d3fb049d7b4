"""Secrets and the operator-side files in .lab/: keys, known_hosts, ssh_config, hosts.ini, .env.

A secrets bundle (client key, one host key per host, .env) is generated once per golden
layer and cached next to it, because the golden layer bakes them in (authorized_keys, sshd
host keys, MariaDB passwords, deploypw's password). `up` copies the bundle into .lab/.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from .acme import SITE_NAME, server_url
from .config import HOSTS, Settings, run

ENV_KEYS = ("MYSQL_ROOT_PASSWORD", "DB_PASSWORD", "LAB_SUDO_PASSWORD", "DB_BACKUP_PASSWORD")


def lab_vars(s: Settings) -> str:
    """Settings of dojangkok-deploy that fit the lab's hosts (the rest are the manual's
    defaults): the git origins (git daemon on the operator's address), the sample apps' .env
    values (the backend calls the AI server on gpu, as the team's does) and version endpoints, the site's name (its certificate: tls=acme, the default,
    from the lab's ACME server, whose CA certbot trusts), a small swap file."""
    git = f"git://{s.operator_ip}"
    return f"""[all:vars]
swap_size=64M

[cpu:vars]
frontend_repo={git}/frontend.git
backend_repo={git}/backend.git
frontend_env={{"REACT_APP_API_URL": "/api"}}
backend_env={{"DB_URL": "jdbc:mariadb://localhost:3306/dojangkok", "DB_USER": "dojangkok", "DB_PASSWORD": "${{DB_PASSWORD}}", "SERVER_PORT": "8080", "AI_SERVER_URL": "http://{s.addresses["gpu"]}:8000"}}
frontend_expect=dojangkok frontend
frontend_version_url=https://{SITE_NAME}/
frontend_version_match=regex:name="dojangkok-version" content="([^"]+)"
backend_version_url=https://{SITE_NAME}/api/version
backend_smoke=[{{"method": "GET", "path": "/api/version"}}, {{"method": "GET", "path": "/api/notes"}}]
backend_log_cmd=journalctl -u dojangkok -n 100 --no-pager
server_name={SITE_NAME}
acme_server={server_url(s)}
acme_ca_bundle=tls/acme-server-ca.pem

[gpu:vars]
ai_repo={git}/ai.git
ai_env={{"MODEL_NAME": "lab-stub", "LOG_DIR": "/var/log/dojangkok-ai", "VECTOR_STORE_DIR": "/app/ai-server/vector_store", "STARTUP_DELAY_SECONDS": "3"}}
ai_logs_directory=dojangkok-ai
ai_writable_paths=["/app/ai-server/vector_store"]
ai_version_url=http://localhost:8000/health
"""


def _keygen(path: Path, comment: str) -> None:
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def generate(dest: Path) -> Path:
    """Create a fresh secrets bundle in dest (client key, host keys, env)."""
    dest.mkdir(parents=True, exist_ok=True)
    _keygen(dest / "id_ed25519", "dojangkok-lab")
    for host in HOSTS:
        _keygen(dest / f"host_{host}_ed25519", f"root@{host}")
    env = "".join(f"{k}={secrets.token_hex(12)}\n" for k in ENV_KEYS)
    _write(dest / "env", env, 0o600)
    return dest


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.write_text(text)
    os.chmod(path, mode)


def write_state(s: Settings, bundle: Path) -> None:
    """Write .lab/{id_ed25519,known_hosts,ssh_config,hosts.ini,.env} from a secrets bundle."""
    st = s.state
    st.mkdir(parents=True, exist_ok=True)
    for name in ("id_ed25519", "id_ed25519.pub"):
        shutil.copy(bundle / name, st / name)
    os.chmod(st / "id_ed25519", 0o600)
    missing = [k for k in ENV_KEYS if k not in read_env(bundle / "env")]
    if missing:  # a bundle made before the key existed: added once, kept with the bundle
        with open(bundle / "env", "a") as env:
            env.write("".join(f"{k}={secrets.token_hex(12)}\n" for k in missing))
    shutil.copy(bundle / "env", st / ".env")
    os.chmod(st / ".env", 0o600)
    known = []
    for host, ip in s.addresses.items():
        kind, key = (bundle / f"host_{host}_ed25519.pub").read_text().split()[:2]
        known.append(f"{host},{ip} {kind} {key}\n")
    _write(st / "known_hosts", "".join(known))
    cfg = [f"Host {h}\n  HostName {ip}\n" for h, ip in s.addresses.items()]
    cfg.append(
        f"Host {' '.join(HOSTS)} {' '.join(s.addresses.values())}\n"
        "  User deploy\n  Port 22\n"
        f"  IdentityFile {st / 'id_ed25519'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {st / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  PasswordAuthentication no\n"
        "  ConnectTimeout 5\n  ServerAliveInterval 10\n  LogLevel ERROR\n"
    )
    _write(st / "ssh_config", "".join(cfg))
    ini = []
    for host, ip in s.addresses.items():
        ini.append(
            f"[{host}]\n{host} ansible_host={ip} ansible_user=deploy ansible_port=22 "
            "ansible_ssh_private_key_file=id_ed25519\n\n"
        )
    ini.append("[all:vars]\nknown_hosts_file=known_hosts\nadmin_user=admin\n\n")
    ini.append(lab_vars(s))
    _write(st / "hosts.ini", "".join(ini))


def seed_host(s: Settings, host: str, bundle: Path, merged: Path) -> None:
    """Place identity files into a host's mounted (merged) root before its first boot."""
    ip = s.addresses[host]
    _write(merged / "etc/hostname", f"{host}\n")
    hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n"
    hosts += "".join(f"{a} {h}\n" for h, a in s.addresses.items())
    hosts += f"{s.operator_ip} operator\n"
    _write(merged / "etc/hosts", hosts)
    net = merged / "etc/systemd/network"
    net.mkdir(parents=True, exist_ok=True)
    _write(
        net / "10-lab.network",
        f"[Match]\nName=host0\n\n[Network]\nAddress={ip}/{s.subnet.prefixlen}\n"
        "LinkLocalAddressing=no\nIPv6AcceptRA=no\n",
    )
    key = bundle / f"host_{host}_ed25519"
    shutil.copy(key, merged / "etc/ssh/ssh_host_ed25519_key")
    os.chmod(merged / "etc/ssh/ssh_host_ed25519_key", 0o600)
    shutil.copy(f"{key}.pub", merged / "etc/ssh/ssh_host_ed25519_key.pub")
    pub = (bundle / "id_ed25519.pub").read_text()
    for user, uid in (("deploy", 1000), ("deploypw", 1001)):
        auth = merged / "home" / user / ".ssh" / "authorized_keys"
        _write(auth, pub, 0o600)
        os.chown(auth, uid, uid)
