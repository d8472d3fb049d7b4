"""The strategies, registered with tasks/apps/base.py so every layer can look one up
(``strategy_for``) without importing the flows."""

from __future__ import annotations

from tasks.apps.base import STRATEGIES, Strategy, register, strategy_for
from tasks.strategies.manual import MANUAL
from tasks.strategies.release.strategy import RELEASE

for _strategy in (RELEASE, MANUAL):  # the first is the default setting's
    register(_strategy)

__all__ = ["MANUAL", "RELEASE", "STRATEGIES", "Strategy", "strategy_for"]
