"""Setup's application steps: each component's checkout, .env, writable paths and first
build, then the config, the services and a health check (pure builders, like every plan).

A checkout is cloned once (``<component>_repo``; over ssh with the component's deploy key
and the git host's keys checked); an existing one must be a git repository of that origin.
The first build runs only when there is nothing to serve yet (no web root page, no jar, no
venv): after that, building is the deploys' work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps import registry
from tasks.apps.base import App, strategy_for
from tasks.engine import safepath
from tasks.engine.steps import Kind, Step, Upload
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import NORM_FN, ch, tracked
from tasks.hosts import values
from tasks.hosts.settings import Settings
from tasks.localbuild import first
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release


def repo(s: Settings, comp: str) -> str:
    return getattr(s, f"{comp}_repo")


def deploy_key(s: Settings, comp: str) -> str:
    return getattr(s, f"{comp}_deploy_key")


def keys_dir(s: Settings) -> str:
    return f"{s.state_dir}/keys"


def key_path(s: Settings, comp: str) -> str:
    return f"{keys_dir(s)}/{comp}_deploy_key"


def known_hosts_path(s: Settings) -> str:
    return f"{keys_dir(s)}/git_known_hosts"


def needs_keys_dir(s: Settings) -> bool:
    return bool(s.git_known_hosts) or any(deploy_key(s, c.name) for c in registry.ORDER)


def ssh_command(s: Settings, comp: str) -> str:
    """git's core.sshCommand: the deploy key, and the git host's key always checked."""
    parts = ["ssh"]
    if deploy_key(s, comp):
        parts += ["-i", key_path(s, comp), "-o", "IdentitiesOnly=yes"]
    parts += ["-o", "StrictHostKeyChecking=yes"]
    if s.git_known_hosts:
        parts += ["-o", f"UserKnownHostsFile={known_hosts_path(s)}"]
    return " ".join(q(p) for p in parts)


def _local(path: str, what: str) -> str:
    p = Path(path).expanduser()
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{what} 파일을 읽지 못했습니다: {p} ({exc.strerror})",
            "인벤토리의 그 설정이 이 컴퓨터에 있는, 읽을 수 있는 파일을 가리키게 고치십시오",
        ) from None


def clone_uploads(comp: str):
    def uploads(v: RunView) -> tuple[Upload, ...]:
        s, out = v.s, []
        key, known = deploy_key(s, comp), s.git_known_hosts
        if key:
            out.append(Upload(key_path(s, comp), "600", f"배포 키 ({comp}_deploy_key)",
                              lambda secrets: _local(key, f"배포 키({comp}_deploy_key)")))  # fmt: skip
        if known:
            out.append(Upload(known_hosts_path(s), "644", "git 호스트 키 (git_known_hosts)",
                              lambda secrets: _local(known, "git_known_hosts")))  # fmt: skip
        return tuple(out)

    return uploads


def clone_command(s: Settings, comp: str, checkout: str) -> str:
    """Clone once; an existing checkout must be a git repository of the configured origin."""
    d, want = q(checkout), repo(s, comp)
    remote = q(values.branch(s.git_remote, "git_remote"))
    values.branch(s.git_branch)
    ssh = ssh_command(s, comp)
    configured = bool(deploy_key(s, comp) or s.git_known_hosts)
    if not want:
        return tracked(
            f"if [ -d {d}/.git ]; then echo {q(f'{comp}_repo가 비어 있어 origin은 확인하지 않았습니다')}; "
            f"else echo {q(f'{checkout}은(는) git 체크아웃이 아니고 {comp}_repo도 비어 있습니다: 인벤토리에 {comp}_repo를 적으십시오')} >&2; exit 1; fi"
        )
    sync = (
        f'[ "$(git -C {d} config core.sshCommand || true)" = {q(ssh)} ] || '
        f'{{ git -C {d} config core.sshCommand {q(ssh)}; ch "ssh (deploy key, host keys)"; }}; '
        if configured
        else ""
    )
    clone_opts = f"-c core.sshCommand={q(ssh)} " if configured else ""
    return tracked(
        f"{NORM_FN}; want={q(want)}; "
        f"if [ -d {d}/.git ]; then have=$(git -C {d} remote get-url -- {remote}) "
        f"|| {{ echo {q(f'{checkout}에 {s.git_remote} 리모트가 없습니다')} >&2; exit 1; }}; "
        f'[ "$(norm "$have")" = "$(norm "$want")" ] || {{ echo {q(checkout)}"의 origin은 $have입니다. "'
        f"{q(f'{want}({comp}_repo)가 아닙니다')} >&2; exit 1; }}; "
        f'else git clone -q --origin={remote} --branch={q(s.git_branch)} {clone_opts}-- "$want" {d}; '
        f"{ch(f'git clone {want} ({s.git_branch})')}; fi; " + sync + "true",
        f"{checkout} ({want})",
    )


def writable_command(s: Settings, comp: App) -> str:
    """As root, never through a link (tasks/engine/safepath.py): each path the service
    writes, made or given to the service user (a link planted there is refused by name)."""
    user = comp.service_user(s)
    parts = [safepath.own("dir", p, "750", q(user), q(user)) for p in comp.writable(s)]
    return tracked(f"{safepath.OWN_FN}; " + "; ".join(parts) if parts else "true",
                   f"owned by {user}")  # fmt: skip


def env_uploads(v: RunView, comp: str) -> tuple[Upload, ...]:
    app = appenv.of(comp, v.s)
    return (Upload(appenv.candidates_file(v, comp), "600", f"{comp}_env의 값 (비밀값은 .env에서)",
                   lambda secrets: appenv.candidates(app, secrets)),)  # fmt: skip


def app_steps(view: RunView, comps: list[App], nr: Callable[[], str]) -> list[Step]:
    steps: list[Step] = []
    for c in comps:
        name, label = c.name, c.label
        steps.append(Step(
            nr(), f"{label} 코드 받기 (git clone)", "30초", "저장소 주소·배포 키·호스트 키 확인",
            Policy.ABORT, uploads=clone_uploads(name),
            command=lambda v, n=name, c=c: clone_command(v.s, n, c.checkout(v.s)),
            added="있으면 그 origin이 설정과 같은지 확인만 한다",
        ))  # fmt: skip
        steps.append(Step(
            nr(), f"{label} .env 작성", "5초", "값이 없는 키를 설정에 추가", Policy.ABORT,
            uploads=lambda v, n=name: env_uploads(v, n),
            command=lambda v, n=name: appenv.write_command(v, appenv.of(n, v.s),
                                                           release.shared(v, n)),
            added=f"키는 .env.example에서, 소유자 로그인 사용자·그룹 서비스·{appenv.MODE}; "
                  "배포 계정이 쓴다 (root 아님)"
                  + (f"; 유닛이 읽는 파일은 {c.env(view.s).system}, 체크아웃의 .env는 그 링크"
                     if c.env(view.s).service else ""),
        ))  # fmt: skip
        if c.writable(view.s):
            steps.append(Step(
                nr(), f"{label} 쓰기 경로 ({name}_writable_paths)", "1초", "권한 확인",
                Policy.ABORT, sudo=True, command=lambda v, c=c: writable_command(v.s, c),
            ))  # fmt: skip
        if first.local(view.s, name):  # built here and sent (tasks/localbuild/first.py)
            steps.append(first.first_build_step(nr(), label, c))
            continue
        steps.append(Step(
            nr(), f"{label} {c.first_build.title}", c.first_build.expected, "빌드 로그 확인",
            Policy.ABORT, command=lambda v, c=c: c.first_build_command(v.s),
            added="서빙할 것이 없을 때만 (그 뒤의 빌드는 배포가 한다)",
        ))  # fmt: skip
    return steps


def _pair(s: Settings, comp: str):
    """The blue/green pair that serves ``comp`` on a release-strategy host (None: one unit)."""
    if not strategy_for(s).runs_blue_green:
        return None
    return registry.get(comp).plans("release").pair(s)


def units(s: Settings, comps: list[App]) -> list[str]:
    """The units setup enables and starts. A blue/green pair (release strategy) is the
    release strategy's: its live instance starts at boot (release_convert, the deploys)."""
    out: list[str] = []
    for c in comps:
        out += [u for u in c.setup_units(s, _pair(s, c.name) is not None) if u not in out]
    return out


