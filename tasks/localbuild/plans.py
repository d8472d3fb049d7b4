"""How a component's plan changes when the build ran here (``build_on=local``).

The manual's steps stay; the ones that built on the host become "send the build, check its
SHA-256 on the host, install it". Each plan marks those steps itself (``Step.local_build``:
pull, deps, build, stop); what replaces them follows from what the app's build makes (a jar,
a tree, a wheelhouse: tasks/apps/base.py):

| plan | host build steps | with a local build |
|---|---|---|
| manual B | 5 pull, 8 Gradle 빌드 (after 7 stop) | 5 pull to the exact revision; 6s send the jar, 6v check it (before 7); 8 install the jar |
| manual A | 1 pull, 2 npm ci, 3 npm run build | 1 pull to the exact revision; 2 rsync the build into the checkout's build dir, 3 check it |
| manual C | 2 pull, 4 pip install | 2 pull to the exact revision; 3s send the wheels, 3v check them; 4 pip install --no-index from them |
| release B | 8 Gradle 빌드 | 8 send the jar into the release, 8v check it |
| release A | 2 npm ci, 3 npm run build | 2 rsync against the live release (--link-dest), 3 check it |
| release C | 4 pip install | 3s send the wheels, 3v check them; 4 pip install --no-index |

The manual rollback of the AI server installs from the host's wheel cache with --no-index.
"""

from __future__ import annotations

from tasks import shell
from tasks.apps.base import Strategy
from tasks.engine.records import RUN_FILE_MODE
from tasks.engine.steps import Kind, Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.localbuild import kind as build_kind
from tasks.localbuild import ship
from tasks.localbuild.kind import JAR, TREE, WHEELHOUSE
from tasks.localbuild.steps import reused_venv
from tasks.onhost.policy import Policy
from tasks.shell import q

SENT = "전송 손상·디스크 확인 후 다시 배포 (서비스는 그대로)"


def send_step(number: str, how: str) -> Step:
    if how == "rsync":
        return Step(
            number, "빌드 파일 전송 (rsync, 이전 빌드와 다른 파일만)", "10초", SENT, Policy.ABORT,
            kind=Kind.LOCAL, command=ship.rsync, action=ship.send_rsync,
            added="매뉴얼 배포 방식 2 (SCP): 이 컴퓨터에서 만든 빌드를 보낸다. 이전 빌드와 같은 "
            "파일은 다시 보내지 않는다",
        )  # fmt: skip
    return Step(
        number, "빌드 파일 전송 (SFTP)", "30초", SENT, Policy.ABORT, kind=Kind.LOCAL,
        command=ship.describe_sftp, action=ship.send_sftp,
        skip_if=_no_wheels,
        added="매뉴얼 배포 방식 2 (FTP/SCP): 이 컴퓨터에서 만든 빌드를 SFTP로 보낸다",
    )  # fmt: skip


def _no_wheels(v: RunView) -> str | None:

    return reused_venv(v)


def verify_step(number: str) -> Step:
    def uploads(v: RunView) -> tuple[Upload, ...]:
        return (Upload(ship.manifest_path(v), RUN_FILE_MODE, "SHA256SUMS: 이 컴퓨터에서 계산한 SHA-256",
                       lambda secrets, v=v: ship.manifest_text(v)),)  # fmt: skip

    return Step(
        number, "체크섬 확인 (호스트에서 SHA-256)", "5초", SENT, Policy.ABORT,
        command=ship.verify, uploads=uploads, skip_if=_no_wheels,
        added="보낸 파일이 빌드한 그대로인지 전환 전에 호스트에서 확인한다",
    )  # fmt: skip


def exact_pull(step: Step, checkout) -> Step:
    """The manual's pull, to the revision that was built (not whatever the branch has now)."""
    return Step(
        step.number, "코드 Pull (빌드한 리비전까지)", step.expected, step.on_failure, step.policy,
        command=lambda v: shell.cd(checkout(v), f"git fetch -q {q(v.s.git_remote)} "
                                   f"{q(v.s.git_branch)} && git merge --ff-only {q(v.to_rev)}"),
        added="로컬 빌드와 같은 리비전으로 맞춘다 (git pull 대신 fast-forward merge)",
    )  # fmt: skip


def jar_install(step: Step) -> Step:
    def command(v: RunView) -> str:
        art = q(f"{v.s.backend_dir}/{v.s.backend_artifact}")
        return f"install -D -m 644 -- {q(ship.incoming(v) + '/app.jar')} {art} && rm -rf -- {q(ship.incoming(v))}"

    return Step(
        step.number, "빌드 파일 설치 (로컬에서 빌드한 jar)", "1초", step.on_failure, step.policy,
        command=command, added="Gradle 빌드 대신: 확인된 jar를 제자리에 둔다 (서비스 중단 시간은 "
        "복사뿐)",
    )  # fmt: skip


