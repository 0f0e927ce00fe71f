"""Facts about other processes on this host."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType


def alive(pid: int) -> bool:
    """Whether a process with this id exists and has not exited (it may belong to another user).

    A zombie (exited, not yet reaped by its parent) still answers signal 0, but it owns nothing
    any more: its containers and files are orphans.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return _state(pid) not in ("Z", "X")


def _state(pid: int) -> str | None:
    """The one-letter state in /proc/<pid>/stat (R, S, Z...), None where /proc cannot say."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces and parentheses: split after the last.
    fields = stat.rpartition(")")[2].split()
    return fields[0] if fields else None


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
