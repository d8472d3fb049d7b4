#!/usr/bin/python3 -IS
"""dojangkok-root: the only thing the deploy user may run as root (least privilege).

``fab setup`` installs this file, root-owned, as ``/usr/local/sbin/dojangkok-root``, writes
what it may act on to ``/etc/dojangkok/sudo.json`` (from the inventory's settings), and a
sudoers drop-in that lets the deploy user run it, and nothing else, as root without a
password (tasks/setup/privilege.py). A deploy then runs, for example::

    sudo -n /usr/local/sbin/dojangkok-root systemctl restart fastapi

Every argument is checked against the root-owned config; anything else is refused (exit 2)
with a message that names it. No argument ever reaches a shell. The verbs:

- ``systemctl ACTION UNIT``: start, stop, restart, reset-failed, enable or disable (boot
  links only, ``--no-reload``) one of the app's units;
- ``nginx-reload``: check nginx's config, then reload it gracefully;
- ``switch PAIR PORT``: new connections to a blue/green pair's switch port go to ``PORT``.
  nginx's upstream names that fixed local port (127.0.0.1:<switch_port>, never rewritten at a
  switch, so nginx is never reloaded: a reload makes every keep-alive client reconnect and
  cuts the requests sent in that instant); the pair's own nftables table (``ip
  dojangkok_switch_<PAIR>``, type nat, hook output) redirects connections to it to the live
  instance's port. A switch writes that table's file (:data:`SWITCH_DIR`) and loads it in one
  atomic ``nft -f`` transaction, after ``PORT``'s retire timer, if a ``retire`` left one, is
  stopped and its instance is checked to run (and nginx's upstream file is checked to name
  the switch port: otherwise nothing changes). Connections open before it keep going to the
  old instance (conntrack keeps their mapping): nginx reuses a pooled one for at most
  :data:`KEEPALIVE_TIME` seconds after it was opened and keeps it idle at most
  :data:`KEEPALIVE_IDLE` seconds (the upstream's ``keepalive_time``/``keepalive_timeout``),
  so the switch then waits :data:`DRAIN` seconds: when it returns, no new request reaches
  the old instance. ``PORT``'s instance is made to start at boot and the other one not;
  ``dojangkok-switch@PAIR.service`` loads the file at boot. The instance that serves is
  never retired, and never one that is not running;
- ``retire PAIR PORT SECONDS``: stop the pair's instance on ``PORT`` after ``SECONDS`` (a
  transient systemd timer; a rollback within that time is only a switch);
- ``hostrun RUN_ID TITLE``: start a deploy's critical section
  (``<state_dir>/hostrun/<RUN_ID>/hostrun.py``, tasks/onhost/hostrun.py) as a transient
  systemd unit that runs as the deploy user, so it goes on if SSH drops.

Standard library only (the hosts' python3); importable for its pure parts (tests, and the
operator side's upstream text).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import pwd
import re
import signal
import stat
import subprocess
import sys
import threading
import time

CONFIG = "/etc/dojangkok/sudo.json"
#: the switch tables' files, root's: ``<PAIR>.nft`` (the last one loaded; boot loads it)
SWITCH_DIR = "/etc/dojangkok-deploy/switch"
#: nginx reuses a pooled upstream connection for at most this many seconds after it opened
#: it (``keepalive_time``, nginx >= 1.19.10), and closes one idle this long
#: (``keepalive_timeout``; below the apps' own idle timeouts, uvicorn's 5 s the shortest, so
#: nginx, not the app, closes an idle connection: no request is sent on one the app closed)
KEEPALIVE_TIME = 2
KEEPALIVE_IDLE = 2
#: after a switch, a connection pooled before it may take a last request up to
#: KEEPALIVE_TIME + KEEPALIVE_IDLE seconds later: the switch waits that long, and a little
DRAIN = KEEPALIVE_TIME + KEEPALIVE_IDLE + 1
#: the live port in a switch file (:func:`switch_ruleset`)
LIVE = re.compile(r"redirect to :([0-9]{1,5})$", re.MULTILINE)
ACTIONS = ("start", "stop", "restart", "reset-failed", "enable", "disable")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Refused(Exception):
    """Not something the deploy user may do as root (or not as asked)."""


def upstream_text(name: str, port: int) -> str:
    """The upstream file's whole text (nginx includes it): the pair's switch port, pooled
    connections bounded in time (a switch's wait, :data:`DRAIN`, relies on both bounds)."""
    return (
        f"upstream {name} {{\n"
        f"    # the switch port: an nftables table sends new connections to the live instance\n"
        f"    server 127.0.0.1:{int(port)};\n"
        f"    keepalive 16;\n"
        f"    keepalive_time {KEEPALIVE_TIME}s;\n"
        f"    keepalive_timeout {KEEPALIVE_IDLE}s;\n"
        f"}}\n"
    )


def switch_table(pair: str) -> str:
    """The pair's nftables table (family and name)."""
    return f"ip dojangkok_switch_{pair}"


def switch_file(pair: str) -> str:
    return f"{SWITCH_DIR}/{pair}.nft"


def switch_ruleset(pair: str, switch_port: int, live: int | str) -> str:
    """The pair's whole table, as ``nft -f`` loads it: declared, deleted and written again
    in one transaction (a second load leaves exactly this). Connections this host opens to
    127.0.0.1:<switch_port> (nginx's) go to 127.0.0.1:<live>. ``live``: the port (or a
    marker a shell command puts the port in place of)."""
    table = switch_table(pair)
    return (
        "#!/usr/sbin/nft -f\n"
        f"# dojangkok-deploy: the blue/green switch of {pair} (dojangkok-root switch writes it;\n"
        f"# dojangkok-switch@{pair}.service loads it at boot). nginx's upstream names\n"
        f"# 127.0.0.1:{int(switch_port)}; new connections to it go to the live instance, open ones\n"
        "# stay where they are (conntrack).\n"
        f"table {table}\n"
        f"delete table {table}\n"
        f"table {table} {{\n"
        "\tchain output {\n"
        "\t\ttype nat hook output priority -100; policy accept;\n"
        f"\t\tip daddr 127.0.0.1 tcp dport {int(switch_port)} redirect to :{live}\n"
        "\t}\n"
        "}\n"
    )


def live_in(text: str) -> int | None:
    """The live port a switch file names (None: none)."""
    m = LIVE.search(text)
    return int(m.group(1)) if m else None


def retire_unit(service: str, port: int) -> str:
    return f"{service}-retire-{int(port)}"


def allowed_units(conf: dict) -> set[str]:
    """The units ``systemctl`` may act on: the app's services, each pair's two instances and
    their retire timers."""
    units = set(conf.get("units", []))
    for pair in conf.get("pairs", {}).values():
        for port in pair["ports"]:
            units.add(f"{pair['service']}@{port}")
            units.add(retire_unit(pair["service"], port) + ".timer")
    return {_full(u) for u in units}


def _full(unit: str) -> str:
    """``name`` and ``name.service`` are the same unit."""
    return unit if re.search(r"\.(service|timer|socket|target|path)$", unit) else unit + ".service"


def _port(pair: dict, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) not in pair["ports"]:
        raise Refused(f"port {text!r} is not one of the pair's ports {pair['ports']}")
    return int(text)


def _pair(conf: dict, name: str) -> dict:
    pairs = conf.get("pairs", {})
    if name not in pairs:
        raise Refused(
            f"no blue/green pair {name!r} on this host (known: {', '.join(pairs) or 'none'})"
        )
    if not re.fullmatch(r"[a-z]{1,20}", name) or type(pairs[name].get("switch_port")) is not int:
        raise Refused(f"{CONFIG} is another version's (pair {name!r}): run `fab setup`")
    return pairs[name]


def plan(conf: dict, argv: list[str]) -> list:
    """What a call does, as a list of actions (argv lists, or ("write", path, text)), after
    every check. Pure: tests call it with any input."""
    if not argv:
        raise Refused("no verb: systemctl, nginx-reload, switch, retire or hostrun")
    verb, args = argv[0], argv[1:]
    if verb == "systemctl":
        if len(args) != 2:
            raise Refused("usage: systemctl ACTION UNIT")
        action, unit = args
        if action not in ACTIONS:
            raise Refused(f"systemctl {action!r}: only {', '.join(ACTIONS)}")
        if _full(unit) not in allowed_units(conf):
            raise Refused(
                f"unit {unit!r} is not one of this host's app units: "
                "if the inventory names a new service, run `fab setup` again"
            )
        extra = ["-q", "--no-reload"] if action in ("enable", "disable") else []
        return [["systemctl", action, *extra, "--", unit]]
    if verb == "nginx-reload":
        if args:
            raise Refused("usage: nginx-reload")
        return [["sh", "-c", conf["nginx_test"]], ["sh", "-c", conf["nginx_reload"]]]
    if verb == "switch":
        if len(args) != 2:
            raise Refused("usage: switch PAIR PORT")
        name, pair = args[0], _pair(conf, args[0])
        port = _port(pair, args[1])
        others = [p for p in pair["ports"] if p != port]
        instance = f"{pair['service']}@{port}"
        return [
            ("switch", switch_file(name), switch_ruleset(name, pair["switch_port"], port),
             retire_unit(pair["service"], port) + ".timer", instance,
             pair["upstream_file"], upstream_text(pair["upstream"], pair["switch_port"])),
            # the boot links follow the table the kernel took
            ("together", [
                ["systemctl", "enable", "-q", "--no-reload", "--", instance],
                *(["systemctl", "disable", "-q", "--no-reload", "--", f"{pair['service']}@{p}"]
                  for p in others),
            ]),
            # connections nginx pooled before the switch: their last request has started
            ("drain", DRAIN),
        ]  # fmt: skip
    if verb == "retire":
        if len(args) != 3:
            raise Refused("usage: retire PAIR PORT SECONDS")
        pair = _pair(conf, args[0])
        port = _port(pair, args[1])
        if not re.fullmatch(r"[0-9]{1,6}", args[2]) or not 1 <= int(args[2]) <= 86400:
            raise Refused(f"seconds {args[2]!r}: a whole number from 1 to 86400")
        timer = retire_unit(pair["service"], port)
        return [
            ("quiet", ["systemctl", "stop", "--", timer + ".timer"]),
            ["systemd-run", f"--unit={timer}", f"--on-active={int(args[2])}s",
             "--timer-property=AccuracySec=1s", "--collect", "--quiet", "--",
             "systemctl", "stop", "--", f"{pair['service']}@{port}"],
        ]  # fmt: skip
    if verb == "hostrun":
        if len(args) != 2:
            raise Refused("usage: hostrun RUN_ID TITLE")
        run_id, title = args
        if not RUN_ID.fullmatch(run_id):
            raise Refused(f"run id {run_id!r}: letters, digits, . _ - (at most 81)")
        if not title.isprintable() or len(title) > 120:
            raise Refused("title: printable, at most 120 characters")
        where = f"{conf['state_dir']}/hostrun/{run_id}"
        return [("hostrun", where, run_id, title)]
    if verb == "maintenance":
        return maintenance(args)
    raise Refused(f"unknown verb {verb!r}: systemctl, nginx-reload, switch, retire or hostrun")


# --- carrying it out (as root) -------------------------------------------------------------
ENV = {"PATH": PATH, "LANG": "C.UTF-8"}


def _run(argv: list[str], quiet: bool = False) -> int:
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(argv, env=ENV, stdout=out, stderr=out, check=False).returncode


def _together(argvs: list[list[str]]) -> int:
    """Run the commands at once (each is ~15-20 ms of a switch that a warm rollback waits
    for); the first failure's exit code."""
    return next((c for c in _at_once([lambda a=a: _run(a) for a in argvs]) if c != 0), 0)


def _at_once(calls: list) -> list:
    """Each call in a thread of its own; their results, in order."""
    results = [None] * len(calls)

    def one(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _owned_by(path: str, uid: int, kind) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Refused(f"{path}: no such file or directory") from None
    if not kind(st.st_mode) or st.st_uid != uid:
        raise Refused(f"{path}: not a {'directory' if kind is stat.S_ISDIR else 'file'} "
                      "of the deploy user's own")  # fmt: skip


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


#: the signals that would stop the helper between loading a table and keeping its file
CRITICAL = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _switch(path: str, text: str, timer: str, instance: str, upstream_file: str,
            upstream: str) -> tuple[int, bool]:  # fmt: skip
    """Load the pair's table from ``text`` (written to ``path`` when nft took it); (exit
    code, whether the live port changed). Nothing changes unless nginx's upstream names the
    switch port, the target's retire timer is stopped and its instance runs."""
    if _read(upstream_file) != upstream:
        print(f"{upstream_file}이(가) 이 버전의 setup이 쓰는 전환 포트를 가리키지 않습니다 "
              "(does not name the switch port: nginx would not follow the switch): "
              "`fab setup`을 실행하십시오. 바뀐 것은 없습니다", file=sys.stderr)  # fmt: skip
        return 1, False
    # the instance about to serve is retired by no timer (a warm rollback's target has one),
    # and it runs
    _run(["systemctl", "stop", "--", timer], quiet=True)
    if _run(["systemctl", "is-active", "--quiet", "--", instance]) != 0:
        print(f"{instance}이(가) 실행 중이 아닙니다 (is not running): 바뀐 것은 없습니다",
              file=sys.stderr)  # fmt: skip
        return 1, False
    before = live_in(_read(path) or "")
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    new = path + ".new"
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    signal.pthread_sigmask(signal.SIG_BLOCK, CRITICAL)  # the table and its file agree
    try:
        if _run(["nft", "-f", new]) != 0:
            os.unlink(new)
            print(f"nft가 전환 테이블을 거부했습니다 (nft refused the table): 전환은 그대로입니다 "
                  f"({path})", file=sys.stderr)  # fmt: skip
            return 1, False
        os.replace(new, path)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, CRITICAL)
    return 0, before is not None and before != live_in(text)


def _drain(seconds: int, moved: bool) -> int:
    """After a switch that moved the live port: the old instance's pooled connections are
    done taking requests when this returns."""
    if moved:
        print(f"새 연결은 새 인스턴스로 갑니다 (nginx 리로드 없음); 이전 인스턴스에 남은 연결을 "
              f"{seconds}초 기다립니다 (nginx keepalive_time)", flush=True)  # fmt: skip
        time.sleep(seconds)
    return 0


def _hostrun(where: str, run_id: str, title: str, conf: dict) -> int:
    login = pwd.getpwnam(conf["login"])
    _owned_by(where, login.pw_uid, stat.S_ISDIR)
    _owned_by(f"{where}/hostrun.py", login.pw_uid, stat.S_ISREG)
    groups = [g for g in conf.get("groups", []) if g]
    argv = ["systemd-run", f"--unit=dojangkok-deploy-{run_id}", f"--description=dojangkok {title}",
            f"--uid={login.pw_name}", f"--gid={login.pw_gid}", "--collect", "--quiet"]  # fmt: skip
    if groups:
        argv.append("--property=SupplementaryGroups=" + " ".join(groups))
    # -I -S: the standard library alone (hostrun.py puts its own directory on the path)
    return _run([*argv, "--", "/usr/bin/python3", "-IS", f"{where}/hostrun.py", where])


def main(argv: list[str]) -> int:
    try:
        with open(CONFIG, encoding="utf-8") as f:
            conf = json.load(f)
    except OSError as exc:
        print(f"dojangkok-root: cannot read {CONFIG} ({exc.strerror}): run `fab setup`",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        actions = plan(conf, argv)
        moved = False  # a switch changed the live port
        for act in actions:
            if isinstance(act, list):
                code = _run(act)
            elif act[0] == "quiet":
                _run(act[1], quiet=True)
                code = 0
            elif act[0] == "switch":
                code, moved = _switch(*act[1:])
            elif act[0] == "together":
                code = _together(act[1])
            elif act[0] == "drain":
                code = _drain(act[1], moved)
            elif act[0] == "maintenance":
                code = _maintenance(*act[1:])
            else:
                code = _hostrun(act[1], act[2], act[3], conf)
            if code != 0:
                return code
        return 0
    except Refused as exc:
        print(f"dojangkok-root: refused: {exc}", file=sys.stderr)
        return 2


# --- the maintenance page ------------------------------------------------------------------
#: the maintenance page and its flags, root's (0755): nginx's site tests for a flag at every
#: request (no reload at a toggle) and serves the page with 503 (templates/nginx/site.conf.j2).
#: Every ancestor is root's, so the deploy login can plant nothing in it.
MAINTENANCE_DIR = "/var/lib/dojangkok-maintenance"
MAINTENANCE_PAGE = "page.html"
MAINTENANCE_SCOPES = ("site", "api")
MAINTENANCE_MESSAGE_MAX = 300
#: the page's Retry-After (seconds): when a client may ask again
MAINTENANCE_RETRY_AFTER = 300
#: base64 of MAINTENANCE_MESSAGE_MAX characters of UTF-8 (4 bytes each) with its padding
_B64 = re.compile(r"[A-Za-z0-9_-]{0,1600}={0,2}")
MAINTENANCE_DEFAULT = "서비스 점검 중입니다. 잠시 후 다시 접속해 주십시오."


def maintenance_flag(scope: str) -> str:
    """The flag whose presence makes nginx answer 503 for ``scope`` (site: every path; api:
    /api/ only)."""
    return f"{MAINTENANCE_DIR}/{scope}.on"


def maintenance(args: list[str]) -> list:
    """``maintenance on SCOPE MESSAGE_BASE64`` | ``maintenance off``: checked, as actions.
    The message comes base64url-encoded (UTF-8), so it never reaches a command line as
    text; it is one line of printable characters, at most MAINTENANCE_MESSAGE_MAX, and is
    HTML-escaped into the page (maintenance_page)."""
    usage = "사용법: maintenance on SCOPE MESSAGE_BASE64 | maintenance off (usage)"
    if args == ["off"]:
        return [("maintenance", "off", "", "")]
    if len(args) != 3 or args[0] != "on":
        raise Refused(usage)
    scope, encoded = args[1], args[2]
    if scope not in MAINTENANCE_SCOPES:
        raise Refused(f"점검 범위 {scope!r}은(는) site 또는 api여야 합니다 "
                      f"(scope must be one of {', '.join(MAINTENANCE_SCOPES)})")  # fmt: skip
    try:
        if not _B64.fullmatch(encoded):
            raise ValueError("not base64url")
        message = base64.urlsafe_b64decode(encoded.encode("ascii")).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise Refused(
            "점검 메시지를 읽을 수 없습니다 (message is not base64url of UTF-8 text)"
        ) from None
    if len(message) > MAINTENANCE_MESSAGE_MAX:
        raise Refused(f"점검 메시지가 {len(message)}자로 너무 깁니다: {MAINTENANCE_MESSAGE_MAX}자 "
                      f"이하로 줄이십시오 (message longer than {MAINTENANCE_MESSAGE_MAX})")  # fmt: skip
    if not message.isprintable():
        raise Refused("점검 메시지에 제어 문자나 줄바꿈이 있습니다: 한 줄로 쓰십시오 "
                      "(message contains control characters)")  # fmt: skip
    return [("maintenance", "on", scope, message.strip())]


def maintenance_page(message: str, since: str) -> str:
    """The page nginx serves with 503: Korean, the message (HTML-escaped) and since when."""
    text = html.escape(message or MAINTENANCE_DEFAULT)
    return (
        "<!doctype html>\n"
        '<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        "<title>서비스 점검 중</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;"
        "padding:0 1.5rem;line-height:1.6;color:#222}h1{font-size:1.5rem}"
        ".since{color:#666;font-size:.9rem}</style>\n"
        "</head>\n<body>\n<main>\n"
        "<h1>서비스 점검 중입니다</h1>\n"
        f'<p class="message">{text}</p>\n'
        f'<p class="since">점검 시작: {html.escape(since)}</p>\n'
        "<p>이용에 불편을 드려 죄송합니다. 점검이 끝나면 자동으로 다시 이용하실 수 있습니다.</p>\n"
        "</main>\n</body>\n</html>\n"
    )


def _root_dir(path: str) -> None:
    """``path`` and every directory above it: real directories, root's, writable by root
    alone (else a deploy login could swap what nginx serves)."""
    here = path
    while True:
        st = os.lstat(here)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
            raise Refused(f"{here}이(가) root만 쓸 수 있는 디렉터리가 아닙니다: 점검 페이지를 "
                          f"바꾸지 않습니다 ({here} is not a root-owned directory only root "
                          "can write)")  # fmt: skip
        if here == "/":
            return
        here = os.path.dirname(here)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _put(path: str, text: str) -> None:
    """Write ``path`` whole (a new file renamed over it): nginx never reads half a page."""
    new = f"{path}.new"
    _unlink(new)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    os.fchmod(fd, 0o644)  # whatever root's umask
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(new, path)


def _maintenance(state: str, scope: str, message: str) -> int:
    """Turn the page on for ``scope`` (the other scope's flag removed) or off. nginx is
    not reloaded: the site tests for the flag at every request."""
    _root_dir(os.path.dirname(MAINTENANCE_DIR))
    if state == "on":
        try:
            os.mkdir(MAINTENANCE_DIR, 0o755)
            os.chmod(MAINTENANCE_DIR, 0o755)  # whatever root's umask
        except FileExistsError:
            pass
    if not os.path.lexists(MAINTENANCE_DIR):  # off, never turned on
        print("점검 페이지가 이미 꺼져 있습니다", flush=True)
        return 0
    _root_dir(MAINTENANCE_DIR)
    if state == "off":
        for s in MAINTENANCE_SCOPES:
            _unlink(maintenance_flag(s))
        print("점검 페이지를 껐습니다 (nginx 리로드 없음)", flush=True)
        return 0
    since = time.strftime("%Y-%m-%d %H:%M %Z")
    _put(f"{MAINTENANCE_DIR}/{MAINTENANCE_PAGE}", maintenance_page(message, since))
    _put(maintenance_flag(scope), json.dumps({"scope": scope, "since": since, "message": message},
                                             ensure_ascii=False) + "\n")  # fmt: skip
    for other in MAINTENANCE_SCOPES:
        if other != scope:
            _unlink(maintenance_flag(other))
    where = "사이트 전체" if scope == "site" else "/api/"
    print(f"점검 페이지를 켰습니다: {where}가 503을 돌려줍니다 (nginx 리로드 없음)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