def no_index(v: RunView, wheels: str) -> str:
    return f"pip install --no-index --find-links {q(wheels)} -r {q(v.s.ai_requirements)} --quiet"


def ai_install(step: Step, strategy: Strategy) -> Step:
    def command(v: RunView) -> str:
        wheels, gone = ship.destination(v), f"rm -rf -- {q(ship.incoming(v))}"
        plans = build_kind.app(v).plans(strategy.name)
        if not strategy.keeps_releases:  # into the checkout's venv
            return f"{plans.in_venv(v, no_index(v, wheels))} && {gone}"
        # into the new release's venv, unless that venv is already complete (reused)
        key = plans.KEY.format(req=q(f"{ship.requirements_on_host(v)}"))
        d = plans.venv_dir(v)
        pip = plans.in_release_venv(v, no_index(v, wheels))
        return (
            f'{key}; if [ -e {d}/.complete ]; then echo "nothing to install"; '
            f"else {pip} && touch -- {d}/.complete; fi && {gone}"
        )

    return Step(
        step.number, f"{step.title} (보낸 휠에서, 인덱스 없이)", step.expected, step.on_failure,
        step.policy, command=command, cleanup=step.cleanup, then=step.then,
        added="호스트는 PyPI에 접속하지 않는다: 확인된 휠만으로 pip install --no-index",
    )  # fmt: skip


def ai_reinstall(step: Step, strategy: Strategy) -> Step:
    def command(v: RunView) -> str:
        return build_kind.app(v).plans(strategy.name).in_venv(v, no_index(v, ship.wheel_cache(v)))

    return Step(
        step.number, f"{step.title} (호스트의 휠 캐시에서)", step.expected, step.on_failure,
        step.policy, command=command,
        cleanup=step.cleanup, then=step.then,
        added="로컬 빌드로 배포하는 호스트에는 인덱스가 없을 수 있다: 보냈던 휠로 다시 설치",
    )  # fmt: skip


def _before(number: str) -> str:
    """The number of the send and check steps a local build puts before step ``number``
    (before 7: 6s, 6v)."""
    digits = "".join(c for c in number if c.isdigit())
    return str(int(digits) - 1) if digits else number


def _local_steps(step: Step, view: RunView, strategy: Strategy,
                 rollback: bool) -> tuple[Step, ...]:  # fmt: skip
    """What a local build makes of ``step``, by what the step declares (Step.local_build),
    what the app's build makes (tasks/apps/base.py JAR, TREE, WHEELHOUSE) and what the
    plan's strategy does (it pulls the branch's head; it installs in place or into a new
    release)."""
    role, built, n = step.local_build, build_kind.kind(view), step.number
    if rollback:  # installs what a deploy sent: the wheels, from the host's cache
        reinstalls = role == "deps" and built == WHEELHOUSE
        return (ai_reinstall(step, strategy),) if reinstalls else (step,)
    if role == "pull" and strategy.pulls_branch_head:
        return (exact_pull(step, lambda v: build_kind.app(v).checkout(v.s)),)
    if built == TREE:  # rsync the tree where the install ran, check it where the build ran
        return {"deps": (send_step(n, "rsync"),), "build": (verify_step(n),)}.get(role, (step,))
    if built == JAR and not strategy.keeps_releases:  # in place: sent, checked before the stop
        if role == "stop":
            return (send_step(f"{_before(n)}s", "sftp"), verify_step(f"{_before(n)}v"), step)
        return (jar_install(step),) if role == "build" else (step,)
    if built == JAR:  # into the new release while the live one serves
        return (send_step(n, "sftp"), verify_step(f"{n}v")) if role == "build" else (step,)
    if built == WHEELHOUSE and role == "deps":  # sent and checked, then pip --no-index
        return (send_step(f"{_before(n)}s", "sftp"), verify_step(f"{_before(n)}v"),
                ai_install(step, strategy))  # fmt: skip
    return (step,)


def adapt_local(plan: Plan, view: RunView, strategy: Strategy, rollback: bool = False) -> Plan:
    """``plan`` with a local build: each step as :func:`_local_steps` makes it. A plan the
    local build does not change (a rollback that installs nothing) stays as it is."""
    steps = tuple(new for step in plan.steps
                  for new in _local_steps(step, view, strategy, rollback))  # fmt: skip
    if steps == plan.steps:
        return plan
    return Plan(plan.component, plan.section, f"{plan.title} — 로컬 빌드", plan.location,
                plan.expected_total, plan.downtime, steps, plan.checklist)  # fmt: skip
