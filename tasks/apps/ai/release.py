"""Manual §C with the release strategy: the new venv is built beside the old one.

The AI server's unit runs ``<root>/ai/current/<venv>/bin/uvicorn`` in ``<root>/ai/current``.
A deploy exports the revision into a new release, creates its venv and installs the
requirements there while the old release serves (a failed ``pip install`` changes nothing),
then switches ``current`` and restarts: the outage is the restart and the start-up, gated on
health; a failure switches back and restarts the old release.
"""

from __future__ import annotations

import dataclasses

from tasks import shell
from tasks.apps import env as appenv
from tasks.apps.ai import AI
from tasks.apps.common import (
    after_items,
    before_items,
    check_log,
    health_step,
    service_step,
)
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import values
from tasks.localbuild import adapts
from tasks.onhost.policy import Policy
from tasks.setup import privilege
from tasks.shell import q
from tasks.strategies.release import layout as release
from tasks.strategies.release.bluegreen import Pair

SECTION = "C"
AI_UPSTREAM = "dojangkok_ai"

#: with ai_switch=blue-green: two instances behind nginx on the GPU host (bluegreen.py)
PAIR = Pair.of(AI, upstream_file=lambda s: s.ai_upstream_file, upstream=AI_UPSTREAM,
               numbers=("5", "6", "7", "7a", "7b", "7c"))  # fmt: skip


AUTO, RESTART, BLUE_GREEN = "auto", "restart", "blue-green"
#: ``auto`` on a host laid out for blue/green whose GPU cannot hold a second instance now:
#: the pair's old instance stops (drained) before the new one starts (never a setting)
DRAINED = "blue-green-drained"


def pair(s) -> Pair | None:
    """The blue/green pair, when the AI server is laid out that way (ai_switch resolved)."""
    return PAIR if s.ai_switch in (BLUE_GREEN, DRAINED) else None


def drained(s) -> bool:
    return s.ai_switch == DRAINED


# --- ai_switch=auto: which switch, decided on the host ---------------------------------------
#: one read-only command: ``gpu=<free MiB>`` (the least of the GPUs), ``gpu=none`` (no
#: nvidia-smi) or ``gpu=error``; ``pair=yes`` when the host is laid out for blue/green (the
#: template unit and the upstream file, root's: release_convert.is_converted)
def switch_facts(s) -> str:
    laid_out = f"{release.root_owned(f'{s.systemd_dir}/{s.ai_service}@.service')} && {release.root_owned(s.ai_upstream_file)}"
    return (
        "if command -v nvidia-smi >/dev/null 2>&1; then "
        'echo "gpu=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits 2>/dev/null '
        '| sort -n | head -n 1 | tr -dc 0-9)"; else echo gpu=none; fi; '
        f"if {laid_out}; then echo pair=yes; else echo pair=no; fi"
    )


def parse_switch_facts(stdout: str) -> tuple[int | None | str, bool]:
    """(free GPU memory in MiB, None without a GPU, "error" when nvidia-smi did not answer;
    whether the host is laid out for blue/green)."""
    facts = dict(line.partition("=")[::2] for line in stdout.splitlines() if "=" in line)
    gpu = facts.get("gpu", "none").strip()
    free: int | None | str = None if gpu == "none" else int(gpu) if gpu.isdigit() else "error"
    return free, facts.get("pair", "no").strip() == "yes"


def choose(setting: str, free: int | None | str, need: int, laid_out: bool) -> tuple[str, str]:
    """The switch a deploy or rollback uses, and why (Korean, for the operator). ``auto``:
    blue/green when the host can hold a second instance (no GPU, or more free GPU memory
    than ``ai_gpu_memory_mb``), else a restart that drains first; a host laid out for
    blue/green keeps its pair and stops the old instance before the new one starts."""
    if setting != AUTO:
        return setting, f"ai_switch={setting} (설정)"
    if free is None:
        room, why = True, "GPU 없음 (nvidia-smi 없음): 인스턴스 두 개를 둘 수 있습니다"
    elif free == "error":
        room, why = (
            False,
            "nvidia-smi가 GPU 여유 메모리를 답하지 않았습니다: 두 번째 인스턴스를 띄우지 않습니다",
        )
    elif need <= 0:
        room, why = False, (f"GPU 여유 메모리 {free} MiB, 그러나 ai_gpu_memory_mb=0이라 인스턴스 하나에 "
                            "얼마가 드는지 모릅니다: 두 번째 인스턴스를 띄우지 않습니다 (ai_gpu_memory_mb를 "
                            "정하면 판단합니다)")  # fmt: skip
    elif free > need:
        room, why = (
            True,
            f"GPU 여유 메모리 {free} MiB > ai_gpu_memory_mb {need} MiB: 두 번째 인스턴스가 들어갑니다",
        )
    else:
        room, why = False, (f"GPU 여유 메모리 {free} MiB ≤ ai_gpu_memory_mb {need} MiB: 두 번째 "
                            "인스턴스를 둘 자리가 없습니다")  # fmt: skip
    if room:
        return BLUE_GREEN, why
    return (DRAINED if laid_out else RESTART), why


