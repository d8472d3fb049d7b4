"""The release strategy's flows, on a session: deploy, rollback, list and clean releases.

deploy:   read the host's releases (convert a manual host first, and say so) → 배포 전
          checklist → build a new release beside the live one (in-process; a failure
          changes nothing that serves) → the critical section on the host (systemd-run:
          start/switch/health, roll back on failure) → 배포 중/후 checklist → cleanup
rollback: the previous good release (or ``--to``): a switch back (backend: warm), on the host
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tasks import shell
from tasks.apps.base import App
from tasks.engine import checklist, hostscript, notify, records
from tasks.engine.runner import asdict_steps
from tasks.engine.session import Session
from tasks.engine.steps import Plan, Step
from tasks.errors import ConfigError, HostCommandFailed, StepFailed
from tasks.hosts import values
from tasks.hosts.connect import admin_steps
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.onhost.policy import Policy
from tasks.strategies import hooks
from tasks.strategies.release import layout as release
from tasks.strategies.release import verify as release_verify
from tasks.strategies.release.bluegreen import Pair, parse_slots
from tasks.strategies.release.convert import convert, is_converted

PREVIOUS = "<이전 릴리스>"


@dataclass
class HostState:
    """What the host has: its releases, and (backend) which port serves."""

    releases: list[dict] = field(default_factory=list)
    converted: bool = True
    live: int = 0  # backend: the port nginx sends requests to
    other: int = 0
    #: blue/green: per port, the instance's state and the release its slot points at
    slots: dict[int, tuple[str, str]] = field(default_factory=dict)

    def revision(self, rel: str | None) -> str:
        return release.revision_in(self.releases, rel)

    def rollback_target(self, rel: str) -> str:
        """The revision a rollback to ``rel`` goes to: its .release.json's, else (a release a
        conversion adopted without one: the frontend's) the short one in its name; never the
        name itself (the deployed-revision stack takes commits: records.write_stack)."""
        return self.revision(rel) or release.revision_of(rel) or rel

    def warm(self, port: int, rel: str) -> bool:
        """``rel`` still runs on ``port`` (a rollback to it is a switch)."""
        return self.slots.get(port) == ("active", rel)

    @property
    def current(self) -> str | None:
        return release.current_of(self.releases)


def pair_of(comp: App, s) -> Pair | None:
    """The component's blue/green pair, when it switches that way."""
    return comp.plans("release").pair(s)


def _must(s: Session, command: str, got: tuple[bool, str]) -> str:
    """A read that has to succeed (as Session.query)."""
    ok, text = got
    if not ok:
        raise HostCommandFailed(s.view.host.alias, command, text or "failed")
    return text


#: the names of the release strategy's reads in a deploy's first round trip
RELEASES_LISTED, CONVERTED, LIVE_PORT, SLOTS = "releases", "converted", "live_port", "slots"


def state_reads(s: Session, comp: App) -> dict[str, str]:
    """The reads :func:`read_state` makes, by name (a caller may batch them with its own):
    the releases with their revisions, whether the host is converted, and for a blue/green
    pair the live port and what runs on each port, so a rollback needs no second look."""
    v, pair = s.view, pair_of(comp, s.view.s)
    reads = {RELEASES_LISTED: release.list_command(v), CONVERTED: is_converted(comp, v)}
    if pair:
        reads |= {LIVE_PORT: pair.live_port_command(v.s), SLOTS: pair.slots_command(v)}
    return reads


def state_from(s: Session, comp: App, got: dict[str, tuple[bool, str]]) -> HostState:
    """The host's state from the answers to :func:`state_reads`, by name (a dry run: none)."""
    v, pair = s.view, pair_of(comp, s.view.s)
    ports = list(pair.ports(v.s)) if pair else [0, 0]
    if v.dry_run:
        return HostState([], True, ports[0], ports[1])
    reads = state_reads(s, comp)
    state = HostState(release.parse_list(_must(s, reads[RELEASES_LISTED], got[RELEASES_LISTED])))
    state.converted = got[CONVERTED][0]
    if pair:
        live = _must(s, reads[LIVE_PORT], got[LIVE_PORT])
        state.live = int(live) if live.isdigit() else ports[0]
        state.other = pair.other(v.s, state.live)
        state.slots = parse_slots(got[SLOTS][1])
    return state


