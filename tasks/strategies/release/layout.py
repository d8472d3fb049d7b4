"""The release strategy's layout and its pure builders, shared by the three components.

Per component, under the ``releases_root`` setting (default /app/releases)::

    <root>/<component>/releases/<run id>-<sha7>/   one release: the code of one revision,
                                                   built there; .release.json says what it
                                                   is, .status its state
    <root>/<component>/shared/                     .env, logs: linked into every release
    <root>/<component>/current -> releases/<...>   what serves (switched atomically)
    <root>/<component>/switches                    one line per switch: when, which release

The git checkout the manual uses (``*_dir``) stays the place revisions come from: a release
is ``git archive`` of the revision, never the live tree. Nothing is built in ``current``.
Statuses: ``building`` → ``ready`` (built) or ``failed``; ``bad`` once rolled back from
(later rollbacks skip it). Switches are ``ln -sfn`` to a temporary name, then ``mv -T``:
a rename, atomic for every reader.
"""

from __future__ import annotations

import dataclasses
import json

from tasks.apps import env as appenv
from tasks.apps.common import smoke_step
from tasks.engine import safepath
from tasks.engine.steps import Step
from tasks.engine.view import RunView, operator_name
from tasks.hostfacts import tracked
from tasks.onhost.policy import Policy
from tasks.shell import q

INFO = ".release.json"
STATUS = ".status"
LEGACY = "legacy"  # the suffix of a release adopted from a manual-strategy host


def base(v: RunView, component: str | None = None) -> str:
    return f"{v.s.releases_root}/{component or v.component}"


def name(v: RunView) -> str:
    """This run's release: sortable by time, says its revision."""
    return f"{v.run_id}-{v.to_rev[:7] if not v.to_rev.startswith('<') else '<sha>'}"


def path(v: RunView, component: str | None = None, release: str | None = None) -> str:
    return f"{base(v, component)}/releases/{release or name(v)}"


def current(v: RunView, component: str | None = None) -> str:
    return f"{base(v, component)}/current"


def shared(v: RunView, component: str | None = None) -> str:
    return f"{base(v, component)}/shared"


def dirs(v: RunView) -> list[str]:
    b = base(v)
    return [v.s.releases_root, b, f"{b}/releases", f"{b}/shared", f"{b}/slots"]


# --- building a release ------------------------------------------------------------------
def export(v: RunView, checkout: str) -> str:
    """The revision's files into a new release directory (no .git, no build output)."""
    d = q(path(v))
    return (
        f"mkdir -- {d} && printf 'building\\n' > {d}/{STATUS} && "
        f"git -C {q(checkout)} archive --format=tar --end-of-options {q(v.to_rev)} "
        f"| tar -x -C {d}"
    )


def link_shared(v: RunView, names: list[str]) -> str:
    """Link shared files (``.env``) into the release; a missing one is left out, and said."""
    d, sh = q(path(v)), shared(v)
    parts = []
    for n in names:
        src = q(f"{sh}/{n}")
        parts.append(
            f"if [ -e {src} ]; then ln -sfn -- {src} {d}/{q(n)}; "
            f"else echo {q(f'no shared {n} ({sh}/{n}): none linked')}; fi"
        )
    return "; ".join(parts) or "true"


def info(v: RunView, artifact: str = "", operator: str = "") -> str:
    """Write .release.json (what the release is, where and by whom it was built, its
    artifact), the artifact's checksum (.sha256), and mark the release ready."""
    d = q(path(v))
    data = {"release": name(v), "component": v.component, "revision": v.to_rev,
            "run_id": v.run_id, "host": v.host.alias, "built_on": v.build_on,
            "built_by": operator, "artifact": artifact}  # fmt: skip
    if (
        v.build is not None
    ):  # where it was built, the artifact's SHA-256 and size (tasks/localbuild)
        data["build"] = v.build.record()
    checksum = f"(cd {d} && sha256sum -- {q(artifact)} > .sha256) && " if artifact else ""
    return (
        f"printf '%s\\n' {q(json.dumps(data, ensure_ascii=False))} > {d}/{INFO} && {checksum}"
        f"printf 'ready\\n' > {d}/{STATUS}"
    )


def adopt_env(v: RunView, app) -> str:
    """As the deploy login, once: the shared .env. A service's is a link to the file its
    unit reads (tasks/apps/env.py: root's directory, the deploy login's file); the
    frontend's a copy of the checkout's (read at build), when there is one."""
    if app.service:
        return appenv.linked(app, shared(v), v.run_id, say=lambda text: f"echo {q(text)}")
    src, dst = q(app.link), q(f"{shared(v)}/{app.env_file}")
    return (
        f"if [ ! -e {dst} ] && [ -f {src} ]; then install -m 600 -- {src} {dst} && "
        f"echo {q(f'체크아웃의 {app.env_file}을(를) shared에 복사했습니다')}; fi"
    )


