"""Pure builders for the shell text the steps share: git, systemd, health, smoke requests.

Each takes plain values and returns a command string; nothing here touches a host. The rules
every builder follows (here, in tasks/procedures/ and in tasks/config/):

- every interpolated value goes through ``q``, messages inside ``echo`` included;
- an operand that could start with ``-`` (a path, a file name, free text, a revision, which
  in a dry run is a placeholder) comes after ``--``, or after git's ``--end-of-options``
  where ``--`` would mean paths;
- a bare name (a systemd unit, a git branch or remote, a URL) is checked against the strict
  patterns of tasks/hosts/values.py, which never allow a leading ``-``: at load time, and
  again by the builder that uses it (``git pull`` passes its arguments on to ``git fetch``,
  where neither ``--`` nor ``--end-of-options`` would keep ``-x`` from being an option);
- the ``*_cmd`` settings are RAW SHELL on purpose: pasted as the operator wrote them.
"""

from __future__ import annotations

import json
import re
import shlex

from tasks.errors import ConfigError
from tasks.hosts import values
from tasks.hosts.site import resolve_for


def q(value: object) -> str:
    """Shell-quote one value (every interpolated value goes through here)."""
    return shlex.quote(str(value))


def cd(path: str, command: str) -> str:
    return f"cd -- {q(path)} && {command}"


#: refuses a checkout whose tracked files were edited on the host (what a pull would carry
#: into the build, or a reset throw away): the operator decides, the tool never does
EDITED_CHECK = (
    'if [ -n "$(git status --porcelain --untracked-files=no)" ]; then '
    "echo 'tracked files were changed on the host; commit or discard them first' >&2; "
    "git status --short --untracked-files=no >&2; exit 1; fi"
)


def git_pull(path: str, remote: str, branch: str, fetch_first: bool = False) -> str:
    # --ff-only: a diverged checkout stops here (the manual: 충돌 시 수동 해결) instead
    # of creating a merge commit on the server. An edited checkout stops before it: git
    # would pull around an edit the next commit does not touch and build it in.
    remote, branch = values.branch(remote, "git_remote"), values.branch(branch)
    pull = f"git pull --ff-only {q(remote)} {q(branch)}"
    pull = f"git fetch {q(remote)} && {pull}" if fetch_first else pull
    return cd(path, f"{{ {EDITED_CHECK}; }} && {pull}")


def git_head(path: str) -> str:
    return f"git -C {q(path)} rev-parse HEAD"


def git_remote_head(path: str, remote: str, branch: str) -> str:
    remote, branch = values.branch(remote, "git_remote"), values.branch(branch)
    g = f"git -C {q(path)}"
    return f"{g} fetch -q {q(remote)} {q(branch)} && {g} rev-parse FETCH_HEAD"


def git_reset_to(path: str, rev: str) -> str:
    """Move the checkout to ``rev``, refusing when tracked files were edited on the host.

    ``rev`` is resolved to a commit first (``--end-of-options``: never an option); the reset
    then takes that commit id. (git 2.39's ``reset`` refuses ``--end-of-options`` itself.)
    """
    return cd(
        path,
        f"{{ {EDITED_CHECK}; "
        f"rev=$(git rev-parse -q --verify --end-of-options {q(rev + '^{commit}')}) "
        f"|| {{ echo {q(f'이 체크아웃에 커밋 {rev}이(가) 없습니다 (no such commit)')} >&2; exit 1; }}; "
        'git reset -q --hard "$rev" --; }',
    )


def git_changed(path: str, old: str, new: str, files: list[str]) -> str:
    """Prints the files among ``files`` that differ between two revisions."""
    names = " ".join(q(f) for f in files)
    return f"git -C {q(path)} diff --name-only --end-of-options {q(old)} {q(new)} -- {names}"


#: the fixed root helper `fab setup` installs (tasks/onhost/roothelper.py): all a deploy
#: may run as root (tasks/setup/privilege.py)
ROOT_HELPER = "/usr/local/sbin/dojangkok-root"


def root_helper(*args: object) -> str:
    """One call of the root helper, every argument a quoted word."""
    return f"sudo -n {ROOT_HELPER} " + " ".join(q(str(a)) for a in args)


