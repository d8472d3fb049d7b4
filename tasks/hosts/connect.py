"""SSH connections with host key checking ON (Fabric's default silently accepts any key).

:func:`connect` opens a :class:`~tasks.hosts.remote.Remote` (streamed, cancellable commands)
on a Fabric Connection; connection failures become one operator's error (:func:`explain`).

The operator's SSH config is honoured as Fabric does by default (:func:`ssh_config`): the
file the ``ssh_config_file`` setting names, else ``~/.ssh/config`` and ``/etc/ssh/ssh_config``.
A host is looked up there by its inventory address (``ansible_host``, else its alias), as ssh
and Ansible do; ``HostName``, ``User``, ``Port``, ``IdentityFile``, ``ProxyJump`` (every hop)
and ``ProxyCommand`` (e.g. AWS SSM: ``aws ssm start-session ...``) apply. Where the inventory
gives a value too (``ansible_user``, ``ansible_port``, ``ansible_ssh_private_key_file``), the
inventory's wins (:func:`inventory_wins`). Never from the SSH config: agent forwarding (off on
every connection) and host key policy: every hop's key is checked against
``known_hosts_file`` (or ``~/.ssh/known_hosts``) and an unknown or changed one is refused,
whatever ``StrictHostKeyChecking`` or ``UserKnownHostsFile`` say (:func:`check_host_keys`).
``Include`` lines are not followed (paramiko's reader does not).
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
    (tasks/setup/privilege.py): the sudo password, if any, is the admin's."""
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
            f"{host.alias}: admin_user({s.admin_user})와 배포 계정"
            f"({host.user or 'ansible_user 없음'})은 서로 다른 계정이어야 합니다",
            "인벤토리에서 배포 계정을 ansible_user로 지정하십시오. admin_user와는 다른 계정이어야 합니다",
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
    return secrets.require(host.settings.sudo_password_env, f"{host.alias}의 sudo")


def _open(host: Host, password: str | None, label: str) -> Remote:
    try:
        return Remote(lambda: connection(host), sudo_password=password, label=label)
    except ConfigError:
        raise
    except Exception as exc:
        raise explain(host, exc) from None


def connection(host: Host) -> Connection:
    """A Fabric Connection (not yet open) that refuses unknown or changed host keys, with the
    operator's SSH config applied (module docstring)."""
    kwargs: dict = {}
    if host.key_file:
        if not Path(host.key_file).is_file():
            raise ConfigError(
                f"{host.alias}의 SSH 키 파일이 없습니다: {host.key_file}",
                "인벤토리의 ansible_ssh_private_key_file을 실제 키 파일 경로로 고치십시오",
            )
        check_key_mode(host.key_file, host.alias)
        kwargs = {"key_filename": host.key_file, "look_for_keys": False, "allow_agent": False}
    conn = _Connection(
        host.address,
        user=host.user,
        port=host.port if host.port_given else None,
        config=ssh_config(host),
        connect_kwargs=kwargs,
        connect_timeout=CONNECT_TIMEOUT,
        forward_agent=False,
    )
    inventory_wins(conn, host)
    for hop in route(conn):
        check_host_keys(hop, host)
    return conn


# --- the operator's SSH config ------------------------------------------------------------
CONNECT_TIMEOUT = 15


class _Connection(Connection):
    """A Connection that also closes the ProxyJump hops it opened (Fabric leaves them open)."""

    def close(self):
        super().close()
        for hop in route(self)[1:]:
            with contextlib.suppress(Exception):
                hop.close()


def ssh_config(host: Host) -> Config:
    """Fabric's config with the SSH config files loaded: ``ssh_config_file`` alone when it is
    set (as ``ssh -F``), else the user's and the system's."""
    path = host.settings.ssh_config_file
    if path and not Path(path).expanduser().is_file():
        raise ConfigError(
            f"{host.alias}의 SSH 설정 파일이 없습니다: {path}",
            "인벤토리의 ssh_config_file을 고치십시오 (비워 두면 ~/.ssh/config를 읽습니다)",
        )
    try:
        return Config(overrides={"run": {"echo": False}},
                      runtime_ssh_path=str(Path(path).expanduser()) if path else None)  # fmt: skip
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise ConfigError(
            f"{host.alias}의 SSH 설정을 읽지 못했습니다 ({exc})",
            "SSH 설정 파일을 고치십시오 (`ssh -G <호스트>`로 ssh가 읽는 내용을 확인할 수 있습니다)",
        ) from None


