"""Facts about other processes on this host."""

from __future__ import annotations

import os
import signal
import time
from types import FrameType


def alive(pid: int) -> bool:
    """Whether a process with this id exists (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StopSignals:
    """SIGINT and SIGTERM turned into a flag the main thread waits for.

    The handlers only set a plain attribute: setting a threading.Event from a signal handler
    can deadlock when the signal lands while the main thread holds the Event's own lock (inside
    Event.wait), and the process then never stops.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._receive)

    def _receive(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum

    def wait(self, poll: float = 0.2) -> int:
        """Block until a stop signal arrives; which one."""
        while self.received is None:
            time.sleep(poll)
        return self.received
