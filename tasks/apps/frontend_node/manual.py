"""The Node frontend has no manual steps: the manual (§A) deploys a static build; a Node
server runs as the backend's blue/green pair (release.py). A deploy or rollback with the
manual strategy is refused before anything runs (the preflight renders these plans)."""

from __future__ import annotations

from tasks.apps.frontend_node.release import state_command
from tasks.engine.steps import Plan
from tasks.engine.view import RunView
from tasks.errors import ConfigError

__all__ = ["plan", "rollback_plan", "state_command"]


def refusal() -> ConfigError:
    return ConfigError(
        "frontend_kind=node는 release 전략으로만 배포합니다 "
        "(manual 전략은 매뉴얼 A의 정적 빌드 단계뿐: Node 서버의 단계가 없습니다)",
        "--strategy=release로 배포하거나 (설정 strategy=release), 정적 빌드라면 "
        "frontend_kind=static으로 두세요",
    )


def plan(view: RunView) -> Plan:
    raise refusal()


def rollback_plan(view: RunView, reason: str = "") -> Plan:
    raise refusal()