def read_state(s: Session, comp: App) -> HostState:
    """The host's releases, whether it is converted, the live port: one round trip."""
    reads = state_reads(s, comp)
    if s.view.dry_run:
        return state_from(s, comp, {})
    got = dict(zip(reads, s.batch(list(reads.values())), strict=True))
    return state_from(s, comp, got)


def _with(plan: Plan, before: tuple[Step, ...] = (), after: tuple[Step, ...] = ()) -> Plan:
    return dataclasses.replace(plan, steps=(*before, *plan.steps, *after))


def deploy_plans(view, comp: App, state: HostState) -> tuple[Plan, Plan]:
    """The critical section of a deploy and the host's answer to its failure: the switch
    (blue/green or the component's own), with the served versions recorded around it
    (tasks/strategies/release/verify.py)."""
    rel, pair = comp.plans("release"), pair_of(comp, view.s)
    if rel.drained(view.s):  # the AI's: the old instance stops before the new one starts
        switch = rel.drained_switch_plan(view, state.live, state.other)
        back = rel.drained_back_plan(view, state.live, state.other, state.current)
    elif pair:
        switch = pair.switch_plan(view, rel.SECTION, state.live, state.other)
        back = pair.switch_back_plan(view, rel.SECTION, state.live, state.other, state.current)
    else:
        switch = rel.switch_plan(view)
        back = rel.switch_back_plan(view, state.current or PREVIOUS)
    before, after = release_verify.deploy_steps(view)
    return _with(switch, before, after), back


def rollback_plans(view, comp: App, state: HostState, target: str, bad: str,
                   warm: bool) -> tuple[Plan, Plan]:  # fmt: skip
    """A rollback's critical section (a switch back: warm, or a start first) and what the
    host does when it fails; then what a rollback promises, checked: the smoke requests, of
    the instance that serves now, and the served version against the target's."""
    rel, pair = comp.plans("release"), pair_of(comp, view.s)
    if pair and not warm and rel.drained(view.s):
        plan, back = rel.drained_rollback_plan(view, target, bad, state.live, state.other)
        port, usual = (lambda s: state.other), pair.usual_port
    elif pair:
        plan = pair.rollback_plan(view, rel.SECTION, target, bad, state.live, state.other, warm)
        back = pair.keep_live_plan(view, rel.SECTION, state.live)
        port, usual = (lambda s: state.other), pair.usual_port
    else:
        plan = rel.rollback_plan(view, target, bad)
        back = Plan(comp.name, plan.section, "되돌림 없음", "", "", "", ())
        port, usual = (lambda s: s.ai_listen_port), None
    last = int(plan.steps[-1].number.lstrip("R"))
    checks = release_verify.rollback_steps(view, target, lambda k: f"R{last + 1 + k}",
                                           comp.smoke, port, usual)  # fmt: skip
    return _with(plan, after=checks), back


def serving_now(s: Session, comp: App, target: str = "", left: str = "",
                before: str = "롤백 전") -> str:  # fmt: skip
    """What serves now, read on the host (for the message after a failed rollback or a
    stopped deploy): the release ``current`` (or nginx's upstream) names, the instance's
    state, the version it reports; said against the rollback's target and the release it
    left. Never raises: what cannot be read is said."""
    v, pair = s.view, pair_of(comp, s.view.s)
    unit = "" if pair else comp.release_unit(v.s)
    reads = [release.current_release(v)]
    if pair:
        reads += [pair.live_port_command(v.s), pair.slots_command(v)]
    elif unit:
        reads.append(f"systemctl is-active -- {shell.q(values.unit_name(unit))}")
    url = release_verify.url_of(v)
    if url:
        reads.append(release_verify.read_served(v))
    try:
        got = s.batch(reads)
    except (ConnectionLost, Interrupted, HostCommandFailed) as exc:
        return f"지금 무엇이 서비스 중인지 읽지 못했습니다 ({exc}): fab -H {v.host.alias} releases"
    rel = got[0][1].strip()
    if pair:
        port = got[1][1].strip()
        if port.isdigit():
            state, rel = parse_slots(got[2][1]).get(int(port), ("?", ""))
            what = (
                f"nginx upstream → {pair.instance(v.s, int(port))} ({state}), 릴리스 {rel or '?'}"
            )
        else:
            rel, what = "", f"nginx upstream을 읽지 못함 ({pair.upstream_file(v.s)})"
    else:
        what = f"current → 릴리스 {rel or '?'}"
        if unit:
            what += f", {unit} {got[1][1].strip() or '?'}"
    if rel and rel == target:
        what += " (롤백 대상)"
    elif rel and rel == left:
        what += f" ({before} 그대로)"
    if url:
        ok, version = got[-1]
        what += (
            f"; 제공 버전 {version.strip()}"
            if ok and version.strip()
            else f"; 제공 버전을 읽지 못함 ({url})"
        )
    return f"지금 서비스 중: {what}"


