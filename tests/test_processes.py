"""Stop signals for the long-running commands (serve, web, worker, the GitHub server)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from gitbot.processes import StopSignals, alive


@pytest.fixture
def restored_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_waiting_ends_with_the_stop_signal_that_arrived(
    restored_handlers: None, signum: int
) -> None:
    stop = StopSignals()
    threading.Timer(0.3, os.kill, (os.getpid(), signum)).start()
    assert stop.wait(poll=0.05) == signum


def test_a_signal_before_waiting_is_not_lost(restored_handlers: None) -> None:
    stop = StopSignals()
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.wait(poll=0.05) == signal.SIGTERM


def test_alive_tells_running_from_gone_processes() -> None:
    assert alive(os.getpid())
    assert not alive(999_999_999)