#: what each switch means for users (Korean)
SAID = {
    BLUE_GREEN: "blue/green (새 인스턴스가 준비된 뒤 전환: 중단 없음)",
    RESTART: "재시작 (처리 중인 요청을 끝낸 뒤 재시작: 시작하는 동안 중단)",
    DRAINED: "blue/green 배치에서 이전 인스턴스를 먼저 멈춤 (처리 중인 요청을 끝낸 뒤: 새 "
             "인스턴스가 준비될 때까지 중단)",
}  # fmt: skip


def with_switch(host, mode: str):
    """The host with ``ai_switch`` resolved to ``mode``."""
    return dataclasses.replace(host, settings=host.settings.replace(ai_switch=mode))


def resolve_on(s) -> None:
    """A release deploy or rollback of the AI server with ai_switch=auto: read the host,
    decide, say which and why, and run with that (the session's view)."""
    v = s.view
    if v.s.ai_switch != AUTO:
        return
    if v.dry_run or s.remote is None:
        s.console.out("AI 전환 방식 (ai_switch=auto): 배포가 호스트의 GPU를 보고 정합니다 "
                      "(blue/green 또는 재시작); 아래는 재시작의 단계 (모두: runbook R절)")  # fmt: skip
        return
    free, laid_out = parse_switch_facts(s.query(switch_facts(v.s)))
    mode, why = choose(AUTO, free, int(v.s.ai_gpu_memory_mb), laid_out)
    s.console.out(f"AI 전환 방식 (ai_switch=auto): {SAID[mode]} — {why}")
    s.view = v.but(host=with_switch(v.host, mode))


def _dir(v: RunView) -> str:
    return v.s.ai_dir


def gpu_memory(v: RunView) -> str:
    """Blue/green holds two copies of the model: refuse when the GPU has not the room."""
    need = int(v.s.ai_gpu_memory_mb)
    return (
        "if ! command -v nvidia-smi >/dev/null; then echo 'no nvidia-smi: no GPU memory check'; "
        f"elif [ {need} -le 0 ]; then echo 'ai_gpu_memory_mb=0: no GPU memory check'; else "
        "free=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits | sort -n | head -n 1); "
        f'if [ "$free" -lt {need} ]; then echo "blue/green needs {need} MiB free on the GPU for a '
        'second copy of the model, the GPU has $free MiB: set ai_switch=restart, or free memory" >&2; '
        f'exit 1; fi; echo "GPU: $free MiB free (needs {need})"; fi'
    )


def venv(v: RunView) -> str:
    return f"{release.path(v)}/{v.s.ai_venv}"


#: the shell variable holding the venv's key: sha256 of requirements.txt and Python x.y
KEY = (
    'k="$(cat -- {req} | sha256sum | cut -c1-16)-py$(python3 -c '
    '\'import sys; print("%d.%d" % sys.version_info[:2])\')"'
)


def venv_dir(v: RunView) -> str:
    """The shared venvs: one per (requirements, Python); a release links to its own."""
    return f'{q(release.base(v) + "/venvs")}/"$k"'


def venv_command(v: RunView) -> str:
    """Link the release's venv to the one for its requirements, making it when missing."""
    rel = q(release.path(v))
    key = KEY.format(req=f"{rel}/{q(v.s.ai_requirements)}")
    d = venv_dir(v)
    return (
        f"{key}; mkdir -p -- {q(release.base(v) + '/venvs')} && "
        f'if [ -e {d}/.complete ]; then echo "venv $k: the same requirements, reused"; else '
        f'rm -rf -- {d} && python3 -m venv -- {d} && echo "venv $k: new"; fi && '
        f"ln -sfn -- {d} {rel}/{q(v.s.ai_venv)} && {rel}/{q(v.s.ai_venv)}/bin/python -V"
    )


