"""The console's overview: per source repository and Promise, what gitbot last did and what next.

Plain data built from the work store (the newest finished reconcile per Promise, queued and
running jobs, the schedule) and the status store (each object's Kratix status); no Flask here.
A Promise's row comes from the newest finished job that ran it: its own job, or a whole
repository reconcile, whichever is newer.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from gitbot.statusdb import ObjectStatus, ObjectStatuses
from gitbot.work.store import Job, RegisteredRepo, Store

RECONCILE = "reconcile"
RESULTS = ("failed", "held back", "paused", "not proposed", "succeeded", "running", "never run")
NOT_PROPOSED = ("human-commit", "rejected")  # branch actions: the change was not pushed
JITTER = 0.1  # the scheduler's: up to 10% of the interval, the same fraction per repository


@dataclass(frozen=True)
class ObjectRow:
    """One object of a Promise: its last result and its Kratix status."""

    key: str
    kind: str
    name: str
    result: str
    message: str
    conditions: Sequence[Mapping[str, Any]]
    pipelines: Sequence[Mapping[str, Any]]  # name, phase, attempts, message
    failure: str = ""


@dataclass(frozen=True)
class PromiseRow:
    """One Promise of a repository in the overview."""

    repository: str
    promise: str
    result: str  # one of RESULTS
    reason: str  # e.g. the failing object's name
    job: Job | None
    commit: str | None
    commit_url: str | None
    pull_request: str | None
    pull_request_state: str
    check_runs: str | None
    active: str | None  # "queued" or "running" when a job for it waits or runs
    active_job: int | None  # that job's id
    next_run: datetime | None
    objects: Sequence[ObjectRow] = ()

    @property
    def phases(self) -> str:
        """The objects' pipeline phases in a few words, e.g. "3 Succeeded, 1 Failed"."""
        counts: dict[str, int] = {}
        for o in self.objects:
            for p in o.pipelines:
                phase = str(p.get("phase") or "Unknown")
                counts[phase] = counts.get(phase, 0) + 1
        return ", ".join(f"{n} {phase}" for phase, n in sorted(counts.items()))

    @property
    def tone(self) -> str:
        """The colour class of the result: bad, warn, good or idle."""
        if self.result == "failed":
            return "bad"
        if self.result in ("held back", "paused", "not proposed"):
            return "warn"
        return "good" if self.result == "succeeded" else "idle"


@dataclass(frozen=True)
class RepositoryRow:
    """One source repository and its Promises."""

    name: str
    next_run: datetime | None
    last_reconcile: datetime | None
    promises: Sequence[PromiseRow] = field(default_factory=list)
    problem: Job | None = None  # its newest whole reconcile, when it failed before any object ran

    @property
    def failing(self) -> bool:
        """Whether a Promise of it failed, or its last whole reconcile failed before any ran."""
        return self.problem is not None or any(p.result == "failed" for p in self.promises)


class ResultCache:
    """Finished jobs' results, decoded once per process: a finished job's result never changes,
    and decoding them is most of an overview's work. Keeps the `size` most recently used."""

    def __init__(self, size: int = 5000) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[int, datetime | None], Mapping[str, Any]] = OrderedDict()

    def with_results(self, store: Store, jobs: Sequence[Job]) -> list[Job]:
        """These finished jobs with their results loaded (from the cache, else the store)."""
        keys = {job.id: (job.id, job.finished_at) for job in jobs}
        with self._lock:
            found = {i: self._results[k] for i, k in keys.items() if k in self._results}
            for i in found:
                self._results.move_to_end(keys[i])
        missing = [i for i in keys if i not in found]
        loaded = store.job_results(missing)
        with self._lock:
            for i, result in loaded.items():
                self._results[keys[i]] = result
            while len(self._results) > self.size:
                self._results.popitem(last=False)
        found.update(loaded)
        return [replace(job, result=found.get(job.id)) for job in jobs]


def repository_names(store: Store) -> list[str]:
    """Every repository the console knows: registered ones and any with reconcile jobs."""
    names = {r.full_name for r in store.repositories()} | set(store.job_repositories())
    return sorted(names)


