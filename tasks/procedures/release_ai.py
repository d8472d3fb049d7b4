"""Manual §C with the release strategy: the new venv is built beside the old one.

The AI server's unit runs ``<root>/ai/current/<venv>/bin/uvicorn`` in ``<root>/ai/current``.
A deploy exports the revision into a new release, creates its venv and installs the
requirements there while the old release serves (a failed ``pip install`` changes nothing),
then switches ``current`` and restarts: the outage is the restart and the start-up, gated on
health; a failure switches back and restarts the old release.
"""

from __future__ import annotations

from tasks import shell
from tasks.build import adapts
from tasks.components import AI
from tasks.engine.policy import Policy
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts import values
from tasks.procedures import appenv, release
from tasks.procedures.bluegreen import Pair
from tasks.procedures.common import (
    after_items,
    before_items,
    check_log,
    health_step,
    service_step,
)
from tasks.shell import q

SECTION = "C"
AI_UPSTREAM = "dojangkok_ai"

#: with ai_switch=blue-green: two instances behind nginx on the GPU host (bluegreen.py)
PAIR = Pair(
    AI, service=lambda s: s.ai_service, ports=lambda s: s.ai_ports,
    upstream_file=lambda s: s.ai_upstream_file, upstream=AI_UPSTREAM,
    switch_port=lambda s: s.ai_switch_port,
    keep_warm=lambda s: s.ai_keep_warm, smoke=lambda s: s.ai_smoke,
    numbers=("5", "6", "7", "7a", "7b", "7c"),
    usual_port=lambda s: s.ai_listen_port,
)  # fmt: skip


def pair(s) -> Pair | None:
    return PAIR if s.ai_switch == "blue-green" else None


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


@adapts("release")  # build_on=local: the build ran here (tasks/build/plans.py)
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
             cleanup=lambda v: in_release_venv(v, "pip cache purge || true")),
        release.info_step("4a"),
        *(() if pair(view.s) is None else (
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