def mark(v: RunView, status: str, release: str | None = None) -> str:
    d = q(path(v, release=release))
    return f"if [ -d {d} ]; then printf '%s\\n' {q(status)} > {d}/{STATUS}; fi"


# --- switching -----------------------------------------------------------------------------
def switch(link: str, target: str, run_id: str) -> str:
    """Point ``link`` at ``target`` atomically (a rename of a prepared symlink)."""
    tmp = q(f"{link}.{run_id}")
    return f"ln -sfn -- {q(target)} {tmp} && mv -fT -- {tmp} {q(link)}"


def switch_current(v: RunView, release: str | None = None) -> str:
    """``current`` → the release; the switch is logged in ``switches``."""
    target = path(v, release=release)
    log = q(f"{base(v)}/switches")
    return (
        f"{switch(current(v), target, v.run_id)} && "
        f"printf '%s %s\\n' \"$(date -Is)\" {q(release or name(v))} >> {log}"
    )


def current_release(v: RunView) -> str:
    """Prints the name of the release ``current`` points at (nothing when none)."""
    return f'basename -- "$(readlink -- {q(current(v))} 2>/dev/null)" 2>/dev/null || true'


# --- listing and cleaning ---------------------------------------------------------------
LIST_MARK = "@@release"


def list_command(v: RunView) -> str:
    """One line per release, oldest first: ``@@release <name> <status> <current|-> <n>
    <revision|->``, ``n`` the line of its last switch in ``switches`` (0: never served), the
    revision from its .release.json. Bash reads the files itself (``read``, a map of the
    switches): no process per release, four fewer for each one than before."""
    b = q(base(v))
    return (
        f"cur=$(readlink -- {b}/current 2>/dev/null); cur=${{cur##*/}}; "
        f"declare -A w; k=0; {{ while IFS= read -r l; do k=$((k + 1)); w[${{l##* }}]=$k; "
        f"done < {b}/switches; }} 2>/dev/null; "
        f"cd -- {b}/releases 2>/dev/null || exit 0; "
        "find . -mindepth 1 -maxdepth 1 -type d -printf '%f\\n' | sort | "
        "while IFS= read -r n; do "
        f's=; {{ IFS= read -r s < {b}/releases/"$n"/{STATUS}; }} 2>/dev/null; s=${{s:-unknown}}; '
        '[ "$n" = "$cur" ] && c=current || c=-; '
        f'i=; {{ IFS= read -r i < {b}/releases/"$n"/{INFO}; }} 2>/dev/null; r=-; '
        '[[ $i =~ \\"revision\\":\\ \\"([0-9a-f]+)\\" ]] && r=${BASH_REMATCH[1]}; '
        f'echo "{LIST_MARK} $n $s $c ${{w[$n]:-0}} $r"; done'
    )


def parse_list(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) in (5, 6) and parts[0] == LIST_MARK:
            _, rel, status, cur, switched, *rev = parts
            out.append({"release": rel, "status": status, "current": cur == "current",
                        "switched": int(switched or 0),
                        "revision": rev[0] if rev and rev[0] != "-" else ""})  # fmt: skip
    return out


def revision_in(releases: list[dict], rel: str | None) -> str:
    """The revision a listed release was built from ('' when unknown)."""
    return next((r["revision"] for r in releases if r["release"] == rel), "")


def current_of(releases: list[dict]) -> str | None:
    return next((r["release"] for r in releases if r["current"]), None)


def revision_of(release: str) -> str:
    """The short revision in a release's name (``<run id>-<sha7>[-legacy]``)."""
    return release.split("-")[1] if "-" in release else ""


def previous_good(releases: list[dict], to: str | None = None) -> str | None:
    """The release a rollback goes to: the one that served last before the current one and
    was neither rolled back from (``bad``) nor failed. With ``to``: the last one of that
    revision (a ``bad`` one too, when asked for by name)."""
    cur = current_of(releases)
    ok = ("ready",) if not to else ("ready", "bad")
    found = [r for r in releases if r["release"] != cur and r["status"] in ok]
    if to:
        found = [r for r in found if revision_of(r["release"]).startswith(to[:7])]
        return max(found, key=lambda r: (r["switched"], r["release"]))["release"] if found else None
    served = [r for r in found if r["switched"] > 0]
    return max(served, key=lambda r: r["switched"])["release"] if served else None


def to_remove(releases: list[dict], keep: int) -> list[str]:
    """The releases cleanup deletes: all but the ``keep`` newest, never the current one nor
    the one a rollback would go to."""
    spare = {current_of(releases), previous_good(releases)}
    newest = [r["release"] for r in releases][-int(keep) :] if keep > 0 else []
    return [
        r["release"] for r in releases if r["release"] not in spare and r["release"] not in newest
    ]


