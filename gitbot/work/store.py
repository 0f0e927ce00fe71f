"""The durable store behind the webhook server and the workers: deliveries, jobs, repositories.

Opened from a database URL through SQLAlchemy Core: SQLite by default, PostgreSQL with the same
code when several machines share one queue. Every method is one short transaction. On SQLite
every writing transaction starts with `BEGIN IMMEDIATE`, so writers queue on the busy timeout
instead of failing on a lock upgrade, and a claim is serialised across threads and processes. On
PostgreSQL a claim locks its row with `SELECT ... FOR UPDATE SKIP LOCKED`, and an enqueue holds a
per-repository advisory lock so that job ids follow commit order within a repository.

Queue rules (the worker relies on them):
- Jobs overlap when they share a repository and either has no Promise (the whole repository) or
  both have the same Promise. Overlapping jobs never run at once and start in id order: a job
  waits while an overlapping job runs with a live lease or an older overlapping job is queued, so
  a whole-repository job is not overtaken (and undone) by newer per-Promise work.
- Enqueueing with `supersede` marks older queued jobs of the same kind and repository that it
  covers (the same Promise, or any Promise when it has none) "superseded"; running jobs are left
  to finish.
- A running job whose lease expired (its worker crashed or was killed) goes back to the queue on
  `recover()` and on every `claim()`; it is superseded instead if a newer queued job would have
  superseded it, and failed once it has used `max_attempts` attempts (a job that kills its worker
  must not loop forever).
- A failed attempt put back with `retry` waits in the queue until its backoff is over (its
  `lease_until`), still ahead of newer overlapping jobs, which may supersede it.
- A delivery GUID is recorded once. Only a "failed" or "invalid" delivery may be recorded again,
  and only as "queued": GitHub's redelivery of a failed delivery runs again, anything else is
  answered from the stored row.

A Store may be shared by the threads of one process; each process opens its own (never carry one
across `fork`). The clock is a parameter so that tests can move time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    Update,
    and_,
    create_engine,
    delete,
    event,
    exc,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import URL, make_url

from gitbot.errors import ExternalError, UserError
from gitbot.statusdb import ObjectStatus, to_json
from gitbot.work import migrations
from gitbot.work.schema import deliveries, jobs, leases, object_statuses, repositories

DELIVERY_STATUSES = ("queued", "running", "succeeded", "failed", "invalid", "ignored")
RERUNNABLE = ("failed", "invalid")  # a redelivery of these may be recorded again as queued
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "superseded")
TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 5
POLL_SECONDS = 0.2  # how often wait_for_work looks for work queued by other processes
_WRITE = "gitbot_write"  # execution option: begin with BEGIN IMMEDIATE on SQLite
_SETUP_LOCK = int.from_bytes(b"gitbotdb", "big") >> 1  # advisory lock held while migrating
UNFINISHED = ("queued", "running")  # deliveries whose payload a job may still read

T = TypeVar("T")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def default_url(data_dir: Path) -> str:
    """The default database URL: a SQLite file in gitbot's data directory."""
    return f"sqlite:///{data_dir / 'gitbot.db'}"


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as received, and what became of it."""

    guid: str
    event: str
    action: str | None
    status: str  # one of DELIVERY_STATUSES
    reason: str
    received_at: datetime
    payload: bytes
    repository: str | None
    installation_id: int | None
    payload_pruned_at: datetime | None = None  # the payload was emptied then (retention)


@dataclass(frozen=True)
class Job:
    """One unit of queued work for a repository, or one Promise in it."""

    id: int
    kind: str  # "reconcile", "preview", "initial", ...
    repository: str
    promise: str | None  # None: the whole repository
    commit: str | None
    payload: Mapping[str, Any]
    delivery_guid: str | None
    status: str  # one of JOB_STATUSES
    attempts: int
    worker: str | None
    lease_until: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Mapping[str, Any] | None


_RETRIES = "retries"  # key of a repository's summary: Promise -> when to run it again


@dataclass(frozen=True)
class RegisteredRepo:
    """A repository gitbot serves, registered from an installation event."""

    full_name: str
    installation_id: int
    default_branch: str
    registered_at: datetime
    last_reconcile_at: datetime | None
    last_result: str | None


class Store:
    """Deliveries, the job queue and registered repositories; safe across threads and processes."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Callable[[], datetime] = utcnow,
        check_schema: bool = True,
    ) -> None:
        """Open the database; create gitbot's tables in an empty one.

        Raises UserError for a foreign database and, with `check_schema`, for one whose schema
        is not this gitbot's (an older one names `gitbot db upgrade`). `gitbot db` opens without
        the check (and without creating anything), to look at or upgrade the schema.
        """
        try:
            self.url: URL = make_url(url)
        except exc.ArgumentError as error:
            raise UserError(f"not a database URL: {url!r}") from error
        self.name = self.url.render_as_string(hide_password=True)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._clock = clock
        self._work = threading.Condition()
        self._generation = 0  # bumped whenever this process queues or frees work
        self._worker_lock: int | None = None  # fd of the SQLite worker lock, while held
        self._engine = self._create_engine()
        self._postgres = self._engine.dialect.name == "postgresql"
        try:
            self._setup(check_schema)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Close every pooled connection (and give up the SQLite worker lock)."""
        self._engine.dispose()
        if self._worker_lock is not None:
            os.close(self._worker_lock)  # closing the file releases the lock
            self._worker_lock = None

    def lock_worker(self) -> None:
        """Make this process the only worker of a SQLite database, until `close`.

        SQLite serves one worker process (with any number of threads): a second one is refused
        with UserError rather than left to fight over the file's write lock. The lock is an
        `flock` on `<database>.worker.lock`, so the kernel releases it when the process dies,
        even by `kill -9`. PostgreSQL takes any number of workers: nothing to do.
        """
        if self._postgres or self._worker_lock is not None:
            return
        assert self.url.database is not None
        path = Path(f"{self.url.database}.worker.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"another gitbot worker (process {holder}) already uses the SQLite database "
                f"{self.name}: SQLite supports one worker process (raise GITBOT_WORKERS to run "
                "more jobs at once); for workers on several machines use PostgreSQL "
                "(GITBOT_DATABASE_URL)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()}-{os.getpid()}\n".encode())
        self._worker_lock = fd

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- deliveries ------------------------------------------------------------------------------

    def record_delivery(
        self,
        guid: str,
        event: str,
        action: str | None,
        payload: bytes,
        status: str,
        reason: str = "",
        repository: str | None = None,
        installation_id: int | None = None,
        route_job: tuple[str, str] | None = None,
    ) -> tuple[Delivery, bool]:
        """Store a delivery: (the stored row, True if it was stored now).

        A GUID seen before keeps its row (False), except that a "failed" or "invalid" delivery
        recorded again as "queued" is replaced and counts as new, so that it runs again.
        `route_job` (kind, queue key) queues the job that handles a new queued delivery in the
        same transaction: one commit per webhook, and never a delivery without its job.
        """
        _check(status, DELIVERY_STATUSES, "delivery status")
        new = Delivery(
            guid=guid,
            event=event,
            action=action,
            status=status,
            reason=reason,
            received_at=self._clock(),
            payload=bytes(payload),
            repository=repository,
            installation_id=installation_id,
        )
        values = _delivery_values(new)

        def record() -> tuple[Delivery, bool]:
            with self._transaction(write=True) as conn:
                row = conn.execute(select(deliveries).where(deliveries.c.guid == guid)).first()
                if row is not None:
                    old = _delivery(row)
                    if old.status not in RERUNNABLE or status != "queued":
                        return old, False
                    conn.execute(update(deliveries).where(deliveries.c.guid == guid).values(values))
                else:
                    conn.execute(insert(deliveries).values(values))
                if route_job is not None and status == "queued":
                    conn.execute(insert(jobs).values(self._route_values(route_job, guid)))
                return new, True

        stored = self._retry_conflict(record)
        if stored[1] and route_job is not None:
            self._notify()
        return stored

    def _route_values(self, route_job: tuple[str, str], guid: str) -> dict[str, Any]:
        kind, key = route_job
        return {
            "kind": kind,
            "repository": key,
            "promise": None,
            "commit_sha": None,
            "payload": _to_json({"guid": guid}),
            "delivery_guid": guid,
            "supersedes": False,
            "status": "queued",
            "attempts": 0,
            "created_at": self._clock(),
        }

    def delivery(self, guid: str) -> Delivery | None:
        """One delivery by GUID, or None."""
        with self._transaction() as conn:
            row = conn.execute(select(deliveries).where(deliveries.c.guid == guid)).first()
        return None if row is None else _delivery(row)

    def set_delivery_status(self, guid: str, status: str, reason: str = "") -> None:
        """Record what became of a delivery; KeyError if it was never recorded."""
        _check(status, DELIVERY_STATUSES, "delivery status")
        with self._transaction(write=True) as conn:
            changed = conn.execute(
                update(deliveries)
                .where(deliveries.c.guid == guid)
                .values(status=status, reason=reason)
            ).rowcount
        if not changed:
            raise KeyError(guid)

    def settle_deliveries(self) -> list[Delivery]:
        """Give each routed delivery whose jobs have all finished its final status; the settled.

        "running" (routed, work queued) and "queued" deliveries with no queued or running job
        left become "failed" when any of their jobs failed (so that a redelivery runs them
        again), else "succeeded"; the reason names the failed jobs. Each delivery is settled
        once, whichever process asks.
        """
        unfinished = (
            select(jobs.c.id)
            .where(
                jobs.c.delivery_guid == deliveries.c.guid,
                jobs.c.status.in_(("queued", "running")),
            )
            .exists()
        )
        open_ = select(deliveries).where(
            deliveries.c.status.in_(("queued", "running")), ~unfinished
        )
        settled: list[Delivery] = []
        with self._transaction(write=True) as conn:
            for row in conn.execute(open_).all():
                delivery = _delivery(row)
                failed = conn.execute(
                    select(jobs.c.id, jobs.c.kind, jobs.c.promise, jobs.c.error)
                    .where(jobs.c.delivery_guid == delivery.guid, jobs.c.status == "failed")
                    .order_by(jobs.c.id)
                ).all()
                status, reason = "succeeded", delivery.reason
                if failed:
                    status = "failed"
                    reason = "; ".join(
                        f"job {j.id} ({j.promise or j.kind}) failed: {_headline(j.error)}"
                        for j in failed
                    )
                changed = conn.execute(
                    update(deliveries)
                    .where(deliveries.c.guid == delivery.guid, deliveries.c.status == row.status)
                    .values(status=status, reason=reason)
                ).rowcount
                if changed:
                    settled.append(replace(delivery, status=status, reason=reason))
        return settled

    def recent_deliveries(self, limit: int = 50) -> list[Delivery]:
        """The latest deliveries, newest first."""
        query = (
            select(deliveries)
            .order_by(deliveries.c.received_at.desc(), deliveries.c.guid.desc())
            .limit(limit)
        )
        with self._transaction() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """How many deliveries there are by (event, status), for metrics."""
        query = select(deliveries.c.event, deliveries.c.status, func.count()).group_by(
            deliveries.c.event, deliveries.c.status
        )
        with self._transaction() as conn:
            return {(e, s): int(n) for e, s, n in conn.execute(query)}

    # --- jobs ------------------------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        repository: str,
        promise: str | None,
        commit: str | None,
        payload: Mapping[str, Any],
        delivery_guid: str | None = None,
        supersede: bool = True,
    ) -> Job:
        """Queue a job; with `supersede`, older queued jobs it covers are marked superseded."""
        now = self._clock()
        values: dict[str, Any] = {
            "kind": kind,
            "repository": repository,
            "promise": promise,
            "commit_sha": commit,
            "payload": _to_json(payload),
            "delivery_guid": delivery_guid,
            "supersedes": supersede,
            "status": "queued",
            "attempts": 0,
            "created_at": now,
        }
        with self._transaction(write=True) as conn:
            if self._postgres:
                # Ids must follow commit order within a repository, or a claim could start a
                # newer job before an older one commits, and a supersede could miss it.
                conn.execute(select(func.pg_advisory_xact_lock(_lock_key(repository))))
            key = conn.execute(insert(jobs).values(values)).inserted_primary_key
            assert key is not None
            job_id = int(key[0])
            if supersede:
                conn.execute(
                    update(jobs)
                    .where(
                        jobs.c.status == "queued",
                        jobs.c.kind == kind,
                        jobs.c.repository == repository,
                        jobs.c.id < job_id,
                        true() if promise is None else jobs.c.promise == promise,
                    )
                    .values(
                        status="superseded", finished_at=now, error=f"superseded by job {job_id}"
                    )
                )
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        self._notify()
        return _job(row)

    def claim(self, worker: str, lease: float) -> Job | None:
        """Start the oldest job that may run now, leased to `worker` for `lease` seconds."""
        _check_lease(lease)
        now = self._clock()
        with self._transaction(write=True) as conn:
            self._release_expired(conn, now)
            query = self._claimable(now).order_by(jobs.c.id).limit(1)
            if self._postgres:
                query = query.with_for_update(skip_locked=True, of=jobs)
            job_id = conn.execute(query).scalar()
            if job_id is None:
                return None
            started = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(
                    status="running",
                    worker=worker,
                    lease_until=now + timedelta(seconds=lease),
                    attempts=jobs.c.attempts + 1,
                    started_at=now,
                    finished_at=None,
                    error=None,
                )
            )
            if not started.rowcount:  # cannot happen under the lock; never hand out a job twice
                return None
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        return _job(row)

    def heartbeat(self, job_id: int, worker: str, lease: float) -> bool:
        """Extend a running job's lease; False if the job is no longer this worker's."""
        _check_lease(lease)
        until = self._clock() + timedelta(seconds=lease)
        with self._transaction(write=True) as conn:
            return bool(conn.execute(_owned(job_id, worker).values(lease_until=until)).rowcount)

    def complete(
        self, job_id: int, worker: str, result: Mapping[str, Any], error: str | None = None
    ) -> bool:
        """Mark a job succeeded, or failed with `error` while keeping its result (a run whose
        pipelines failed: its logs stay visible); False (and nothing changed) if it is no longer
        this worker's."""
        done = _owned(job_id, worker).values(
            status="succeeded" if error is None else "failed",
            result=_to_json(result),
            error=error,
            lease_until=None,
            finished_at=self._clock(),
        )
        return self._finish(done)

    def fail(self, job_id: int, worker: str, error: str) -> bool:
        """Mark a job failed; False (and nothing changed) if it is no longer this worker's."""
        done = _owned(job_id, worker).values(
            status="failed", error=error, lease_until=None, finished_at=self._clock()
        )
        return self._finish(done)

    def retry(self, job_id: int, worker: str, error: str, delay: float) -> bool:
        """Put a failed attempt back in the queue, held for `delay` seconds (a backoff).

        The reason stays in `error` for the runs page; a held job is not claimed before its time
        (its `lease_until` says until when) and still keeps newer overlapping jobs behind it.
        False (and nothing changed) if the job is no longer this worker's.
        """
        now = self._clock()
        done = _owned(job_id, worker).values(
            status="queued",
            worker=None,
            error=error,
            lease_until=now + timedelta(seconds=max(0.0, delay)),
            finished_at=None,
        )
        return self._finish(done)

    def recover(self) -> int:
        """Release running jobs whose lease expired (a crashed worker); returns how many.

        Each goes back to the queue, or is superseded or failed as the module docstring says.
        """
        with self._transaction(write=True) as conn:
            released = self._release_expired(conn, self._clock())
        if released:
            self._notify()
        return released

    def job(self, job_id: int) -> Job | None:
        """One job by id, or None."""
        with self._transaction() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row)

    def jobs_for_delivery(self, guid: str) -> list[Job]:
        """The jobs a delivery queued, oldest first."""
        query = select(jobs).where(jobs.c.delivery_guid == guid).order_by(jobs.c.id)
        with self._transaction() as conn:
            return [_job(row) for row in conn.execute(query)]

    def recent_jobs(self, limit: int = 50) -> list[Job]:
        """The latest jobs, newest first."""
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        with self._transaction() as conn:
            return [_job(row) for row in conn.execute(query)]

    def set_progress(self, job_id: int, worker: str, progress: Mapping[str, Any]) -> bool:
        """Store a running job's progress (what its containers wrote so far) as its result, for
        live views; `complete` replaces it. False if the job is no longer this worker's."""
        with self._transaction(write=True) as conn:
            changed = conn.execute(_owned(job_id, worker).values(result=_to_json(progress)))
            return bool(changed.rowcount)

    def job_page(
        self,
        *,
        repository: str | None = None,
        promise: str | None = None,
        status: str | None = None,
        kinds: tuple[str, ...] = (),
        before: int | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs newest first, filtered, with ids below `before` (keyset paging); their
        `result` is not loaded (None): open one with `job()`."""
        query = select(*[c for c in jobs.c if c.name != "result"]).order_by(jobs.c.id.desc())
        if repository:
            query = query.where(jobs.c.repository == repository)
        if promise:
            query = query.where(jobs.c.promise == promise)
        if status:
            query = query.where(jobs.c.status == status)
        if kinds:
            query = query.where(jobs.c.kind.in_(kinds))
        if before is not None:
            query = query.where(jobs.c.id < before)
        with self._transaction() as conn:
            return [_job(row) for row in conn.execute(query.limit(limit))]

    def delivery_page(
        self,
        *,
        repository: str | None = None,
        event: str | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        """Deliveries newest first, filtered; their payload is not loaded (b"")."""
        columns = [c for c in deliveries.c if c.name != "payload"]
        query = select(*columns).order_by(deliveries.c.received_at.desc(), deliveries.c.guid.desc())
        if repository:
            query = query.where(deliveries.c.repository == repository)
        if event:
            query = query.where(deliveries.c.event == event)
        if status:
            query = query.where(deliveries.c.status == status)
        with self._transaction() as conn:
            rows = conn.execute(query.offset(offset).limit(limit))
            return [Delivery(**{**row._mapping, "payload": b""}) for row in rows]

    def jobs_for_deliveries(self, guids: list[str]) -> dict[str, list[Job]]:
        """The jobs each delivery queued, oldest first, without their results."""
        found: dict[str, list[Job]] = {guid: [] for guid in guids}
        if not guids:
            return found
        query = (
            select(*[c for c in jobs.c if c.name != "result"])
            .where(jobs.c.delivery_guid.in_(guids))
            .order_by(jobs.c.id)
        )
        with self._transaction() as conn:
            for row in conn.execute(query):
                found[row.delivery_guid].append(_job(row))
        return found

    def latest_finished_jobs(self, kind: str, repositories: list[str]) -> list[Job]:
        """For each of these repositories, the newest finished (succeeded or failed) job of this
        kind per Promise (and per whole-repository job), without results (see `job_results`)."""
        if not repositories:
            return []
        newest = (
            select(func.max(jobs.c.id))
            .where(
                jobs.c.kind == kind,
                jobs.c.repository.in_(repositories),
                jobs.c.status.in_(("succeeded", "failed")),
            )
            .group_by(jobs.c.repository, jobs.c.promise)
        )
        query = (
            select(*[c for c in jobs.c if c.name != "result"])
            .where(jobs.c.id.in_(newest))
            .order_by(jobs.c.id)
        )
        with self._transaction() as conn:
            return [_job(row) for row in conn.execute(query)]

    def job_results(self, ids: list[int]) -> dict[int, Mapping[str, Any]]:
        """The stored results of these jobs, by id (jobs without one are left out)."""
        if not ids:
            return {}
        query = select(jobs.c.id, jobs.c.result).where(
            jobs.c.id.in_(ids), jobs.c.result.is_not(None)
        )
        with self._transaction() as conn:
            return {int(i): json.loads(text) for i, text in conn.execute(query)}

    def active_jobs(self, repositories: list[str]) -> list[Job]:
        """Queued and running jobs of these repositories, oldest first, without results."""
        if not repositories:
            return []
        query = (
            select(*[c for c in jobs.c if c.name != "result"])
            .where(jobs.c.repository.in_(repositories), jobs.c.status.in_(("queued", "running")))
            .order_by(jobs.c.id)
        )
        with self._transaction() as conn:
            return [_job(row) for row in conn.execute(query)]

    def job_repositories(self) -> list[str]:
        """Every repository that has a reconcile or preview job, by name."""
        query = (
            select(jobs.c.repository)
            .where(jobs.c.kind != "route")
            .distinct()
            .order_by(jobs.c.repository)
        )
        with self._transaction() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def queue_depth(self) -> int:
        """How many jobs are queued."""
        query = select(func.count()).select_from(jobs).where(jobs.c.status == "queued")
        with self._transaction() as conn:
            return int(conn.execute(query).scalar_one())

    def oldest_queued_age(self) -> float | None:
        """Seconds since the oldest queued job was created, or None if none is queued."""
        query = select(func.min(jobs.c.created_at)).where(jobs.c.status == "queued")
        with self._transaction() as conn:
            oldest: datetime | None = conn.execute(query).scalar()
        return None if oldest is None else (self._clock() - oldest).total_seconds()

    def wait_for_work(self, timeout: float) -> None:
        """Return when a job may be claimable, or after `timeout` seconds.

        Work queued or freed in this process wakes the waiter at once; work from other processes
        is noticed within POLL_SECONDS.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._work:
                generation = self._generation  # read first, so no notification is lost
            if self._work_ready():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with self._work:
                if self._generation == generation:
                    self._work.wait(min(remaining, POLL_SECONDS))

    # --- repositories ----------------------------------------------------------------------------

    def register_repository(
        self, full_name: str, installation_id: int, default_branch: str = "main"
    ) -> bool:
        """Serve a repository (True if new); a known one gets the new installation and branch."""
        now = self._clock()

        def register() -> bool:
            with self._transaction(write=True) as conn:
                changed = conn.execute(
                    update(repositories)
                    .where(repositories.c.full_name == full_name)
                    .values(installation_id=installation_id, default_branch=default_branch)
                ).rowcount
                if changed:
                    return False
                conn.execute(
                    insert(repositories).values(
                        full_name=full_name,
                        installation_id=installation_id,
                        default_branch=default_branch,
                        registered_at=now,
                    )
                )
                return True

        return self._retry_conflict(register)

    def forget_repository(self, full_name: str) -> None:
        """Stop serving a repository (no error if it was not registered)."""
        with self._transaction(write=True) as conn:
            conn.execute(delete(repositories).where(repositories.c.full_name == full_name))

    def repositories(self) -> list[RegisteredRepo]:
        """Every registered repository, by name."""
        query = select(repositories).order_by(repositories.c.full_name)
        with self._transaction() as conn:
            return [RegisteredRepo(**row._mapping) for row in conn.execute(query)]

    def set_last_reconcile(self, full_name: str, at: datetime, result: str) -> None:
        """Record a repository's last reconcile (nothing if it was forgotten meanwhile)."""
        with self._transaction(write=True) as conn:
            conn.execute(
                update(repositories)
                .where(repositories.c.full_name == full_name)
                .values(last_reconcile_at=at, last_result=result)
            )

    def merge_summary(
        self, full_name: str, values: Mapping[str, Any], reconciled_at: datetime | None = None
    ) -> None:
        """Set keys of a repository's summary, keeping the others (nothing if it was forgotten);
        with `reconciled_at`, also record it as the last whole reconcile."""
        with self._transaction(write=True) as conn:
            summary = self._summary(conn, full_name)
            if summary is None:
                return
            summary.update(values)
            self._set_summary(conn, full_name, summary)
            if reconciled_at is not None:
                conn.execute(
                    update(repositories)
                    .where(repositories.c.full_name == full_name)
                    .values(last_reconcile_at=reconciled_at)
                )

    def summary(self, full_name: str) -> dict[str, Any] | None:
        """A repository's summary (JSON object), None if it is not registered."""
        with self._transaction() as conn:
            return self._summary(conn, full_name)

    def mark_reconcile_queued(self, full_name: str, at: datetime) -> None:
        """Count a queued periodic reconcile as the last one, so it is not queued again."""
        with self._transaction(write=True) as conn:
            conn.execute(
                update(repositories)
                .where(repositories.c.full_name == full_name)
                .values(last_reconcile_at=at)
            )

    def add_retries(self, full_name: str, retries: Mapping[str, datetime]) -> None:
        """Remember when Promises asked to run again (workflow-control `retryAfter`), in the
        repository's summary; an earlier time wins over a later one."""
        if not retries:
            return
        with self._transaction(write=True) as conn:
            summary = self._summary(conn, full_name)
            if summary is None:
                return
            pending = summary.setdefault(_RETRIES, {})
            for promise, at in retries.items():
                if promise not in pending or at < _parse_time(pending[promise]):
                    pending[promise] = at.astimezone(UTC).isoformat()
            self._set_summary(conn, full_name, summary)

    def take_due_retries(self, full_name: str, now: datetime) -> list[str]:
        """Forget and return the Promises whose retry time has come."""
        with self._transaction(write=True) as conn:
            summary = self._summary(conn, full_name)
            pending = (summary or {}).get(_RETRIES) or {}
            due = sorted(p for p, at in pending.items() if _parse_time(at) <= now)
            if summary is not None and due:
                summary[_RETRIES] = {p: at for p, at in pending.items() if p not in due}
                self._set_summary(conn, full_name, summary)
            return due

    def _summary(self, conn: Connection, full_name: str) -> dict[str, Any] | None:
        query = select(repositories.c.last_result).where(repositories.c.full_name == full_name)
        row = conn.execute(query).first()
        if row is None:
            return None
        try:
            summary = json.loads(row.last_result or "{}")
        except ValueError:
            summary = {}
        return summary if isinstance(summary, dict) else {}

    def _set_summary(self, conn: Connection, full_name: str, summary: dict[str, Any]) -> None:
        conn.execute(
            update(repositories)
            .where(repositories.c.full_name == full_name)
            .values(last_result=_to_json(summary))
        )

    def ping(self) -> None:
        """Raise ExternalError (or UserError) unless the database answers.

        A SQLite file deleted under a running process still answers through the connections
        already open to it, so its path is checked too: writes there would be lost.
        """
        database = self.url.database or ""
        on_file = self.url.get_backend_name() == "sqlite" and database not in ("", ":memory:")
        if on_file and not Path(database).is_file():
            raise ExternalError(f"database {self.name}: the file {database} is gone")
        with self._transaction() as conn:
            conn.execute(select(repositories.c.full_name).limit(1)).all()

    # --- leases ----------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `holder` for `seconds`; whether `holder` holds it.

        Another holder's lease is taken only once it has expired, so at most one process holds
        it at a time (as far as the processes' clocks agree, as for job leases), and a dead
        holder's lease passes on when it runs out. A renewal and a take-over of the same row are
        serialised by the row lock (PostgreSQL) or the write lock (SQLite).
        """
        _check_lease(seconds)
        now = self._clock()
        until = now + timedelta(seconds=seconds)

        def take() -> bool:
            with self._transaction(write=True) as conn:
                taken = conn.execute(
                    update(leases)
                    .where(
                        leases.c.name == name,
                        or_(leases.c.holder == holder, leases.c.expires_at < now),
                    )
                    .values(holder=holder, expires_at=until)
                ).rowcount
                if taken:
                    return True
                if conn.execute(select(leases.c.name).where(leases.c.name == name)).first():
                    return False
                conn.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
                return True

        return self._retry_conflict(take)

    def release_lease(self, name: str, holder: str) -> None:
        """Give up the lease `name` if `holder` holds it, so another process may take it now."""
        with self._transaction(write=True) as conn:
            conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        """Who holds the lease `name` and until when (it may have expired), or None."""
        query = select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
        with self._transaction() as conn:
            row = conn.execute(query).first()
        return None if row is None else (row.holder, row.expires_at)

    # --- upkeep ----------------------------------------------------------------------------------

    def prune_deliveries(self, retention: timedelta) -> int:
        """Empty the payloads of deliveries received more than `retention` ago; how many.

        The rows stay (a redelivery of a known GUID is still recognised, and the console still
        lists them) and jobs keep their summaries; a delivery still queued or running keeps its
        payload, since its job reads it.
        """
        now = self._clock()
        statement = (
            update(deliveries)
            .where(
                deliveries.c.received_at < now - retention,
                deliveries.c.payload_pruned_at.is_(None),
                deliveries.c.status.not_in(UNFINISHED),
            )
            .values(payload=b"", payload_pruned_at=now)
        )
        with self._transaction(write=True) as conn:
            return int(conn.execute(statement).rowcount)

    def schema_revision(self) -> str | None:
        """The database's schema revision (None: no gitbot tables yet)."""
        with self._transaction() as conn:
            return migrations.current(conn, self.name)

    def upgrade(self) -> tuple[str | None, str]:
        """Migrate the schema to this gitbot's revision: (revision before, revision after)."""
        with self._transaction(write=True) as conn:
            self._lock_schema(conn)
            return migrations.upgrade(conn, self.name)

    def backup(self, target: Path) -> None:
        """Copy a SQLite work database to `target` while others keep using it.

        SQLite's online backup copies a consistent snapshot page by page; the copy is written
        beside `target` and renamed into place, so `target` is never half written. Raises
        UserError for PostgreSQL, whose own tool (`pg_dump`) does this.
        """
        if self._postgres or self.url.database is None:
            raise UserError(
                f"{self.name} is not a SQLite database: back it up with pg_dump (see the deploy "
                "guide)"
            )
        sqlite_backup(Path(self.url.database), target, self.timeout)

    # --- queue internals -------------------------------------------------------------------------

    def _claimable(self, now: datetime) -> Select[tuple[int]]:
        """The ids of queued jobs that may start now (see the module docstring)."""
        other = jobs.alias("other")
        overlap = and_(
            other.c.repository == jobs.c.repository,
            or_(
                jobs.c.promise.is_(None),
                other.c.promise.is_(None),
                other.c.promise == jobs.c.promise,
            ),
        )
        running = select(other.c.id).where(
            overlap, other.c.status == "running", other.c.lease_until > now
        )
        earlier = select(other.c.id).where(
            overlap, other.c.status == "queued", other.c.id < jobs.c.id
        )
        due = or_(jobs.c.lease_until.is_(None), jobs.c.lease_until <= now)  # retry backoff over
        return select(jobs.c.id).where(
            jobs.c.status == "queued", due, ~running.exists(), ~earlier.exists()
        )

    def _release_expired(self, conn: Connection, now: datetime) -> int:
        """Requeue, supersede or fail every running job whose lease expired; how many."""
        expired = conn.execute(
            select(jobs).where(jobs.c.status == "running", jobs.c.lease_until < now)
        ).all()
        released = 0
        for row in expired:
            job = _job(row)
            values: dict[str, Any]
            lost = f"the lease of worker {job.worker} expired on attempt {job.attempts}"
            if job.attempts >= self.max_attempts:
                values = {"status": "failed", "finished_at": now, "error": f"{lost}; giving up"}
            elif (newer := self._superseded_by(conn, job)) is not None:
                values = {
                    "status": "superseded",
                    "finished_at": now,
                    "error": f"{lost}; superseded by job {newer}",
                }
            else:
                values = {"status": "queued", "worker": None, "error": f"{lost}; requeued"}
            # The lease is checked again: the worker may have sent a heartbeat meanwhile.
            released += conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id, jobs.c.status == "running", jobs.c.lease_until < now)
                .values(lease_until=None, **values)
            ).rowcount
        return released

    def _superseded_by(self, conn: Connection, job: Job) -> int | None:
        """The newer queued job that would have superseded this one had it been queued."""
        covers: ColumnElement[bool] = jobs.c.promise.is_(None)
        if job.promise is not None:
            covers = or_(covers, jobs.c.promise == job.promise)
        query = select(func.min(jobs.c.id)).where(
            jobs.c.status == "queued",
            jobs.c.supersedes.is_(True),
            jobs.c.kind == job.kind,
            jobs.c.repository == job.repository,
            jobs.c.id > job.id,
            covers,
        )
        newer: int | None = conn.execute(query).scalar()
        return newer

    def _work_ready(self) -> bool:
        """Whether a claim might find work now (claimable or expired jobs)."""
        now = self._clock()
        expired = select(jobs.c.id).where(jobs.c.status == "running", jobs.c.lease_until < now)
        with self._transaction() as conn:
            found = conn.execute(select(or_(self._claimable(now).exists(), expired.exists())))
            return bool(found.scalar())

    def _finish(self, statement: Update) -> bool:
        with self._transaction(write=True) as conn:
            done = bool(conn.execute(statement).rowcount)
        if done:
            self._notify()  # overlapping jobs may start now
        return done

    def _notify(self) -> None:
        with self._work:
            self._generation += 1
            self._work.notify_all()

    # --- connections -----------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if self.url.get_backend_name() != "sqlite":
            connect_args: dict[str, Any] = {"connect_timeout": max(1, round(self.timeout))}
            if self.url.get_backend_name() == "postgresql" and "options" not in self.url.query:
                connect_args["options"] = f"-c lock_timeout={round(self.timeout * 1000)}"
            return create_engine(
                self.url, connect_args=connect_args, pool_timeout=self.timeout, pool_pre_ping=True
            )
        database = self.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            raise UserError(f"the work database must be a file: {self.name}")
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserError(
                f"cannot create the directory of {database}: {error.strerror}"
            ) from error
        engine = create_engine(
            self.url, connect_args={"timeout": self.timeout}, pool_timeout=self.timeout
        )
        busy_ms = round(self.timeout * 1000)

        def connect(dbapi_connection: Any, _record: object) -> None:
            # gitbot emits BEGIN itself (below), so that writers can BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, fewer fsyncs
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        def begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        event.listen(engine, "connect", connect)
        event.listen(engine, "begin", begin)
        return engine

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction on a pooled connection; writers take the SQLite write lock at once."""
        with self._errors(), self._engine.connect() as conn:
            if write:
                conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _setup(self, check_schema: bool) -> None:
        """Create the tables in a new database; refuse a foreign one, or an older or newer
        schema when `check_schema`."""
        with self._transaction(write=True) as conn:
            self._lock_schema(conn)
            revision = migrations.current(conn, self.name)
            if not check_schema or revision == migrations.head():
                return
            if revision is None:  # a new database: every migration, in this transaction
                migrations.upgrade(conn, self.name)
                return
            migrations.check_known(revision, self.name)
            raise UserError(
                f"{self.name} has the work database schema of an older gitbot (revision "
                f"{revision}; this gitbot reads {migrations.head()}): stop every gitbot process "
                "using it, back it up, and run `gitbot db upgrade`"
            )

    def _lock_schema(self, conn: Connection) -> None:
        """On PostgreSQL, one process at a time looks at and changes the schema (SQLite's
        BEGIN IMMEDIATE already serialises writers)."""
        if self._postgres:
            conn.execute(select(func.pg_advisory_xact_lock(_SETUP_LOCK)))

    def _retry_conflict(self, attempt: Callable[[], T]) -> T:
        """Run a look-then-insert once more if another writer inserted the same key meanwhile.

        Only PostgreSQL can get here: on SQLite the write lock is taken before the look.
        """
        try:
            return attempt()
        except exc.IntegrityError:
            return attempt()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database errors as gitbot errors naming the database (password hidden)."""
        try:
            yield
        except exc.IntegrityError:
            raise  # a race handled by the caller, or a bug (an unknown delivery GUID)
        except exc.OperationalError as error:
            raise ExternalError(f"database {self.name}: {_first_line(error.orig)}") from error
        except exc.DatabaseError as error:
            raise UserError(
                f"database {self.name} is unusable: {_first_line(error.orig)}"
            ) from error


