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
        raise _error(name, where, value, "줄바꿈이나 다른 제어 문자가 들어 있습니다",
                     "설정값은 한 줄로 쓰십시오")  # fmt: skip
    return value


def absolute_path(value: str, name: str, where: str = "") -> str:
    """An absolute path without ``.``/``..`` parts or control characters."""
    one_line(value, name, where)
    if not value:
        raise _error(name, where, value, "비어 있습니다", "절대 경로로 쓰십시오 (예: /app/backend)")
    if not value.startswith("/"):
        raise _error(name, where, value, "절대 경로가 아닙니다",
                     "/로 시작하는 절대 경로로 쓰십시오")  # fmt: skip
    if {".", ".."} & set(value.split("/")):
        raise _error(name, where, value, "경로에 . 이나 .. 가 있습니다",
                     "경로에서 . 과 .. 를 빼고 쓰십시오")  # fmt: skip
    return value


def normal(path: str) -> str:
    """``/a//b/`` → ``/a/b`` (for comparing paths, not for commands)."""
    return "/" + "/".join(p for p in path.split("/") if p)


def root_dir(value: str, name: str, where: str = "") -> str:
    """A directory the tool writes into, empties or rotates: absolute, never a system dir."""
    absolute_path(value, name, where)
    n = normal(value)
    if n in SYSTEM_DIRS or any(_inside(n, t) for t in SYSTEM_TREES):
        raise _error(name, where, value, "시스템 디렉터리입니다",
                     "이 도구 전용 디렉터리를 지정하십시오 (예: /var/www/dojangkok)")  # fmt: skip
    return value


def relative_path(value: str, name: str, where: str = "", subdir: bool = False) -> str:
    """A path inside a checkout: relative, no ``..`` part, not starting with ``-``."""
    one_line(value, name, where)
    if not value:
        raise _error(name, where, value, "비어 있습니다", "체크아웃 기준 상대 경로로 쓰십시오")
    if value.startswith("/"):
        raise _error(name, where, value, "절대 경로가 아니라 체크아웃 기준 상대 경로여야 합니다",
                     "맨 앞의 /를 지우십시오 (컴포넌트의 *_dir 안에서 찾는 경로입니다)")  # fmt: skip
    if value.startswith("-"):
        raise _error(name, where, value, "-로 시작합니다", "-name 대신 ./-name처럼 쓰십시오")
    if ".." in value.split("/"):
        raise _error(
            name, where, value, "체크아웃 밖을 가리킵니다 (.. 포함)", "경로에서 .. 를 지우십시오"
        )
    if subdir and not [p for p in value.split("/") if p not in ("", ".")]:
        raise _error(name, where, value, "체크아웃 디렉터리 자체입니다",
                     "빌드 결과가 담기는 하위 디렉터리를 지정하십시오 (예: build)")  # fmt: skip
    return value


