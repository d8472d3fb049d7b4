"""Steps that make a result true before it is printed: the served version after a rollback,
the rollback's smoke tests, and the .env's owner and mode on every deploy.

A rollback used to end at its health check: a service that answers "UP" with another
version than the one rolled back to still printed ``ok``. Every rollback now also runs the
component's smoke requests and compares the version it serves (``<component>_version_url``)
with the one the target served when the tool recorded it (tasks/strategies/drift.py).
"""

from __future__ import annotations

from collections.abc import Callable

from tasks import shell
from tasks.apps import env as appenv
from tasks.engine.steps import Step
from tasks.engine.view import RunView
from tasks.hostfacts import served_version
from tasks.hosts import site
from tasks.onhost.policy import Policy
from tasks.shell import q
from tasks.strategies import drift


def version_command(v: RunView, comp: str) -> str:
    url, match = drift.version_source(v.s, comp)
    rev = v.back_to[:12]
    return (
        f"want=$({drift.lookup(v, comp, 'version')}); "
        f"got=$({served_version(url, match, site.names(v.s))}) || {{ echo {q(f'{url}에서 제공 중인 버전을 읽지 못했습니다')} >&2; exit 1; }}; "
        f'if [ -z "$want" ]; then echo "제공 버전 $got ({rev}의 버전 기록이 없어 비교하지 않음)"; '
        f'elif [ "$got" = "$want" ]; then echo "제공 버전 $got: {rev}의 기록과 같습니다"; '
        f'else echo "제공 버전 $got: {rev}의 기록은 $want입니다. '
        f'롤백하려던 버전이 아닙니다" >&2; exit 1; fi'
    )


def version_step(number: str, comp: str) -> Step:
    return Step(
        number, "제공 버전 확인", "5초", "버전이 다르면 수동 복구", Policy.ABORT,
        command=lambda v: version_command(v, comp),
        skip_if=lambda v: None if drift.version_source(v.s, comp)[0] else f"{comp}_version_url이 비어 있음",
        added="롤백 대상이 기록될 때 제공하던 버전과 지금 제공하는 버전을 비교: 같을 때만 ok",
    )  # fmt: skip


def smoke_step(number: str, specs: Callable, port: Callable) -> Step:
    """A rollback's smoke tests: the deploy's requests (no question to the operator)."""
    return Step(
        number, "기능 테스트", "2분", "실패 시 수동 복구", Policy.ABORT,
        command=lambda v: shell.smoke(specs(v.s), port(v.s), site_names=site.names(v.s)),
        skip_if=lambda v: None if specs(v.s) else "스모크 요청 설정이 비어 있음",
        added="롤백도 배포와 같은 기능 테스트를 거친다",
    )  # fmt: skip


def env_mode_step(number: str, comp: str) -> Step:
    return Step(
        number, ".env 권한 (소유자·그룹·0640)", "1초", "권한 확인 (소유자가 다르면 fab setup)", Policy.ABORT,
        command=lambda v: appenv.mode_command(appenv.of(comp, v.s)),
        added="앱이 자기 .env를 읽는다: 소유자 로그인 사용자, 그룹 서비스, 0640 (setup과 같은 규칙)",
    )  # fmt: skip
