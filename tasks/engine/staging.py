"""A root step's files: on the root command's own standard input, into a directory only
root can read, in the same command that then checks and installs them (pure builders).

A file root installs (the sudoers drop-in, the root helper, the firewall's ruleset, the
database's SQL) must never sit where the deploy login can write: a process of its own can
change a file between the moment it is written and the moment root reads it (a watcher
did so in 15 of 15 runs, and root installed ``deploy ALL=(ALL:ALL) NOPASSWD: ALL``). So a
root step's uploads are not written first and used later: the step runs as one root
command (over the root connection: the ``admin_user`` login when it is set) that

1. makes a fresh directory with ``mktemp -d`` under /run (root's own; 0700, a new name),
   removed again when the command ends, however it ends;
2. reads each file from its standard input into it (:func:`stream`: the file's size on a
   line of its own, then its bytes; the size checked after), created with its mode first;
3. then runs the step's own command, which finds each file at ``$STAGE/<name>``
   (:func:`path`): the same root-owned copy is validated (``visudo -cf``, ``nft -c``) and
   installed. Nothing is ever on a command line, neither text, size nor digest.

What is shown is what runs: the step's command (``Step.render``) is :func:`script`'s text,
and each upload is shown as ``↑ $STAGE/<name> (mode: what)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tasks.engine.upload import Upload
from tasks.hosts.remote import q

#: the shell variable that names the step's directory in its command
VAR = "STAGE"
STAGE = f"${VAR}"
#: where root makes it: /run is root's alone (no other user can write there)
TEMPLATE = "/run/dojangkok-stage.XXXXXXXXXX"
#: said on stderr, with the file's name, when a file did not arrive whole
FAILED = "@@dojangkok-upload-failed"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: reads one file: its size, then that many bytes (head -c reads no more), checked
_PUT = (
    'put() { IFS= read -r n && install -m "$2" /dev/null "$STAGE/$1" '
    '&& head -c "$n" > "$STAGE/$1" && [ "$(stat -c %s -- "$STAGE/$1")" = "$n" ] '
    f'|| {{ echo "{FAILED} $1" >&2; exit 1; }}; }}'
)


def path(name: str) -> str:
    """Where a root step's upload ``name`` lands (``$STAGE/<name>``), for its command and its
    Upload: a plain file name (letters, digits, ``.``, ``_``, ``-``)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"a root step's upload is a plain file name, not {name!r}")
    return f"{STAGE}/{name}"


def name(upload_path: str) -> str:
    """The file name of a root step's upload (ValueError: not a path from :func:`path`)."""
    head, _, rest = upload_path.partition("/")
    if head != STAGE or not _NAME.fullmatch(rest):
        raise ValueError(
            f"a root step's upload must land in its root-only directory ({STAGE}/<name>, "
            f"tasks/engine/staging.py), not at {upload_path!r}"
        )
    return rest


def script(uploads: Sequence[Upload], command: str) -> str:
    """The one root command of a step with uploads: the directory, the files from standard
    input, then ``command`` (in a subshell: its own traps and ``exit`` stay its own)."""
    puts = "; ".join(f"put {q(name(u.path))} {u.mode}" for u in uploads)
    return (
        f"{VAR}=$(mktemp -d {TEMPLATE}) || exit 1; "
        f"trap 'rm -rf -- \"${VAR}\"' EXIT; {_PUT}; {puts}; ( {command} )"
    )


def stream(texts: Sequence[str]) -> str:
    """What :func:`script` reads on its standard input: per file, its size in bytes on a
    line of its own, then its text."""
    return "".join(f"{len(text.encode())}\n{text}" for text in texts)


def failed(stderr: str) -> str | None:
    """The name of the file that did not arrive whole (None: every file did)."""
    for line in stderr.splitlines():
        if line.startswith(FAILED + " "):
            return line[len(FAILED) + 1 :].strip()
    return None
