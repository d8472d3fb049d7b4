"""What push-config and the deploys rely on, checked on the host before anything changes.

A deploy pulls into a checkout, activates a venv, restarts a unit that runs as a user; a
push installs units that name a user, a jar, a venv's uvicorn. On a host `fab setup` never
prepared, one of these is missing and the task would fail late (a unit whose user does not
exist fails only after the health wait, then is rolled back). So each task first runs one
read-only command that tests them all (about a second) and stops, naming each missing piece
and `fab setup`, before it changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.apps import env as appenv
from tasks.apps import registry
from tasks.apps.base import strategy_for
from tasks.errors import ConfigError
from tasks.hostfacts import NORM_FN, norm_origin
from tasks.hosts.settings import Settings
from tasks.shell import q


@dataclass(frozen=True)
class Check:
    what: str  # shown when missing, e.g. "user dojangkok (User= of dojangkok.service)"
    test: str  # shell: exit 0 when present


def checkout(s: Settings, comp: str, path: str) -> list[Check]:
    """The checkout exists and is a git repository of the configured origin."""
    repo = getattr(s, f"{comp}_repo")
    found = [Check(f"git 체크아웃 {path}", f"git -C {q(path)} rev-parse --git-dir >/dev/null 2>&1")]
    if repo:
        found.append(
            Check(
                f"{repo}({comp}_repo)에서 받은 체크아웃 {path}",
                f'[ "$(norm "$(git -C {q(path)} remote get-url {q(s.git_remote)} 2>/dev/null)")"'
                f" = {q(norm_origin(repo))} ]",
            )
        )
    return found


def user(name: str, why: str) -> Check:
    return Check(f"사용자 {name} ({why})", f"id -u {q(name)} >/dev/null 2>&1")


def unit_user(service: str) -> Check:
    """The installed unit is there, and the user it names exists."""
    u = q(service)
    return Check(
        f"유닛 {service}.service와 그 실행 사용자",
        f'[ "$(systemctl show -p LoadState --value {u})" = loaded ] && '
        f'{{ x=$(systemctl show -p User --value {u}); [ -z "$x" ] || id -u "$x" >/dev/null 2>&1; }}',
    )


def exists(path: str, what: str) -> Check:
    return Check(f"{what} {path}", f"test -e {q(path)}")


def for_unit(s: Settings, key: str) -> list[Check]:
    """push-config: what a rendered unit names (before it is installed). The release
    strategy's units run releases (made by its deploys or the conversion): their user, and
    the checkout the releases are built from."""
    if strategy_for(s).keeps_releases and key in ("backend", "ai"):
        svc = s.backend_service if key == "backend" else s.ai_service
        return [
            user(getattr(s, f"{key}_user"), f"{svc}.service의 User="),
            *(
                [
                    exists(s.backend_java, "java"),
                    exists(appenv.system_path(s, "backend"), "EnvironmentFile"),
                ]
                if key == "backend"
                else []
            ),
            *checkout(s, key, s.backend_dir if key == "backend" else s.ai_dir),
        ]
    if key == "backend":
        return [
            user(s.backend_user, f"{s.backend_service}.service의 User="),
            exists(s.backend_java, "java"),
            exists(f"{s.backend_dir}/{s.backend_artifact}", "jar"),
            exists(appenv.system_path(s, "backend"), "EnvironmentFile"),
            *checkout(s, "backend", s.backend_dir),
            *(exists(p, "쓰기 경로") for p in registry.BACKEND.writable(s)),
        ]
    if key == "ai":
        return [
            user(s.ai_user, f"{s.ai_service}.service의 User="),
            exists(f"{s.ai_dir}/{s.ai_venv}/bin/uvicorn", "venv의 uvicorn"),
            *checkout(s, "ai", s.ai_dir),
            *(exists(p, "쓰기 경로") for p in registry.AI.writable(s)),
        ]
    if key == "nginx":  # the site serves the frontend's web root (a Node frontend's: none)
        return [exists(path, what) for path, what in registry.FRONTEND.manual_paths(s)]
    return []


def for_deploy(s: Settings, comp: str) -> list[Check]:
    """A deploy or rollback of ``comp``: its checkout, its unit and user, its venv (the
    release strategy: its checkout and user; what else it needs, it builds or converts)."""
    app = registry.get(comp)
    found, runs_as = checkout(s, comp, app.checkout(s)), app.service_user(s)
    if strategy_for(s).keeps_releases:
        return found + ([user(runs_as, f"{comp} 서비스의 실행 사용자")] if runs_as else [])
    return [*found, *(exists(path, what) for path, what in app.manual_paths(s)),
            *([unit_user(app.service(s))] if runs_as else [])]  # fmt: skip


def command(checks: list[Check]) -> str:
    """Prints ``missing: <what>`` per failed check; always exits 0 (read-only)."""
    parts = [f"{c.test} || echo {q('missing: ' + c.what)}" for c in checks]
    return f"{NORM_FN}; " + "; ".join(parts) + "; true"


def missing(stdout: str) -> list[str]:
    return [
        line[len("missing: ") :] for line in stdout.splitlines() if line.startswith("missing: ")
    ]


def verify(session, checks: list[Check], task: str) -> None:
    """Run the checks on the session's host; refuse (nothing changed) when any is missing."""
    if not checks or session.remote is None:
        return
    res = session.sh(command(checks))
    judge(session, task, res.ok, res.stdout, res.tail(2))


def judge(session, task: str, ok: bool, stdout: str, tail: str) -> None:
    """Refuse (nothing changed) when the checks' output names a missing piece, or the
    check itself failed (``ok`` false; ``tail``: its last output)."""
    gone = missing(stdout)
    if not ok:
        gone = gone or [f"(확인 명령 자체가 실패했습니다: {tail})"]
    if gone:
        alias = session.view.host.alias
        raise ConfigError(
            f"{alias}는 아직 {task}을(를) 할 준비가 되어 있지 않습니다. 없는 것: "
            + "; ".join(gone),
            f"아무것도 바꾸지 않았습니다. 먼저 `fab -H {alias} setup`을 실행하십시오 "
            "(위의 것을 모두 만듭니다)",
        )
