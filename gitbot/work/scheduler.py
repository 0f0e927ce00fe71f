"""Periodic reconciles with APScheduler, in one worker process at a time.

Every minute (and at start-up) each registered repository whose last whole reconcile is older
than its interval (10 h by default; a Promise's reconciliationInterval wins when shorter) gets a
reconcile job. A deterministic per-repository jitter spreads repositories over time. Failed runs
are retried at the next interval, as Kratix's `reconcileAfterFailure` does. A Promise whose
workflow asked to be retried (workflow-control `retryAfter`) is queued again once that time has
come, at the next check. Every hour, delivery payloads older than the retention
(GITBOT_DELIVERY_RETENTION) are pruned; runs keep their summaries.

Every worker process starts a scheduler, but only the one holding the database lease
"scheduler" acts: it renews the lease every third of its length and checks it again before each
action; when it stops it gives the lease up, and when it dies the lease runs out, so another
worker takes over within one lease. A lease row rather than a PostgreSQL advisory lock: a session
lock belongs to one pooled connection (lost silently with it, or shared wrongly behind a
transaction-pooling proxy), while a row works the same on SQLite and PostgreSQL, shows who holds
it until when, and follows the same rule as job leases.

The poller (gitbot.work.poller), when on, runs here too, every poll interval from start-up on,
under the same lease: one process polls, never one per web or worker process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from gitbot.errors import GitbotError
from gitbot.work.handlers import RECONCILE, RETRY_REASON
from gitbot.work.poller import Poller
from gitbot.work.store import Store

log = logging.getLogger("gitbot.scheduler")
JITTER = 0.1  # up to 10% of the interval
PRUNE_EVERY = 3600.0  # seconds between prunes of old delivery payloads
LEASE = "scheduler"  # the name of the lease whose holder runs the scheduler


class PeriodicReconciles:
    """Enqueues due reconciles; owns the APScheduler instance."""

    def __init__(
        self,
        store: Store,
        default_interval: float,
        check_every: float = 60.0,
        retention: float = 30 * 86400.0,
        lease: float = 60.0,
        holder: str | None = None,
        poller: Poller | None = None,
        poll_interval: float = 0.0,
    ) -> None:
        self.store = store
        self.default_interval = default_interval
        self.retention = timedelta(seconds=retention)
        self.lease = lease
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}"
        self.leader = False  # whether this process held the lease at its last check
        # Every job's first run is due at construction; the process may start the scheduler a
        # few seconds later, and a late first run must still happen (APScheduler would skip it
        # with a "missed by" warning after its default one-second grace).
        self.scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"misfire_grace_time": None}
        )
        self.scheduler.add_job(
            self.hold,
            "interval",
            seconds=lease / 3,
            id="scheduler-lease",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._as_leader,
            "interval",
            args=[self.enqueue_due],
            seconds=check_every,
            id="reconcile-due",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._as_leader,
            "interval",
            args=[self.prune],
            seconds=PRUNE_EVERY,
            id="prune-deliveries",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        if poller is not None and poll_interval > 0:
            self.scheduler.add_job(
                self._as_leader,
                "interval",
                args=[_logged(poller.poll)],
                seconds=poll_interval,
                id="poll",
                next_run_time=datetime.now(UTC),  # catch up at start-up too
                max_instances=1,
                coalesce=True,
            )

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.leader:  # let another worker take over now rather than after the lease
            self.leader = False
            try:
                self.store.release_lease(LEASE, self.holder)
            except GitbotError:
                log.exception("cannot give up the scheduler lease; it runs out by itself")

    def hold(self) -> bool:
        """Take or renew the scheduler lease; whether this process runs the scheduler now."""
        try:
            held = self.store.acquire_lease(LEASE, self.holder, self.lease)
        except GitbotError:
            log.exception("cannot renew the scheduler lease; standing by")
            held = False
        if held != self.leader:
            log.info("this process %s the scheduler", "now runs" if held else "no longer runs")
        self.leader = held
        return held

    def _as_leader(self, action: Callable[[], int]) -> None:
        if self.hold():
            action()

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def enqueue_due(self) -> int:
        """Queue a whole reconcile for every repository that is due; how many were queued."""
        now = datetime.now(UTC)
        queued = 0
        for repo in self.store.repositories():
            interval = self._interval(repo.last_result)
            jitter = interval * JITTER * _fraction(repo.full_name)
            due = repo.last_reconcile_at is None or (
                now - repo.last_reconcile_at >= timedelta(seconds=interval + jitter)
            )
            if due:
                self.store.enqueue(RECONCILE, repo.full_name, None, None, {"reason": "schedule"})
                # Mark it now so a slow reconcile is not queued again every minute.
                self.store.mark_reconcile_queued(repo.full_name, now)
                queued += 1
            for promise in self.store.take_due_retries(repo.full_name, now):
                payload = {"reason": RETRY_REASON}
                self.store.enqueue(RECONCILE, repo.full_name, promise, None, payload)
                queued += 1
        if queued:
            log.info("queued %d periodic reconcile(s)", queued)
        return queued

    def prune(self) -> int:
        """Empty the payloads of deliveries older than the retention; how many."""
        pruned = self.store.prune_deliveries(self.retention)
        if pruned:
            log.info("emptied %d delivery payload(s) older than %s", pruned, self.retention)
        return pruned

    def _interval(self, last_result: str | None) -> float:
        try:
            return float(json.loads(last_result or "{}").get("interval") or self.default_interval)
        except (ValueError, AttributeError):
            return self.default_interval


def _logged(poll: Callable[[], int]) -> Callable[[], int]:
    def run() -> int:
        try:
            return poll()
        except Exception:  # APScheduler would only log it at its own level
            log.exception("the poller failed; it tries again at the next interval")
            return 0

    return run


def _fraction(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
