"""A pool of threads taking jobs from the durable queue, with leases kept alive by heartbeats.

A job whose worker dies (crash, `kill -9`, restart) keeps its lease only until it expires; then
`recover` puts it back in the queue and another worker, or this one after a restart, runs it.

A job that raises is retried with exponential backoff (`backoff` seconds, doubled per attempt,
at most MAX_BACKOFF) until the store's `max_attempts`, held in the queue with its reason; bad
input (a UserError) and a job that ran to its end but failed (JobFailed) are not retried.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from gitbot.errors import UserError
from gitbot.metrics import DELIVERY_OUTCOMES, JOB_RETRIES, JOBS
from gitbot.secrets import Redactor
from gitbot.work.store import Job, Store

log = logging.getLogger("gitbot.worker")
Handler = Callable[[Job], Mapping[str, Any]]
BACKOFF = 10.0  # seconds before the second attempt
MAX_BACKOFF = 600.0


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
        backoff: float = BACKOFF,
    ) -> None:
        self.store = store
        self.backoff = backoff
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
            result = self._failed(worker, job, e, ids)
        finally:
            done.set()
            beat.join()
            if result != "retried":  # not finished: it runs again after its backoff
                JOBS.labels(kind=job.kind, result=result).inc()
        self._settle()

    def _failed(self, worker: str, job: Job, error: Exception, ids: Mapping[str, Any]) -> str:
        """Hold the job for a retry after a backoff, or fail it; "retried" or "failed"."""
        final = isinstance(error, UserError)  # bad input fails the same way every time
        reason = self.redact(str(error) if final else f"{type(error).__name__}: {error}")
        if not final and job.attempts < self.store.max_attempts:
            delay = min(MAX_BACKOFF, self.backoff * 2 ** (job.attempts - 1))
            text = (
                f"attempt {job.attempts} of {self.store.max_attempts} failed: {reason}; "
                f"retrying in {delay:g} s"
            )
            log.warning("job %d (%s): %s", job.id, job.kind, text, exc_info=error, extra=ids)
            JOB_RETRIES.labels(kind=job.kind).inc()
            self.store.retry(job.id, worker, text, delay)
            return "retried"
        log.error("job %d (%s) failed", job.id, job.kind, exc_info=error, extra=ids)
        text = reason if final else f"gave up after {job.attempts} attempt(s): {reason}"
        self.store.fail(job.id, worker, text)
        return "failed"

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