def build(
    store: Store,
    status: ObjectStatuses | None,
    names: Sequence[str],
    default_interval: float,
    *,
    promise: str = "",
    result: str = "",
    cache: ResultCache | None = None,
    brief: bool = False,
) -> list[RepositoryRow]:
    """The overview of these repositories, Promises filtered by name and result.

    `brief`: without the objects' stored Kratix statuses (only which Promises have one): every
    row's result, for ordering and counting many repositories at a fraction of the cost."""
    wanted = set(names)
    registered = {r.full_name: r for r in store.repositories() if r.full_name in wanted}
    finished_by: dict[str, list[Job]] = {}
    for job in (cache or ResultCache()).with_results(
        store, store.latest_finished_jobs(RECONCILE, list(names))
    ):
        finished_by.setdefault(job.repository, []).append(job)
    active_by: dict[str, list[Job]] = {}
    for job in store.active_jobs(list(names)):
        if job.kind == RECONCILE:
            active_by.setdefault(job.repository, []).append(job)
    promise_keys = status.promise_keys() if brief and status is not None else {}
    rows = []
    for name in names:
        repo = registered.get(name)
        next_run, retries = _schedule(repo, default_interval)
        statuses: Mapping[str, ObjectStatus | None]
        if brief:
            statuses = dict.fromkeys(promise_keys.get(name, ()))
        else:
            statuses = status.all(name) if status is not None else {}
        finished = finished_by.get(name, [])
        promises = _promise_rows(
            name, finished, active_by.get(name, []), statuses, next_run, retries
        )
        promises = [
            p for p in promises if (not promise or p.promise == promise) and _matches(p, result)
        ]
        if promises or not (promise or result):
            last = repo.last_reconcile_at if repo else None
            rows.append(RepositoryRow(name, next_run, last, promises, _crashed(finished)))
    return rows


def known_promises(
    store: Store, status: ObjectStatuses | None, repository: str, default_interval: float
) -> set[str]:
    """The Promises a reconcile of this repository has found (the overview's rows)."""
    rows = build(store, status, [repository], default_interval)
    return {p.promise for r in rows for p in r.promises}


def failures_first(rows: Iterable[RepositoryRow]) -> list[RepositoryRow]:
    """Repositories with a failure first, then the rest; by name within each group."""
    return sorted(rows, key=lambda r: (not r.failing, r.name))


def _crashed(finished: Sequence[Job]) -> Job | None:
    """The newest whole reconcile if it failed before running any object (e.g. git failed)."""
    whole = max((j for j in finished if j.promise is None), key=lambda j: j.id, default=None)
    if whole is None or whole.status != "failed" or (whole.result or {}).get("objects"):
        return None
    return whole


def _matches(row: PromiseRow, result: str) -> bool:
    return not result or row.result == result or (result == "running" and row.active is not None)


def _promise_rows(
    repository: str,
    finished: Sequence[Job],
    active: Sequence[Job],
    statuses: Mapping[str, ObjectStatus | None],
    next_run: datetime | None,
    retries: Mapping[str, datetime],
) -> list[PromiseRow]:
    whole = max((j for j in finished if j.promise is None), key=lambda j: j.id, default=None)
    own = {j.promise: j for j in finished if j.promise is not None}
    grouped = {j.id: _objects_by_promise(j) for j in [*own.values(), *([whole] if whole else [])]}
    in_whole = set(grouped[whole.id]) if whole is not None else set()
    # Only Promises a reconcile found in the source (in a run's objects or the status store):
    # a job asked for a name the source does not have must not leave a row behind.
    names = in_whole | {p for j in own.values() for p in grouped[j.id]}
    names |= {key.split("/")[3] for key in statuses if key.startswith("platform.kratix.io/")}
    names.discard("")
    rows = []
    for promise in sorted(names):
        job = own.get(promise)
        if whole is not None and (job is None or whole.id > job.id) and promise in in_whole:
            job = whole
        waiting = [j for j in active if j.promise in (None, promise)]
        state, active_job = None, None
        if waiting:
            running = [j for j in waiting if j.status == "running"]
            state = "running" if running else "queued"
            active_job = (running or waiting)[0].id
        due = min([d for d in (next_run, retries.get(promise)) if d is not None], default=None)
        objects = grouped[job.id].get(promise, []) if job is not None else []
        rows.append(
            _promise_row(repository, promise, job, objects, (state, active_job), statuses, due)
        )
    return rows