def install_command(v: RunView) -> str:
    """pip install into a new venv only; then it is complete (reusable)."""
    rel = q(release.path(v))
    key = KEY.format(req=f"{rel}/{q(v.s.ai_requirements)}")
    d = venv_dir(v)
    pip = in_release_venv(v, f"pip install -r {q(v.s.ai_requirements)} --quiet")
    return f'{key}; if [ -e {d}/.complete ]; then echo "nothing to install"; else {pip} && touch -- {d}/.complete; fi'


def in_release_venv(v: RunView, command: str) -> str:
    return shell.cd(release.path(v), f". -- {q(v.s.ai_venv + '/bin/activate')} && {command}")


@adapts("release")  # build_on=local: the build ran here (tasks/localbuild/plans.py)
def build_plan(view: RunView, live: int = 0) -> Plan:
    steps = (
        Step("1", "AI 인스턴스 접속", "30초", "SSM Session Manager 사용", Policy.ABORT,
             command=lambda v: "hostname",
             added="접속은 도구가 이미 했다: 이 연결로 호스트 이름을 확인한다"),
        release.prepare_step(),
        release.export_step("2", _dir),
        release.link_step("2a", lambda v: [v.s.ai_env_file]),
        Step("3", "가상환경 (requirements가 같으면 재사용)", "10초", "venv 재생성", Policy.RETRY,
             command=venv_command, cleanup=lambda v: f"rm -rf -- {venv_dir(v)}",
             added="매뉴얼 3 (가상환경 활성화)을 대신: requirements.txt와 Python 버전이 같은 venv가 "
             "있으면 그것을 쓰고, 없으면 서비스 중인 venv 옆에 새로 만든다"),
        Step("4", "의존성 설치 (새 venv만)", "2분", "캐시 삭제 후 재시도; 실패해도 서비스는 그대로",
             Policy.RETRY, command=install_command,
             cleanup=lambda v: in_release_venv(v, "pip cache purge || true"), local_build="deps"),
        release.info_step("4a"),
        *(() if view.s.ai_switch != BLUE_GREEN else (
            Step("4b", "GPU 메모리 확인 (blue/green)", "1초", "ai_switch=restart로", Policy.ABORT,
                 command=gpu_memory,
                 added="blue/green은 모델을 두 번 올린다: GPU에 자리가 없으면 시작 전에 거부"),
        )),
    )  # fmt: skip
    return Plan("ai", "C", "FastAPI 배포 (release)", "AI Instance `/app/releases/ai`", "약 4분",
                "재시작 ~ 헬스체크", steps, checklist(view))  # fmt: skip


def switch_plan(view: RunView) -> Plan:
    steps = (
        release.switch_step("5a", "current → 새 릴리스"),
        service_step("5", "서비스 재시작", "30초", "실패 시 이전 릴리스로 되돌림", Policy.ROLLBACK,
                     "restart", AI, down=True),
        health_step("6", "헬스체크", "30초", "실패 시 이전 릴리스로 되돌림", Policy.ROLLBACK, AI,
                    fine=True),
        *release.host_smoke("7", "AI 기능 테스트", "N+분", "롤백", view, lambda s: s.ai_smoke,
                    lambda s: s.ai_listen_port),
    )  # fmt: skip
    return Plan("ai", "C", "FastAPI 전환", "AI Instance", "1분", "재시작 ~ 헬스체크", steps)


# --- the pair without room for a second instance (ai_switch=auto resolved to DRAINED) ----
def _stop_first(number: str, port: int, view: RunView, policy: Policy) -> Step:
    return Step(
        number, f"서비스 중인 인스턴스 중지 ({PAIR.instance(view.s, port)}, 처리 중인 요청을 끝낸 뒤)",
        "최대 ai_drain_timeout", "이전 인스턴스를 다시 시작", policy, down=True,
        command=lambda v: PAIR.stop(v.s, port),
        added="GPU에 두 번째 인스턴스를 둘 자리가 없다: 이전 인스턴스가 처리 중인 요청을 끝내고 "
        "(uvicorn --timeout-graceful-shutdown) 멈춘 뒤에 새 인스턴스를 띄운다",
    )  # fmt: skip


