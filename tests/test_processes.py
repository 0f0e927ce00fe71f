"""Stop signals for the long-running commands (serve, web, worker, the GitHub server)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


def test_a_zombie_is_not_alive() -> None:
    # A child that exited but is not reaped yet: signal 0 still reaches it, yet it owns nothing.
    child = subprocess.Popen(["sh", "-c", "exit 0"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        os.kill(child.pid, 0)  # the kernel still answers for it
        assert not alive(child.pid)
    finally:
        child.wait()
    assert not alive(child.pid)


def test_a_process_with_parentheses_and_spaces_in_its_name_is_alive(tmp_path: Path) -> None:
    # /proc/<pid>/stat puts the program's name in parentheses; a name may hold ") Z (" itself.
    program = tmp_path / "x) Z ("
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    child = subprocess.Popen([str(program), "30"])
    try:
        deadline = time.monotonic() + 10
        while "x) Z (" not in Path(f"/proc/{child.pid}/stat").read_text():
            assert time.monotonic() < deadline, "the child never ran its program"
            time.sleep(0.01)
        assert alive(child.pid)
    finally:
        child.kill()
        child.wait()
