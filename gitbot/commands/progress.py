"""Progress lines on stderr while `run` and `reconcile` work: which object, pipeline and
container is running, and containers' log lines as they come (already redacted by the runner).

Shown when stderr is a terminal (`--progress auto`) or when asked (`--progress always`,
`--verbose`). Log lines are shown with `--verbose`, or once a container's output has gone on
for longer than `LONG_CONTAINER_SECONDS` (counted from its first line, so that a slow engine
start does not count): then the lines it printed so far (the last `BUFFERED_LINES`) come
first, so a slow container explains itself without flooding the screen for fast ones.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TextIO

from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.runner import LiveOutput

LONG_CONTAINER_SECONDS = 5.0
BUFFERED_LINES = 50


@dataclass
class _Container:
    first_line: float | None = None
    buffered: deque[str] = field(default_factory=lambda: deque(maxlen=BUFFERED_LINES))
    streaming: bool = False


class ConsoleProgress:
    """A runner's LiveObserver that prints to one stream; safe to share between threads
    (reconcile runs several Promises at once, so every line names its object)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        verbose: bool = False,
        long_after: float | None = None,
    ) -> None:
        self.stream = stream
        self.verbose = verbose
        self.long_after = LONG_CONTAINER_SECONDS if long_after is None else long_after
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, str], _Container] = {}
        self._pipeline: dict[str, str] = {}  # the pipeline each object is in

    def __call__(self, event: LiveOutput) -> None:
        target = event.target
        key = (target.display_name, event.pipeline, event.container)
        with self._lock:
            if event.state == "exited":
                self._exited(key, event.text)
            elif event.text:
                self._lines(key, event.text.splitlines())
            else:
                self._started(target, event.pipeline, event.container)

    def _started(self, target: WorkflowTarget, pipeline: str, container: str) -> None:
        name = target.display_name
        if self._pipeline.get(name) != pipeline:
            self._pipeline[name] = pipeline
            self._write(f"{name}: {target.action} pipeline {pipeline}\n")
        self._running[(name, pipeline, container)] = _Container(streaming=self.verbose)
        self._write(f"{name}: {pipeline}/{container} running\n")

    def _lines(self, key: tuple[str, str, str], lines: list[str]) -> None:
        state = self._running.get(key)
        if state is None:
            return
        if not state.streaming:
            now = time.monotonic()
            if state.first_line is None:
                state.first_line = now
            state.buffered.extend(lines)
            if now - state.first_line < self.long_after:
                return
            state.streaming = True
            lines = list(state.buffered)
        name, pipeline, container = key
        self._write("".join(f"  {name} {pipeline}/{container} | {line}\n" for line in lines))

    def _exited(self, key: tuple[str, str, str], log: str) -> None:
        state = self._running.pop(key, None)
        # Only whole lines come as they are written: a last line without its newline comes
        # with the whole log, at the end. How the container ended is on stdout already.
        if state is not None and state.streaming and log and not log.endswith("\n"):
            name, pipeline, container = key
            self._write(f"  {name} {pipeline}/{container} | {log.rpartition(chr(10))[2]}\n")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not fail the run


def wants_progress(choice: str, verbose: bool, stream: TextIO) -> bool:
    """--progress auto|always|never (and --verbose, which asks for it) against the stream."""
    if choice == "never":
        return False
    if choice == "always" or verbose:
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