def systemctl(action: str, service: str) -> str:
    return f"systemctl {action} {q(values.unit_name(service))}"


def service_status(service: str) -> str:
    # Print the status for the operator, then fail unless the unit is active.
    svc = q(values.unit_name(service))
    return f"systemctl status {svc} --no-pager -n 5; systemctl is-active --quiet {svc}"


def health(url: str, expect: str) -> str:
    return (
        f"curl -fsS --max-time 10 {q(values.url(url, '헬스 체크 URL'))} | grep -qF -- {q(expect)}"
    )


def poll(check: str, tries: int, interval: float, window: float | None = None) -> str:
    """Run ``check`` until it succeeds, at most ``tries`` times, ``interval`` seconds apart.

    The loop runs on the host, so a fine interval costs no SSH round trips. Its last line
    says how long the wait took against ``window`` (the limit; default tries × interval):
    the step's result, and its record, tell a slow start from a fast one. A waiting line
    is printed at most about once a second.
    """
    n, pause = int(tries), f"{float(interval):g}"
    limit = f"{float(window if window is not None else n * float(interval)):g}"
    every = max(1, round(1 / float(interval))) if float(interval) < 1 else 1
    said = f"[ $(( (i - 1) % {every} )) -eq 0 ] && " if every > 1 else ""
    took = "ms=$(( ($(date +%s%N) - t0) / 1000000 )); s=$((ms / 1000)).$((ms % 1000 / 100))"
    return (
        f"t0=$(date +%s%N); for i in $(seq 1 {n}); do if {check}; then {took}; "
        f'echo "ok: ${{s}}초 만에 정상 (한도 {limit}초, {pause}초 간격 $i번째 확인)"; exit 0; fi; '
        f'{said}echo "대기 중... ($i/{n})"; [ "$i" -lt {n} ] && sleep {pause}; done; {took}; '
        f'echo "{n}회 연속 실패: ${{s}}초 동안 (한도 {limit}초)" >&2; exit 1'
    )


def resolve_option(resolve: str) -> str:
    """curl's ``--resolve`` (tasks/hosts/site.py: the site's name to this host), or none."""
    return f"--resolve {q(resolve)} " if resolve else ""


def page(url: str, expect: str, resolve: str = "") -> str:
    check = f" | grep -qF -- {q(expect)}" if expect else " >/dev/null"
    return (
        f"curl -fsSL --max-time 10 {resolve_option(resolve)}"
        f"{q(values.url(url, 'frontend_url'))}{check}"
    )


def smoke(requests: list[dict], port: int | None = None, instead_of: int | None = None,
          site_names: tuple[str, ...] | list[str] = ()) -> str:  # fmt: skip
    """One shell line that makes every smoke request and fails on the first bad answer.

    A request names a ``url``, or a ``path`` asked of http://localhost:<port>. With
    ``instead_of`` (the port the service usually answers on, e.g. 8080, while the release
    strategy's new instance runs on ``port``), a ``url`` on localhost:<instead_of> is asked
    of localhost:<port>: the new instance is what is being tested, not the one serving. A
    ``url`` on one of ``site_names`` (server_name) asks this host's nginx by that name.
    """

    parts = []
    for i, spec in enumerate(requests, 1):
        if isinstance(spec, dict) and spec.get("url") and port and instead_of:
            spec = {**spec, "url": _local_port(str(spec["url"]), instead_of, port)}
        if isinstance(spec, dict) and spec.get("path") and not spec.get("url") and port:
            path = str(spec["path"])
            spec = {
                **spec,
                "url": f"http://localhost:{port}{path if path.startswith('/') else '/' + path}",
            }
        if not isinstance(spec, dict) or not spec.get("url"):
            raise ConfigError(
                f"스모크 요청 #{i}에 url이나 path가 없습니다: {spec!r}",
                '예: {"method": "GET", "path": "/api/notes"}',
            )
        what = f"smoke request #{i}"
        method = values.method(spec.get("method", "GET"), f"{what} method").upper()
        url = values.url(str(spec["url"]), f"{what} url")
        status = values.status(spec.get("status", 200), f"{what} status")
        curl = f"curl -sS --max-time 30 -w '\\n%{{http_code}}' -X {q(method)}"
        if spec.get("body") is not None:
            body = json.dumps(spec["body"], ensure_ascii=False)
            curl += f" -H 'Content-Type: application/json' --data-binary {q(body)}"
        curl += f" {resolve_option(resolve_for(url, site_names))}{q(url)}"
        check = f"[ \"${{out##*$'\\n'}}\" = {status} ]"
        if spec.get("expect"):
            check += f' && grep -qF -- {q(spec["expect"])} <<<"$out"'
        label = q(f"{method} {url}")
        parts.append(
            f"out=$({curl}) && {check} && echo ok {label} "
            f'|| {{ echo FAILED {label} >&2; echo "$out" | tail -5 >&2; exit 1; }}'
        )
    return "; ".join(parts)


