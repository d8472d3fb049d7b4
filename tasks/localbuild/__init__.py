"""Where a deploy's build runs: the manual's two methods (§1, 배포 방식).

1. ``build_on=host``: "대상 서버 내에서 최신버전 코드 merge 및 빌드 후 배포" — the manual's
   steps: the host pulls and builds (Gradle, npm, pip from an index) beside its live services.
2. ``build_on=local``: "외부 환경에서 빌드 파일 구성 후 대상 서버에 FTP or SCP로 전송하여 배포"
   — this machine checks out the exact revision from the inventory's origin (never one the
   host reports) into a clean work dir of the tool's own, builds it (jar, static build, a
   wheelhouse for the host's Python), checks the artifact against the host's runtime, sends
   it (SFTP; the frontend by rsync against the previous build) and the host verifies its
   SHA-256 before anything switches. The host then installs from the upload alone: no
   Gradle, npm or package index on the host.

Both strategies (``manual``, ``release``) take either. The modules:

- model.py: what a build found and made (host facts, the artifact, where it was built);
- facts.py: what the host runs (one read-only command) and tools on this machine;
- runtime.py: the pure runtime checks (class-file version, Gradle's Java, wheel tags, ELF);
- origin.py: the origin is the inventory's ``<component>_repo``, and the host's checkout must
  name it exactly (a compromised host never picks the code this machine runs);
- checkout.py: the clean local checkout from that origin, refusing unpushed revisions;
- artifacts.py: the local builds and their manifests;
- ship.py: SFTP and rsync to the host, and the checksum check there;
- steps.py / plans.py: the steps, and how a component's plan changes for a local build;
- flow.py: the part of a deploy that runs before the component's plan.

A plan builder calls :func:`adapt` on the plan it returns: with ``build_on=host`` the plan is
unchanged; with ``local`` its build steps become "send the artifact, verify it on the host".
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from tasks.apps.base import strategy_for
from tasks.errors import ConfigError
from tasks.localbuild.plans import adapt_local

if TYPE_CHECKING:
    from tasks.engine.steps import Plan
    from tasks.engine.view import RunView
    from tasks.hosts.settings import Settings

BUILD_ON = ("host", "local")


def build_on_for(s: Settings, component: str, override: str | None = None) -> str:
    """The build place of ``component``: --build-on, else ``<component>_build_on``, else
    ``build_on``."""
    chosen = override or getattr(s, f"{component}_build_on", "") or s.build_on
    if chosen not in BUILD_ON:
        raise ConfigError(
            f"{component}의 build_on {chosen!r}: 알 수 없는 빌드 위치입니다",
            "host(서버에서 빌드, 매뉴얼의 방법 1)나 local(이 컴퓨터에서 빌드해 파일을 보냄, "
            "방법 2) 중 하나를 --build-on이나 build_on 설정으로 지정하십시오",
        )
    return chosen


def adapt(plan: Plan, view: RunView, strategy: str, rollback: bool = False) -> Plan:
    """``plan`` as it runs for the view's build place. ``strategy``: the strategy whose plan
    it is (``manual``, ``release``: asked what it does, by :func:`strategy_for`);
    ``rollback``: a rollback plan (it installs what an earlier deploy sent)."""
    if view.build_on != "local":
        return plan

    return adapt_local(plan, view, strategy_for(strategy), rollback)


def adapts(strategy: str, rollback: bool = False):
    """Decorates a plan builder ``f(view, ...) -> Plan``: its plan goes through :func:`adapt`."""

    def decorate(builder):
        @functools.wraps(builder)
        def wrapper(view, *args, **kwargs):
            return adapt(builder(view, *args, **kwargs), view, strategy, rollback)

        return wrapper

    return decorate
