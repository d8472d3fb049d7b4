"""Sending a local build to the host, and checking it there before anything switches.

- backend: the jar over SFTP (written as ``.part``, renamed when complete);
- frontend: the build tree by rsync over the tool's SSH key and known_hosts, against the
  previous build (release: ``--link-dest`` to the live release; manual: into the checkout's
  build dir, which holds the last build), so unchanged files are not sent again;
- AI: the wheels over SFTP into a wheel cache on the host (``<state_dir>/wheelhouse``);
  wheels already there with the same SHA-256 are not sent again. The run's wheelhouse is
  made of hard links to exactly the wheels this build made.

Then the host checks every file against the SHA-256 computed here (``sha256sum -c`` of a
manifest uploaded beside it) and, for the AI server, the requirements file it will install.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import paramiko

from tasks.apps.base import strategy_for
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.view import RunView
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.localbuild import kind
from tasks.localbuild.artifacts import JAR, WHEELHOUSE
from tasks.localbuild.checkout import shell_path, work
from tasks.localbuild.localrun import stream
from tasks.localbuild.model import SHA, manifest
from tasks.shell import q
from tasks.strategies.release import layout as release

MANIFEST = "SHA256SUMS"


# --- where things go on the host -----------------------------------------------------------
def incoming(v: RunView) -> str:
    return f"{v.s.state_dir}/incoming/{v.run_id}"


def manifest_path(v: RunView) -> str:
    return f"{incoming(v)}/{MANIFEST}"


def wheel_cache(v: RunView) -> str:
    return f"{v.s.state_dir}/wheelhouse"


def destination(v: RunView) -> str:
    """The directory the artifact's files land in."""
    out = kind.output(v)
    if out.kind == kind.JAR:
        return release.path(v) if strategy_for(v.strategy).keeps_releases else incoming(v)
    if out.kind == kind.TREE:
        root = (
            release.path(v)
            if strategy_for(v.strategy).keeps_releases
            else kind.app(v).checkout(v.s)
        )
        return f"{root}/{out.path}"
    return f"{incoming(v)}/{WHEELHOUSE}"


def requirements_on_host(v: RunView) -> str:
    root = release.path(v) if strategy_for(v.strategy).keeps_releases else kind.app(v).checkout(v.s)
    return f"{root}/{kind.output(v).path}"


def _artifact(v: RunView):
    return v.build.artifact if v.build is not None else None


# --- the host's check ------------------------------------------------------------------------
def verify(v: RunView) -> str:
    """Every file as built here (and nothing else); then the manifest goes. Runs on the host."""
    a, dest, m = _artifact(v), q(destination(v)), q(manifest_path(v))
    built = kind.kind(v)
    count = len(a.files) if a is not None else "<N>"
    stale = (
        f"find {q(v.s.state_dir + '/incoming')} -mindepth 1 -maxdepth 1 -mmin +1440 "
        "-exec rm -rf {} + 2>/dev/null; "
    )
    link = ""
    if built == kind.WHEELHOUSE:
        link = (
            f"rm -rf -- {dest} && mkdir -p -- {dest} && "
            f'while read -r sum name; do ln -f -- {q(wheel_cache(v))}/"$name" {dest}/"$name" || exit 1; '
            f"done < {m} && "
        )
    # a tree or a wheelhouse is exactly the build's files; a jar lands beside the release's code
    exact = f' && n=$(find . -type f | wc -l) && [ "$n" -eq {count} ]' if built != kind.JAR else ""
    check = (
        f"cd {dest} && sha256sum --strict --quiet -c {m}{exact} || "
        f'{{ echo "호스트의 파일이 빌드와 다릅니다 (SHA-256, 파일 {count}개): '
        '아무것도 전환하지 않았습니다. 다시 배포하십시오" >&2; exit 1; }'
    )
    req = ""
    if built == kind.WHEELHOUSE and (v.build is None or v.to_rev == v.build.revision):
        sha = a.requirements_sha256 if a is not None else SHA
        path = requirements_on_host(v)
        req = (
            f" && {{ echo {q(f'{sha}  {path}')} | sha256sum --strict --quiet -c - || "
            f"{{ echo {q(f'{path}은(는) wheelhouse를 만든 requirements 파일이 아닙니다')} >&2; exit 1; }}; }}"
        )
    done = f" && echo {q(f'파일 {count}개 검증 완료 (SHA-256)')}"
    gone = f" && rm -f -- {m}" if built != kind.WHEELHOUSE else ""
    return stale + link + check + req + done + gone


def manifest_text(v: RunView) -> str:
    return manifest(_artifact(v))


# --- SFTP ------------------------------------------------------------------------------------
def sftp_of(s) -> paramiko.SFTPClient:
    """The connection's SFTP session (Fabric keeps one per connection: never close it)."""
    try:
        return s.remote.conn.sftp()
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None


def makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    parts, cur = [p for p in path.split("/") if p], ""
    for p in parts:
        cur += "/" + p
        try:
            sftp.stat(cur)
        except FileNotFoundError:
            sftp.mkdir(cur, 0o755)


def put_file(sftp: paramiko.SFTPClient, local: Path, remote: str, progress=None) -> int:
    """Send one file (as ``.part``, renamed when complete, mode 644); returns its size."""
    part = remote + ".part"

    def seen(done: int, total: int) -> None:
        if progress is not None:
            progress.feed(f"{Path(remote).name}: {done}/{total} bytes\n")
        if INTERRUPT.cancel.is_set():
            raise Interrupted(f"upload of {remote}")

    try:
        sftp.put(str(local), part, callback=seen, confirm=True)
        sftp.chmod(part, 0o644)
        sftp.posix_rename(part, remote)
    except (paramiko.SSHException, EOFError) as exc:
        raise ConnectionLost(f"{type(exc).__name__}: {exc}") from None
    return local.stat().st_size


