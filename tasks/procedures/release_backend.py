"""Manual §B with the release strategy: blue/green on one host, no failed request.

Two instances of a template unit, ``<backend_service>@<port>`` for the two ``backend_ports``;
each runs the jar of the release its slot (``<root>/backend/slots/<port>``) points at. nginx
sends /api/ to an ``upstream`` in ``nginx_upstream_file``, which a switch rewrites before a
graceful ``nginx -s reload``. A deploy builds the jar in a new release while the live
instance serves, starts it on the idle port, gates on its health and smoke tests there, and
only then switches. The old instance stays warm for ``backend_keep_warm`` seconds (a systemd
timer stops it): a rollback within that window is a switch back.
"""

from __future__ import annotations

from tasks import shell
from tasks.components import BACKEND
from tasks.config.render import UPSTREAM
from tasks.engine.policy import Policy
from tasks.engine.steps import CheckItem, Plan, Step
from tasks.engine.view import RunView
from tasks.hosts.settings import Settings
from tasks.procedures import backup, release
from tasks.procedures.common import (
    before_items,
    check_log,
    check_record,
    env_check_step,
    health_step,
    notice_step,
    smoke_step,
)
from tasks.shell import q


def host_smoke(number, title, expected, on_failure, view, specs, port) -> tuple[Step, ...]:
    """The configured smoke requests, on the host; none configured: the 배포 후 checklist asks
    the operator instead (a question cannot run in the host's critical section)."""
    if not specs(view.s):
        return ()
    return (smoke_step(number, title, expected, on_failure, view, specs, port, ""),)


def instance(s: Settings, port: int) -> str:
    return f"{s.backend_service}@{port}"


def slot(v: RunView, port: int) -> str:
    return f"{release.base(v)}/slots/{port}"


def retire_timer(s: Settings, port: int) -> str:
    return f"{s.backend_service}-retire-{port}"


def upstream_text(port: int) -> str:
    return f"upstream {UPSTREAM} {{\n    server 127.0.0.1:{port};\n    keepalive 16;\n}}\n"


def point_upstream(s: Settings, port: int) -> str:
    """Rewrite the upstream file for ``port`` (atomically), check nginx, reload gracefully;
    the old file comes back when nginx refuses the new one."""
    f = q(s.nginx_upstream_file)
    return (
        f"printf '%s' {q(upstream_text(port))} > {f}.new && {{ cp -p -- {f} {f}.prev 2>/dev/null || true; }} && "
        f"mv -fT -- {f}.new {f} && if {s.nginx_test_cmd} 2>&1; then {s.nginx_reload_cmd}; else "
        f"[ -f {f}.prev ] && mv -fT -- {f}.prev {f}; exit 1; fi"
    )


def live_port_command(s: Settings) -> str:
    """Prints the port the upstream sends requests to (nothing when there is no upstream)."""
    return f"grep -o '127.0.0.1:[0-9]*' -- {q(s.nginx_upstream_file)} 2>/dev/null | head -n 1 | cut -d: -f2"


def start_instance(v: RunView, port: int, rel: str | None = None) -> str:
    """Whatever runs on ``port`` stops; its slot points at the release; it starts."""
    s, unit, timer = v.s, q(instance(v.s, port)), q(retire_timer(v.s, port) + ".timer")
    return (
        f"systemctl stop {timer} 2>/dev/null; systemctl stop {unit}; "
        f"systemctl reset-failed {unit} 2>/dev/null; "
        f"{release.switch(slot(v, port), release.path(v, release=rel), v.run_id)} && "
        f"systemctl start {unit} && echo {q(f'{instance(s, port)} started: {rel or release.name(v)}')}"
    )


def retire(s: Settings, port: int, after: int) -> str:
    """Stop the instance on ``port`` after ``after`` seconds (a transient systemd timer)."""
    timer = q(retire_timer(s, port))
    return (
        f"systemctl stop {timer}.timer 2>/dev/null; "
        f"systemd-run --unit={timer} --on-active={int(after)}s --timer-property=AccuracySec=1s "
        f"--collect --quiet -- systemctl stop {q(instance(s, port))} && "
        f"echo {q(f'{instance(s, port)} stops in {after}s (rollback until then is a switch back)')}"
    )


def _dir(v: RunView) -> str:
    return v.s.backend_dir


