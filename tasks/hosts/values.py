"""One value at a time: is it safe to put into a command? The one place that says so.

Every value that reaches a host command is either shell-quoted (``tasks.shell.q``) or, when it
is used as a bare name, checked here against a strict pattern that can never start with ``-``
(a unit, user or database name, a git branch or remote, a revision). On top of quoting, these
checks refuse the values that are dangerous however well they are quoted: an empty or
relative path where an absolute one is meant (step A4 would run ``rm -rf ''/*``), ``/`` or
another system directory as a root the tool empties or rotates.

Each check returns the value or raises a :class:`~tasks.errors.ConfigError` naming the
setting, what is wrong and what to write instead. Which setting gets which check is declared
beside the setting (:mod:`tasks.hosts.settings`); the rules about settings together are in
:mod:`tasks.hosts.validate`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from tasks.errors import ConfigError
from tasks.hosts import site

#: a check of one setting's value: (value, setting name, where it was read) -> the value
Rule = Callable[[object, str, str], object]

#: directories that are never a root the tool writes into, empties or rotates
SYSTEM_DIRS = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
    "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
    "/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/local",
    "/usr/local/bin", "/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/backups",
    "/var/cache", "/var/lib", "/var/local", "/var/lock", "/var/log", "/var/mail", "/var/opt",
    "/var/run", "/var/spool", "/var/tmp",
})  # fmt: skip
#: a path inside one of these is never a root either (kernel and boot file systems)
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/boot")
#: where a swap file must not be (setup replaces a file of the wrong size there, as root)
SWAP_FORBIDDEN = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc",
                  "/run", "/sbin", "/sys", "/usr", "/var/lib")  # fmt: skip

_REVISION = re.compile(r"[0-9a-fA-F]{7,40}")
_UNIT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,199}")
_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_DB_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
_DB_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METHOD = re.compile(r"[A-Za-z]{1,16}")
_URL = re.compile(r"https?://[^\s]+")
_SWAP_SIZE = re.compile(r"[1-9][0-9]*[KMGTPE]?")
_SWAP_FILE = re.compile(r"/[A-Za-z0-9_./-]+")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# --- one value ------------------------------------------------------------------------------
def control_chars(value: str) -> list[str]:
    return [c for c in value if unicodedata.category(c) == "Cc"]


def one_line(value: str, name: str, where: str = "") -> str:
    if control_chars(value):
        raise _error(name, where, value, "contains a line break or another control character",
                     "a setting is one line of text")  # fmt: skip
    return value


def absolute_path(value: str, name: str, where: str = "") -> str:
    """An absolute path without ``.``/``..`` parts or control characters."""
    one_line(value, name, where)
    if not value:
        raise _error(name, where, value, "is empty", "write an absolute path, e.g. /app/backend")
    if not value.startswith("/"):
        raise _error(name, where, value, "is not an absolute path",
                     "write it from the root, starting with /")  # fmt: skip
    if {".", ".."} & set(value.split("/")):
        raise _error(name, where, value, "has a . or .. part",
                     "write the path without . and .. parts")  # fmt: skip
    return value


def normal(path: str) -> str:
    """``/a//b/`` → ``/a/b`` (for comparing paths, not for commands)."""
    return "/" + "/".join(p for p in path.split("/") if p)


def root_dir(value: str, name: str, where: str = "") -> str:
    """A directory the tool writes into, empties or rotates: absolute, never a system dir."""
    absolute_path(value, name, where)
    n = normal(value)
    if n in SYSTEM_DIRS or any(_inside(n, t) for t in SYSTEM_TREES):
        raise _error(name, where, value, "is a system directory",
                     "give the tool a directory of its own, e.g. /var/www/dojangkok")  # fmt: skip
    return value


def relative_path(value: str, name: str, where: str = "", subdir: bool = False) -> str:
    """A path inside a checkout: relative, no ``..`` part, not starting with ``-``."""
    one_line(value, name, where)
    if not value:
        raise _error(name, where, value, "is empty", "write a path relative to the checkout")
    if value.startswith("/"):
        raise _error(name, where, value, "must be relative to the checkout, not absolute",
                     "drop the leading / (it is read inside the component's *_dir)")  # fmt: skip
    if value.startswith("-"):
        raise _error(name, where, value, "starts with -", "e.g. ./-name instead of -name")
    if ".." in value.split("/"):
        raise _error(name, where, value, "leaves the checkout (a .. part)", "remove the .. part")
    if subdir and not [p for p in value.split("/") if p not in ("", ".")]:
        raise _error(name, where, value, "is the checkout itself",
                     "name the build's own subdirectory, e.g. build")  # fmt: skip
    return value


