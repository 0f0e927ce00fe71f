"""The worker pool: failed attempts are retried with backoff and recorded; bad input is not
retried; work that finally fails settles its delivery failed, so a redelivery runs it again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gitbot.errors import ExternalError, UserError
from gitbot.work.pool import WorkerPool
from gitbot.work.store import Job, Store

REPO = "acme/source"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'gitbot.db'}", max_attempts=3) as opened:
        yield opened


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def run_pool(store: Store, handle: Callable[[Job], Mapping[str, Any]]) -> WorkerPool:
    pool = WorkerPool(store, handle, threads=1, lease=30, backoff=0.05)
    pool.start()
    return pool


def finished(store: Store, job_id: int) -> Callable[[], Job | None]:
    def check() -> Job | None:
        job = store.job(job_id)
        return job if job is not None and job.status in ("succeeded", "failed") else None

    return check


def test_a_failing_attempt_is_retried_with_its_reason_kept(store: Store) -> None:
    attempts: list[int] = []

    def handle(job: Job) -> Mapping[str, Any]:
        attempts.append(job.attempts)
        if job.attempts < 3:
            raise ExternalError(f"commit c1 is not fetchable (attempt {job.attempts})")
        return {"ok": True}

    job = store.enqueue("reconcile", REPO, "postgres", "c1", {})
    pool = run_pool(store, handle)
    try:
        done = wait_for(finished(store, job.id), "the job to finish")
    finally:
        pool.stop()
    assert (done.status, done.attempts, done.result) == ("succeeded", 3, {"ok": True})
    assert attempts == [1, 2, 3]


def test_the_reason_of_a_held_job_is_visible(store: Store) -> None:
    gate = threading.Event()

    def handle(job: Job) -> Mapping[str, Any]:
        if job.attempts == 1:
            raise ExternalError("GitHub answered 502")
        gate.wait(10)
        return {}

    job = store.enqueue("reconcile", REPO, None, None, {})
    pool = WorkerPool(store, handle, threads=1, lease=30, backoff=5.0)
    pool.start()
    try:
        held = wait_for(
            lambda: (j := store.job(job.id)) is not None and j.status == "queued" and j.error and j,
            "the job to be held for its retry",
        )
        assert held.error == (
            "attempt 1 of 3 failed: ExternalError: GitHub answered 502; retrying in 5 s"
        )
        assert held.lease_until is not None
    finally:
        gate.set()
        pool.stop(1)


def test_bad_input_fails_at_once_and_a_delivery_whose_work_failed_can_run_again(
    store: Store,
) -> None:
    calls: list[int] = []

    def handle(job: Job) -> Mapping[str, Any]:
        calls.append(job.attempts)
        raise UserError("unknown job kind 'nonsense'")

    store.record_delivery("guid-1", "push", None, b"{}", "queued", route_job=("route", REPO))
    job = store.enqueue("reconcile", REPO, "postgres", "c1", {}, "guid-1")
    pool = run_pool(store, handle)
    try:
        done = wait_for(finished(store, job.id), "the job to fail")
        wait_for(
            lambda: all(j.status != "queued" for j in store.jobs_for_delivery("guid-1")),
            "the route job to finish",
        )
    finally:
        pool.stop()
    assert (done.status, done.error) == ("failed", "unknown job kind 'nonsense'")
    assert calls.count(1) == 2  # the route job and the reconcile job: one attempt each
    delivery = store.delivery("guid-1")
    assert delivery is not None and delivery.status == "failed"
    assert f"job {job.id} (postgres) failed: unknown job kind 'nonsense'" in delivery.reason
    route = ("route", REPO)
    _, new = store.record_delivery("guid-1", "push", None, b"{}", "queued", route_job=route)
    assert new  # GitHub's redelivery is taken and queued again


def test_work_that_keeps_failing_gives_up_after_max_attempts(store: Store) -> None:
    def handle(job: Job) -> Mapping[str, Any]:
        raise RuntimeError("a bug in routing")

    store.record_delivery("guid-2", "push", None, b"{}", "queued")
    job = store.enqueue("route", REPO, None, None, {"guid": "guid-2"}, "guid-2")
    pool = run_pool(store, handle)
    try:
        done = wait_for(finished(store, job.id), "the job to give up")
    finally:
        pool.stop()
    assert (done.status, done.attempts) == ("failed", 3)
    assert done.error == "gave up after 3 attempt(s): RuntimeError: a bug in routing"
    delivery = store.delivery("guid-2")
    assert delivery is not None
    assert (delivery.status, delivery.reason) == (
        "failed",
        f"job {job.id} (route) failed: {done.error}",
    )
