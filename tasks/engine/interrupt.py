"""Ctrl-C during a task: first press stops and cleans up, the second stops the cleanup.

A bare KeyboardInterrupt would leave the host as it was at that instant: a backend stopped
mid-build, no record, the lock held. So while a task runs, SIGINT only raises a flag:

1. the first Ctrl-C sets :attr:`Interrupt.cancel`. The running command is ended on the host
   and the step counts as failed by interruption: the policy rolls back when the run was
   past its point of no return (tasks/onhost/policy.py), otherwise it just stops. Every
   chain of a ``--parallel`` run sees the same flag.
2. the second sets :attr:`Interrupt.abort`: the rollback stops where it is, and the task
   says what state the host is in and which command recovers it.
3. a third press is an ordinary KeyboardInterrupt.

The record, the summary and the lock's release happen in every case.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

FIRST = (
    "\n!!! Ctrl-C: 진행 중인 단계를 멈춥니다. 서비스를 바꾸기 시작했다면 이전 버전으로 롤백합니다."
    "\n    (한 번 더 누르면 롤백도 멈추고 복구 방법을 보여 줍니다)"
)
SECOND = "\n!!! Ctrl-C 두 번째: 롤백을 멈춥니다. 호스트 상태와 복구 명령을 보여 줍니다."


class Interrupt:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.abort = threading.Event()
        self.presses = 0

    def press(self) -> None:
        """What SIGINT does (tests call it directly)."""
        self.presses += 1
        if self.presses == 1:
            self.cancel.set()
            print(FIRST, file=sys.stderr, flush=True)
        elif self.presses == 2:
            self.abort.set()
            print(SECOND, file=sys.stderr, flush=True)
        else:
            raise KeyboardInterrupt

    def reset(self) -> None:
        self.cancel.clear()
        self.abort.clear()
        self.presses = 0

    @contextlib.contextmanager
    def handling(self):
        """Route SIGINT to :meth:`press` while a task runs (main thread only)."""
        self.reset()
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, lambda signum, frame: self.press())
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


#: the process's one interrupt state: every session and chain of a task shares it
INTERRUPT = Interrupt()
