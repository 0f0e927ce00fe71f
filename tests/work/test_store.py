"""The work store: deliveries, the job queue's rules, leases, object statuses, threads and
processes, reopening.

Every test that takes `url` runs on a real SQLite file and on a fresh PostgreSQL database (see
conftest.py).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gitbot.errors import UserError
from gitbot.statusdb import ObjectStatus
from gitbot.work.store import Job, RegisteredRepo, SharedStatusStore, Store

START = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
REPO = "my-org/platform"
OTHER_REPO = "my-org/other"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(url: str, clock: Clock) -> Iterator[Store]:
    with Store(url, clock=clock) as opened:
        yield opened


def enqueue(store: Store, promise: str | None, commit: str = "c1", **options: Any) -> Job:
    options.setdefault("kind", "reconcile")
    options.setdefault("repository", REPO)
    return store.enqueue(
        options.pop("kind"),
        options.pop("repository"),
        promise,
        commit,
        {"commit": commit},
        **options,
    )


# --- deliveries ----------------------------------------------------------------------------------


def test_record_delivery(store: Store) -> None:
    stored, new = store.record_delivery(
        "guid-1", "push", None, b'{"ref":"refs/heads/main"}', "queued", "", REPO, 42
    )
    assert new
    assert stored.received_at == START
    assert stored.received_at.tzinfo == UTC
    assert (stored.guid, stored.event, stored.action, stored.status) == (
        "guid-1",
        "push",
        None,
        "queued",
    )
    assert (stored.repository, stored.installation_id) == (REPO, 42)
    assert store.delivery("guid-1") == stored
    assert store.delivery("guid-2") is None


def test_binary_payload_round_trips(store: Store) -> None:
    payload = bytes(range(256)) * 4
    store.record_delivery("guid-1", "push", None, payload, "invalid", "not JSON")
    delivery = store.delivery("guid-1")
    assert delivery is not None
    assert delivery.payload == payload
    assert delivery.reason == "not JSON"


@pytest.mark.parametrize("first", ["queued", "running", "succeeded", "ignored"])
def test_seen_delivery_is_not_overwritten(store: Store, clock: Clock, first: str) -> None:
    original, _ = store.record_delivery("guid-1", "push", None, b"one", first, "why")
    clock.advance(60)
    again, new = store.record_delivery("guid-1", "push", None, b"two", "queued")
    assert not new
    assert again == original
    assert store.delivery("guid-1") == original


@pytest.mark.parametrize("first", ["failed", "invalid"])
def test_redelivery_of_a_failed_delivery_runs_again(store: Store, clock: Clock, first: str) -> None:
    store.record_delivery("guid-1", "push", None, b"one", first, "boom")
    clock.advance(60)
    again, new = store.record_delivery("guid-1", "push", "opened", b"two", "queued", "", REPO, 7)
    assert new
    assert again == store.delivery("guid-1")
    assert (again.status, again.reason, again.payload, again.action) == (
        "queued",
        "",
        b"two",
        "opened",
    )
    assert again.received_at == START + timedelta(seconds=60)


def test_failed_delivery_recorded_again_as_not_queued_keeps_its_row(store: Store) -> None:
    original, _ = store.record_delivery("guid-1", "push", None, b"one", "failed", "boom")
    again, new = store.record_delivery("guid-1", "push", None, b"two", "invalid", "bad")
    assert not new
    assert again == original


def test_set_delivery_status(store: Store) -> None:
    store.record_delivery("guid-1", "push", None, b"{}", "queued")
    store.set_delivery_status("guid-1", "failed", "pipeline failed")
    delivery = store.delivery("guid-1")
    assert delivery is not None
    assert (delivery.status, delivery.reason) == ("failed", "pipeline failed")
    with pytest.raises(KeyError):
        store.set_delivery_status("guid-2", "failed")


def test_unknown_status_is_refused(store: Store) -> None:
    with pytest.raises(ValueError) as raised:
        store.record_delivery("guid-1", "push", None, b"{}", "done")
    assert str(raised.value) == (
        "delivery status must be one of queued, running, succeeded, failed, invalid, ignored: "
        "'done'"
    )
    assert store.delivery("guid-1") is None


def test_recent_deliveries_and_counts(store: Store, clock: Clock) -> None:
    for n, (event, status) in enumerate(
        [("push", "queued"), ("push", "succeeded"), ("ping", "succeeded"), ("push", "succeeded")]
    ):
        store.record_delivery(f"guid-{n}", event, None, b"{}", status)
        clock.advance(1)
    assert [d.guid for d in store.recent_deliveries()] == ["guid-3", "guid-2", "guid-1", "guid-0"]
    assert [d.guid for d in store.recent_deliveries(limit=2)] == ["guid-3", "guid-2"]
    assert store.delivery_counts() == {
        ("push", "queued"): 1,
        ("push", "succeeded"): 2,
        ("ping", "succeeded"): 1,
    }


# --- enqueue and supersede -----------------------------------------------------------------------


def test_enqueue(store: Store) -> None:
    store.record_delivery("guid-1", "push", None, b"{}", "queued")
    payload = {"before": "a" * 40, "objects": [{"kind": "Redis", "name": "é"}], "n": 1.5}
    job = store.enqueue("reconcile", REPO, "redis", "abc123", payload, "guid-1")
    assert job == store.job(job.id)
    assert job.payload == payload
    assert (job.kind, job.repository, job.promise, job.commit) == (
        "reconcile",
        REPO,
        "redis",
        "abc123",
    )
    assert (job.status, job.attempts, job.worker, job.lease_until) == ("queued", 0, None, None)
    assert (job.created_at, job.started_at, job.finished_at) == (START, None, None)
    assert (job.delivery_guid, job.error, job.result) == ("guid-1", None, None)
    assert store.jobs_for_delivery("guid-1") == [job]
    assert store.job(job.id + 1) is None


def test_payload_is_stored_as_sorted_json(tmp_path: Path) -> None:
    path = tmp_path / "gitbot.db"
    with Store(f"sqlite:///{path}") as store:
        store.enqueue("reconcile", REPO, None, None, {"b": 1, "a": {"d": 2, "c": 3}})
    with sqlite3.connect(path) as conn:
        (stored,) = conn.execute("SELECT payload FROM jobs").fetchone()
    conn.close()
    assert stored == '{"a":{"c":3,"d":2},"b":1}'


def test_newer_commit_supersedes_queued_work_for_the_same_promise(store: Store) -> None:
    old = enqueue(store, "redis", "c1")
    other_promise = enqueue(store, "postgres", "c1")
    other_kind = enqueue(store, "redis", "c1", kind="preview")
    other_repo = enqueue(store, "redis", "c1", repository=OTHER_REPO)
    new = enqueue(store, "redis", "c2")
    superseded = store.job(old.id)
    assert superseded is not None
    assert superseded.status == "superseded"
    assert superseded.error == f"superseded by job {new.id}"
    assert superseded.finished_at == START
    for job in (other_promise, other_kind, other_repo, new):
        assert store.job(job.id) == job


def test_whole_repository_job_supersedes_every_queued_job_of_its_kind(store: Store) -> None:
    jobs = [enqueue(store, "redis"), enqueue(store, "postgres"), enqueue(store, None)]
    kept = enqueue(store, "redis", kind="preview")
    whole = enqueue(store, None, "c2")
    assert [store.job(j.id).status for j in jobs] == ["superseded"] * 3  # type: ignore[union-attr]
    assert store.job(kept.id) == kept
    assert store.job(whole.id) == whole


def test_per_promise_job_does_not_supersede_a_whole_repository_job(store: Store) -> None:
    whole = enqueue(store, None)
    enqueue(store, "redis", "c2")
    assert store.job(whole.id) == whole


def test_running_jobs_are_not_superseded(store: Store) -> None:
    running = enqueue(store, "redis", "c1")
    assert store.claim("w1", 30) is not None
    enqueue(store, "redis", "c2")
    assert store.job(running.id).status == "running"  # type: ignore[union-attr]


def test_enqueue_without_supersede(store: Store) -> None:
    first = enqueue(store, "redis", "c1")
    enqueue(store, "redis", "c2", supersede=False)
    assert store.job(first.id) == first


# --- claim ---------------------------------------------------------------------------------------


def test_claim(store: Store) -> None:
    queued = enqueue(store, "redis")
    job = store.claim("worker-1", 30)
    assert job is not None
    assert job.id == queued.id
    assert (job.status, job.worker, job.attempts) == ("running", "worker-1", 1)
    assert job.started_at == START
    assert job.lease_until == START + timedelta(seconds=30)
    assert store.job(job.id) == job
    assert store.claim("worker-2", 30) is None


def test_claim_takes_the_oldest_first(store: Store) -> None:
    ids = [enqueue(store, promise).id for promise in ("c", "a", "b")]
    claimed = [store.claim(f"w{n}", 30) for n in range(3)]
    assert [job.id for job in claimed if job] == ids


def test_claim_on_an_empty_queue(store: Store) -> None:
    assert store.claim("worker-1", 30) is None


def test_one_job_at_a_time_per_repository_and_promise(store: Store) -> None:
    first = enqueue(store, "redis", "c1")
    second = enqueue(store, "redis", "c2", supersede=False)
    other_promise = enqueue(store, "postgres")
    other_repo = enqueue(store, "redis", repository=OTHER_REPO)
    assert store.claim("w1", 30) == store.job(first.id)
    # The second waits for the first; independent Promises and repositories run in parallel.
    assert claimed_id(store, "w2") == other_promise.id
    assert claimed_id(store, "w3") == other_repo.id
    assert store.claim("w4", 30) is None
    assert store.complete(first.id, "w1", {})
    assert claimed_id(store, "w4") == second.id


def test_whole_repository_job_waits_for_every_job_of_its_repository(store: Store) -> None:
    redis = enqueue(store, "redis")
    whole = enqueue(store, None, supersede=False)
    enqueue(store, "x", repository=OTHER_REPO)
    assert claimed_id(store, "w1") == redis.id
    assert claimed_id(store, "w2") != whole.id  # the other repository's job
    assert store.claim("w3", 30) is None
    store.complete(redis.id, "w1", {})
    assert claimed_id(store, "w3") == whole.id


def test_per_promise_jobs_wait_while_a_whole_repository_job_runs(store: Store) -> None:
    whole = enqueue(store, None)
    redis = enqueue(store, "redis")
    assert claimed_id(store, "w1") == whole.id
    assert store.claim("w2", 30) is None
    store.fail(whole.id, "w1", "boom")
    assert claimed_id(store, "w2") == redis.id


def test_newer_jobs_do_not_overtake_an_older_queued_whole_repository_job(store: Store) -> None:
    redis = enqueue(store, "redis")
    assert claimed_id(store, "w1") == redis.id
    whole = enqueue(store, None, "c2", supersede=False)  # waits for redis
    postgres = enqueue(store, "postgres", "c3")  # would run the older whole job's work later
    assert store.claim("w2", 30) is None
    store.complete(redis.id, "w1", {})
    assert claimed_id(store, "w2") == whole.id
    assert store.claim("w3", 30) is None
    store.complete(whole.id, "w2", {})
    assert claimed_id(store, "w3") == postgres.id


def claimed_id(store: Store, worker: str) -> int | None:
    job = store.claim(worker, 30)
    return None if job is None else job.id


# --- heartbeat, complete, fail -------------------------------------------------------------------


def test_heartbeat_extends_the_lease(store: Store, clock: Clock) -> None:
    job = enqueue(store, "redis")
    store.claim("w1", 30)
    clock.advance(20)
    assert store.heartbeat(job.id, "w1", 30)
    assert store.job(job.id).lease_until == START + timedelta(seconds=50)  # type: ignore[union-attr]
    assert not store.heartbeat(job.id, "w2", 30)
    clock.advance(29)  # past the first lease, within the extended one
    assert store.recover() == 0


def test_complete(store: Store, clock: Clock) -> None:
    job = enqueue(store, "redis")
    store.claim("w1", 30)
    clock.advance(5)
    assert not store.complete(job.id, "w2", {"pr": 1})
    assert store.complete(job.id, "w1", {"pr": 7, "files": ["a.yaml"]})
    done = store.job(job.id)
    assert done is not None
    assert (done.status, done.result, done.error) == (
        "succeeded",
        {"files": ["a.yaml"], "pr": 7},
        None,
    )
    assert (done.finished_at, done.lease_until, done.worker) == (
        START + timedelta(seconds=5),
        None,
        "w1",
    )
    assert not store.heartbeat(job.id, "w1", 30)
    assert not store.complete(job.id, "w1", {})
    assert not store.fail(job.id, "w1", "late")
    assert store.job(job.id) == done


def test_fail(store: Store) -> None:
    job = enqueue(store, "redis")
    store.claim("w1", 30)
    assert not store.fail(job.id, "w2", "nope")
    assert store.fail(job.id, "w1", "pipeline instance-configure failed")
    failed = store.job(job.id)
    assert failed is not None
    assert (failed.status, failed.error, failed.result) == (
        "failed",
        "pipeline instance-configure failed",
        None,
    )


def test_complete_with_an_error_fails_the_job_and_keeps_its_result(store: Store) -> None:
    job = enqueue(store, "redis")
    store.claim("w1", 30)
    assert store.complete(job.id, "w1", {"objects": ["redis/a"]}, error="redis/a: exit 3")
    done = store.job(job.id)
    assert done is not None
    assert (done.status, done.result, done.error) == (
        "failed",
        {"objects": ["redis/a"]},
        "redis/a: exit 3",
    )


def _routed(store: Store, guid: str) -> Job:
    """A delivery whose route job ran and queued one reconcile job, still queued."""
    store.record_delivery(guid, "push", None, b"{}", "queued", route_job=("route", f"k-{guid}"))
    route = store.claim("router", 30)
    assert route is not None and route.delivery_guid == guid
    job = store.enqueue("reconcile", REPO, "redis", "c1", {}, guid)
    store.set_delivery_status(guid, "running", "queued redis at c1")
    assert store.complete(route.id, "router", {})
    return job


def test_a_delivery_settles_once_all_of_its_jobs_finished(store: Store) -> None:
    job = _routed(store, "guid-1")
    assert store.settle_deliveries() == []  # its reconcile is still queued
    store.claim("w1", 30)
    assert store.settle_deliveries() == []  # and now running
    assert store.complete(job.id, "w1", {})
    settled = store.settle_deliveries()
    assert [(d.guid, d.status, d.reason) for d in settled] == [
        ("guid-1", "succeeded", "queued redis at c1")
    ]
    assert store.delivery("guid-1").status == "succeeded"  # type: ignore[union-attr]
    assert store.settle_deliveries() == []  # once only


def test_a_delivery_whose_job_failed_settles_failed_and_may_run_again(store: Store) -> None:
    job = _routed(store, "guid-1")
    store.claim("w1", 30)
    store.complete(job.id, "w1", {}, error="redis/a: container exited 3\nmore")
    settled = store.settle_deliveries()
    assert [(d.status, d.reason) for d in settled] == [
        ("failed", f"job {job.id} (redis) failed: redis/a: container exited 3")
    ]
    _, new = store.record_delivery("guid-1", "push", None, b"{}", "queued")
    assert new  # GitHub's redelivery of it runs again


def test_a_delivery_whose_route_failed_settles_failed(store: Store) -> None:
    store.record_delivery("guid-1", "push", None, b"{}", "queued", route_job=("route", "k"))
    route = store.claim("router", 30)
    assert route is not None
    store.fail(route.id, "router", "cannot fetch the commit\ngit said no")
    assert [(d.status, d.reason) for d in store.settle_deliveries()] == [
        ("failed", f"job {route.id} (route) failed: cannot fetch the commit")
    ]


def test_a_delivery_whose_jobs_were_superseded_settles_succeeded(store: Store) -> None:
    _routed(store, "guid-1")
    newer = store.enqueue("reconcile", REPO, "redis", "c2", {})  # supersedes guid-1's job
    assert store.settle_deliveries()[0].status == "succeeded"
    assert store.job(newer.id).status == "queued"  # type: ignore[union-attr]


def test_a_retried_job_waits_for_its_backoff_and_keeps_its_reason(
    store: Store, clock: Clock
) -> None:
    first = enqueue(store, "postgres")
    claimed = store.claim("w1", 60)
    assert claimed is not None and claimed.id == first.id
    assert not store.retry(first.id, "someone-else", "boom", 30)  # not that worker's job
    assert store.retry(first.id, "w1", "attempt 1 failed: boom", 30)
    held = store.job(first.id)
    assert held is not None
    assert (held.status, held.worker, held.error) == ("queued", None, "attempt 1 failed: boom")
    assert held.lease_until == START + timedelta(seconds=30)
    newer = enqueue(store, "redis")  # independent work is not held up
    assert store.claim("w2", 60) == store.job(newer.id)
    later_same = enqueue(store, "postgres", supersede=False)
    assert store.claim("w2", 60) is None  # held job first, and not before its time
    clock.advance(30)
    again = store.claim("w2", 60)
    assert again is not None and (again.id, again.attempts) == (first.id, 2)
    assert store.complete(first.id, "w2", {})
    assert store.claim("w3", 60) == store.job(later_same.id)


def test_a_newer_commit_supersedes_a_job_held_for_retry(store: Store, clock: Clock) -> None:
    old = enqueue(store, "postgres", "c1")
    assert store.claim("w1", 60) is not None
    assert store.retry(old.id, "w1", "commit not fetchable", 60)
    new = enqueue(store, "postgres", "c2")
    superseded = store.job(old.id)
    assert superseded is not None and superseded.status == "superseded"
    assert store.claim("w1", 60) == store.job(new.id)


def test_lease_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError) as raised:
        store.claim("w1", 0)
    assert str(raised.value) == "lease must be a positive number of seconds: 0"


# --- recovery ------------------------------------------------------------------------------------


def test_recover_requeues_a_job_whose_lease_expired(store: Store, clock: Clock) -> None:
    job = enqueue(store, "redis")
    store.claim("w1", 30)
    clock.advance(30)
    assert store.recover() == 0  # a lease is live up to and including its end
    clock.advance(1)
    assert store.recover() == 1
    requeued = store.job(job.id)
    assert requeued is not None
    assert (requeued.status, requeued.worker, requeued.lease_until, requeued.attempts) == (
        "queued",
        None,
        None,
        1,
    )
    assert requeued.error == "the lease of worker w1 expired on attempt 1; requeued"
    assert store.queue_depth() == 1
    assert not store.heartbeat(job.id, "w1", 30)
    assert not store.complete(job.id, "w1", {})
    again = store.claim("w2", 30)
    assert again is not None
    assert (again.id, again.attempts, again.worker, again.error) == (job.id, 2, "w2", None)


def test_claim_releases_expired_leases_first(store: Store, clock: Clock) -> None:
    old = enqueue(store, "redis", "c1")
    store.claim("w1", 30)
    newer = enqueue(store, "redis", "c2", supersede=False)
    clock.advance(31)
    # The crashed job goes first again: overlapping jobs start in the order they were queued.
    assert claimed_id(store, "w2") == old.id
    assert store.claim("w3", 30) is None
    store.complete(old.id, "w2", {})
    assert claimed_id(store, "w3") == newer.id


def test_an_expired_job_with_newer_work_queued_is_superseded(store: Store, clock: Clock) -> None:
    old = enqueue(store, "redis", "c1")
    store.claim("w1", 30)
    newer = enqueue(store, "redis", "c2")
    clock.advance(31)
    assert store.recover() == 1
    superseded = store.job(old.id)
    assert superseded is not None
    assert superseded.status == "superseded"
    assert superseded.error == (
        f"the lease of worker w1 expired on attempt 1; superseded by job {newer.id}"
    )
    assert claimed_id(store, "w2") == newer.id


def test_a_job_that_keeps_losing_its_worker_fails(url: str, clock: Clock) -> None:
    with Store(url, clock=clock, max_attempts=2) as store:
        job = enqueue(store, "redis")
        for _ in range(2):
            assert claimed_id(store, "w1") == job.id
            clock.advance(31)
            assert store.recover() == 1
        failed = store.job(job.id)
        assert failed is not None
        assert (failed.status, failed.attempts) == ("failed", 2)
        assert failed.error == "the lease of worker w1 expired on attempt 2; giving up"
        assert store.claim("w1", 30) is None


# --- listings and metrics ------------------------------------------------------------------------


def test_recent_jobs(store: Store) -> None:
    ids = [enqueue(store, promise).id for promise in ("a", "b", "c")]
    assert [job.id for job in store.recent_jobs()] == ids[::-1]
    assert [job.id for job in store.recent_jobs(limit=1)] == ids[-1:]


def test_queue_depth_and_oldest_age(store: Store, clock: Clock) -> None:
    assert store.queue_depth() == 0
    assert store.oldest_queued_age() is None
    first = enqueue(store, "a")
    clock.advance(10)
    enqueue(store, "b")
    clock.advance(2.5)
    assert store.queue_depth() == 2
    assert store.oldest_queued_age() == 12.5
    store.claim("w1", 30)
    assert store.job(first.id).status == "running"  # type: ignore[union-attr]
    assert store.queue_depth() == 1
    assert store.oldest_queued_age() == 2.5


# --- waiting for work ----------------------------------------------------------------------------


def test_wait_for_work_returns_at_once_when_work_is_queued(store: Store) -> None:
    enqueue(store, "redis")
    started = time.monotonic()
    store.wait_for_work(10)
    assert time.monotonic() - started < 5


def test_wait_for_work_times_out(store: Store) -> None:
    started = time.monotonic()
    store.wait_for_work(0.3)
    assert time.monotonic() - started >= 0.3


def test_wait_for_work_wakes_on_enqueue_and_on_completion(store: Store) -> None:
    running = enqueue(store, "redis")
    store.claim("w1", 30)
    enqueue(store, "redis", "c2", supersede=False)  # blocked behind the running job

    def later(action: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            time.sleep(0.1)
            action()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    thread = later(lambda: store.complete(running.id, "w1", {}))
    started = time.monotonic()
    store.wait_for_work(10)
    assert time.monotonic() - started < 5
    thread.join()
    store.claim("w2", 30)
    thread = later(lambda: enqueue(store, "postgres"))
    started = time.monotonic()
    store.wait_for_work(10)
    assert time.monotonic() - started < 5
    thread.join()


# --- repositories --------------------------------------------------------------------------------


def test_repositories(store: Store, clock: Clock) -> None:
    assert store.register_repository(REPO, 42)
    clock.advance(1)
    assert store.register_repository(OTHER_REPO, 42, "trunk")
    assert not store.register_repository(REPO, 43, "develop")
    store.set_last_reconcile(REPO, START + timedelta(hours=1), "succeeded")
    store.set_last_reconcile("my-org/gone", START, "succeeded")  # forgotten meanwhile: ignored
    assert store.repositories() == [
        RegisteredRepo(OTHER_REPO, 42, "trunk", START + timedelta(seconds=1), None, None),
        RegisteredRepo(REPO, 43, "develop", START, START + timedelta(hours=1), "succeeded"),
    ]
    store.forget_repository(OTHER_REPO)
    store.forget_repository("my-org/never")
    assert [repo.full_name for repo in store.repositories()] == [REPO]


# --- opening, reopening, refusing ----------------------------------------------------------------


def test_merge_summary_keeps_other_keys(store: Store, clock: Clock) -> None:
    store.register_repository(REPO, 42)
    assert store.summary(REPO) == {}
    store.add_retries(REPO, {"postgres": START})
    store.merge_summary(REPO, {"branch": "main", "rendered": "c1"})
    store.merge_summary(REPO, {"rendered": "c2"}, reconciled_at=START + timedelta(hours=1))
    assert store.summary(REPO) == {
        "branch": "main",
        "rendered": "c2",
        "retries": {"postgres": START.isoformat()},
    }
    assert store.repositories()[0].last_reconcile_at == START + timedelta(hours=1)
    store.merge_summary("my-org/gone", {"rendered": "c3"})  # forgotten meanwhile: ignored
    assert store.summary("my-org/gone") is None


def test_everything_persists_across_reopen(url: str, clock: Clock) -> None:
    with Store(url, clock=clock) as store:
        delivery, _ = store.record_delivery("guid-1", "push", None, b"{}", "queued")
        job = enqueue(store, "redis", delivery_guid="guid-1")
        store.register_repository(REPO, 42)
        running = store.claim("w1", 30)
        repos = store.repositories()
    with Store(url, clock=clock) as store:
        assert store.delivery("guid-1") == delivery
        assert store.job(job.id) == running
        assert store.repositories() == repos
        assert enqueue(store, "other").id > job.id
        store.ping()


def test_memory_database_is_refused() -> None:
    with pytest.raises(UserError) as raised:
        Store("sqlite://")
    assert str(raised.value) == "the work database must be a file: sqlite://"


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "status.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("CREATE TABLE jobs (id INTEGER)")
    conn.close()
    with pytest.raises(UserError) as raised:
        Store(f"sqlite:///{path}")
    assert str(raised.value) == (
        f"sqlite:///{path} is not a gitbot work database (it has the tables jobs, "
        "schema_version but not deliveries, repositories); point gitbot at another database"
    )


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gitbot.db"
    path.write_bytes(b"not a database, just some text that is long enough" * 100)
    with pytest.raises(UserError) as raised:
        Store(f"sqlite:///{path}")
    assert str(raised.value) == f"database sqlite:///{path} is unusable: file is not a database"


# --- concurrency ---------------------------------------------------------------------------------

JOBS = 200
HOLD = 0.002  # seconds each claimer holds a job, so that claims overlap in time
Claim = tuple[int, str, str | None, str, float, float]  # id, repository, promise, worker, from, to


def claim_until_done(store: Store, worker: str) -> list[Claim]:
    """Claim and complete jobs until none is queued; each claim with when it was held."""
    claims: list[Claim] = []
    while True:
        job = store.claim(worker, 60)
        if job is None:
            if store.queue_depth() == 0:
                return claims
            store.wait_for_work(0.05)
            continue
        began = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on Linux
        time.sleep(HOLD)
        ended = time.monotonic()
        claims.append((job.id, job.repository, job.promise, worker, began, ended))
        assert store.complete(job.id, worker, {"worker": worker})


def process_claimer(url: str, worker: str, start: Any, results: Any) -> None:
    """A worker process: open its own store, wait for the start, report its claims."""
    with Store(url) as store:
        results.put(("ready", worker))
        start.wait(30)
        results.put(("claims", claim_until_done(store, worker)))


def test_threads_and_processes_never_double_claim_or_overlap(url: str) -> None:
    rng = random.Random(5)
    with Store(url) as store:
        queued = []
        for n in range(JOBS):
            promise = rng.choice([None, "a", "b", "c", "d", "e", "f", "g", "h"])
            repository = f"my-org/repo-{rng.randrange(3)}"
            job = store.enqueue("reconcile", repository, promise, f"c{n}", {}, supersede=False)
            queued.append(job.id)

        spawn = multiprocessing.get_context("spawn")
        start, results = spawn.Event(), spawn.Queue()
        processes = [
            spawn.Process(target=process_claimer, args=(url, f"process-{n}", start, results))
            for n in range(3)
        ]
        for process in processes:
            process.start()
        try:
            assert sorted(results.get(timeout=30)[0] for _ in processes) == ["ready"] * 3
            thread_claims: list[list[Claim]] = []

            def run_thread(worker: str) -> None:
                start.wait(30)
                thread_claims.append(claim_until_done(store, worker))

            threads = [threading.Thread(target=run_thread, args=(f"thread-{n}",)) for n in range(8)]
            for thread in threads:
                thread.start()
            start.set()
            for thread in threads:
                thread.join(60)
            process_claims = [results.get(timeout=60)[1] for _ in processes]
        finally:
            for process in processes:
                process.join(60)
                if process.is_alive():
                    process.kill()
        assert [process.exitcode for process in processes] == [0, 0, 0]

        claims = [c for per_worker in thread_claims + process_claims for c in per_worker]
        assert len(thread_claims) == 8
        assert sorted(Counter(c[0] for c in claims).items()) == [(n, 1) for n in queued]
        assert all(job.status == "succeeded" for job in store.recent_jobs(JOBS))
        assert any(per_worker for per_worker in thread_claims)
        assert any(per_worker for per_worker in process_claims)
        assert_no_overlap(claims)


def assert_no_overlap(claims: list[Claim]) -> None:
    """Overlapping jobs were held one at a time, in the order they were queued."""
    for a in claims:
        for b in claims:
            same_key = a[1] == b[1] and (a[2] is None or b[2] is None or a[2] == b[2])
            if a[0] < b[0] and same_key:
                assert a[5] <= b[4], f"jobs {a} and {b} ran at once or out of order"


# --- retention -----------------------------------------------------------------------------------


def test_old_delivery_payloads_are_pruned_and_runs_keep_their_summaries(
    store: Store, clock: Clock
) -> None:
    store.record_delivery("old-done", "push", None, b'{"a":1}', "queued", "", REPO, 42)
    job = enqueue(store, "redis", delivery_guid="old-done")
    claimed = store.claim("w1", 60)
    assert claimed is not None and claimed.id == job.id
    assert store.complete(job.id, "w1", {"pull_request": 7})
    store.set_delivery_status("old-done", "succeeded", "1 job")
    store.record_delivery("old-failed", "push", None, b'{"b":2}', "failed", "boom")
    store.record_delivery("old-queued", "push", None, b'{"c":3}', "queued")  # its job reads it
    clock.advance(29 * 86400)
    store.record_delivery("recent", "push", None, b'{"d":4}', "succeeded")
    clock.advance(86400 + 1)
    pruned_at = clock()

    assert store.prune_deliveries(timedelta(days=30)) == 2
    assert store.prune_deliveries(timedelta(days=30)) == 0  # once only
    done = store.delivery("old-done")
    assert done is not None
    assert (done.payload, done.payload_pruned_at, done.status, done.reason) == (
        b"",
        pruned_at,
        "succeeded",
        "1 job",
    )
    failed = store.delivery("old-failed")
    assert failed is not None and (failed.payload, failed.payload_pruned_at) == (b"", pruned_at)
    for guid, payload in (("old-queued", b'{"c":3}'), ("recent", b'{"d":4}')):
        kept = store.delivery(guid)
        assert kept is not None and (kept.payload, kept.payload_pruned_at) == (payload, None)
    # The run keeps its summary and its delivery; a redelivery is still recognised.
    finished = store.job(job.id)
    assert finished is not None
    assert (finished.status, finished.result, finished.delivery_guid) == (
        "succeeded",
        {"pull_request": 7},
        "old-done",
    )
    assert store.record_delivery("old-done", "push", None, b"{}", "queued")[1] is False
    # GitHub's redelivery of the failed one runs again, with its payload back.
    again, new = store.record_delivery("old-failed", "push", None, b'{"b":2}', "queued")
    assert new and (again.payload, again.payload_pruned_at) == (b'{"b":2}', None)


# --- backup and restore --------------------------------------------------------------------------


def test_backup_restores_into_a_fresh_data_dir_without_duplicate_work(
    tmp_path: Path, clock: Clock
) -> None:
    live = tmp_path / "live" / "gitbot.db"
    backup = tmp_path / "backups" / "gitbot-backup.db"
    with Store(f"sqlite:///{live}", clock=clock) as store:
        store.register_repository(REPO, 42)
        store.record_delivery("done", "push", None, b"{}", "queued", "", REPO, 42)
        finished = enqueue(store, "redis", "c1", delivery_guid="done")
        assert store.claim("w1", 60) is not None
        assert store.complete(finished.id, "w1", {"pull_request": 7})
        store.set_delivery_status("done", "succeeded")
        interrupted = enqueue(store, "postgres", "c1")
        assert store.claim("w1", 60) is not None  # running when the machine is lost
        waiting = enqueue(store, "mysql", "c1")
        store.backup(backup)  # while the store is open and in use
        enqueue(store, "after-the-backup", "c2")

    restored = tmp_path / "fresh" / "gitbot.db"
    restored.parent.mkdir()
    restored.write_bytes(backup.read_bytes())
    clock.advance(61)  # the lost worker's lease runs out
    with Store(f"sqlite:///{restored}", clock=clock) as store:
        assert [repo.full_name for repo in store.repositories()] == [REPO]
        # GitHub's redelivery of what already ran is answered from the stored row, not rerun.
        assert store.record_delivery("done", "push", None, b"{}", "queued")[1] is False
        claimed = []
        while (job := store.claim("w2", 60)) is not None:
            claimed.append(job.id)
            assert store.complete(job.id, "w2", {})
        assert sorted(claimed) == [interrupted.id, waiting.id]
        ran = store.job(finished.id)
        assert ran is not None and (ran.status, ran.worker) == ("succeeded", "w1")
    assert not list(backup.parent.glob(".*partial"))


def test_backup_of_postgresql_is_refused_naming_pg_dump(url: str, tmp_path: Path) -> None:
    with Store(url) as store:
        if store.url.get_backend_name() == "sqlite":
            store.backup(tmp_path / "copy.db")
            assert (tmp_path / "copy.db").is_file()
            return
        with pytest.raises(UserError) as raised:
            store.backup(tmp_path / "copy.db")
        assert str(raised.value) == (
            f"{store.name} is not a SQLite database: back it up with pg_dump (see the deploy guide)"
        )


# --- leases and the SQLite worker lock -----------------------------------------------------------


def test_a_lease_has_one_holder_until_it_runs_out_or_is_given_up(
    store: Store, clock: Clock
) -> None:
    assert store.lease_holder("scheduler") is None
    assert store.acquire_lease("scheduler", "host-a", 60)
    assert not store.acquire_lease("scheduler", "host-b", 60)
    clock.advance(59)
    assert store.acquire_lease("scheduler", "host-a", 60)  # renewed: until 119 s
    clock.advance(60)
    assert not store.acquire_lease("scheduler", "host-b", 60)
    assert store.lease_holder("scheduler") == ("host-a", START + timedelta(seconds=119))
    clock.advance(1)  # host-a stopped renewing: its lease ran out
    assert store.acquire_lease("scheduler", "host-b", 60)
    assert not store.acquire_lease("scheduler", "host-a", 60)
    assert store.acquire_lease("other", "host-a", 60)  # leases are independent
    store.release_lease("scheduler", "host-a")  # not its lease: nothing happens
    assert not store.acquire_lease("scheduler", "host-c", 60)
    store.release_lease("scheduler", "host-b")
    assert store.acquire_lease("scheduler", "host-c", 60)
    with pytest.raises(ValueError):
        store.acquire_lease("scheduler", "host-c", 0)


def test_one_of_many_racing_processes_gets_a_lease(url: str) -> None:
    Store(url).close()
    stores = [Store(url) for _ in range(6)]
    try:
        start = threading.Barrier(len(stores))
        won: list[str] = []

        def race(store: Store, holder: str) -> None:
            start.wait(10)
            if store.acquire_lease("scheduler", holder, 60):
                won.append(holder)

        threads = [
            threading.Thread(target=race, args=(store, f"host-{n}"))
            for n, store in enumerate(stores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(won) == 1
        held = stores[0].lease_holder("scheduler")
        assert held is not None and held[0] == won[0]
    finally:
        for store in stores:
            store.close()


def test_a_second_sqlite_worker_is_refused_until_the_first_one_stops(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gitbot.db'}"
    with Store(url) as first:
        first.lock_worker()
        first.lock_worker()  # again in the same store: still held, no error
        with Store(url) as second, pytest.raises(UserError) as raised:
            second.lock_worker()
        assert str(raised.value) == (
            f"another gitbot worker (process {socket.gethostname()}-{os.getpid()}) already uses "
            f"the SQLite database {url}: SQLite supports one worker process (raise "
            "GITBOT_WORKERS to run more jobs at once); for workers on several machines use "
            "PostgreSQL (GITBOT_DATABASE_URL)"
        )
    with Store(url) as third:
        third.lock_worker()


def test_the_worker_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gitbot.db'}"
    Store(url).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from gitbot.work.store import Store; "
            f"s = Store({url!r}); s.lock_worker(); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with Store(url) as store, pytest.raises(UserError):
            store.lock_worker()
    finally:
        holder.kill()  # SIGKILL: no clean-up runs
        holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()
    with Store(url) as store:
        store.lock_worker()


def test_postgresql_takes_any_number_of_workers(url: str) -> None:
    with Store(url) as first, Store(url) as second:
        first.lock_worker()
        if first.url.get_backend_name() == "sqlite":
            with pytest.raises(UserError):
                second.lock_worker()
        else:
            second.lock_worker()


# --- object statuses -----------------------------------------------------------------------------


def object_status(outcome: str = "succeeded", commit: str = "c1", **extra: object) -> ObjectStatus:
    return ObjectStatus(
        status={
            "message": "Resource requested",
            "conditions": [{"type": "ConfigureWorkflowCompleted", "status": "True"}],
            "kratix": {"workflows": {"attempts": 2}},
            **extra,
        },
        outcome=outcome,
        spec_hash="hash-1",
        source_commit=commit,
        pipelines={"instance-configure": "Succeeded", "second": "Pending"},
        updated_at=START,
    )


def test_object_statuses_round_trip_replace_and_forget(store: Store) -> None:
    statuses = SharedStatusStore(store)
    key = "example.org/Redis/default/cache"
    assert statuses.get(REPO, key) is None
    first = object_status(nested={"b": [1, 2.5, None, True], "a": "é"})
    statuses.put(REPO, key, first)
    assert statuses.get(REPO, key) == first
    read = statuses.get(REPO, key)
    assert read is not None and read.updated_at.tzinfo == UTC

    newer = object_status("failed", commit="c2")
    statuses.put(REPO, key, newer)
    assert statuses.get(REPO, key) == newer
    assert statuses.all(REPO) == {key: newer}

    statuses.forget(REPO, key)
    statuses.forget(REPO, "never/stored")
    assert statuses.get(REPO, key) is None
    assert statuses.all(REPO) == {}


def test_object_statuses_keep_their_state_repository(store: Store) -> None:
    statuses = SharedStatusStore(store)
    written = replace(object_status(), state="my-org/state")
    statuses.put(REPO, "k", written)
    assert statuses.get(REPO, "k") == written
    statuses.put(REPO, "k", replace(written, state="other/state"))
    assert statuses.all(REPO)["k"].state == "other/state"


def test_object_statuses_are_kept_per_source_and_promises_listed(store: Store) -> None:
    statuses = SharedStatusStore(store)
    statuses.put(REPO, "platform.kratix.io/Promise/redis", object_status())
    statuses.put(REPO, "example.org/Redis/default/cache", object_status("paused"))
    statuses.put(REPO, "platform.kratix.io/Promise/postgres", object_status("suspended"))
    statuses.put(OTHER_REPO, "platform.kratix.io/Promise/redis", object_status("failed"))
    # LIKE's wildcards in a key are plain characters: not a Promise's key.
    statuses.put(OTHER_REPO, "platform_kratix.io/Promise/x", object_status())

    assert list(statuses.all(REPO)) == [
        "example.org/Redis/default/cache",
        "platform.kratix.io/Promise/postgres",
        "platform.kratix.io/Promise/redis",
    ]
    assert statuses.all(OTHER_REPO)["platform.kratix.io/Promise/redis"].outcome == "failed"
    assert statuses.promise_keys() == {
        OTHER_REPO: ["platform.kratix.io/Promise/redis"],
        REPO: ["platform.kratix.io/Promise/postgres", "platform.kratix.io/Promise/redis"],
    }


def test_a_status_one_worker_writes_is_what_another_reads(url: str) -> None:
    """Two Stores on one database stand for workers on two machines (a job handed over)."""
    with Store(url) as machine_a, Store(url) as machine_b:
        key = "example.org/Redis/default/cache"
        SharedStatusStore(machine_a).put(REPO, key, object_status("failed"))
        assert SharedStatusStore(machine_b).get(REPO, key) == object_status("failed")
        SharedStatusStore(machine_b).put(REPO, key, object_status(commit="c2"))
        assert SharedStatusStore(machine_a).get(REPO, key) == object_status(commit="c2")


def test_racing_writers_of_one_status_all_succeed_and_one_wins(url: str) -> None:
    Store(url).close()
    stores = [Store(url) for _ in range(4)]
    try:
        start = threading.Barrier(len(stores))
        errors: list[BaseException] = []

        def write(store: Store, n: int) -> None:
            start.wait(10)
            try:
                SharedStatusStore(store).put(REPO, "a/B/c/d", object_status(commit=f"c{n}"))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        stored = SharedStatusStore(stores[0]).all(REPO)
        assert list(stored) == ["a/B/c/d"]
        assert stored["a/B/c/d"].source_commit in {f"c{n}" for n in range(len(stores))}
    finally:
        for store in stores:
            store.close()
