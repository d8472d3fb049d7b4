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
            f"{host}에서 읽기에 실패했습니다: `{short}`: {output or '출력 없음'}",
            "호스트의 권한과 설정의 경로를 확인하십시오 (이 명령은 아무것도 바꾸지 않았습니다)",
        )
        self.output = output
