"""The critical section on the host: compile it, start it with systemd-run, follow it.

The release strategy's switch, start, health gate and rollback run as one transient systemd
unit on the host (tasks/onhost/hostrun.py, with tasks/onhost/policy.py beside it), so they
finish even if SSH drops, the operator presses Ctrl-C or ``fab`` is killed. Here:

- :func:`launch_step` is the plan step that uploads the executor, the policy and the compiled
  steps (plan.json) and starts the unit; the command shown is the command run;
- :func:`follow` streams the unit's status lines (``tail -F``); each step's ``end`` is the
  host loop's report of it, shown and kept as the in-process runner's are
  (runner.report_step); it answers Ctrl-C: the first press asks the host to
  stop and roll back (a ``cancel`` file), the second detaches (the host goes on;
  ``fab -H <host> deploy-status`` reattaches). A dropped connection is reconnected and the
  stream resumed where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from tasks.engine import lock as locks
from tasks.engine.interrupt import INTERRUPT
from tasks.engine.live import Live
from tasks.engine.records import RUN_FILE_MODE, WithRecord, host_history_path
from tasks.engine.runner import report_step
from tasks.engine.steps import Kind, Plan, Step, Upload
from tasks.engine.view import RunView
from tasks.errors import StepFailed
from tasks.hosts.remote import ConnectionLost, Interrupted
from tasks.onhost.policy import Policy
from tasks.shell import q, root_helper

HERE = Path(__file__).resolve().parent.parent / "onhost"  # the shipped files (stdlib only)
ACK_WAIT = 15  # seconds the host waits for the operator's side before finishing up itself


def run_dir(v: RunView) -> str:
    return f"{v.s.state_dir}/hostrun/{v.run_id}"


def unit(v: RunView) -> str:
    return f"dojangkok-deploy-{v.run_id}"


def _step_doc(section: str, s: Step, v: RunView) -> dict:
    if s.kind is not Kind.SHELL or s.uploads:
        raise ValueError(f"{section}{s.number}: only plain shell steps run on the host")
    if s.sudo:  # the host run is the deploy login's: root is the root helper's, per call
        raise ValueError(f"{section}{s.number}: a host-run step calls the root helper, not sudo")
    return {
        **s.fields(section), "command": s.render(v),
        "cleanup": s.cleanup(v) if s.cleanup else "",
        "diagnose": s.diagnose(v) if s.diagnose else "",
        "skip": (s.skip_if(v) or "") if s.skip_if else "",
    }  # fmt: skip


def compile_plan(plan: Plan, rollback: Plan, v: RunView, entry: dict) -> str:
    """plan.json: the steps, their rollback, and how the host finishes up on its own."""
    return json.dumps(
        {
            "run_id": v.run_id,
            "steps": [_step_doc(plan.section, s, v) for s in plan.steps],
            "rollback": [_step_doc(rollback.section, s, v) for s in rollback.steps],
            "ack_wait": ACK_WAIT,
            "unlock": locks.release_command(v.s, v.run_id),
            "record": {"path": host_history_path(v.s.state_dir), "entry": entry},
        },
        ensure_ascii=False,
        indent=1,
    )


def launch_step(plan: Plan, rollback: Plan, entry, also=lambda: None) -> Step:
    """The step that puts the executor on the host and starts it, detached from SSH.
    ``also``: one more file to write with it, or None (the lock's changed info)."""

    def uploads(v: RunView) -> tuple[Upload, ...]:
        d = run_dir(v)
        doc = compile_plan(plan, rollback, v, entry(v))
        extra = also()
        return (
            *((extra,) if extra else ()),
            Upload(f"{d}/hostrun.py", RUN_FILE_MODE, "호스트 실행기 tasks/onhost/hostrun.py",
                   lambda secrets: (HERE / "hostrun.py").read_text(encoding="utf-8")),
            Upload(f"{d}/policy.py", RUN_FILE_MODE, "실패 정책 tasks/onhost/policy.py",
                   lambda secrets: (HERE / "policy.py").read_text(encoding="utf-8")),
            Upload(f"{d}/plan.json", RUN_FILE_MODE, f"아래 {plan.section} 단계와 롤백 단계",
                   lambda secrets: doc),
        )  # fmt: skip

    def command(v: RunView) -> str:
        # the helper runs systemd-run --unit=<unit(v)> --uid=<deploy login> python3
        # <run_dir>/hostrun.py <run_dir>, after checking the directory is the deploy login's
        return root_helper("hostrun", v.run_id, plan.title)

    return Step(
        "H", "호스트에서 실행 (systemd-run)", "1초", "호스트 상태 확인 (root 헬퍼가 없으면 fab setup)",
        Policy.ABORT, uploads=uploads, command=command,
        added="전환·시작·헬스체크·롤백은 호스트의 일회성 systemd 유닛(dojangkok-deploy-<run id>, 배포 "
        "계정으로 실행)이 한다: SSH가 끊기거나 Ctrl-C를 눌러도 끝까지 (또는 롤백까지) 간다",
    )  # fmt: skip


class Detached(StepFailed):
    """The operator stopped following; the host goes on."""


def follow(s: Live, ack: str = "now") -> dict:
    """Stream the host run's events until it is done; returns the ``done`` event. ``ack``:
    when the host hears that the operator's side has the end and writes the record itself:
    ``now``, ``with-record`` (in the record's round trip: a rollback, with nothing to ask
    the operator after it), or ``never``: the caller sends :func:`ack_command` itself (a
    deploy, with the reads it needs next) or nobody does (deploy-status: a watcher).
    Without it the host finishes up on its own after ACK_WAIT seconds."""
    d = run_dir(s.view)
    state = _Follow(s)
    cancel_sent = False
    while state.done is None:
        if INTERRUPT.abort.is_set():
            s.detach()
            raise Detached(
                "호스트에서 계속 진행되는 배포를 더 따라가지 않습니다 (Ctrl-C 두 번)",
                f"호스트가 끝까지 (필요하면 롤백까지) 진행합니다. 결과: "
                f"fab -H {s.view.host.alias} deploy-status",
                report=s.report,
            )
        stop = (lambda: state.done is not None or INTERRUPT.abort.is_set()) if cancel_sent else (
            lambda: state.done is not None or INTERRUPT.cancel.is_set())  # fmt: skip
        try:
            # the ``done`` line is the end: the host's tail ends by itself once the run does
            res = s.remote.run(watch_command(s.view, state.lines), stop=stop,
                               on_output=state.feed, until=lambda: state.done is not None)  # fmt: skip
            if state.done is None and res.ok:  # the unit ended without saying it was done
                state.close()
                raise StepFailed(
                    f"호스트 실행 {unit(s.view)}이(가) 결과 없이 끝났습니다",
                    f"{s.view.host.alias}에서 `journalctl -u {unit(s.view)}`로 원인을 확인한 뒤 "
                    f"`fab -H {s.view.host.alias} deploy-status`를 실행하십시오",
                    report=s.report,
                )
        except Interrupted:
            if state.done is None and INTERRUPT.cancel.is_set() and not cancel_sent:
                s.remote.run(f"touch -- {q(d + '/cancel')}")
                cancel_sent = True
                s.console.out("      (호스트에 중단을 요청했습니다: 정책대로 멈추거나 롤백합니다)")
        except ConnectionLost:
            s.console.out("!!! 연결이 끊겼습니다: 호스트는 계속 진행합니다. 다시 연결합니다 ...")
            try:
                s.reconnect()
            except ConnectionLost as exc:
                s.detach()
                raise Detached(
                    f"{s.view.host.alias}에 다시 연결하지 못했습니다: {exc}",
                    f"호스트가 끝까지 (필요하면 롤백까지) 진행합니다. 연결되면: "
                    f"fab -H {s.view.host.alias} deploy-status",
                    report=s.report,
                ) from None
            s.console.out("    다시 연결했습니다: 이어서 봅니다.")
    state.close()
    if ack == "now":
        s.remote.run(ack_command(s.view))
    elif ack == "with-record":
        s.with_record.append(WithRecord(ack_command(s.view),
                                        f"호스트 실행의 끝 확인 ({ACK_WAIT}초 뒤 호스트가 스스로 기록합니다)"))  # fmt: skip
    return state.done


def ack_command(v: RunView) -> str:
    """Tells the host run that the operator's side has its end and writes the record."""
    return f"touch -- {q(run_dir(v) + '/ack')}"


#: seconds between tail's looks at the status file where it has no inotify (watch_command)
POLL = 0.02


def watch_command(v: RunView, seen: int) -> str:
    """The status lines after the ``seen`` first ones; while the unit runs (its main pid,
    read on the host: no round trip of its own), as they come (``tail --pid`` ends with it).
    ``-s``: where tail cannot use inotify (overlayfs, network file systems) it polls, by
    default once a second, and every step's line came up to a second late; at 0.1 s the
    last line (``done``) still came 0.1 s after it was written on the lab's overlayfs, a
    tenth of a warm rollback. Every 20 ms: a stat of one file, 50 times a second, while a
    critical section runs. Named, so the host knows someone follows."""
    status = q(run_dir(v) + "/status.jsonl")
    tail = f"exec -a {q('dojangkok-watch:' + v.run_id)} tail"
    return (
        f"p=$(systemctl show -p MainPID --value {q(unit(v))} 2>/dev/null); "
        f'case "$p" in ""|0|*[!0-9]*) {tail} -n +{seen + 1} -- {status};; esac; '
        f'{tail} --pid="$p" -F -s {POLL} -n +{seen + 1} -- {status}'
    )


class _Follow:
    """Turns the host's status lines back into the operator's output and report."""

    def __init__(self, s: Live):
        self.s, self.out = s, s.console.out
        self.lines = 0
        self.buffer = ""
        self.done: dict | None = None
        self.progress = None
        self.masker = s.secrets.stream_masker()

    def feed(self, chunk: str) -> None:
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split("\n")
        for line in complete:
            self.lines += 1
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.handle(event)

    def handle(self, e: dict) -> None:
        kind = e.get("ev")
        if kind == "step":
            self.close()
            where = "호스트" if e["phase"] == "deploy" else "호스트, 롤백"
            self.out(
                f"[{e['k']}/{e['total']}] ({e.get('n')}) {e['title']}  (예상 {e['expected']})  [{where}]"
            )
            self.progress = self.s.console.progress(f"({e.get('n')}) {e['title']}", e["expected"])
            self.progress.__enter__()
        elif kind == "out" and self.progress is not None:
            self.progress.feed(self.masker.feed(e["line"] + "\n"))
        elif kind == "end":  # the host loop's report of the step, as the runner's
            self.close()
            report_step(self.s, e)
        elif kind == "rollback":
            self.out(f"!!! {e['reason']} → 롤백 시작 (호스트에서)")
        elif kind == "done":
            self.done = e

    def close(self) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)
            self.progress = None