def file_name(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    if not value or "/" in value or value in (".", ".."):
        raise _error(name, where, value, "is not a plain file name",
                     "write the entry's name only, e.g. default")  # fmt: skip
    return value


def _pattern(regex: re.Pattern, value: str, name: str, where: str, what: str, fix: str) -> str:
    if not isinstance(value, str) or not regex.fullmatch(value):
        raise _error(name, where, value, f"is not {what}", fix)
    return value


def unit_name(value: str, name: str = "service", where: str = "") -> str:
    return _pattern(_UNIT, value, name, where, "a systemd unit name",
                    "letters, digits and _ . @ : -, not starting with -, e.g. dojangkok")  # fmt: skip


def user_name(value: str, name: str, where: str = "") -> str:
    return _pattern(_USER, value, name, where, "a user name",
                    "letters, digits, _ . -, starting with a letter or _, e.g. dojangkok")  # fmt: skip


def db_name(value: str, name: str, where: str = "") -> str:
    return _pattern(_DB_NAME, value, name, where, "a database name",
                    "letters, digits, _ and -, e.g. dojangkok")  # fmt: skip


def db_user(value: str, name: str, where: str = "") -> str:
    return _pattern(_DB_USER, value, name, where, "a database user name",
                    "letters, digits, _ . and -, e.g. dojangkok")  # fmt: skip


def env_key(value: str, name: str, where: str = "") -> str:
    return _pattern(_ENV_KEY, value, name, where, "a .env key name",
                    "letters, digits and _, e.g. MYSQL_ROOT_PASSWORD")  # fmt: skip


def revision(value: str, name: str = "--to", where: str = "") -> str:
    """A commit id: 7 to 40 hex digits (``fab history`` and ``git log`` show them)."""
    return _pattern(_REVISION, value, name, where, "a commit id (7 to 40 hex digits)",
                    "use a revision `fab history` or `git log --oneline` on the host shows, "
                    "e.g. --to=3f2a9c1")  # fmt: skip


def method(value: object, name: str = "method", where: str = "") -> str:
    """An HTTP method (a word of letters)."""
    return _pattern(_METHOD, value, name, where, "an HTTP method", "e.g. GET or POST")


def is_revision(value: object) -> bool:
    return isinstance(value, str) and bool(_REVISION.fullmatch(value))


def branch(value: str, name: str = "git_branch", where: str = "") -> str:
    """A branch (or remote) name as ``git check-ref-format --branch`` accepts it; never ``-x``."""
    problem = _ref_problem(value)
    if problem:
        raise _error(name, where, value, f"is not a valid git name: {problem}",
                     "use the name `git branch -r` shows, e.g. main or release/2.1")  # fmt: skip
    return value


def _ref_problem(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "it is empty"
    if value.startswith("-"):
        return "it starts with - (git would read it as an option)"
    if _REF_FORBIDDEN.search(value):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if value == "@" or value == "HEAD" or "@{" in value or ".." in value:
        return "it is @ or HEAD, or contains @{ or .."
    if value.startswith("/") or value.endswith("/") or "//" in value:
        return "it starts or ends with /, or contains //"
    if value.endswith("."):
        return "it ends with ."
    for part in value.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "a part starts with . or ends with .lock"
    return ""


def git_origin(value: str, name: str, where: str = "") -> str:
    """A repository URL or path a local build fetches from; never ``-x`` (git reads options)."""
    one_line(str(value), name, where)
    if not value or str(value).startswith("-") or any(c.isspace() for c in str(value)):
        raise _error(name, where, value, "is not a repository URL or path",
                     "e.g. git@github.com:org/backend.git or https://github.com/org/backend.git")  # fmt: skip
    return value


def local_dir(value: str, name: str, where: str = "") -> str:
    """A directory of the tool's own on the operator's machine: ``~/…`` or absolute."""
    if value == "~" or str(value).startswith("~/"):
        one_line(value, name, where)
        if ".." in PurePosixPath(value).parts:
            raise _error(name, where, value, "has a .. part", "e.g. ~/.cache/dojangkok-deploy")
        return value
    return root_dir(value, name, where)


def url(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    return _pattern(_URL, value, name, where, "an http:// or https:// URL without spaces",
                    "e.g. http://localhost:8080/api/notes")  # fmt: skip


def url_path(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    if not value or any(c.isspace() for c in value):
        raise _error(name, where, value, "is not a URL path", "e.g. /health (no spaces)")
    return value


def at_least(value: int, low: int, name: str, where: str = "", why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _error(name, where, value, f"must be at least {low}" + (f" ({why})" if why else ""),
                     f"set {name} to {low} or more")  # fmt: skip
    return value


def port(value: int, name: str, where: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise _error(name, where, value, "is not a port", "use 1 to 65535")
    return value


def network(value: object, name: str, where: str = "") -> str:
    """An IP address or network (``10.0.1.5``, ``203.0.113.0/24``, ``2001:db8::/32``), as
    nftables reads it: no host bits set below the prefix, no names (nft would look them up)."""
    text = value if isinstance(value, str) else ""
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        fix = "an IP address or a network, e.g. 10.0.1.5 or 203.0.113.0/24 (no host names)"
        if "host bits set" in str(exc):
            fix = f"write the network itself, e.g. {ipaddress.ip_network(text, strict=False)}"
        raise _error(name, where, value, "is not an IP address or network", fix) from None
    return text


def networks(value: object, name: str, where: str = "") -> list:
    """A JSON list of IP addresses or networks (empty: the setting's default)."""
    if not isinstance(value, list):
        raise _error(name, where, value, "must be a JSON list",
                     f'e.g. {name}=["203.0.113.0/24"]')  # fmt: skip
    for item in value:
        network(item, name, where)
    return value


def smoke_requests(value: object, name: str, where: str = "") -> list:
    """A smoke test list: each request a url or a path, a method, an HTTP status."""
    if not isinstance(value, list):
        raise _error(name, where, value, "must be a JSON list", "wrap it in [ ]")
    for i, spec in enumerate(value, 1):
        what = f"{name} request #{i}"
        if not isinstance(spec, dict):
            raise _error(what, where, spec, "is not an object",
                         'e.g. {"method": "GET", "path": "/api/notes"}')  # fmt: skip
        unknown = set(spec) - {"method", "url", "path", "body", "expect", "status"}
        if unknown:
            raise _error(what, where, spec, f"has unknown keys {sorted(unknown)}",
                         "use method, url or path, body, expect, status")  # fmt: skip
        if spec.get("url"):
            url(spec["url"], f"{what} url", where)
        elif spec.get("path"):
            url_path(str(spec["path"]), f"{what} path", where)
        else:
            raise _error(what, where, spec, "needs a url or a path",
                         'e.g. {"method": "GET", "path": "/api/notes"}')  # fmt: skip
        method(spec.get("method", "GET"), f"{what} method", where)
        status(spec.get("status", 200), f"{what} status", where)
        if spec.get("expect") is not None:
            one_line(str(spec["expect"]), f"{what} expect", where)
    return value


def status(value: object, name: str = "status", where: str = "") -> int:
    """An HTTP status code (a number, or digits in a string)."""
    number = value if type(value) is int else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number is None or not 100 <= number <= 599:
        raise _error(name, where, value, "is not an HTTP status code", "e.g. 200 or 201")
    return number


def rollback_target(value: str) -> str:
    """``--to``: a commit id, lowercased (the recorded revisions and backups use lowercase)."""
    return revision(str(value).strip(), "--to").lower()


def restore_source(value: str) -> str:
    """``restore-db --backup``: an absolute path on the host."""
    return absolute_path(str(value), "--backup")


# --- checks made for one kind of setting -------------------------------------------------
def keep(low: int, why: str) -> Rule:
    """A count or a number of seconds of at least ``low`` (``why``: what it must keep)."""
    return lambda v, n, w: at_least(v, low, n, w, why)


def optional(rule: Rule) -> Rule:
    """``rule``, or empty (the setting's "not set")."""
    return lambda v, n, w: v if v == "" else rule(v, n, w)


def each(rule: Rule) -> Rule:
    """A JSON list whose every item passes ``rule``."""

    def check(value, name, where):
        if not isinstance(value, list):
            raise _error(name, where, value, "must be a JSON list", "wrap it in [ ]")
        for item in value:
            rule(item if isinstance(item, str) else str(item), name, where)
        return value

    return check


def choice(*allowed: str) -> Rule:
    def check(value, name, where):
        if value not in allowed:
            raise _error(name, where, value, f"must be one of {', '.join(allowed)}", "")
        return value

    check.allowed = allowed  # type: ignore[attr-defined]
    return check


def subdir(value, name, where):
    """A subdirectory of the checkout (never the checkout itself)."""
    return relative_path(value, name, where, subdir=True)


def nginx_site(value, name, where):
    absolute_path(value, name, where)
    path = PurePosixPath(normal(value))
    if path.parent.name in ("sites-available", "conf.d"):
        root_dir(str(path.parent.parent), f"{name}'s nginx directory", where)
    return value


def swap_file(value, name, where):
    _pattern(_SWAP_FILE, value, name, where, "an absolute path of letters, digits and _ . / -",
             "e.g. /swapfile (/etc/fstab cannot hold spaces)")  # fmt: skip
    absolute_path(value, name, where)
    n = normal(value)
    if n in SYSTEM_DIRS or any(_inside(n, d) for d in SWAP_FORBIDDEN):
        raise _error(name, where, value, "is a system directory or inside one",
                     "e.g. /swapfile")  # fmt: skip
    return value


def swap_size(value, name, where):
    if value == "":
        return value
    return _pattern(_SWAP_SIZE, value, name, where, "a size like 4G",
                    "a whole number with K, M, G or T, e.g. 4G (empty: no swap)")  # fmt: skip


def port_pair(value, name, where):
    """Blue/green: two different ports."""
    if not isinstance(value, list) or len(value) != 2 or value[0] == value[1]:
        raise _error(name, where, value, "must be two different ports", f"e.g. {name}=[8081, 8082]")
    for p in value:
        port(p, name, where)
    return value


def positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _error(name, where, value, "must be a number above 0", f"e.g. {name}=0.2")
    return value


_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]{0,99}(\|[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99})?")
_PYTHON = re.compile(r"/?[A-Za-z0-9_][A-Za-z0-9_./+-]{0,199}")
_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,4}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def package(value, name, where):
    return _pattern(_PACKAGE, value, name, where, "a package name (or name|command)",
                    "e.g. openjdk-17-jdk-headless or nodejs|node")  # fmt: skip


def python_command(value, name="ai_python", where=""):
    return _pattern(_PYTHON, value, name, where, "a python command or path",
                    "e.g. python3.12 or /usr/bin/python3")  # fmt: skip


def systemd_dir_name(value, name, where):
    """LogsDirectory= / StateDirectory=: a relative name under /var/log or /var/lib."""
    if ".." in str(value).split("/"):
        raise _error(name, where, value, "leaves /var/log or /var/lib (a .. part)", "remove it")
    return _pattern(_DIR_NAME, value, name, where, "a directory name under /var/log or /var/lib",
                    "e.g. dojangkok (no leading /)")  # fmt: skip


def writable_path(value, name, where):
    """Absolute, or relative to the component's checkout."""
    if isinstance(value, str) and value.startswith("/"):
        return absolute_path(value, name, where)
    return relative_path(value, name, where, subdir=True)


def server_name(value, name, where):
    problem = site.server_name_problem(value)
    if problem:
        raise _error(name, where, value, problem,
                     "the site's DNS name(s), space-separated, e.g. dojangkok.example.com "
                     "www.dojangkok.example.com (or _ for any name, with tls=off)")  # fmt: skip
    return value


def https_url(value, name, where):
    if not str(value).startswith("https://"):
        raise _error(name, where, value, "must be an https:// URL", "e.g. "
                     "https://acme-v02.api.letsencrypt.org/directory")  # fmt: skip
    return url(value, name, where)


def email(value, name, where):
    return _pattern(_EMAIL, value, name, where, "an e-mail address", "e.g. ops@example.com")


def cert_name(value, name, where):
    return _pattern(_CERT_NAME, value, name, where, "a name of letters, digits and . _ -",
                    "e.g. dojangkok")  # fmt: skip


def version_match(value, name, where):
    if not isinstance(value, str) or not value.startswith(("json:", "regex:")):
        raise _error(name, where, value, 'must start with "json:" or "regex:"',
                     "e.g. json:version or regex:version ([0-9.]+)")  # fmt: skip
    if value.startswith("json:") and not value[5:]:
        raise _error(name, where, value, "names no field", "e.g. json:version")
    return value


def env_values(value, name, where):
    """{"KEY": "value"}: keys are environment variable names."""
    for key in value:
        env_key(key, name, where)
    return value


# --- helpers --------------------------------------------------------------------------------
def _inside(path: str, parent: str) -> bool:
    """Whether ``path`` lies below ``parent`` (both normalized)."""
    return path != parent and (parent == "/" or path.startswith(parent + "/"))


def _texts(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(k)
            if k != "body":  # a JSON body is sent as JSON (its line breaks escaped)
                yield from _texts(v)


def _error(name: str, where: str, value: object, problem: str, fix: str) -> ConfigError:
    what = name if name.startswith("-") else f"setting {name}"  # an option: --to, --backup
    at = f" in {where}" if where else ""
    return ConfigError(f"{what}{at} {problem}: {value!r}", fix)
