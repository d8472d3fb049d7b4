"""What a failure means: the manual's failure tables as pure rules.

A step declares a :class:`Policy` (the manual's response to its failure). When a step fails,
is interrupted (Ctrl-C) or loses its connection, :func:`on_failure` / :func:`on_interrupt`
decide the :class:`Outcome`. The in-process runner applies these rules; so does anything
else that executes a plan, so there is one copy of them.

Two rules the manual implies and the tool enforces:

- never leave a stopped service behind: a step that would only stop the run, failing while
  the service is down, rolls back instead;
- an interruption is a failure the operator asked for: once the run has reached a step
  whose failure rolls back (or the service is down), it rolls back; before that, nothing
  that serves users changed yet and it simply stops.
"""

from __future__ import annotations

from enum import Enum


class Policy(Enum):
    """The manual's response to a failed step."""

    ABORT = "중단"  # stop here; nothing that serves users has changed yet
    ROLLBACK = "롤백"  # restore the previous version, then stop
    RETRY = "재시도"  # run the step's cleanup, try once more, then ``then``
    WARN = "경고 후 계속"  # report and go on (notices)


class Outcome(Enum):
    CONTINUE = "continue"  # report and go on
    RETRY = "retry"  # run the cleanup, try again
    ROLLBACK = "rollback"  # run the rollback plan, then stop
    STOP = "stop"  # stop the run


def effective(policy: Policy, then: Policy) -> Policy:
    """The policy that applies once retrying is over."""
    return then if policy is Policy.RETRY else policy


def rolls_back(policy: Policy, then: Policy) -> bool:
    """Whether a (final) failure of such a step rolls back: the point of no return."""
    return effective(policy, then) is Policy.ROLLBACK


def on_failure(policy: Policy, then: Policy, attempt: int, service_down: bool) -> Outcome:
    """A step failed on its ``attempt``-th try (1-based)."""
    if policy is Policy.RETRY and attempt == 1:
        return Outcome.RETRY
    final = effective(policy, then)
    if final is Policy.WARN:
        return Outcome.CONTINUE
    if final is Policy.ROLLBACK or service_down:
        return Outcome.ROLLBACK
    return Outcome.STOP


def on_interrupt(committed: bool, service_down: bool) -> Outcome:
    """Ctrl-C or a lost connection, during a step or between steps.

    ``committed``: a step whose failure rolls back has started (see :func:`rolls_back`).
    """
    return Outcome.ROLLBACK if committed or service_down else Outcome.STOP


def service_down(down_at: float | None, up_at: float | None) -> bool:
    """The service was taken down and has not been seen healthy since."""
    return down_at is not None and up_at is None


#: how much of a step's last output line its result keeps (a change line names every file)
DETAIL_LIMIT = 400


def detail(output: str) -> str:
    """A finished step's result detail, for both executors (this module is the one the
    in-process runner and the on-host hostrun.py share): its output's last line, cut at
    DETAIL_LIMIT with a visible "…" (a silent cut hid the end of setup's change lines)."""
    lines = output.strip().splitlines()[-1:]
    if not lines:
        return ""
    line = lines[0]
    return line if len(line) <= DETAIL_LIMIT else line[: DETAIL_LIMIT - 1] + "…"