def inventory_wins(conn: Connection, host: Host) -> None:
    """The inventory's values over the SSH config's (user and port are given to Connection
    only when the inventory has them): its key file is the only identity, and no hop ever
    forwards the agent (an SSH config's ``ForwardAgent yes`` included)."""
    if host.key_file:
        conn.connect_kwargs["key_filename"] = [host.key_file]
    for hop in route(conn):
        hop.forward_agent = False
        hop.connect_timeout = hop.connect_timeout or CONNECT_TIMEOUT


def route(conn: Connection) -> list[Connection]:
    """``conn`` and its ProxyJump hops, nearest the target first (a ProxyCommand is no hop:
    its command connects)."""
    hops = [conn]
    while isinstance(hops[-1].gateway, Connection):
        hops.append(hops[-1].gateway)
    return hops


def check_host_keys(conn: Connection, host: Host) -> None:
    """Unknown or changed host keys refused, against ``known_hosts_file`` (or
    ``~/.ssh/known_hosts``); the SSH config's host key settings are not read."""
    s = host.settings
    known = Path(s.known_hosts_file).expanduser() if s.known_hosts_file else None
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if known is not None:
        if not known.is_file():
            raise ConfigError(
                f"{host.alias}의 known_hosts 파일이 없습니다: {known}",
                "인벤토리의 known_hosts_file을 고치거나, 지문을 확인한 뒤 ssh-keyscan으로 "
                "호스트 키를 그 파일에 추가하십시오",
            )
        conn.client.load_host_keys(str(known))
    else:
        conn.client.load_system_host_keys()


def describe_route(conn: Connection) -> str:
    """How ``conn`` reaches its host, for messages: ``user@host:port`` and its hops."""
    text = f"{conn.user}@{conn.host}:{conn.port}"
    for hop in route(conn)[1:]:
        text += f", 경유 {hop.user}@{hop.host}:{hop.port} (ProxyJump)"
    if isinstance(conn.gateway, str):
        text += f", 경유 ProxyCommand {conn.gateway}"
    return text


def check_key_mode(path: str, alias: str) -> None:
    """Refuse a private key others may read or change (OpenSSH refuses it too: paramiko does
    not). Whoever can read it logs in as the deploy login; whoever can write it, as well."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"{alias}의 SSH 키 {path}의 권한이 {mode:04o}입니다: 이 컴퓨터의 다른 사용자가 "
            "읽거나 바꿀 수 있습니다",
            f"chmod 600 {shlex.quote(path)}",
        )


def explain(host: Host, exc: Exception) -> ConfigError:
    """Turn a connection failure into an operator's error."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return ConfigError(
            f"{_server(host, exc.hostname)}의 호스트 키가 바뀌었습니다: 연결하지 않습니다 "
            "(host key changed)",
            "서버를 다시 만든 경우라면 새 지문을 클라우드 콘솔과 대조한 뒤 known_hosts를 "
            "고치십시오. 그런 일이 없었다면 중간자 공격일 수 있으니 연결하지 마십시오",
        )
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        named = str(exc).split("'")[1] if str(exc).count("'") >= 2 else ""
        return ConfigError(
            f"{_server(host, named)}의 호스트 키를 모릅니다: 연결하지 않습니다 (unknown host key)",
            "지문을 클라우드 콘솔과 대조한 뒤, 인벤토리가 가리키는 known_hosts 파일에 "
            "추가하십시오 (`ssh-keyscan -t ed25519 <주소> >> known_hosts`)",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return ConfigError(
            f"{host.alias}에 {host.user} 계정으로 SSH 로그인하지 못했습니다 "
            "(authentication failed)",
            "인벤토리의 ansible_user와 ansible_ssh_private_key_file을 확인하십시오",
        )
    return ConfigError(
        f"{host.alias}에 연결하지 못했습니다 ({_route_of(host)}: {exc})",
        "인벤토리의 주소(와 SSH 설정의 HostName, ProxyJump, ProxyCommand)가 맞는지, "
        "서버에서 sshd가 도는지 확인하십시오 (매뉴얼: SSM Session Manager로 접속)",
    )


def _server(host: Host, named: str) -> str:
    """The host whose key was refused: the target, or a ProxyJump hop on the way to it."""
    target = f"{host.alias} ({host.address})"
    bare = named[1 : named.find("]")] if named.startswith("[") else named
    try:
        resolved = connection(host).host
    except Exception:  # only for the message
        resolved = host.address
    if not bare or bare in (host.address, host.alias, resolved):
        return target
    return f"{target}로 가는 점프 호스트 {named}"


def _route_of(host: Host) -> str:
    try:
        return describe_route(connection(host))
    except Exception:  # the route is only shown; the error being explained is the point
        return f"{host.address}:{host.port}"