class SharedStatusStore:
    """Each object's Kratix status in the work database (`gitbot.statusdb.ObjectStatuses`).

    With a shared database every worker, on any machine, reads the status and the attempts the
    last run wrote, whichever worker ran it; so a job handed over after a `kill -9` carries on
    from there. Each call is one short transaction of the Store it is made with (which it does
    not close); ExternalError when the database is unreachable or busy.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, source: str, key: str) -> ObjectStatus | None:
        """The stored status of one object, or None if there is none."""
        query = select(object_statuses).where(
            object_statuses.c.source == source, object_statuses.c.key == key
        )
        with self._store._transaction() as conn:
            row = conn.execute(query).first()
        return None if row is None else _object_status(row)

    def put(self, source: str, key: str, status: ObjectStatus) -> None:
        """Store (or replace) one object's status."""
        values = {
            "status": to_json(status.status),
            "outcome": status.outcome,
            "spec_hash": status.spec_hash,
            "source_commit": status.source_commit,
            "pipelines": to_json(status.pipelines),
            "updated_at": status.updated_at,
            "state": status.state,
        }
        where = (object_statuses.c.source == source, object_statuses.c.key == key)

        def put() -> None:
            with self._store._transaction(write=True) as conn:
                if conn.execute(update(object_statuses).where(*where).values(values)).rowcount:
                    return
                conn.execute(insert(object_statuses).values(source=source, key=key, **values))

        self._store._retry_conflict(put)

    def forget(self, source: str, key: str) -> None:
        """Drop one object's status (no error if there is none)."""
        with self._store._transaction(write=True) as conn:
            conn.execute(
                delete(object_statuses).where(
                    object_statuses.c.source == source, object_statuses.c.key == key
                )
            )

    def all(self, source: str) -> dict[str, ObjectStatus]:
        """Every stored status of one source repository, by object key."""
        query = (
            select(object_statuses)
            .where(object_statuses.c.source == source)
            .order_by(object_statuses.c.key)
        )
        with self._store._transaction() as conn:
            return {row.key: _object_status(row) for row in conn.execute(query)}

    def promise_keys(self) -> dict[str, list[str]]:
        """The keys of every stored Promise's status (`platform.kratix.io/...`), by source
        repository, without decoding any status."""
        query = (
            select(object_statuses.c.source, object_statuses.c.key)
            .where(object_statuses.c.key.startswith("platform.kratix.io/", autoescape=True))
            .order_by(object_statuses.c.source, object_statuses.c.key)
        )
        found: dict[str, list[str]] = {}
        with self._store._transaction() as conn:
            for source, key in conn.execute(query):
                found.setdefault(source, []).append(key)
        return found


