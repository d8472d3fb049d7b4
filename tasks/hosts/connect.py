"""SSH connections with host key checking ON (Fabric's default silently accepts any key).

:func:`connect` opens a :class:`~tasks.hosts.remote.Remote` (streamed, cancellable commands)
on a Fabric Connection; connection failures become one operator's error (:func:`explain`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import stat
from pathlib import Path

import paramiko
from fabric import Config, Connection

from tasks.errors import ConfigError
from tasks.hosts.inventory import Host
from tasks.hosts.remote import Remote
from tasks.hosts.secrets import Secrets

# paramiko logs a traceback for every failed handshake; explain() says it in one line.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)


def connect(host: Host, secrets: Secrets, label: str = "dojangkok") -> Remote:
    """A live connection to ``host`` as its deploy login, or a ConfigError saying why there
    is none. With ``admin_user`` set, the deploy login has no sudo but the root helper's
    (tasks/procedures/privilege.py): the sudo password, if any, is the admin's."""
    admin = bool(host.settings.admin_user)
    return _open(host, None if admin else _password(host, secrets), label)


def connect_admin(host: Host, secrets: Secrets, label: str = "dojangkok") -> Remote:
    """For setup and push-config: the deploy login, with the commands that need root sent
    over a second login as ``admin_user`` (when it is set; else as :func:`connect`)."""
    s = host.settings
    if not s.admin_user:
        return connect(host, secrets, label)
    if not host.user or host.user == s.admin_user:
        raise ConfigError(
            f"admin_user={s.admin_user} for {host.alias}, but the deploy login is "
            f"{host.user or 'not given (ansible_user)'}",
            "give the deploy login as ansible_user, another account than admin_user",
        )
    root = _admin(host, secrets, label)
    try:
        return Remote(lambda: connection(host), label=label, root=root)
    except Exception as exc:
        root.close()
        raise explain(host, exc) from None


@contextlib.contextmanager
def admin_steps(remote: Remote, host: Host, secrets: Secrets, label: str = "dojangkok"):
    """Within: ``remote``'s root commands go over a second login as ``admin_user`` (a
    deploy's one-time conversion to releases changes system files). Without admin_user the
    deploy login runs them, as everywhere else."""
    if remote is None or not host.settings.admin_user or getattr(remote, "root", None) is not None:
        yield
        return
    remote.root = _admin(host, secrets, label)
    try:
        yield
    finally:
        remote.root.close()
        remote.root = None


def _admin(host: Host, secrets: Secrets, label: str) -> Remote:
    """A login as ``admin_user``, with the sudo password if one is set."""
    admin = dataclasses.replace(host, user=host.settings.admin_user)
    return _open(admin, _password(host, secrets), label)


def _password(host: Host, secrets: Secrets) -> str | None:
    if not host.settings.sudo_password_env:
        return None
    return secrets.require(host.settings.sudo_password_env, f"sudo on {host.alias}")


def _open(host: Host, password: str | None, label: str) -> Remote:
    try:
        return Remote(lambda: connection(host), sudo_password=password, label=label)
    except ConfigError:
        raise
    except Exception as exc:
        raise explain(host, exc) from None


def connection(host: Host) -> Connection:
    """A Fabric Connection (not yet open) that refuses unknown or changed host keys."""
    s = host.settings
    config = Config(overrides={"load_ssh_configs": False, "run": {"echo": False}})
    kwargs: dict = {}
    if host.key_file:
        if not Path(host.key_file).is_file():
            raise ConfigError(
                f"ssh key {host.key_file} for host {host.alias} not found",
                "fix ansible_ssh_private_key_file in the inventory",
            )
        check_key_mode(host.key_file, host.alias)
        kwargs = {"key_filename": host.key_file, "look_for_keys": False, "allow_agent": False}
    conn = Connection(
        host.address,
        user=host.user,
        port=host.port,
        config=config,
        connect_kwargs=kwargs,
        connect_timeout=15,
    )
    known = Path(s.known_hosts_file).expanduser() if s.known_hosts_file else None
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if known is not None:
        if not known.is_file():
            raise ConfigError(
                f"known_hosts file {known} for host {host.alias} not found",
                "fix known_hosts_file in the inventory, or add the host key with ssh-keyscan "
                "after checking its fingerprint",
            )
        conn.client.load_host_keys(str(known))
    else:
        conn.client.load_system_host_keys()
    return conn


def check_key_mode(path: str, alias: str) -> None:
    """Refuse a private key others may read or change (OpenSSH refuses it too: paramiko does
    not). Whoever can read it logs in as the deploy login; whoever can write it, as well."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"ssh key {path} for host {alias} has mode {mode:04o}: other users of this machine "
            "can read (or change) it",
            f"chmod 600 {shlex.quote(path)}",
        )


def explain(host: Host, exc: Exception) -> ConfigError:
    """Turn a connection failure into an operator's error."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return ConfigError(
            f"host key of {host.alias} ({host.address}) has CHANGED: refusing to connect",
            "if the server was rebuilt, verify the new fingerprint and update known_hosts",
        )
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return ConfigError(
            f"host key of {host.alias} ({host.address}) is unknown: refusing to connect",
            "verify the fingerprint, then add it to the known_hosts file the inventory names",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return ConfigError(
            f"ssh login to {host.alias} as {host.user} was refused",
            "check ansible_user and ansible_ssh_private_key_file in the inventory",
        )
    return ConfigError(
        f"cannot reach {host.alias} ({host.address}:{host.port}): {exc}",
        "check the address in the inventory and that sshd is running (manual: SSM Session Manager)",
    )
