"""A pool of threads taking jobs from the durable queue, with leases kept alive by heartbeats.

A job whose worker dies (crash, `kill -9`, restart) keeps its lease only until it expires; then
`recover` puts it back in the queue and another worker, or this one after a restart, runs it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from gitbot.metrics import DELIVERY_OUTCOMES, JOBS
from gitbot.secrets import Redactor
from gitbot.work.store import Job, Store

log = logging.getLogger("gitbot.worker")
Handler = Callable[[Job], Mapping[str, Any]]


class JobFailed(Exception):
    """Raised by a handler whose job ran to its end but failed (a pipeline exited non-zero):
    the job is stored as failed with `result`, so that the runs page still shows its logs."""

    def __init__(self, message: str, result: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class WorkerPool:
    """`threads` workers running `handle` on claimed jobs until stopped."""

    def __init__(
        self,
        store: Store,
        handle: Handler,
        threads: int = 2,
        lease: float = 60.0,
        redactor: Redactor | None = None,
    ) -> None:
        self.store = store
        self.redact = redactor or Redactor()
        self.handle = handle
        self.threads = threads
        self.lease = lease
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        recovered = self.store.recover()
        if recovered:
            log.info("put %d interrupted job(s) back in the queue", recovered)
        for index in range(self.threads):
            thread = threading.Thread(
                target=self._loop,
                args=(f"{self.name}-{index}",),
                name=f"gitbot-worker-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                self.store.recover()
                job = self.store.claim(worker, self.lease)
            except Exception:
                log.exception("cannot take a job from the queue")
                self._stop.wait(1.0)
                continue
            if job is None:
                self.store.wait_for_work(1.0)
                continue
            self._run(worker, job)

    def _run(self, worker: str, job: Job) -> None:
        ids = {
            "job": job.id,
            "repository": job.repository,
            "promise": job.promise,
            "delivery": job.delivery_guid,
            "commit": job.commit,
        }
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(worker, job.id, done), daemon=True)
        beat.start()
        result = "failed"
        try:
            log.info("job %d (%s) started", job.id, job.kind, extra=ids)
            outcome = self.handle(job)
            self.store.complete(job.id, worker, dict(outcome))
            result = "succeeded"
            log.info("job %d (%s) finished", job.id, job.kind, extra=ids)
        except JobFailed as e:
            error = self.redact(str(e))
            log.error("job %d (%s) failed: %s", job.id, job.kind, error, extra=ids)
            self.store.complete(job.id, worker, dict(e.result), error=error)
        except Exception as e:
            log.exception("job %d (%s) failed", job.id, job.kind, extra=ids)
            self.store.fail(job.id, worker, self.redact(str(e)))
        finally:
            done.set()
            beat.join()
            JOBS.labels(kind=job.kind, result=result).inc()
        self._settle()

    def _settle(self) -> None:
        """Export (and log) the final outcome of every delivery whose work has now finished."""
        try:
            settled = self.store.settle_deliveries()
        except Exception:
            log.exception("cannot settle deliveries")
            return
        for delivery in settled:
            DELIVERY_OUTCOMES.labels(event=delivery.event, outcome=delivery.status).inc()
            level = logging.ERROR if delivery.status == "failed" else logging.INFO
            log.log(
                level,
                "delivery %s %s: %s",
                delivery.guid,
                delivery.status,
                delivery.reason,
                extra={"delivery": delivery.guid, "repository": delivery.repository},
            )

    def _heartbeat(self, worker: str, job_id: int, done: threading.Event) -> None:
        while not done.wait(self.lease / 3):
            try:
                if not self.store.heartbeat(job_id, worker, self.lease):
                    log.warning("job %d is no longer ours", job_id, extra={"job": job_id})
                    return
            except Exception:
                log.exception("heartbeat of job %d failed", job_id, extra={"job": job_id})
