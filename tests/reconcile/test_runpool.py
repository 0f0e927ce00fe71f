"""RunPool: at most `size` workflow runs at once, each on a runner no other run holds.

The runners are real (each with its own engine connection); the work lent them only records
which runner it got, so the bound is checked without timing: barriers force the overlap the
pool must allow, and counters show what it must never allow."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import WorkflowRunner
from gitbot.platform.cluster import ClusterView
from gitbot.reconcile.runpool import RunnerFactory, RunPool
from gitbot.secrets import Redactor, config_map_store, secret_store

WAIT = 60.0  # a safety net only: a barrier that trips never waits this long


class Factory:
    """Makes real runners and counts them: how many were made, and how many are closed."""

    def __init__(self, engine_url: str) -> None:
        self.engine_url = engine_url
        self.made = 0
        self.closed = 0
        self._lock = threading.Lock()

    def __call__(self) -> AbstractContextManager[WorkflowRunner]:
        return self._runner()

    @contextmanager
    def _runner(self) -> Iterator[WorkflowRunner]:
        redactor = Redactor()
        engine = DockerEngine(self.engine_url)
        with self._lock:
            self.made += 1
        try:
            yield WorkflowRunner(
                engine, secret_store(None, redactor), config_map_store(None, redactor), redactor
            )
        finally:
            engine.close()
            with self._lock:
                self.closed += 1


class Lending:
    """Work that checks no runner is ever held by two runs at once, and counts the runs."""

    def __init__(self) -> None:
        self.held: set[int] = set()
        self.inside = 0
        self.peak = 0
        self.shared = False
        self._lock = threading.Lock()

    def work(
        self, barrier: threading.Barrier | None, result: int
    ) -> Callable[[WorkflowRunner], int]:
        def run(runner: WorkflowRunner) -> int:
            with self._lock:
                self.shared |= id(runner) in self.held
                self.held.add(id(runner))
                self.inside += 1
                self.peak = max(self.peak, self.inside)
            try:
                if barrier is not None:
                    barrier.wait(WAIT)
                return result
            finally:
                with self._lock:
                    self.held.discard(id(runner))
                    self.inside -= 1

        return run


@pytest.fixture
def factory(engine_url: str) -> Factory:
    return Factory(engine_url)


def test_runs_overlap_up_to_the_size_and_never_beyond(factory: Factory) -> None:
    lending = Lending()
    barrier = threading.Barrier(3)  # passes only when three runs are inside at once
    with RunPool(factory, 3) as pool:
        futures = [pool.submit(lending.work(barrier, n)) for n in range(9)]
        results = [f.result() for f in futures]
    assert results == list(range(9))
    assert lending.peak == 3
    assert factory.made == 3  # one runner per run at once, reused afterwards
    assert not lending.shared
    assert factory.closed == 3


def test_runs_in_the_calling_thread_share_the_bound_with_submitted_ones(factory: Factory) -> None:
    lending = Lending()
    barrier = threading.Barrier(2)
    with RunPool(factory, 2) as pool:
        submitted = pool.submit(lending.work(barrier, 1))
        # This thread's run needs the second runner; the pool's threads hold at most one.
        assert pool.run(lending.work(barrier, 2)) == 2
        assert submitted.result() == 1
    assert factory.made == 2
    assert lending.peak == 2
    assert not lending.shared


def test_runners_are_made_when_first_needed_and_prepared_once(factory: Factory) -> None:
    prepared: list[int] = []

    def prepare(runner: WorkflowRunner) -> None:
        runner.cluster = ClusterView()
        prepared.append(id(runner))

    lending = Lending()
    with RunPool(factory, 4, prepare) as pool:
        assert [pool.run(lending.work(None, n)) for n in range(3)] == [0, 1, 2]
    assert factory.made == 1  # one after another: one runner is enough
    assert len(prepared) == 1


def test_an_error_stays_with_its_run(factory: Factory) -> None:
    def fails(runner: WorkflowRunner) -> int:
        raise RuntimeError("this run broke")

    lending = Lending()
    with RunPool(factory, 2) as pool:
        futures = [
            pool.submit(lending.work(None, 1)),
            pool.submit(fails),
            pool.submit(lending.work(None, 3)),
        ]
        assert futures[0].result() == 1
        with pytest.raises(RuntimeError, match="this run broke"):
            futures[1].result()
        assert futures[2].result() == 3
    assert factory.closed == factory.made


def test_a_runner_that_cannot_be_made_frees_its_place(engine_url: str) -> None:
    calls = 0

    @contextmanager
    def broken_once() -> Iterator[WorkflowRunner]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("engine unreachable")
        with Factory(engine_url)() as runner:
            yield runner

    factory: RunnerFactory = broken_once
    with RunPool(factory, 1) as pool:
        with pytest.raises(RuntimeError, match="engine unreachable"):
            pool.run(lambda runner: 0)
        assert pool.run(lambda runner: 7) == 7  # the one place is free again