def settle(s: Live, done: dict, serving=None) -> None:
    """Carry the host run's end into the session: raise as the in-process runner would.
    ``serving``: reads and says what serves now, for a run that ended without going back
    (a rollback stopped after its switch, a deploy stopped before it)."""
    r = s.report
    r.host_downtime = done.get("downtime")
    r.interrupted = r.interrupted or bool(done.get("interrupted"))
    if done["result"] == "ok":
        return
    r.result, r.rolled_back = done["result"], done.get("rolled_back")
    problem = done.get("problem") or "호스트에서 실패"
    if done["result"] in ("rolled-back", "interrupted") and done.get("rolled_back"):
        raise StepFailed(problem, "이전 버전으로 돌아갔습니다 (요청은 계속 이전 버전이 받았습니다). "
                         "원인을 고친 뒤 다시 배포하세요", True, r)  # fmt: skip
    now = f"{serving()}. " if serving is not None and s.connected else ""
    if done["result"] == "rollback-failed":
        raise StepFailed(problem, f"{now}서비스 상태를 확인하세요: " + s.recovery(), False, r)
    if now:
        raise StepFailed(problem, f"{now}확인한 뒤: {s.recovery()}", None, r)
    raise StepFailed(problem, "서비스는 그대로입니다 (전환 전에 멈췄습니다)", None, r)