def _object_status(row: Row[Any]) -> ObjectStatus:
    return ObjectStatus(
        status=json.loads(row.status),
        outcome=row.outcome,
        spec_hash=row.spec_hash,
        source_commit=row.source_commit,
        pipelines=json.loads(row.pipelines),
        updated_at=row.updated_at,
        state=row.state,
    )


def sqlite_backup(source: Path, target: Path, timeout: float = TIMEOUT_SECONDS) -> None:
    """Copy the SQLite database `source` to `target` with SQLite's online backup.

    Raises UserError when either file cannot be opened or written (the message names it).
    """
    if not source.is_file():
        raise UserError(f"no database to back up at {source}")
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            _closing(sqlite3.connect(source, timeout=timeout)) as src,
            _closing(sqlite3.connect(partial, timeout=timeout)) as dst,
        ):
            src.backup(dst)
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"cannot back up {source} to {target}: {error}") from error


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()


def _owned(job_id: int, worker: str) -> Update:
    """An UPDATE of a job only while it runs for this worker."""
    return update(jobs).where(
        jobs.c.id == job_id, jobs.c.worker == worker, jobs.c.status == "running"
    )


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}: {value!r}")


def _check_lease(lease: float) -> None:
    if not lease > 0:
        raise ValueError(f"lease must be a positive number of seconds: {lease!r}")


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _headline(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no reason given"


def _to_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parse_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _delivery_values(delivery: Delivery) -> dict[str, Any]:
    return {
        "guid": delivery.guid,
        "event": delivery.event,
        "action": delivery.action,
        "status": delivery.status,
        "reason": delivery.reason,
        "received_at": delivery.received_at,
        "payload": delivery.payload,
        "repository": delivery.repository,
        "installation_id": delivery.installation_id,
        "payload_pruned_at": delivery.payload_pruned_at,
    }


def _delivery(row: Row[Any]) -> Delivery:
    values = dict(row._mapping)
    values["payload"] = bytes(values["payload"])  # psycopg2 returns a memoryview
    return Delivery(**values)


def _job(row: Row[Any]) -> Job:
    values = row._mapping
    return Job(
        id=values["id"],
        kind=values["kind"],
        repository=values["repository"],
        promise=values["promise"],
        commit=values["commit_sha"],
        payload=json.loads(values["payload"]),
        delivery_guid=values["delivery_guid"],
        status=values["status"],
        attempts=values["attempts"],
        worker=values["worker"],
        lease_until=values["lease_until"],
        created_at=values["created_at"],
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        error=values["error"],
        result=None if values.get("result") is None else json.loads(values["result"]),
    )
