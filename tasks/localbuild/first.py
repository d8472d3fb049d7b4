"""Setup's first build, where the build location says: with ``<component>_build_on=local``
(or ``build_on``), `fab setup` builds here and sends, as a deploy does (section L), so a
host with no package index (no PyPI, no npm registry, no Gradle repository) serves after
setup alone.

Like setup's host build (tasks/setup/setup_apps.py) it runs only when there is nothing
to serve yet. The revision is the one setup's clone checked out (the branch's head on the
host), checked to be on the origin's branch as every local build is; the host's checkout
must name the inventory's origin exactly (tasks/localbuild/origin.py). The steps are the deploy's:
L1 checkout, (frontend) L1a the host's .env, L2 build, L3 runtime checks, then sent,
checked (SHA-256) and installed the manual strategy's way: the jar into the checkout, the
build into the web root, the wheels into the venv with ``pip install --no-index``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tasks.apps import registry
from tasks.apps.base import App, strategy_for
from tasks.engine.steps import Kind, Plan, Step
from tasks.engine.view import RunView
from tasks.errors import ConfigError
from tasks.hostfacts import CHANGED_MARK, UNCHANGED
from tasks.hosts import validate
from tasks.hosts.settings import Settings
from tasks.localbuild import checkout, kind
from tasks.localbuild.facts import host_command, parse
from tasks.localbuild.model import Build
from tasks.localbuild.plans import ai_install, jar_install, send_step, verify_step
from tasks.localbuild.steps import local_plan
from tasks.onhost.policy import Policy
from tasks.shell import git_head, q


def local(s: Settings, component: str) -> bool:
    """Whether setup builds ``component`` here (its build_on settings, as build_on_for reads
    them; setup takes no flag). A bad value is the preflight's to refuse (validate.py)."""
    return (getattr(s, f"{component}_build_on", "") or s.build_on) == "local"


def venv_command(s: Settings) -> str:
    """The AI's venv, made empty where it is missing: its python is what the wheels are for."""
    venv = q(s.ai_venv)
    python = q(validate.python_command(s.ai_python or "python3"))
    return (
        f"cd -- {q(s.ai_dir)} && if [ -x {q(s.ai_venv + '/bin/python')} ]; then echo 'venv: 있음'; "
        f"else {python} -m venv -- {venv} && echo {q(f'venv {s.ai_venv}: 새로 만듦')}; fi"
    )


def install_plan(view: RunView) -> Plan:
    """Sent, checked on the host, installed the view's strategy's way: the manual one's, in
    the checkout (setup's first build runs as the manual strategy, below) (pure)."""
    app, built = kind.app(view), kind.kind(view)
    keep = Step("L6", "설치", "10초", "전송·디스크 확인 후 setup 다시", Policy.ABORT)
    if built == kind.JAR:
        steps = (send_step("L4", "sftp"), verify_step("L5"), jar_install(keep))
    elif built == kind.TREE:
        web = Step(
            "L6", "웹 루트에 배포", "5초", "디스크 공간·권한 확인", Policy.ABORT,
            command=lambda v: (
                f"cd -- {q(app.checkout(v.s))} && test -f {q(kind.output(v).path + '/index.html')} && "
                f"cp -r -- {q(kind.output(v).path + '/.')} {q(v.s.web_root + '/')} && "
                f"echo {q(f'build → {v.s.web_root}')}"
            ),
            added="setup의 첫 배포: 확인된 빌드를 웹 루트에 둔다 (호스트 빌드와 같은 자리)",
        )  # fmt: skip
        steps = (send_step("L4", "rsync"), verify_step("L5"), web)
    else:
        install = ai_install(Step("L6", "의존성 설치", "2분", "전송·디스크 확인 후 setup 다시",
                                  Policy.ABORT), strategy_for(view.strategy))  # fmt: skip
        mark = Step(
            "L7", "가상환경 완료 표시", "1초", "-", Policy.ABORT,
            command=lambda v: f"date > {q(registry.get(v.component).built(v.s))}",
            added="다음 setup은 설치하지 않는다 (그 뒤의 설치는 배포가 한다)",
        )  # fmt: skip
        steps = (send_step("L4", "sftp"), verify_step("L5"), install, mark)
    # where it goes: the jar; the directory of the built tree's page, of the venv's marker
    where = app.built(view.s) if built == kind.JAR else str(PurePosixPath(app.built(view.s)).parent)
    return Plan(
        view.component, "", "로컬 빌드 전송·설치 (setup의 첫 빌드)", where, "1분", "0분", steps
    )


