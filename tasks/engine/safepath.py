"""Root acting on a path: never through a link the deploy login could have planted.

The deploy login owns the checkouts, releases_root, the state and backup directories. A root
``chown``, ``chmod``, ``install -d`` or copy through one of them follows whatever link it
finds there: a link to /etc/sudoers.d made it the deploy login's, a link to a root-only file
made that file readable. So every root step that makes or fixes a directory or a file calls
:data:`OWN_FN` (``own dir|file PATH MODE OWNER GROUP``), a small python3 program that:

- walks the path from / one name at a time, each opened with ``O_NOFOLLOW`` relative to the
  directory before it (``openat``), so no link is followed, nor can one be swapped in between
  a check and the change: the owner and mode are set on the opened descriptor (``fchown``,
  ``fchmod``). A link on the way is followed only when root owns it and the directory it is
  in is root's and writable by no one else (``/var/run`` → ``/run``), i.e. only a link the
  deploy login could not have made;
- refuses, naming the path, a link or anything but a directory (``dir``) or a regular file
  with one name (``file``: no FIFO, no device, no hard link) where the path ends, and a
  directory root owns in a directory others can write (a deploy login could have moved it
  there to have it handed over);
- makes what is missing: a missing directory on the way gets its parent's owner (root's under
  root's, as ``install -d`` makes them), the last one the given owner and mode;
- prints what it changed (``made``, ``owner``, ``mode``; nothing when nothing changed), for
  the step's ``ch`` (tasks/hostfacts.py).

Where the deploy login owns the place, steps act as the deploy login instead (no root at
all); :func:`as_login` is for a root command that must read one of its files (a dump to
restore): read with the deploy login's own rights (``runuser``).
"""

from __future__ import annotations

from tasks.shell import q

PROGRAM = """\
import grp, os, pwd, stat, sys
kind, path, mode, owner, group = sys.argv[2:7]
def no(why):
    sys.exit(f"{path}: {why}")
D = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
def closed(st):
    return st.st_uid == 0 and not st.st_mode & 0o022
try:
    uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid if group else -1
except KeyError:
    no(f"사용자나 그룹이 없습니다 (no such user or group: {owner} {group})")
parts, fd, hops = [p for p in path.split("/") if p], os.open("/", D), 0
try:
    while len(parts) > 1:
        name = parts.pop(0)
        try:
            nfd = os.open(name, D, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(name, 0o700, dir_fd=fd)
            nfd, up = os.open(name, D, dir_fd=fd), os.fstat(fd)
            os.fchown(nfd, up.st_uid, up.st_gid)
            os.fchmod(nfd, 0o755)
        except OSError:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not (stat.S_ISLNK(st.st_mode) and st.st_uid == 0 and closed(os.fstat(fd))) or hops > 40:
                no(f"경로의 {name}이(가) 심볼릭 링크이거나 디렉터리가 아닙니다 (a link or no directory on the way: root does not follow it)")
            hops, target = hops + 1, os.readlink(name, dir_fd=fd)
            parts = [p for p in target.split("/") if p] + parts
            if target.startswith("/"):
                os.close(fd)
                fd = os.open("/", D)
            continue
        os.close(fd)
        fd = nfd
    name, up, made = parts[0], os.fstat(fd), ""
    flags = D if kind == "dir" else os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        if kind == "dir":
            os.mkdir(name, 0o700, dir_fd=fd)
        else:
            os.close(os.open(name, flags | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=fd))
        made = "made"
    except FileExistsError:
        pass
    try:
        nfd = os.open(name, flags, dir_fd=fd)
    except OSError:
        no("심볼릭 링크이거나 " + ("디렉터리가" if kind == "dir" else "파일이") + " 아닙니다 (a link, or not a " + kind + ": root does not follow it)")
    st = os.fstat(nfd)
    if kind == "file" and (not stat.S_ISREG(st.st_mode) or st.st_nlink != 1):
        no("보통 파일이 아니거나 다른 이름이 있습니다 (not a regular file with one name)")
    if st.st_uid == 0 and uid != 0 and not made and not closed(up):
        no("다른 계정이 쓸 수 있는 디렉터리 안의 root 소유입니다: 넘겨주지 않습니다 (root's, in a directory others can write)")
    done = []
    if st.st_uid != uid or gid not in (-1, st.st_gid):
        os.fchown(nfd, uid, gid)
        done.append("owner")
    if stat.S_IMODE(st.st_mode) != int(mode, 8):
        os.fchmod(nfd, int(mode, 8))
        done.append("mode")
    print(made or " ".join(done))
except OSError as exc:
    no(f"{exc.strerror} ({exc.filename or name})")
"""

#: the shell function the root commands call: ``own dir|file PATH MODE OWNER [GROUP]``
OWN_FN = f'own() {{ python3 -I -S -c {q(PROGRAM)} -- "$1" "$2" "$3" "$4" "${{5:-}}"; }}'


def own(kind: str, path: str, mode: str, owner: str, group: str = "") -> str:
    """Inside a :func:`tasks.hostfacts.tracked` body (with :data:`OWN_FN`
    defined): make or fix ``path`` as root, without following a link; ``owner`` and
    ``group`` are shell words (``"$SUDO_USER"`` expands), ``group`` empty: left as it is.
    A change is recorded (``ch``)."""
    return (
        f"r=$(own {kind} {q(path)} {mode} {owner} {group or q('')}); "
        f'[ -z "$r" ] || ch {q(path)}" ($r)"'
    )


def as_login(login: str, command: str) -> str:
    """In a root command: ``command`` (one simple command) run with the deploy login's rights,
    to read what the deploy login owns (``login``: a shell word)."""
    return f"runuser -u {login} -- {command}"