def _objects_by_promise(job: Job | None) -> dict[str, list[Mapping[str, Any]]]:
    """A job's result objects grouped by Promise."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for o in ((job.result or {}).get("objects") or ()) if job is not None else ():
        grouped.setdefault(_promise_of(o), []).append(o)
    return grouped


def _promise_of(o: Mapping[str, Any]) -> str:
    if o.get("promise"):
        return str(o["promise"])
    key = str(o.get("key", ""))  # older results: "Promise NAME" or "NAME ns/name"
    return key.split()[1] if key.startswith("Promise ") else key.split()[0] if key else ""


def _promise_row(
    repository: str,
    promise: str,
    job: Job | None,
    objects: Sequence[Mapping[str, Any]],
    active: tuple[str | None, int | None],
    statuses: Mapping[str, ObjectStatus | None],
    next_run: datetime | None,
) -> PromiseRow:
    result: Mapping[str, Any] = (job.result or {}) if job else {}
    rows = [_object_row(o, statuses) for o in objects]
    branch = _branch(result, promise, objects)
    verdict, reason = _verdict(job, rows, branch)
    check_runs = result.get("check_runs")
    commit = (job.commit if job else None) or result.get("commit")
    commit_url = check_runs[: -len("/checks")] if check_runs else None
    return PromiseRow(
        repository=repository,
        promise=promise,
        result=verdict,
        reason=reason,
        job=job,
        commit=commit,
        commit_url=commit_url,
        pull_request=(branch or {}).get("pull_request"),
        pull_request_state=str((branch or {}).get("action") or ""),
        check_runs=check_runs,
        active=active[0],
        active_job=active[1],
        next_run=next_run,
        objects=rows,
    )


def _branch(
    result: Mapping[str, Any], promise: str, objects: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The state branch that carries this Promise's files (`gitbot/<promise>` by default)."""
    branches = result.get("branches") or ()
    for b in branches:
        if b.get("branch") == f"gitbot/{promise}":
            return dict(b)
    owned = {f for o in objects for files in (o.get("files") or {}).values() for f in files}
    for b in branches:
        if owned & set(b.get("added", ()) + b.get("changed", ()) + b.get("removed", ())):
            return dict(b)
    return None


def _verdict(
    job: Job | None, objects: Sequence[ObjectRow], branch: Mapping[str, Any] | None
) -> tuple[str, str]:
    if job is None:
        return "never run", ""
    failed = [o for o in objects if o.result == "failed"]
    if failed:
        return "failed", ", ".join(o.key for o in failed)
    if branch is not None and branch.get("action") in NOT_PROPOSED:
        return "not proposed", str(branch.get("detail") or branch.get("action"))
    if branch is not None and branch.get("action") == "failed":
        return "failed", str(branch.get("detail") or "publishing the branch failed")
    held = [o for o in objects if o.result in ("suspended", "skipped")]
    if held:
        return "held back", ", ".join(o.key for o in held)
    paused = [o for o in objects if o.result == "paused"]
    if paused and len(paused) == len(objects):
        return "paused", ", ".join(o.key for o in paused)
    if job.status == "failed" and not objects:
        # The job failed before this Promise's objects ran (with objects, another Promise of
        # the same job may be what failed it).
        return "failed", (job.error or "").splitlines()[0] if job.error else "the job failed"
    return "succeeded", ""


def _object_row(o: Mapping[str, Any], statuses: Mapping[str, ObjectStatus | None]) -> ObjectRow:
    status: Mapping[str, Any] = o.get("status") or {}
    key = "/".join(str(o.get(k, "")) for k in ("group", "kind", "namespace", "name"))
    stored = statuses.get(key)
    if stored is not None:
        status = stored.status
    workflows = (status.get("kratix") or {}).get("workflows") or {}
    pipelines = [p for p in workflows.get("pipelines") or () if isinstance(p, dict)]
    if not pipelines and stored is not None:
        pipelines = [{"name": n, "phase": phase} for n, phase in stored.pipelines.items()]
    return ObjectRow(
        key=str(o.get("key", "")),
        kind=str(o.get("kind", "")),
        name=str(o.get("name", "")),
        result=str(o.get("result", "")),
        message=str(status.get("message", "")),
        conditions=[c for c in status.get("conditions") or () if isinstance(c, dict)],
        pipelines=pipelines,
        failure=str(o.get("failure") or ""),
    )


def _schedule(
    repo: RegisteredRepo | None, default_interval: float
) -> tuple[datetime | None, dict[str, datetime]]:
    """When the scheduler next reruns the repository, and each Promise's retryAfter time."""
    if repo is None:
        return None, {}
    try:
        summary = json.loads(repo.last_result or "{}")
    except ValueError:
        summary = {}
    summary = summary if isinstance(summary, dict) else {}
    try:
        interval = float(summary.get("interval") or default_interval)
    except (TypeError, ValueError):
        interval = default_interval
    retries = {}
    for name, at in (summary.get("retries") or {}).items():
        try:
            retries[name] = datetime.fromisoformat(at)
        except (TypeError, ValueError):
            continue
    if repo.last_reconcile_at is None:
        return None, retries  # due at the scheduler's next check
    fraction = int(hashlib.sha256(repo.full_name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    seconds = interval + interval * JITTER * fraction
    return repo.last_reconcile_at + timedelta(seconds=seconds), retries


def counts(rows: Iterable[RepositoryRow]) -> dict[str, int]:
    """How many Promises have each result, for the summary line."""
    found: dict[str, int] = {}
    for repo in rows:
        for p in repo.promises:
            found[p.result] = found.get(p.result, 0) + 1
    return found