def venv_plan(component: str) -> Plan:
    step = Step("L0", "가상환경 (없으면 만든다)", "10초", "python3-venv 확인", Policy.ABORT,
                command=lambda v: venv_command(v.s))  # fmt: skip
    return Plan(component, "", "가상환경", "", "10초", "0분", (step,))


def describe(v: RunView, comp: App) -> str:
    return (
        f"{comp.built(v.s)}가 없을 때만: 이 컴퓨터에서 빌드 (L1 {comp.name}_repo의 체크아웃, L2 빌드, L3 "
        f"호스트 런타임 확인) → 전송 → 호스트에서 SHA-256 확인 → 설치 (아래 L 단계)"
    )


def run(session, comp: App) -> str:
    """The first build of ``comp``, here; returns the step's detail (tracked's words)."""
    s, v = session, session.view
    what = comp.built(v.s)
    if s.sh(f"test -f {q(what)}").ok:
        return f"{UNCHANGED}: {what}"
    checkout.require(v.s, comp.name, v.host.alias)
    head = s.query(git_head(comp.checkout(v.s))).splitlines()[-1:]
    if not head:
        raise RuntimeError(f"체크아웃에 리비전이 없습니다: {comp.checkout(v.s)}")
    view = v.but(component=comp.name, strategy="manual", build_on="local",
                 from_rev=head[0], to_rev=head[0])  # fmt: skip
    with s.viewing(view):
        if kind.kind(s.view) == kind.WHEELHOUSE:
            s.execute(venv_plan(comp.name))
        prepare(s, comp)
        s.execute(install_plan(s.view))
        built = s.view.build
    size = built.artifact.size if built is not None and built.artifact else 0
    return f"{CHANGED_MARK} 로컬 빌드 {head[0][:12]} ({size} bytes) → {what}"


def prepare(session, comp: App) -> None:
    """What a local deploy does before its plan (tasks/localbuild/flow.py): the host's facts, its
    checkout's origin, then section L; on the session's view (its ``to_rev``)."""
    s, v = session, session.view
    facts = parse(v.host.alias, s.query(host_command(v)))
    s.set(build=Build("local", revision=v.to_rev, facts=facts))
    checkout.check_host(s.view)
    if not facts.known:
        raise ConfigError(
            f"{v.host.alias}의 실행 환경(OS, 아키텍처, 런타임)을 알아내지 못해, 여기서 만든 "
            "빌드가 그 호스트에 맞는지 확인할 수 없습니다",
            f"연결과 호스트 상태를 확인하거나 {comp.name}_build_on=host로 설정하십시오",
        )
    if kind.kind(v) == kind.TREE and not facts.rsync:
        raise ConfigError(
            f"{v.host.alias}에 rsync가 없습니다: {comp.name}은(는) rsync로 보냅니다",
            f"host_packages에 rsync를 추가하거나 {comp.name}_build_on=host로 설정하십시오",
        )
    s.set(build=s.view.build.but(origin=checkout.origin(s.view)))
    s.execute(local_plan(s.view))


def first_build_step(number: str, label: str, comp: App) -> Step:
    """Setup's first build of ``comp`` when it is built here (LOCAL: its own L steps run)."""
    return Step(
        number, f"{label} 첫 빌드 (로컬 빌드 후 전송)", "3분+", "빌드 로그 확인", Policy.ABORT,
        kind=Kind.LOCAL, command=lambda v: describe(v, comp),
        action=lambda session: run(session, comp),
        added="매뉴얼 배포 방식 2: 빌드 위치 설정(build_on=local)을 setup도 따른다 — 호스트에 "
        "패키지 인덱스가 없어도 setup만으로 서비스한다",
    )  # fmt: skip


def setup_conversion(session, comp: App) -> None:
    """strategy=release: the AI's first release (a conversion, built from the revision that
    serves) installs from wheels built here too, when the AI is built here."""
    wheels = comp.build_output(session.view.s).kind == kind.WHEELHOUSE
    if not wheels or not local(session.view.s, comp.name):
        return
    session.set(strategy="release", build_on="local", to_rev=session.view.from_rev)
    prepare(session, comp)