def file_name(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    if not value or "/" in value or value in (".", ".."):
        raise _error(name, where, value, "파일 이름만 쓸 수 있습니다 (경로 불가)",
                     "이름만 쓰십시오 (예: default)")  # fmt: skip
    return value


def _pattern(regex: re.Pattern, value: str, name: str, where: str, what: str, fix: str) -> str:
    if not isinstance(value, str) or not regex.fullmatch(value):
        raise _error(name, where, value, f"{what} 형식이 아닙니다", fix)
    return value


def unit_name(value: str, name: str = "service", where: str = "") -> str:
    return _pattern(_UNIT, value, name, where, "systemd 유닛 이름",
                    "영문자, 숫자, _ . @ : - 로 쓰고 -로 시작하지 마십시오 (예: dojangkok)")  # fmt: skip


def user_name(value: str, name: str, where: str = "") -> str:
    return _pattern(_USER, value, name, where, "사용자 이름",
                    "영문자나 _로 시작해 영문자, 숫자, _ . - 로 쓰십시오 (예: dojangkok)")  # fmt: skip


def db_name(value: str, name: str, where: str = "") -> str:
    return _pattern(_DB_NAME, value, name, where, "데이터베이스 이름",
                    "영문자, 숫자, _ - 로 쓰십시오 (예: dojangkok)")  # fmt: skip


def db_user(value: str, name: str, where: str = "") -> str:
    return _pattern(_DB_USER, value, name, where, "데이터베이스 사용자 이름",
                    "영문자, 숫자, _ . - 로 쓰십시오 (예: dojangkok)")  # fmt: skip


def env_key(value: str, name: str, where: str = "") -> str:
    return _pattern(_ENV_KEY, value, name, where, ".env 키 이름",
                    "영문자, 숫자, _ 로 쓰십시오 (예: MYSQL_ROOT_PASSWORD)")  # fmt: skip


def revision(value: str, name: str = "--to", where: str = "") -> str:
    """A commit id: 7 to 40 hex digits (``fab history`` and ``git log`` show them)."""
    return _pattern(_REVISION, value, name, where, "커밋 ID(16진수 7~40자리)",
                    "`fab history`나 호스트의 `git log --oneline`에 나오는 리비전을 쓰십시오 "
                    "(예: --to=3f2a9c1)")  # fmt: skip


def method(value: object, name: str = "method", where: str = "") -> str:
    """An HTTP method (a word of letters)."""
    return _pattern(_METHOD, value, name, where, "HTTP 메서드", "예: GET, POST")


def is_revision(value: object) -> bool:
    return isinstance(value, str) and bool(_REVISION.fullmatch(value))


def branch(value: str, name: str = "git_branch", where: str = "") -> str:
    """A branch (or remote) name as ``git check-ref-format --branch`` accepts it; never ``-x``."""
    problem = _ref_problem(value)
    if problem:
        raise _error(name, where, value, f"올바른 git 이름이 아닙니다 ({problem})",
                     "`git branch -r`에 나오는 이름을 쓰십시오 (예: main, release/2.1)")  # fmt: skip
    return value


def _ref_problem(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "비어 있음"
    if value.startswith("-"):
        return "-로 시작함: git이 옵션으로 읽습니다"
    if _REF_FORBIDDEN.search(value):
        return "공백, 제어 문자, ~ ^ : ? * [ \\ 중 하나가 들어 있음"
    if value == "@" or value == "HEAD" or "@{" in value or ".." in value:
        return "@나 HEAD이거나, @{ 또는 .. 가 들어 있음"
    if value.startswith("/") or value.endswith("/") or "//" in value:
        return "/로 시작하거나 끝나거나, // 가 들어 있음"
    if value.endswith("."):
        return ". 으로 끝남"
    for part in value.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "경로 일부가 . 으로 시작하거나 .lock으로 끝남"
    return ""


def git_origin(value: str, name: str, where: str = "") -> str:
    """A repository URL or path a local build fetches from; never ``-x`` (git reads options)."""
    one_line(str(value), name, where)
    if not value or str(value).startswith("-") or any(c.isspace() for c in str(value)):
        raise _error(name, where, value, "저장소 URL이나 경로가 아닙니다",
                     "예: git@github.com:org/backend.git 또는 https://github.com/org/backend.git")  # fmt: skip
    return value


def local_dir(value: str, name: str, where: str = "") -> str:
    """A directory of the tool's own on the operator's machine: ``~/…`` or absolute."""
    if value == "~" or str(value).startswith("~/"):
        one_line(value, name, where)
        if ".." in PurePosixPath(value).parts:
            raise _error(
                name, where, value, "경로에 .. 가 있습니다", "예: ~/.cache/dojangkok-deploy"
            )
        return value
    return root_dir(value, name, where)


def url(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    return _pattern(_URL, value, name, where, "공백 없는 http:// 또는 https:// URL",
                    "예: http://localhost:8080/api/notes")  # fmt: skip


def url_path(value: str, name: str, where: str = "") -> str:
    one_line(value, name, where)
    if not value or any(c.isspace() for c in value):
        raise _error(name, where, value, "URL 경로가 아닙니다", "예: /health (공백 없이)")
    return value


def at_least(value: int, low: int, name: str, where: str = "", why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _error(name, where, value, f"{low} 이상이어야 합니다" + (f" ({why})" if why else ""),
                     f"{name}을(를) {low} 이상으로 설정하십시오")  # fmt: skip
    return value


def port(value: int, name: str, where: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise _error(name, where, value, "포트 번호가 아닙니다", "1부터 65535 사이의 값을 쓰십시오")
    return value


def network(value: object, name: str, where: str = "") -> str:
    """An IP address or network (``10.0.1.5``, ``203.0.113.0/24``, ``2001:db8::/32``), as
    nftables reads it: no host bits set below the prefix, no names (nft would look them up)."""
    text = value if isinstance(value, str) else ""
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        fix = (
            "IP 주소나 네트워크로 쓰십시오 (예: 10.0.1.5, 203.0.113.0/24; 호스트 이름은 안 됩니다)"
        )
        if "host bits set" in str(exc):
            fix = f"네트워크 주소 자체로 쓰십시오 (예: {ipaddress.ip_network(text, strict=False)})"
        raise _error(name, where, value, "IP 주소나 네트워크가 아닙니다", fix) from None
    return text


def networks(value: object, name: str, where: str = "") -> list:
    """A JSON list of IP addresses or networks (empty: the setting's default)."""
    if not isinstance(value, list):
        raise _error(name, where, value, "JSON 목록이어야 합니다",
                     f'예: {name}=["203.0.113.0/24"]')  # fmt: skip
    for item in value:
        network(item, name, where)
    return value


def smoke_requests(value: object, name: str, where: str = "") -> list:
    """A smoke test list: each request a url or a path, a method, an HTTP status."""
    if not isinstance(value, list):
        raise _error(name, where, value, "JSON 목록이어야 합니다", "값을 [ ]로 감싸십시오")
    for i, spec in enumerate(value, 1):
        what = f"{name} 요청 #{i}"
        if not isinstance(spec, dict):
            raise _error(what, where, spec, "JSON 객체가 아닙니다",
                         '예: {"method": "GET", "path": "/api/notes"}')  # fmt: skip
        unknown = set(spec) - {"method", "url", "path", "body", "expect", "status"}
        if unknown:
            raise _error(what, where, spec, f"모르는 키가 있습니다: {sorted(unknown)}",
                         "method, url 또는 path, body, expect, status만 쓰십시오")  # fmt: skip
        if spec.get("url"):
            url(spec["url"], f"{what} url", where)
        elif spec.get("path"):
            url_path(str(spec["path"]), f"{what} path", where)
        else:
            raise _error(what, where, spec, "url이나 path가 있어야 합니다",
                         '예: {"method": "GET", "path": "/api/notes"}')  # fmt: skip
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
        raise _error(name, where, value, "HTTP 상태 코드가 아닙니다", "예: 200, 201")
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
            raise _error(name, where, value, "JSON 목록이어야 합니다", "값을 [ ]로 감싸십시오")
        for item in value:
            rule(item if isinstance(item, str) else str(item), name, where)
        return value

    return check


def choice(*allowed: str) -> Rule:
    def check(value, name, where):
        if value not in allowed:
            raise _error(name, where, value, f"다음 중 하나여야 합니다: {', '.join(allowed)}",
                         f"{name}에 {', '.join(allowed)} 중 하나를 쓰십시오")  # fmt: skip
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
        root_dir(str(path.parent.parent), f"{name}의 nginx 디렉터리", where)
    return value


def swap_file(value, name, where):
    _pattern(_SWAP_FILE, value, name, where, "영문자, 숫자, _ . / - 로 된 절대 경로",
             "예: /swapfile (/etc/fstab에는 공백을 쓸 수 없습니다)")  # fmt: skip
    absolute_path(value, name, where)
    n = normal(value)
    if n in SYSTEM_DIRS or any(_inside(n, d) for d in SWAP_FORBIDDEN):
        raise _error(name, where, value, "시스템 디렉터리이거나 그 안에 있습니다",
                     "예: /swapfile")  # fmt: skip
    return value


def swap_size(value, name, where):
    if value == "":
        return value
    return _pattern(_SWAP_SIZE, value, name, where, "4G 같은 크기",
                    "정수 뒤에 K, M, G, T를 붙여 쓰십시오 (예: 4G; 비워 두면 스왑 없음)")  # fmt: skip


def port_pair(value, name, where):
    """Blue/green: two different ports."""
    if not isinstance(value, list) or len(value) != 2 or value[0] == value[1]:
        raise _error(
            name, where, value, "서로 다른 포트 두 개여야 합니다", f"예: {name}=[8081, 8082]"
        )
    for p in value:
        port(p, name, where)
    return value


def positive(value, name, where):
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _error(name, where, value, "0보다 큰 숫자여야 합니다", f"예: {name}=0.2")
    return value


_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]{0,99}(\|[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99})?")
_PYTHON = re.compile(r"/?[A-Za-z0-9_][A-Za-z0-9_./+-]{0,199}")
_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,4}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def package(value, name, where):
    return _pattern(_PACKAGE, value, name, where, "패키지 이름(또는 이름|명령)",
                    "예: openjdk-17-jdk-headless 또는 nodejs|node")  # fmt: skip


def python_command(value, name="ai_python", where=""):
    return _pattern(_PYTHON, value, name, where, "python 명령이나 경로",
                    "예: python3.12 또는 /usr/bin/python3")  # fmt: skip


def systemd_dir_name(value, name, where):
    """LogsDirectory= / StateDirectory=: a relative name under /var/log or /var/lib."""
    if ".." in str(value).split("/"):
        raise _error(
            name,
            where,
            value,
            "/var/log나 /var/lib 밖을 가리킵니다 (.. 포함)",
            "경로에서 .. 를 지우십시오",
        )
    return _pattern(_DIR_NAME, value, name, where, "/var/log나 /var/lib 아래 디렉터리 이름",
                    "예: dojangkok (앞에 / 없이)")  # fmt: skip


def writable_path(value, name, where):
    """Absolute, or relative to the component's checkout."""
    if isinstance(value, str) and value.startswith("/"):
        return absolute_path(value, name, where)
    return relative_path(value, name, where, subdir=True)


def server_name(value, name, where):
    problem = site.server_name_problem(value)
    if problem:
        raise _error(name, where, value, problem,
                     "사이트의 DNS 이름을 공백으로 구분해 쓰십시오 (예: dojangkok.example.com "
                     "www.dojangkok.example.com; tls=off라면 모든 이름을 뜻하는 _)")  # fmt: skip
    return value


def https_url(value, name, where):
    if not str(value).startswith("https://"):
        raise _error(name, where, value, "https:// URL이어야 합니다", "예: "
                     "https://acme-v02.api.letsencrypt.org/directory")  # fmt: skip
    return url(value, name, where)


def email(value, name, where):
    return _pattern(_EMAIL, value, name, where, "이메일 주소", "예: ops@example.com")


def cert_name(value, name, where):
    return _pattern(_CERT_NAME, value, name, where, "영문자, 숫자, . _ - 로 된 이름",
                    "예: dojangkok")  # fmt: skip


def version_match(value, name, where):
    if not isinstance(value, str) or not value.startswith(("json:", "regex:")):
        raise _error(name, where, value, '"json:"이나 "regex:"로 시작해야 합니다',
                     "예: json:version 또는 regex:version ([0-9.]+)")  # fmt: skip
    if value.startswith("json:") and not value[5:]:
        raise _error(name, where, value, "필드 이름이 없습니다", "예: json:version")
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
    what = name if name.startswith("-") else f"설정 {name}"  # an option: --to, --backup
    at = f"{where}의 " if where else ""
    return ConfigError(f"{at}{what}: {problem}: {value!r}", fix)
