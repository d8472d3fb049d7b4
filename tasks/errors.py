"""Errors an operator reads. Each names the problem and what to do about it."""

from __future__ import annotations

from tasks.terminal import safe


class DeployToolError(Exception):
    """Base: the message says what is wrong, ``fix`` what to do."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        """As the operator reads it: a problem may quote a host's output (made safe for a
        terminal: tasks/terminal.py)."""
        return safe(f"{self.problem}\n  → {self.fix}" if self.fix else self.problem)


class ConfigError(DeployToolError):
    """Bad inventory, settings or .env: raised before anything on a host changes."""


class StepFailed(DeployToolError):
    """A step failed and its policy stopped the run."""

    def __init__(self, problem: str, fix: str = "", rolled_back: bool | None = None, report=None):
        super().__init__(problem, fix)
        self.rolled_back = rolled_back
        self.report = report


class HostCommandFailed(DeployToolError):
    """A command that reads the host (a query, not a step) failed."""

    def __init__(self, host: str, command: str, output: str):
        short = command if len(command) <= 160 else command[:157] + "..."
        super().__init__(
            f"reading {host} failed: `{short}`: {output or 'no output'}",
            "check the host (permissions, paths in the settings); nothing was changed by it",
        )
        self.output = output