def describe_sftp(v: RunView) -> str:
    a = _artifact(v)
    if kind.kind(v) == kind.JAR:
        what = f"{JAR} ({a.size} bytes, sha256 {a.sha256[:12]}…)" if a else f"{JAR}"
        return f"SFTP ↑ {shell_path(work(v))}/.ship/{JAR} → {destination(v)}/{JAR}: {what}"
    n = f"{len(a.files)}개, {a.size} bytes" if a else "<N>개"
    return (
        f"SFTP ↑ {shell_path(work(v))}/{WHEELHOUSE}/*.whl ({n}) → {wheel_cache(v)}/ "
        "(같은 SHA-256의 휠이 이미 있으면 보내지 않음)"
    )


def send_sftp(s) -> str:
    """The jar, or the wheels the host's cache lacks; returns what was sent."""
    v, a = s.view, s.view.build.artifact
    sftp = sftp_of(s)
    sent, skipped = 0, 0
    with s.console.progress("SFTP", "") as progress:
        if a.kind == kind.JAR:
            makedirs(sftp, destination(v))
            sent = put_file(sftp, Path(a.root) / JAR, f"{destination(v)}/{JAR}", progress)
        else:
            cache = wheel_cache(v)
            makedirs(sftp, cache)
            names = " ".join(q(f.path) for f in a.files)
            have = s.sh(f"cd {q(cache)} && sha256sum -- {names} 2>/dev/null; true").stdout
            known = {
                line.split()[1]: line.split()[0]
                for line in have.splitlines()
                if len(line.split()) == 2
            }
            for f in a.files:
                if known.get(f.path) == f.sha256:
                    skipped += 1
                    continue
                sent += put_file(sftp, Path(a.root) / f.path, f"{cache}/{f.path}", progress)
    s.set(build=s.view.build.but(sent_bytes=sent))  # (the SFTP session is Fabric's: kept open)
    extra = f", 파일 {skipped}개는 이미 호스트에 있음" if skipped else ""
    return f"{sent} bytes 보냄{extra}"


# --- rsync (frontend) -------------------------------------------------------------------------
def ssh_command(v: RunView) -> str:
    """rsync's ssh, reaching the host as the tool's own connection does (tasks/hosts/connect.py):
    the inventory's SSH config file (else ssh's own), its port only when the inventory gives
    one, host keys checked; no agent, no X11 display and no port forwarded to the host (``-a``,
    ``ForwardAgent=no``, ``-x``, ``ClearAllForwardings``: an ``~/.ssh/config`` that forwards
    them for interactive logins does not hand them to a host that may be compromised; options
    given here win over the config's)."""
    h, s = v.host, v.s
    argv = ["ssh", "-a", "-o", "ForwardAgent=no", "-x", "-o", "ClearAllForwardings=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]  # fmt: skip
    if s.ssh_config_file:
        argv += ["-F", os.path.expanduser(s.ssh_config_file)]
    if h.port_given or h.port != 22:
        argv += ["-p", str(h.port)]
    if h.key_file:
        argv += ["-i", h.key_file, "-o", "IdentitiesOnly=yes"]
    if s.known_hosts_file:
        argv += ["-o", f"UserKnownHostsFile={os.path.expanduser(s.known_hosts_file)}",
                 "-o", "GlobalKnownHostsFile=/dev/null"]  # fmt: skip
    return " ".join(q(a) for a in argv)


def remote_spec(v: RunView, path: str) -> str:
    addr = v.host.address
    try:
        if ipaddress.ip_address(addr).version == 6:
            addr = f"[{addr}]"
    except ValueError:
        pass
    user = f"{v.host.user}@" if v.host.user else ""
    return f"{user}{addr}:{path}/"


def link_dest(v: RunView) -> str:
    """The previous build the new one is compared with (release: the live one)."""
    if strategy_for(v.strategy).keeps_releases:
        return f"{release.current(v)}/{kind.output(v).path}"
    return ""  # manual: the destination itself holds the previous build


def rsync(v: RunView) -> str:
    """``--protect-args``: the paths and options go to the remote rsync over the protocol, not
    through the remote shell's command line. rsync 3.0 and later take it (Debian 11's 3.2.3);
    3.2.6 renamed it ``--secluded-args`` (``-s``) and still takes this name (Debian 12's 3.2.7
    and its 3.5.0 update), where an older rsync does not know the new one."""
    src = f"{shell_path(work(v))}/{q(kind.output(v).path)}/"
    ld = f" --link-dest={q(link_dest(v))}" if link_dest(v) else ""
    return (
        f"rsync -rlc --protect-args --delete --stats --chmod=D755,F644{ld} -e {q(ssh_command(v))} "
        f"{src} {q(remote_spec(v, destination(v)))}"
    )


def send_rsync(s) -> str:
    v = s.view
    done = stream(s, rsync(v), "rsync", "10초")
    if not done.ok:
        raise RuntimeError(f"rsync failed (exit {done.code}): {done.tail(5)}")
    m = re.search(r"Total bytes sent:\s*([\d,.]+)", done.output)
    sent = int(re.sub(r"\D", "", m.group(1))) if m else None
    s.set(build=v.build.but(sent_bytes=sent))
    total = v.build.artifact.size if v.build.artifact else 0
    return f"sent {sent} bytes for a {total}-byte build"