KEYS_FN = (
    "keys() { sed -n 's/^[[:space:]]*\\(export[[:space:]]*\\)\\{0,1\\}"
    '\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\2/p\' -- "$1" | sort -u; }'
)


def env_keys_diff(env_file: str, example_file: str, at_rev: str | None = None) -> str:
    """Compare the KEYS (never values) of .env and .env.example; fail on keys .env lacks.

    With ``at_rev``, the .env.example of that revision (the one about to be deployed).
    """
    e, x, head = q(env_file), q(example_file), ""
    if at_rev:
        x = '"$ex"'
        head = (
            "ex=$(mktemp); trap 'rm -f -- \"$ex\"' EXIT; "
            f'git show --end-of-options {q(f"{at_rev}:{example_file}")} > "$ex" 2>/dev/null '
            '|| rm -f -- "$ex"; '
        )
    return head + (
        f"if [ ! -f {x} ]; then echo {q(f'{example_file} 없음: 비교할 것이 없습니다')}; exit 0; fi; "
        f"if [ ! -f {e} ]; then echo {q(f'{env_file}이(가) 없습니다')} >&2; exit 1; fi; {KEYS_FN}; "
        f"missing=$(comm -13 <(keys {e}) <(keys {x})); extra=$(comm -23 <(keys {e}) <(keys {x})); "
        '[ -z "$extra" ] || echo ".env에만 있는 키 (문제 없음): $(echo $extra)"; '
        'if [ -n "$missing" ]; then echo ".env에 없는 키: $(echo $missing)" >&2; exit 1; fi; '
        "echo '키가 모두 일치합니다'"
    )


def keep_newest(directory: str, prefix: str, keep: int) -> str:
    """Delete all but the ``keep`` newest entries named ``prefix*`` directly in ``directory``.

    Names travel NUL-separated from ``find`` to a ``read`` loop (no ``ls``, no ``xargs``, no
    word splitting), so spaces, line breaks and leading dashes in names are harmless. Only
    entries directly in the directory whose names start with ``prefix`` (compared literally,
    twice) are deleted; a missing directory has nothing to rotate.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ConfigError(
            f"{directory}/{prefix}* 정리: 남길 개수는 1 이상이어야 합니다: {keep!r}",
            "1 미만이면 방금 만든 백업까지 지웁니다. 남길 개수를 1 이상으로 설정하십시오",
        )
    if not prefix or "/" in prefix:
        raise ConfigError(
            f"정리할 이름의 접두어는 /가 없는 이름이어야 합니다: {prefix!r}",
            "이 도구의 버그입니다 (internal: keep_newest prefix)",
        )
    pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
    return (
        f"( cd -- {q(directory)} 2>/dev/null || exit 0; "
        f"find . -mindepth 1 -maxdepth 1 -name {q(pattern)} -printf '%T@ %P\\0' "
        f"| sort -z -r -n | tail -z -n +{keep + 1} "
        "| { bad=; while IFS= read -r -d '' e; do n=${e#* }; "
        f'case $n in {q(prefix)}*) rm -rf -- "./$n" || bad=1;; esac; done; [ -z "$bad" ]; }} )'
    )


_LOCAL = re.compile(r"^(https?://(?:localhost|127\.0\.0\.1)):(\d+)(?=/|$)")


def _local_port(url: str, old: int, new: int) -> str:
    """``url`` with a local ``old`` port made ``new``; any other url as it is."""
    m = _LOCAL.match(url)
    if not m or int(m.group(2)) != int(old):
        return url
    return f"{m.group(1)}:{int(new)}{url[m.end() :]}"