def _start_again(number: str, port: int, view: RunView) -> tuple[Step, ...]:
    """The stopped instance back (its slot never changed), then nginx to it."""
    return (
        Step(number, f"이전 인스턴스 다시 시작 ({PAIR.instance(view.s, port)})", "30초", "수동 복구",
             Policy.ABORT, command=lambda v: privilege.systemctl("start", values.unit_name(
                 PAIR.instance(v.s, port)))),
        health_step(f"{number}a", "헬스체크 (이전 인스턴스)", "3분", "수동 복구", Policy.ABORT, AI,
                    fine=True, port=lambda v: port, unit=lambda v: PAIR.instance(v.s, port)),
        Step(f"{number}b", f"nginx upstream을 {port}로", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: PAIR.point_upstream(v.s, port)),
    )  # fmt: skip


def drained_switch_plan(view: RunView, live: int, idle: int) -> Plan:
    """The old instance drains and stops, then the new release starts on the idle port, is
    checked, and nginx switches to it: the outage is the new instance's start."""
    p = PAIR
    steps = (
        _stop_first("5s", live, view, Policy.ROLLBACK),
        Step("5", f"새 인스턴스 시작 ({p.instance(view.s, idle)})", "30초", "이전 인스턴스를 다시 시작",
             Policy.ROLLBACK, command=lambda v: p.start_instance(v, idle)),
        health_step("6", "헬스체크 (새 인스턴스)", "3분", "이전 인스턴스를 다시 시작", Policy.ROLLBACK,
                    AI, up=False, fine=True, port=lambda v: idle,
                    unit=lambda v: p.instance(v.s, idle)),
        *release.host_smoke("7", "AI 기능 테스트 (새 인스턴스)", "N+분", "이전 인스턴스를 다시 시작",
                            view, p.smoke, lambda s: idle, p.usual_port),
        Step("7a", f"nginx upstream 전환 ({live} → {idle})", "1초", "이전 인스턴스를 다시 시작",
             Policy.ROLLBACK, up=True, command=lambda v: p.point_upstream(v.s, idle)),
        release.switch_step("7b", "current → 새 릴리스"),
    )  # fmt: skip
    return Plan("ai", "C", "AI 서버 전환 (이전 인스턴스를 먼저 멈춤)", "AI Instance", "1분",
                "새 인스턴스가 시작하는 동안", steps)  # fmt: skip