def _host_part(s: Session, plan: Plan, back: Plan, ack: str = "now",
               reads: tuple[str, ...] = (), serving=None) -> list[tuple[bool, str]]:  # fmt: skip
    """The critical section: on the host (systemd-run), followed from here. ``ack``: when
    the host hears that this side has the end (hostscript.follow); ``reads``: read in the
    same round trip as that acknowledgement (sent however the run ended), their answers
    returned when it ended well; ``serving``: says what serves now, read when the run ended
    without going back (hostscript.settle)."""
    launch = hostscript.launch_step(plan, back,
                                    lambda v: {**s.record_base(), "steps": asdict_steps(s.report)},
                                    lambda: s.lock.upload() if s.lock else None)  # fmt: skip
    s.execute(Plan(plan.component, plan.section, plan.title, plan.location, plan.expected_total,
                   plan.downtime, (launch,)))  # fmt: skip
    if s.view.dry_run:
        s.console.out(f"── 호스트에서 실행 (systemd-run): {plan.title} ──")
        s.execute(plan)
        s.console.out(f"── 실패 시 호스트에서: {back.title} ──")
        s.execute(back)
        return []
    with s.lock_left_to_host():  # from here the host finishes (and unlocks) if we are gone
        done = hostscript.follow(s, "never" if reads else ack)
        got = s.batch([hostscript.ack_command(s.view), *reads])[1:] if reads else []
    hostscript.settle(s, done, serving)
    return got


def deploy_on(s: Session, comp: App, stack: list[str],
              state: HostState | None = None) -> None:  # fmt: skip
    """``state``: the host's state, when the caller read it already (read_state)."""
    rel, v = comp.plans("release"), s.view
    s.set_recovery(state_command=rel.state_command(v))
    state = state or read_state(s, comp)
    if not state.converted:
        how = "blue/green" if pair_of(comp, v.s) else "release"
        s.console.out(f"!!! {v.host.alias}의 {comp.label}를 {how} 방식으로 전환합니다 "
                      "(한 번만; 지금 서빙 중인 것이 첫 릴리스가 됩니다"
                      + (f"; root 단계는 {v.s.admin_user} 계정으로" if v.s.admin_user else "")
                      + ")")  # fmt: skip
        with admin_steps(s.remote, v.host, s.secrets, v.run_id):
            convert(s, comp)
        state = read_state(s, comp)
    cur_rev = state.revision(state.current)  # the serving release's, from the first look
    if cur_rev:
        s.set(from_rev=cur_rev)
    build = rel.build_plan(s.view, state.live)
    switch, back = deploy_plans(s.view, comp, state)
    build, switch, back = hooks.around(build, switch, back)
    checklist.run_phase(build, s, checklist.BEFORE)
    try:
        s.execute(build)
    except StepFailed:
        if not v.dry_run and s.connected:
            s.sh(release.mark(s.view, "failed"))
            notify.nothing_switched(v.run_id)
            hooks.run_on_failure(s, build.section)
        raise
    # the releases, as the switch left them (for the cleanup), with the acknowledgement
    listed = _host_part(
        s,
        switch,
        back,
        reads=(release.list_command(v),),
        serving=lambda: serving_now(s, comp, left=state.current or "", before="배포 전"),
    )

    def declined(no: str) -> None:
        s.console.out(f"!!! {no} → 이전 릴리스로")
        try:
            roll_back(s, comp, None, reason=no)
        except StepFailed:
            hooks.run_on_failure(s, build.section)
            raise

    checklist.during_and_after(build, s, declined)
    _cleanup(s, _must(s, release.list_command(v), listed[0]) if listed else "")
    if not v.dry_run:
        records.write_stack(s, records.pushed(stack, s.view.from_rev, s.view.to_rev))


