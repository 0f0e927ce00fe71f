"""Periodic reconciles over a real store: who is due, jitter, the interval a source asked for."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gitbot.work.scheduler import PeriodicReconciles
from gitbot.work.store import Store


def queued(store: Store) -> list[tuple[str, str | None]]:
    return [(j.repository, j.promise) for j in store.recent_jobs() if j.status == "queued"]


def test_due_repositories_get_one_reconcile_each(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    now = datetime.now(UTC)
    store.register_repository("acme/new", 1)
    store.register_repository("acme/fresh", 1)
    store.register_repository("acme/stale", 1)
    store.register_repository("acme/fast", 1)
    store.set_last_reconcile("acme/fresh", now, json.dumps({"interval": 36000}))
    store.set_last_reconcile(
        "acme/stale", now - timedelta(hours=12), json.dumps({"interval": 36000})
    )
    # Its Promise asked for 5 minutes: due after 6.
    store.set_last_reconcile("acme/fast", now - timedelta(minutes=6), json.dumps({"interval": 300}))
    scheduler = PeriodicReconciles(store, default_interval=36000)
    assert scheduler.enqueue_due() == 3
    assert sorted(queued(store)) == [("acme/fast", None), ("acme/new", None), ("acme/stale", None)]
    # Marked when queued, so the next check a minute later queues nothing more.
    assert scheduler.enqueue_due() == 0


def test_the_scheduler_runs_in_the_background_and_stops(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    store.register_repository("acme/new", 1)
    scheduler = PeriodicReconciles(store, default_interval=36000, check_every=3600)
    scheduler.start()
    try:
        assert scheduler.running
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not queued(store) and datetime.now(UTC) < deadline:
            time.sleep(0.05)
        assert queued(store) == [("acme/new", None)]  # at start-up, not an hour later
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_promises_that_asked_for_a_retry_are_queued_when_their_time_comes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    now = datetime.now(UTC)
    store.register_repository("acme/source", 1)
    store.set_last_reconcile("acme/source", now, json.dumps({"interval": 36000}))
    store.add_retries("acme/source", {"postgres": now + timedelta(minutes=10)})
    store.add_retries("acme/source", {"postgres": now - timedelta(seconds=1), "redis": now})
    store.add_retries("acme/source", {"redis": now + timedelta(hours=1)})  # the earlier wins
    store.add_retries("acme/forgotten", {"x": now})  # not registered: nothing to remember
    scheduler = PeriodicReconciles(store, default_interval=36000)
    assert scheduler.enqueue_due() == 2
    assert sorted(queued(store)) == [("acme/source", "postgres"), ("acme/source", "redis")]
    assert scheduler.enqueue_due() == 0  # taken, not queued again
    assert json.loads(store.repositories()[0].last_result or "{}") == {
        "interval": 36000,
        "retries": {},
    }


def test_a_retry_not_yet_due_waits_and_survives_a_periodic_reconcile(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'g.db'}")
    now = datetime.now(UTC)
    store.register_repository("acme/source", 1)
    store.set_last_reconcile("acme/source", now - timedelta(hours=11), json.dumps({}))
    later = now + timedelta(minutes=5)
    store.add_retries("acme/source", {"postgres": later})
    scheduler = PeriodicReconciles(store, default_interval=36000)
    assert scheduler.enqueue_due() == 1
    assert queued(store) == [("acme/source", None)]
    summary = json.loads(store.repositories()[0].last_result or "{}")
    assert summary["retries"] == {"postgres": later.isoformat()}


def test_the_scheduler_prunes_delivery_payloads_older_than_the_retention(tmp_path: Path) -> None:
    now = [datetime.now(UTC)]
    store = Store(f"sqlite:///{tmp_path / 'g.db'}", clock=lambda: now[0])
    store.record_delivery("guid-1", "push", None, b"{}", "succeeded")
    scheduler = PeriodicReconciles(store, default_interval=36000, retention=3600)
    now[0] += timedelta(minutes=59)
    assert scheduler.prune() == 0
    now[0] += timedelta(minutes=2)
    assert scheduler.prune() == 1
    delivery = store.delivery("guid-1")
    assert delivery is not None and delivery.payload == b""


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_one_scheduler_acts_and_another_takes_over_within_a_lease(url: str) -> None:
    clock = Clock()
    with Store(url, clock=clock) as store:
        store.register_repository("acme/new", 1)
        a = PeriodicReconciles(store, default_interval=36000, lease=60, holder="host-a")
        b = PeriodicReconciles(store, default_interval=36000, lease=60, holder="host-b")
        b._as_leader(b.enqueue_due)
        a._as_leader(a.enqueue_due)  # b holds the lease: a stands by
        assert (a.leader, b.leader) == (False, True)
        assert queued(store) == [("acme/new", None)]
        store.set_last_reconcile("acme/new", datetime.now(UTC) - timedelta(days=1), "{}")
        clock.now += timedelta(seconds=59)
        a._as_leader(a.enqueue_due)
        assert len(store.recent_jobs()) == 1  # still b's: nothing queued twice

        clock.now += timedelta(seconds=1.5)  # b died 60 s ago without giving the lease up
        a._as_leader(a.enqueue_due)
        assert (a.leader, len(store.recent_jobs())) == (True, 2)
        assert not b.hold()

        a.stop()  # a clean stop gives the lease up: b takes over at once
        assert store.lease_holder("scheduler") is None
        assert b.hold()