def drained_back_plan(view: RunView, live: int, idle: int, live_release: str | None) -> Plan:
    steps = (
        Step("R1", f"새 인스턴스 중지 ({PAIR.instance(view.s, idle)})", "10초", "-", Policy.WARN,
             command=lambda v: PAIR.stop(v.s, idle)),
        *_start_again("R2", live, view),
        Step("R3", "current를 이전 릴리스로", "1초", "-", Policy.WARN,
             command=lambda v: release.switch_current(v, live_release) if live_release else "true"),
        Step("R4", "릴리스를 실패로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "failed")),
    )  # fmt: skip
    return Plan(
        "ai", "C", "AI 서버 되돌림 (이전 인스턴스 다시 시작)", "", "1분", "시작하는 동안", steps
    )


def drained_rollback_plan(view: RunView, target: str, bad: str, live: int,
                          other: int) -> tuple[Plan, Plan]:  # fmt: skip
    """A cold rollback without room for a second instance: the live one drains and stops,
    the target starts on the other port, nginx switches; on failure the live one is back."""
    p = PAIR
    steps = (
        _stop_first("R1", live, view, Policy.ABORT),
        Step("R2", f"이전 릴리스 시작 ({p.instance(view.s, other)})", "30초", "떠난 인스턴스를 다시 시작",
             Policy.ABORT, command=lambda v: p.start_instance(v, other, target)),
        health_step("R3", f"헬스체크 ({p.instance(view.s, other)})", "3분", "떠난 인스턴스를 다시 시작",
                    Policy.ABORT, AI, up=False, fine=True, port=lambda v: other,
                    unit=lambda v: p.instance(v.s, other)),
        Step("R4", f"nginx upstream 전환 ({live} → {other})", "1초", "떠난 인스턴스를 다시 시작",
             Policy.ABORT, up=True, command=lambda v: p.point_upstream(v.s, other)),
        Step("R5", "current → 이전 릴리스", "1초", "-", Policy.WARN,
             command=lambda v: release.switch_current(v, target)),
        Step("R6", "떠난 릴리스를 bad로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "bad", bad)),
    )  # fmt: skip
    back = Plan("ai", "C", "롤백 취소 (떠난 인스턴스 다시 시작)", "", "1분", "시작하는 동안", (
        Step("B1", f"시작한 인스턴스 중지 ({p.instance(view.s, other)})", "10초", "-", Policy.WARN,
             command=lambda v: p.stop(v.s, other)),
        *_start_again("B2", live, view),
    ))  # fmt: skip
    plan = Plan("ai", "C", "AI 서버 롤백 (release: 이전 인스턴스를 먼저 멈춤)", "AI Instance", "1분",
                "이전 릴리스가 시작하는 동안", steps)  # fmt: skip
    return plan, back


def back_to(view: RunView, target: str, title: str, mark: tuple[str, str | None]) -> Plan:
    status, rel = mark
    steps = (
        Step("R1", title, "1초", "수동 복구", Policy.ABORT,
             command=lambda v: release.switch_current(v, target)),
        service_step("R2", "서비스 재시작", "30초", "로그 확인", Policy.ABORT, "restart", AI,
                     down=True),
        health_step("R3", "헬스체크", "30초", "로그 확인", Policy.ABORT, AI, fine=True),
        Step("R4", f"릴리스를 {status}로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, status, rel)),
    )  # fmt: skip
    return Plan(
        "ai", "C", "FastAPI 롤백 (release)", "AI Instance", "1분", "재시작 ~ 헬스체크", steps
    )


def switch_back_plan(view: RunView, previous: str) -> Plan:
    return back_to(view, previous, "이전 릴리스로 되돌림", ("failed", None))


def rollback_plan(view: RunView, target: str, bad: str) -> Plan:
    return back_to(view, target, "이전 릴리스로 전환", ("bad", bad))


def checklist(view: RunView) -> tuple[CheckItem, ...]:
    env = lambda v: appenv.of("ai", v.s).path  # noqa: E731
    example = lambda v: ".env.example"  # noqa: E731
    svc = view.s.ai_service
    return (
        *before_items(_dir, env, example, ["requirements.txt"], view.s.git_branch),
        CheckItem("배포 중", "AI 인스턴스 접속 성공", step="1"),
        CheckItem("배포 중", "코드 Pull 성공 (새 릴리스로 내보내기)", step="2"),
        CheckItem("배포 중", "가상환경 (새 릴리스)", step="3"),
        CheckItem("배포 중", "의존성 설치 완료", step="4"),
        CheckItem("배포 중", f"서비스 재시작 (`systemctl restart {svc}`)", step="5"),
        CheckItem("배포 후", f"`{view.s.ai_health_path}` 응답 확인", step="6"),
        CheckItem("배포 후", "AI 기능 수동 테스트 (계약서 분석 API, 체크리스트 생성)",
                  rollback_on_no=True),
        CheckItem("배포 후", f"에러 로그 확인 (`journalctl -u {svc} -f`)", check_log(
            lambda v: f"journalctl -u {q(v.s.ai_service)} -n 100 --no-pager")),
        *after_items(AI),
    )  # fmt: skip


def state_command(view: RunView) -> str:
    s, b = view.s, q(release.base(view))
    return (
        f'echo {q(s.ai_service + ":")} "$(systemctl is-active {q(values.unit_name(s.ai_service))})"; '
        f"readlink -- {b}/current; tail -n 3 -- {b}/switches"
    )


# --- the conversion of a manual host (tasks/strategies/release/convert.py) -------------------
def converted(v: RunView) -> str:
    """Succeeds when the AI server runs releases: blue/green's template unit and upstream
    file (root's), else the unit's working directory being the release ``current``."""
    s = v.s
    if pair(s) is not None:
        return PAIR.laid_out(s)
    unit = values.unit_name(s.ai_service)
    return (
        f'[ "x$(systemctl show -p WorkingDirectory --value {q(unit)})" = '
        f"{q('x' + release.current(v))} ]"
    )


def convert(s, legacy: RunView, settings, push) -> None:
    """The served revision, built as a release of its own, becomes ``current``; the unit
    that runs ``current`` is pushed (``push(only)``: rendered for the release strategy,
    ``settings``). Blue/green: then onto two instances behind nginx."""
    if pair(s.view.s) is not None:
        _convert_blue_green(s, legacy, settings, push)
        return
    _adopt_served(s, legacy)
    push({"ai"})


def _adopt_served(s, legacy: RunView) -> None:
    s.execute(convert_adopt_plan())
    with s.viewing(legacy):  # the served revision, built as a release of its own
        s.execute(build_plan(legacy))
    s.execute(Plan("ai", "C", "AI release 방식 전환", "", "", "", (
        release.switch_step("K1", "current → 서빙 중인 리비전의 릴리스",
                            lambda v: release.name(legacy)),
    )))  # fmt: skip


def convert_adopt_plan() -> Plan:
    """K0: the release directories (releases_root as root, the rest as the deploy login)
    and the shared .env: a link to the file the AI unit reads."""
    steps = (
        *release.root_prepare_steps(),
        Step("K0", "shared .env (유닛이 읽는 파일로 링크)", "1초", "-", Policy.ABORT,
             command=lambda v: release.adopt_env(v, appenv.of("ai", v.s))),
    )  # fmt: skip
    return Plan("ai", "C", "AI release 방식 전환", "", "", "", steps)


def _convert_blue_green(s, legacy: RunView, settings, push) -> None:
    """The AI server onto two instances behind nginx on the GPU host.

    The served release (built first on a manual host) starts on the first port; then the
    single unit stops and nginx takes its port: the one outage, about a second, said.
    """
    if not s.sh(f"test -L {q(release.current(s.view))}").ok:  # no releases yet
        _adopt_served(s, legacy)
    current = s.query(release.current_release(s.view)) or release.name(legacy)
    s.execute(Plan("ai", "C", "AI blue/green 준비", "", "", "", release.root_prepare_steps()))
    port = settings.ai_ports[0]
    push({"ai"})  # the template unit: nothing restarts
    s.execute(convert_start_plan(settings, port, current))
    push({"ai-proxy"})  # nginx cannot take the port yet
    s.execute(convert_takeover_plan(settings, port))


def convert_start_plan(settings, port: int, current: str) -> Plan:
    """K2–K4: the served release on the first port (as the deploy login: the slot is its,
    the unit the root helper's), then the switch table sending the upstream's port to it and
    the upstream file naming that port (root)."""
    steps = (
        *PAIR.first_instance_steps(("K2", "K3"), settings, port, "수동 복구", Policy.ABORT,
                                   rel=current),
        PAIR.table_step("K4", settings, port),
    )  # fmt: skip
    return Plan("ai", "C", "AI blue/green 전환", "", "", "", steps)


def convert_takeover_plan(settings, port: int) -> Plan:
    """K5–K6: the single unit lets its port go, nginx takes it (the one short outage)."""
    steps = (
        Step("K5", f"nginx가 포트 {settings.ai_listen_port}를 넘겨받음 (짧은 중단)", "1초",
             "수동 복구", Policy.ABORT, sudo=True, down=True,
             command=lambda v: (
                 f"systemctl disable -q {q(values.unit_name(settings.ai_service))}; "
                 f"systemctl stop {q(values.unit_name(settings.ai_service))} && "
                 f"{settings.nginx_reload_cmd} && {PAIR.at_boot(settings, port)}"
             ),
             added="한 번뿐인 전환: 단일 유닛이 포트를 놓고 nginx가 받는 동안 (약 1초) 응답이 없다"),
        health_step("K6", "헬스체크 (nginx 뒤)", "1분", "수동 복구", Policy.ABORT, AI, fine=True),
    )  # fmt: skip
    return Plan("ai", "C", "AI blue/green 전환", "", "", "", steps)


def examples_decided_on_host(view: RunView, plans_of) -> list[Plan] | None:
    """ai_switch=auto: every plan the switch the host decides on may run (``plans_of``: the
    release strategy's plans for a view), for the preflight and the runbook; None when the
    switch is set. One build (blue/green's checks the GPU's room); the drained switch's
    warm rollback is blue/green's."""
    if view.s.ai_switch != AUTO:
        return None
    bg, restart, stopped_first = (
        plans_of(view.but(host=with_switch(view.host, mode)))
        for mode in (BLUE_GREEN, RESTART, DRAINED)
    )
    return [*bg, *restart[1:], stopped_first[1], stopped_first[2], stopped_first[4]]
