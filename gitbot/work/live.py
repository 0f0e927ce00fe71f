"""A running job's container output, kept in the store as it comes, for the console's live log.

The runner reports each container's start, its whole redacted lines and its exit; this keeps the
last LIVE_TAIL_CHARS of each container's log and writes them as the job's progress at most every
FLUSH_SECONDS (a timer flushes the last lines of a quiet container), so the web process, wherever
it runs, streams them from the database.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from gitbot.errors import GitbotError
from gitbot.pipeline.runner import LiveOutput
from gitbot.state.records import ObjectKey
from gitbot.work.store import Job, Store

log = logging.getLogger("gitbot.worker")
FLUSH_SECONDS = 0.3
LIVE_TAIL_CHARS = 64 * 1024


def object_key(output: LiveOutput) -> ObjectKey:
    """The key of the object whose workflow is running (as the run summary names it)."""
    target = output.target
    if target.request is None:
        return ObjectKey.of_promise(target.promise)
    return ObjectKey.of_request(target.promise, target.request)


class LiveProgress:
    """Callable as the runner's `on_output`; thread-safe (Promises of one job run in parallel)."""

    def __init__(self, store: Store, job: Job, flush_seconds: float = FLUSH_SECONDS) -> None:
        assert job.worker is not None, "only a claimed job has progress"
        self.store = store
        self.job_id = job.id
        self.worker = job.worker
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._containers: list[dict[str, Any]] = []
        self._index: dict[tuple[str, str, str], int] = {}
        self._dirty = False
        self._last = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False

    def __call__(self, output: LiveOutput) -> None:
        key = object_key(output)
        ident = (str(key), output.pipeline, output.container)
        with self._lock:
            index = self._index.get(ident)
            if index is None or (output.state == "running" and not output.text):
                # A container starts (again, on a rerun of the same pipeline: a new entry).
                self._index[ident] = len(self._containers)
                self._containers.append(
                    {
                        "object": str(key),
                        "promise": key.promise,
                        "pipeline": output.pipeline,
                        "container": output.container,
                        "image": output.image,
                        "state": "running",
                        "exit_code": None,
                        "log": "",
                    }
                )
                index = self._index[ident]
            entry = self._containers[index]
            if output.state == "exited":
                entry.update(state="exited", exit_code=output.exit_code, log=output.text)
            else:
                entry["log"] += output.text
            entry["log"] = entry["log"][-LIVE_TAIL_CHARS:]
            self._dirty = True
            urgent = output.state == "exited" or not output.text
        self._maybe_flush(urgent)

    def close(self) -> None:
        """Write what is pending and stop the timer."""
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()

    def flush(self) -> None:
        """Write the progress now if anything changed since the last write."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            self._last = time.monotonic()
            progress = {"live": True, "containers": [dict(c) for c in self._containers]}
        try:
            self.store.set_progress(self.job_id, self.worker, progress)
        except GitbotError as e:  # the live view is best effort; the run goes on
            log.warning("cannot store the progress of job %s: %s", self.job_id, e)

    def _maybe_flush(self, urgent: bool) -> None:
        with self._lock:
            wait = self.flush_seconds - (time.monotonic() - self._last)
            if not urgent and wait > 0:
                if self._timer is None and not self._closed:
                    self._timer = threading.Timer(wait, self._on_timer)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.flush()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()