def shared_env(v: RunView) -> str:
    return f"{release.shared(v)}/{v.s.backend_env_file}"


def build_plan(view: RunView, live: int) -> Plan:
    rel = lambda v: release.path(v)  # noqa: E731
    b3, b4 = backup.steps()
    steps = (
        release.prepare_step(),
        notice_step("1", "디코 공지", "1분",
                    lambda v: f"배포 시작합니다 (무중단, 예상 {v.s.backend_expected_total})"),
        Step("2", "서비스 상태 확인", "1분", "이상 시 배포 중단", Policy.ABORT,
             command=lambda v: shell.service_status(instance(v.s, live))),
        b3,
        b4,
        release.export_step("5", _dir),
        env_check_step("6", rel, shared_env, lambda v: v.s.backend_env_example),
        release.link_step("6a", lambda v: [v.s.backend_env_file]),
        Step("8", "Gradle 빌드 (새 릴리스에서)", "3분+", "빌드 실패: 서비스는 그대로, 릴리스는 실패로 표시",
             Policy.ABORT,
             command=lambda v: shell.cd(rel(v), f"{v.s.backend_build_cmd} && install -m 644 -- "
                                        f"{q(v.s.backend_artifact)} app.jar"),
             added="매뉴얼 7 (서비스 중단)과 8 (빌드)을 대신: 서비스를 멈추지 않고 새 릴리스에서 빌드"),
        release.info_step("8a", "app.jar"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend 배포 (release, blue/green)", "CPU Instance",
                "약 5분", "0분 (무중단)", steps, checklist(view))  # fmt: skip


def switch_plan(view: RunView, live: int, idle: int) -> Plan:
    steps = (
        Step("9", f"새 인스턴스 시작 ({instance(view.s, idle)})", "30초", "실패 시 새 인스턴스 중지",
             Policy.ROLLBACK, command=lambda v: start_instance(v, idle), sudo=True,
             added="매뉴얼 9를 대신: 쓰지 않는 포트에서 새 릴리스를 띄운다 (서비스 중인 인스턴스는 그대로)"),
        health_step("10", "헬스체크 (새 인스턴스)", "1분", "실패 시 새 인스턴스 중지 (요청은 계속 이전 버전)",
                    Policy.ROLLBACK, BACKEND, up=False, fine=True, port=lambda v: idle,
                    unit=lambda v: instance(v.s, idle)),
        *host_smoke("11", "기능 테스트 (새 인스턴스)", "2분", "실패 시 새 인스턴스 중지", view,
                    lambda s: s.backend_smoke, lambda s: idle),
        Step("11a", f"nginx upstream 전환 ({live} → {idle})", "1초", "이전 포트로 되돌림",
             Policy.ROLLBACK, command=lambda v: point_upstream(v.s, idle), sudo=True,
             added="nginx -t 후 graceful reload: 처리 중인 요청은 이전 인스턴스가 끝낸다"),
        release.switch_step("11b", "current → 새 릴리스"),
        Step("11c", f"이전 인스턴스 대기 후 종료 ({instance(view.s, live)})", "1초", "-", Policy.WARN,
             command=lambda v: retire(v.s, live, v.s.backend_keep_warm), sudo=True,
             added="backend_keep_warm 동안 따뜻하게 둔다: 그 안의 롤백은 전환만 하면 된다"),
    )  # fmt: skip
    return Plan("backend", "B", "Backend 전환 (blue/green)", "CPU Instance", "1분", "0분", steps)


def switch_back_plan(view: RunView, live: int, idle: int, live_release: str | None) -> Plan:
    steps = (
        Step("R1", f"nginx upstream을 {live}로", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: point_upstream(v.s, live), sudo=True),
        Step("R2", "current를 이전 릴리스로", "1초", "-", Policy.WARN,
             command=lambda v: release.switch_current(v, live_release) if live_release else "true"),
        Step("R3", f"새 인스턴스 중지 ({instance(view.s, idle)})", "10초", "-", Policy.WARN,
             command=lambda v: f"systemctl stop {q(instance(v.s, idle))}", sudo=True),
        Step("R4", "릴리스를 실패로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "failed")),
    )  # fmt: skip
    return Plan("backend", "B", "Backend 되돌림", "CPU Instance", "몇 초", "0분", steps)


def rollback_plan(view: RunView, target: str, bad: str, live: int, other: int,
                  warm: bool) -> Plan:  # fmt: skip
    """`rollback-backend`: a switch back when the target still runs (warm), else a start of
    the target on the other port first (cold); then the left release is marked bad."""
    start = () if warm else (
        Step("R1", f"이전 릴리스 시작 ({instance(view.s, other)})", "30초", "수동 복구", Policy.ABORT,
             command=lambda v: start_instance(v, other, target), sudo=True),
    )  # fmt: skip
    steps = (
        *start,
        health_step("R2", f"헬스체크 ({instance(view.s, other)})", "1분", "서비스는 그대로 (전환 전)",
                    Policy.ABORT, BACKEND, up=False, fine=True, port=lambda v: other,
                    unit=lambda v: instance(v.s, other)),
        Step("R3", f"nginx upstream 전환 ({live} → {other})", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: point_upstream(v.s, other), sudo=True),
        Step("R4", "current → 이전 릴리스", "1초", "-", Policy.WARN,
             command=lambda v: release.switch_current(v, target)),
        Step("R5", f"떠난 인스턴스 종료 ({instance(view.s, live)}, 요청이 끝난 뒤)", "1초", "-",
             Policy.WARN, command=lambda v: f"systemctl stop {q(retire_timer(v.s, other))}.timer "
             f"2>/dev/null; {retire(v.s, live, 10)}", sudo=True),
        Step("R6", "떠난 릴리스를 bad로 표시", "1초", "-", Policy.WARN,
             command=lambda v: release.mark(v, "bad", bad)),
    )  # fmt: skip
    kind = "전환만 (따뜻한 인스턴스)" if warm else "시작 후 전환"
    return Plan("backend", "B", f"Backend 롤백 (release: {kind})", "CPU Instance", "몇 초", "0분",
                steps)  # fmt: skip


def keep_live_plan(view: RunView, live: int, other: int) -> Plan:
    """The host's answer to a failed rollback: the live instance keeps serving."""
    steps = (
        Step("R1", f"nginx upstream을 {live}로", "1초", "수동 복구", Policy.ABORT,
             command=lambda v: point_upstream(v.s, live), sudo=True),
    )  # fmt: skip
    return Plan("backend", "B", "Backend 롤백 취소", "CPU Instance", "몇 초", "0분", steps)


def checklist(view: RunView) -> tuple[CheckItem, ...]:
    env = lambda v: shared_env(v)  # noqa: E731
    example = lambda v: v.s.backend_env_example  # noqa: E731
    return (
        *before_items(_dir, env, example, ["build.gradle", "settings.gradle"], view.s.git_branch),
        CheckItem("배포 중", "코드 Pull 성공 (새 릴리스로 내보내기)", step="5"),
        CheckItem("배포 중", "Gradle 빌드 성공", step="8"),
        CheckItem("배포 중", "서비스 시작 (새 인스턴스)", step="9"),
        CheckItem("배포 후", f"`{view.s.backend_health_path}` 응답 확인", step="10"),
        CheckItem("배포 후", "주요 기능 수동 테스트 (OAuth 로그인, 체크리스트 조회, 문서 업로드)",
                  rollback_on_no=True),
        CheckItem("배포 후", f"에러 로그 확인 (`{view.s.backend_log_cmd}`)",
                  check_log(lambda v: v.s.backend_log_cmd)),
        CheckItem("배포 후", "배포 기록 작성 (날짜, 버전, 변경사항)", check_record),
    )  # fmt: skip


def live_health(s: Settings) -> str:
    """One health check of the instance nginx sends requests to."""
    h = BACKEND.health(s, None)
    url = h.url.replace(f":{s.backend_port}/", ':"$p"/', 1)
    return f'p=$({live_port_command(s)}) && [ -n "$p" ] && curl -fsS --max-time 10 {url} | grep -qF -- {q(h.expect)}'


def state_command(view: RunView) -> str:
    s, b = view.s, q(release.base(view))
    units = " ".join(q(instance(s, p)) for p in s.backend_ports)
    return (
        f"echo \"upstream: $({live_port_command(s)})\"; systemctl is-active {units} | paste -sd' '; "
        f'for p in {" ".join(str(p) for p in s.backend_ports)}; do echo "slot $p: $(readlink -- {b}/slots/$p)"; done'
    )