def roll_back(s: Session, comp: App, to: str | None, reason: str = "",
              state: HostState | None = None) -> list[str]:  # fmt: skip
    """Switch to the previous good release (or ``to``); returns (from, to) revisions.
    ``state``: the host's state, when the caller read it already (read_state)."""
    rel, v = comp.plans("release"), s.view
    s.set_recovery(state_command=rel.state_command(v))
    state = state or read_state(s, comp)
    if not state.converted:
        raise ConfigError(
            f"{v.host.alias}의 {comp.label}에는 아직 릴리스가 없습니다 (manual strategy)",
            f"`fab -H {v.host.alias} rollback-{comp.name} --strategy=manual`을 쓰십시오",
        )
    target = release.previous_good(state.releases, to) if not v.dry_run else PREVIOUS
    bad = state.current or "<현재 릴리스>"
    if not target:
        raise ConfigError(
            f"{v.host.alias}에 롤백할 릴리스가 없습니다 ({comp.name}"
            + (f", 리비전 {to}" if to else "")
            + "; no release to roll back to)",
            f"`fab -H {v.host.alias} releases`로 목록을 보십시오 (롤백은 failed와 bad인 릴리스를 "
            "건너뜁니다)",
        )
    pair = pair_of(comp, v.s)
    # the two releases' revisions and whether the target still runs (warm): from the first
    # look; the lock's info names the target with the host run's launch (no round trip)
    s.set(from_rev=state.revision(state.current) or v.from_rev,
          target=state.rollback_target(target), lock_now=False)  # fmt: skip
    s.console.out(f"롤백 대상 릴리스: {bad} → {target}")
    warm = bool(pair) and not v.dry_run and state.warm(state.other, target)
    plan, back = rollback_plans(s.view, comp, state, target, bad, warm)
    # nothing to ask after a rollback: the host hears with the record (one round trip)
    _host_part(
        s,
        plan,
        back,
        ack="with-record",
        serving=lambda: serving_now(s, comp, target=target, left=bad),
    )
    if reason:
        s.report.result, s.report.rolled_back = "rolled-back", True
        raise StepFailed(reason, "이전 릴리스로 롤백했습니다", True, s.report)
    return [bad, target]


def _cleanup(s: Session, listing: str) -> None:
    """``listing``: the releases as the deploy left them (release.list_command's output)."""
    v = s.view
    if v.dry_run:
        plan_rel = [f"<{v.s.releases_keep}개를 넘는 오래된 릴리스>"]
    else:
        plan_rel = release.to_remove(release.parse_list(listing), v.s.releases_keep)
    step = Step("C", f"오래된 릴리스 정리 (최근 {v.s.releases_keep}개 유지)", "1초", "-", Policy.WARN,
                command=lambda view: release.remove(view, plan_rel),
                added="현재 릴리스와 롤백 대상은 지우지 않는다")  # fmt: skip
    s.execute(Plan(v.component, "", "정리", "", "", "", (step,)))


def example_plans(comp: App, view) -> list[Plan]:
    """Every plan the release strategy may run for ``comp``, with placeholder state (the
    preflight renders them; the runbook prints them)."""
    decided = comp.plans("release").examples_decided_on_host(
        view, lambda each: example_plans(comp, each)
    )
    if decided is not None:  # the switch is decided on the host (the AI's ai_switch=auto)
        return decided
    rel, pair = comp.plans("release"), pair_of(comp, view.s)
    live, idle = pair.ports(view.s)[:2] if pair else (0, 0)
    serving = [{"release": PREVIOUS, "status": "ready", "current": True, "switched": 1,
                "revision": ""}]  # fmt: skip
    deployed = HostState(serving, True, live, idle)
    rolled = HostState([], True, idle, live)
    switch, back = deploy_plans(view, comp, deployed)
    plans = list(hooks.around(rel.build_plan(view, live), switch, back))
    for warm in (True, False) if pair else (False,):
        plans.append(rollback_plans(view, comp, rolled, PREVIOUS, "<현재 릴리스>", warm)[0])
    return plans
