"""Errors an operator reads. Each names the problem and what to do about it."""

from __future__ import annotations


class DeployToolError(Exception):
    """Base: the message says what is wrong, ``fix`` what to do."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem}\n  → {self.fix}" if self.fix else self.problem


class ConfigError(DeployToolError):
    """Bad inventory, settings or .env: raised before anything on a host changes."""


class StepFailed(DeployToolError):
    """A step failed and its policy stopped the run."""

    def __init__(self, problem: str, fix: str = "", rolled_back: bool | None = None, report=None):
        super().__init__(problem, fix)
        self.rolled_back = rolled_back
        self.report = report