def live_instances(s: Settings, comps: list[App]) -> list:
    """The blue/green pairs whose live instance setup keeps enabled and running."""
    return [pair for c in comps if (pair := _pair(s, c.name)) is not None]


def services_command(names: list[str], s: Settings | None = None, pairs: list = ()) -> str:
    """Each unit enabled and running; each pair's live instance (the port its nginx
    upstream names) too, so it starts at boot."""
    parts = []
    for pair in pairs:
        svc = q(values.unit_name(pair.service(s), "service") + "@")
        parts.append(
            f'p=$({pair.live_port_command(s)}); if [ -n "$p" ]; then u={svc}"$p"; '
            'systemctl is-enabled -q -- "$u" || { systemctl enable -q -- "$u"; ch "enabled $u"; }; '
            'systemctl is-active -q -- "$u" || { systemctl start -- "$u"; ch "started $u"; }; fi'
        )
    for name in names:
        u = q(values.unit_name(name, "service"))
        parts.append(
            f"systemctl is-enabled -q -- {u} || {{ systemctl enable -q -- {u}; {ch(f'enabled {name}')}; }}; "
            f"systemctl is-active -q -- {u} || {{ systemctl start -- {u}; {ch(f'started {name}')}; }}"
        )
    shown = [*names, *(f"{pair.service(s)}@(live port)" for pair in pairs)]
    return tracked("; ".join(parts), ", ".join(shown))