def remove(v: RunView, releases: list[str]) -> str:
    """Delete the releases, then every shared venv no release links to any more."""
    b = q(base(v))
    gone = (
        "rm -rf -- " + " ".join(q(f"{base(v)}/releases/{r}") for r in releases) + " && "
        if releases
        else ""
    )
    return (
        f'{gone}if cd -- {b}/venvs 2>/dev/null; then for k in */; do k=${{k%/}}; [ -d "$k" ] || continue; '
        f'find ../releases -mindepth 2 -maxdepth 2 -type l -lname "*/venvs/$k" | grep -q . '
        '|| { rm -rf -- "./$k" && echo "removed venv $k"; }; done; fi; '
        f"echo {q(f'{len(releases)} release(s) removed')}"
    )


# --- steps every component's release plan shares -------------------------------------
def prepare_step() -> Step:
    """The release directories, as the deploy login: setup (or :func:`root_prepare_step`,
    the conversion's) made releases_root its own."""
    return Step(
        "0", "릴리스 디렉터리 준비", "1초", "권한 확인 (fab setup)", Policy.ABORT,
        command=lambda v: f"install -d -m 755 -- {' '.join(q(d) for d in dirs(v))}",
        added="release 방식: releases/, shared/ 디렉터리 (한 번 만들면 그대로)",
    )  # fmt: skip


def root_prepare_steps() -> tuple[Step, Step]:
    """A conversion's: releases_root made or given to the deploy login, as root and never
    through a link (a host set up the manual way has none, in a directory only root
    writes); then, as the deploy login, what is in it (:func:`prepare_step`)."""
    root = Step(
        "0", "릴리스 루트 (배포 계정 소유)", "1초", "심볼릭 링크면 지우고 다시 실행, 권한 확인",
        Policy.ABORT, sudo=True,
        command=lambda v: tracked(f"{safepath.OWN_FN}; "
                                  + safepath.own("dir", v.s.releases_root, "755", v.login),
                                  v.s.releases_root),
        added="root는 releases_root 하나만 만든다 (링크를 따라가지 않는다); 그 안은 배포 계정이",
    )  # fmt: skip
    return root, dataclasses.replace(prepare_step(), number="0a")


def export_step(number: str, checkout) -> Step:
    return Step(
        number, "새 릴리스에 코드 내보내기", "10초", "리비전·디스크 공간 확인", Policy.ABORT,
        command=lambda v: export(v, checkout(v)),
        added="매뉴얼의 코드 Pull 대신: 서비스 중인 트리는 그대로 두고 배포할 리비전을 "
        "새 릴리스 디렉터리에 `git archive`로 내보낸다",
    )  # fmt: skip


def link_step(number: str, names) -> Step:
    return Step(
        number, "공유 파일 연결 (.env)", "1초", "shared/ 확인", Policy.ABORT,
        command=lambda v: link_shared(v, names(v)),
        added="릴리스마다 같은 .env를 쓰도록 shared/의 파일을 연결한다",
    )  # fmt: skip


def info_step(number: str, artifact: str = "") -> Step:
    return Step(
        number, "릴리스 정보 기록", "1초", "-", Policy.ABORT,
        command=lambda v: info(v, artifact, operator_name()),
        added="리비전, 실행 ID, 산출물 체크섬을 릴리스에 기록하고 ready로 표시",
    )  # fmt: skip


def failed_step() -> Step:
    return Step("F", "릴리스를 실패로 표시", "1초", "-", Policy.WARN,
                command=lambda v: mark(v, "failed"))  # fmt: skip


def switch_step(number: str, title: str, target=None) -> Step:
    """``current`` → this run's release (or ``target(view)``)."""
    return Step(
        number, title, "1초", "이전 릴리스로 되돌림", Policy.ROLLBACK,
        command=lambda v: switch_current(v, target(v) if target else None),
        added="심볼릭 링크를 원자적으로 바꾼다 (ln -sfn 임시 이름 → mv -T)",
    )  # fmt: skip


def host_smoke(number, title, expected, on_failure, view: RunView, specs, port,
               instead_of=None) -> tuple[Step, ...]:  # fmt: skip
    """The configured smoke requests, on the host; none configured: the 배포 후 checklist asks
    the operator instead (a question cannot run in the host's critical section).
    ``instead_of``: the service's usual port; its local urls are asked of ``port``."""
    if not specs(view.s):
        return ()
    return (smoke_step(number, title, expected, on_failure, view, specs, port, "", instead_of),)


def root_owned(path: str) -> str:
    """Succeeds when ``path`` is a file root owns (not a link): what the deploy login can
    neither make nor remove, so it cannot make a deploy convert a converted host again."""
    p = q(path)
    return f'[ -f {p} ] && [ ! -L {p} ] && [ "$(stat -c %u -- {p})" = 0 ]'
