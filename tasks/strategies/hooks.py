"""The operator's hooks around a deploy's switch: ``<app>_before_switch``, ``<app>_after_switch``
and ``<app>_on_failure`` (raw shell by design, like the ``*_cmd`` settings; empty: none).

Each hook is a declared step (skipped while its setting is empty), so ``--dry-run``, the step
log and the runbook show its exact command. It runs as the deploy login, in the new release's
directory, with the run's facts in its environment::

    cd -- <release> && DOJANGKOK_APP=backend DOJANGKOK_REVISION=<sha> DOJANGKOK_RELEASE=<name> \\
        DOJANGKOK_ENVIRONMENT=<env> DOJANGKOK_OPERATOR=<who> bash -c '<the setting, quoted once>'

Every value is shell-quoted; the hook's own text is one word (``bash -c``'s argument), never
pasted into the tool's shell text. Nothing secret is added to its environment: the host run's
steps get PATH, LANG, HOME and USER only (tasks/onhost/hostrun.py), the in-process ones the
deploy login's SSH session.

The failure policies, as an operator expects them:

- before-switch: the last step of the build (a migration, a check). Failing, the deploy stops
  before anything switches: the release is marked failed and the old version keeps serving.
- after-switch: after the switch and its checks (health, smoke, the served version), in the
  host's critical section. Failing, it warns and the new version keeps serving: those checks
  passed, so the new version works; the hook's work (a cache warm-up, a CDN purge) is the
  operator's to finish, and the deploy's notice names the failed hook and the rollback command.
  A hook that must gate the release belongs before the switch.
- on-failure: when the deploy fails or rolls back (the host's answer to a failed critical
  section; a failed build or before-switch hook; a "no" after the deploy). It warns when it
  fails: the deploy's own failure stays the one reported.
"""

from __future__ import annotations

import dataclasses

from tasks.engine.runner import Runner
from tasks.engine.steps import Plan, Step
from tasks.engine.view import RunView, operator_name
from tasks.hosts.environment import current as environment
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies.release import layout as release

BEFORE, AFTER, FAILURE = "before_switch", "after_switch", "on_failure"


def setting(component: str, when: str) -> str:
    """The setting's name: ``backend_before_switch``."""
    return f"{component}_{when}"


def hook(v: RunView, when: str) -> str:
    """The operator's command for this run's component ("" = none)."""
    return str(getattr(v.s, setting(v.component, when), "") or "")


def env(v: RunView) -> list[tuple[str, str]]:
    """The variables a hook sees: what is deployed, where, by whom."""
    return [
        ("DOJANGKOK_APP", v.component),
        ("DOJANGKOK_REVISION", v.to_rev),
        ("DOJANGKOK_RELEASE", release.name(v)),
        ("DOJANGKOK_ENVIRONMENT", environment()),
        ("DOJANGKOK_OPERATOR", operator_name()),
    ]


def command(v: RunView, when: str) -> str:
    """The hook's exact command: in the release's directory, the variables set, the
    operator's text as ``bash -c``'s one argument."""
    assigns = " ".join(f"{name}={q(value)}" for name, value in env(v))
    return f"cd -- {q(release.path(v))} && {assigns} bash -c {q(hook(v, when))}"


def _unset(when: str):
    return lambda v: None if hook(v, when) else f"훅 없음 ({setting(v.component, when)} 비어 있음)"


_ADDED = ("운영자의 명령 (설정 {name}, raw shell): 배포 계정으로, 새 릴리스 디렉터리에서, "
          "DOJANGKOK_APP·REVISION·RELEASE·ENVIRONMENT·OPERATOR 환경 변수와 함께 실행. ")  # fmt: skip


def _step(number: str, title: str, on_failure: str, policy: Policy, when: str,
          why: str, component: str) -> Step:  # fmt: skip
    return Step(
        number, f"{title} ({setting(component, when)})", "-", on_failure, policy,
        command=lambda v: command(v, when), skip_if=_unset(when),
        added=_ADDED.format(name=setting(component, when)) + why,
    )  # fmt: skip


def before_step(component: str) -> Step:
    return _step("X1", "전환 전 훅", "전환하지 않고 중단 (이전 버전이 계속 서비스; 릴리스는 실패로 표시)",
                 Policy.ABORT, BEFORE, "실패하면 아무것도 전환하지 않는다", component)  # fmt: skip


def after_step(component: str) -> Step:
    return _step("X2", "전환 후 훅", "경고 (새 버전은 검사를 통과해 계속 서비스; 필요하면 롤백 명령)",
                 Policy.WARN, AFTER,
                 "헬스·스모크 검사를 통과한 새 버전은 그대로 둔다: 실패는 경고와 공지로 알린다",
                 component)  # fmt: skip


def failure_step(component: str) -> Step:
    return _step("X3", "실패 시 훅", "경고 (배포 실패 원인은 그대로 보고)", Policy.WARN, FAILURE,
                 "배포가 실패하거나 롤백될 때 실행한다. 이 훅의 실패는 원래 실패를 가리지 않는다",
                 component)  # fmt: skip


def _add(plan: Plan, before: tuple[Step, ...] = (), after: tuple[Step, ...] = ()) -> Plan:
    return dataclasses.replace(plan, steps=(*before, *plan.steps, *after))


def around(build: Plan, switch: Plan, back: Plan) -> tuple[Plan, Plan, Plan]:
    """A release deploy's plans with the hooks: before-switch ends the build (in-process, so
    its failure stops with nothing switched), after-switch ends the switch (on the host),
    on-failure ends the host's answer to a failed switch."""
    c = build.component
    return (_add(build, after=(before_step(c),)), _add(switch, after=(after_step(c),)),
            _add(back, after=(failure_step(c),)))  # fmt: skip


def failure_plan(component: str, section: str) -> Plan:
    """on-failure alone: for a failure the host's answer did not run (a failed build or
    before-switch hook, a "no" after the deploy)."""
    return Plan(component, section, "실패 시 훅", "", "", "", (failure_step(component),))


def run_on_failure(s, section: str) -> None:
    """on-failure, in the operator's process, after the deploy failed there (``s``: the
    session). Never raises: the deploy's own failure is the one the operator must see."""
    v = s.view
    if v.dry_run or not hook(v, FAILURE) or not s.connected:
        return
    try:
        Runner(s).execute(failure_plan(v.component, section), phase="rollback")
    except Exception as exc:  # noqa: BLE001 - e.g. a Ctrl-C or a lost connection during it
        s.console.out(f"! 실패 시 훅을 끝내지 못했습니다 ({type(exc).__name__}: {exc}); "
                      "배포가 실패한 원인은 아래와 같습니다")  # fmt: skip


def ignored(v: RunView) -> str:
    """What the manual strategy says when hooks are set: it runs none. It has no release
    directory, and no point where the new version is ready while the old one still serves
    (the backend stops before its build, B7 before B8; the AI server installs into the venv
    that serves), so a before-switch hook could not keep its promise there."""
    names = [setting(v.component, w) for w in (BEFORE, AFTER, FAILURE) if hook(v, w)]
    if not names:
        return ""
    return (f"!!! manual 전략은 훅을 실행하지 않습니다 ({', '.join(names)}): 전환 전에 할 일 "
            "(마이그레이션 등)은 직접 하거나 release 전략으로 배포하십시오")  # fmt: skip
