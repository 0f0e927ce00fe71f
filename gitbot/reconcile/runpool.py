"""At most N workflow runs at once across a reconcile, each on a runner of its own.

Kratix reconciles a Promise's requests side by side (one controller goroutine each); gitbot
runs them on the same bounded pool as its Promises. The bound is the number of runners: a
workflow run borrows one runner (one engine connection) for its whole length and gives it back,
so at most `size` workflows ever run at once, whichever Promise or request they belong to.

Why it cannot deadlock: a thread holding a runner only runs one workflow (engine and status
calls, all with timeouts) and never waits for other work; everything that waits for other work
(a Promise waiting for the Promises it requires, or for its requests' results) holds no runner
while it waits. The request threads wait for nothing but a runner, so every submitted run ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

from gitbot.pipeline.runner import WorkflowRunner

# Makes one runner (with its own engine connection) and cleans it up on exit.
RunnerFactory = Callable[[], AbstractContextManager[WorkflowRunner]]

T = TypeVar("T")


class RunPool:
    """Runs callables that need a runner, never more than `size` at once (thread-safe).

    Runners are made by `factory` when first needed (at most `size` of them), prepared by
    `prepare` (say, to set what the platform API shows) and reused; `close()` cleans them all
    up. Use it as a context manager; work still queued at exit runs first."""

    def __init__(
        self,
        factory: RunnerFactory,
        size: int,
        prepare: Callable[[WorkflowRunner], None] = lambda runner: None,
    ) -> None:
        self.size = max(1, size)
        self._factory = factory
        self._prepare = prepare
        self._idle: list[WorkflowRunner] = []
        self._made = 0
        self._busy = 0
        self.peak = 0  # the most runners ever lent at once
        self._cond = threading.Condition()
        self._cleanup = ExitStack()
        self._threads = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="run")

    def run(self, work: Callable[[WorkflowRunner], T]) -> T:
        """`work(runner)` in this thread, once a runner is free; its result or its exception."""
        with self._lend() as runner:
            return work(runner)

    def submit(self, work: Callable[[WorkflowRunner], T]) -> Future[T]:
        """`work(runner)` on one of the pool's threads, once a runner is free."""
        return self._threads.submit(self.run, work)

    def close(self) -> None:
        """Wait for submitted work, then clean up every runner (the pool is unusable after)."""
        self._threads.shutdown(wait=True)
        with self._cond:
            self._idle.clear()
            self._cleanup.close()

    def __enter__(self) -> RunPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _lend(self) -> Iterator[WorkflowRunner]:
        runner = self._take()
        try:
            yield runner
        finally:
            with self._cond:
                self._busy -= 1
                self._idle.append(runner)
                self._cond.notify()

    def _take(self) -> WorkflowRunner:
        with self._cond:
            while not self._idle and self._made >= self.size:
                self._cond.wait()
            self._busy += 1
            self.peak = max(self.peak, self._busy)
            if self._idle:
                return self._idle.pop()
            self._made += 1  # this slot's runner is made below, outside the lock
        try:
            manager = self._factory()
            runner = manager.__enter__()
            with self._cond:
                self._cleanup.push(manager.__exit__)
            self._prepare(runner)
            return runner
        except BaseException:
            with self._cond:
                self._made -= 1
                self._busy -= 1
                self._cond.notify()
            raise