def _health(s: Settings, c: App) -> str:
    pair = _pair(s, c.name)
    if pair is None:  # nothing to ask before a conversion builds it: said so
        said = q(f"{c.name}: 아직 서빙하는 것이 없습니다 (release 전환이 첫 릴리스를 시작합니다)")
        return c.health_once_serving(s, f"echo {said}")
    h = c.health(s, None)  # the instance nginx sends requests to, polled the same way
    return shell.poll(f"( {pair.live_health(s)} )", h.tries, h.interval)


def health_command(s: Settings, comps: list[App]) -> str:
    """Each component's check, polled; the last line (the step's result) says how long the
    last one took against its window."""
    return " && ".join(f"echo {q(c.name + ':')} && ( {_health(s, c)} )" for c in comps)


def journals(s: Settings, comps: list[App]) -> str:
    """Read as root: the units, and a blue/green pair's instances (release strategy)."""
    names = units(s, comps) + [
        f"{pair.service(s)}@*" for c in comps if (pair := _pair(s, c.name)) is not None
    ]
    return "; ".join(f"journalctl -u {q(u)} -n 30 --no-pager" for u in names)


def final_steps(view: RunView, comps: list[App], nr: Callable[[], str],
                push=None) -> list[Step]:  # fmt: skip
    return [
        Step(nr(), "설정 적용 (push-config)", "1분", "CFG 단계의 대응을 따름", Policy.ABORT,
             kind=Kind.LOCAL, asks=True,
             command=lambda v: "templates/ 렌더링 → 차이 표시 → 검증 → 적용 (유닛, nginx, MySQL 설정; "
                               "아래 CFG 단계)",
             action=push or (lambda s: "push-config"),
             added="fab push-config와 같다 (유닛 설치·활성화, 실패 시 이전 설정 복원)"),
        Step(nr(), "서비스 활성화·시작", "10초", "로그 확인", Policy.ABORT, sudo=True,
             command=lambda v: services_command(units(v.s, comps), v.s,
                                                live_instances(v.s, comps)),
             diagnose=lambda v: journals(v.s, comps)),
        Step(nr(), "헬스체크", "1분", "로그 확인 (journalctl)", Policy.ABORT,
             command=lambda v: health_command(v.s, comps),
             diagnose=lambda v: journals(v.s, comps)),
    ]  # fmt: skip
