"""Periodic reconciles with APScheduler, in the one process that runs the worker.

Every minute (and at start-up) each registered repository whose last whole reconcile is older
than its interval (10 h by default; a Promise's reconciliationInterval wins when shorter) gets a
reconcile job. A deterministic per-repository jitter spreads repositories over time. Failed runs
are retried at the next interval, as Kratix's `reconcileAfterFailure` does. A Promise whose
workflow asked to be retried (workflow-control `retryAfter`) is queued again once that time has
come, at the next check. Every hour, delivery payloads older than the retention
(GITBOT_DELIVERY_RETENTION) are pruned; runs keep their summaries.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from gitbot.work.handlers import RECONCILE, RETRY_REASON
from gitbot.work.store import Store

log = logging.getLogger("gitbot.scheduler")
JITTER = 0.1  # up to 10% of the interval
PRUNE_EVERY = 3600.0  # seconds between prunes of old delivery payloads


class PeriodicReconciles:
    """Enqueues due reconciles; owns the APScheduler instance."""

    def __init__(
        self,
        store: Store,
        default_interval: float,
        check_every: float = 60.0,
        retention: float = 30 * 86400.0,
    ) -> None:
        self.store = store
        self.default_interval = default_interval
        self.retention = timedelta(seconds=retention)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.scheduler.add_job(
            self.enqueue_due,
            "interval",
            seconds=check_every,
            id="reconcile-due",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.prune,
            "interval",
            seconds=PRUNE_EVERY,
            id="prune-deliveries",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
        )

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

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


def _fraction(name: str) -> float:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
