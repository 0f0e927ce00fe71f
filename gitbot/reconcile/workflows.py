"""Run every workflow a source snapshot calls for, Promise by Promise, in Kratix's order.

For each Promise: its configure workflow, then each of its requests' configure workflows, then
the delete workflows of requests that left the source. A Promise that left the source runs its
own delete pipeline, then its requests'. Independent Promises run concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from gitbot import yamlio
from gitbot.errors import GitbotError
from gitbot.kratix.hashing import promise_hash, resource_hash
from gitbot.kratix.layout import workplacement_name
from gitbot.kratix.loader import load_texts
from gitbot.kratix.objects import Destination, Promise, ResourceRequest, Source
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.runner import WorkflowRun, WorkflowRunner
from gitbot.source.snapshot import SourceSnapshot
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.placement import (
    Schedule,
    merge_schedules,
    render,
    schedule_run,
    schedule_static_dependencies,
)
from gitbot.state.records import ObjectKey, ObjectRecord
from gitbot.statusdb import ObjectStatus, StatusStore

# Makes a runner for one Promise's work (each with its own engine connection) and cleans up.
RunnerFactory = Callable[[], AbstractContextManager[WorkflowRunner]]


@dataclass(frozen=True)
class ReconcileContext:
    """What every Promise's reconcile shares."""

    snapshot: SourceSnapshot
    previous: Mapping[ObjectKey, ObjectRecord]
    status: StatusStore
    runners: RunnerFactory
    state_path: str = ""
    # A preview (a source pull request) runs resources with KRATIX_DRY_RUN=true and keeps no
    # status: it shows what would happen without changing anything.
    preview: bool = False
    resume: bool = False  # suspended objects resume from their suspended pipeline

    @property
    def destinations(self) -> list[Destination]:
        return self.snapshot.destinations


def reconcile_all(
    ctx: ReconcileContext, only: Sequence[str] = (), workers: int = 2
) -> dict[str, list[ObjectOutcome]]:
    """Outcomes by Promise name, for every current or previously recorded Promise."""
    names = {p.name for p in ctx.snapshot.promises} | {k.promise for k in ctx.previous}
    if only:
        names &= set(only)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda name: (name, reconcile_promise(ctx, name)), sorted(names))
        return dict(results)


def reconcile_promise(ctx: ReconcileContext, name: str) -> list[ObjectOutcome]:
    """Every workflow of one Promise and its requests; errors stay with this Promise."""
    promise = next((p for p in ctx.snapshot.promises if p.name == name), None)
    previous = {k: r for k, r in ctx.previous.items() if k.promise == name}
    with ctx.runners() as runner:
        if promise is None:
            return _removed_promise(ctx, runner, name, previous)
        return _current_promise(ctx, runner, promise, previous)


def _current_promise(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    previous: Mapping[ObjectKey, ObjectRecord],
) -> list[ObjectOutcome]:
    key = ObjectKey.of_promise(promise)
    requests = {ObjectKey.of_request(promise, r): r for r in ctx.snapshot.requests_of(promise.name)}
    if promise.paused:
        paused = [ObjectOutcome(key, "paused", note="kratix.io/paused is set on the Promise")]
        return paused + [
            ObjectOutcome(k, "skipped", note="its Promise is paused") for k in requests
        ]
    outcomes = [_configure(ctx, runner, promise, None, previous.get(key))]
    if not outcomes[0].changes_state:
        return outcomes + [
            ObjectOutcome(k, "skipped", note="the Promise's workflow did not complete")
            for k in requests
        ]
    for request_key, request in requests.items():
        if request.paused:
            outcomes.append(ObjectOutcome(request_key, "paused", note="kratix.io/paused is set"))
        else:
            outcomes.append(_configure(ctx, runner, promise, request, previous.get(request_key)))
    for old_key, record in sorted(previous.items(), key=lambda kv: str(kv[0])):
        if old_key.is_promise or old_key in requests:
            continue
        if record.source_file in ctx.snapshot.broken_files:
            outcomes.append(_kept_broken(old_key, record))
            continue
        request = _request_from_record(promise, record)
        outcomes.append(_delete(ctx, runner, promise, request, old_key))
    return outcomes


def _removed_promise(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    name: str,
    previous: Mapping[ObjectKey, ObjectRecord],
) -> list[ObjectOutcome]:
    promise_key = next((k for k in previous if k.is_promise), None)
    if promise_key is None:
        return []
    record = previous[promise_key]
    if record.source_file in ctx.snapshot.broken_files:
        return [_kept_broken(promise_key, record)]
    try:
        promise = _promise_from_record(record)
    except GitbotError as e:
        return [ObjectOutcome(promise_key, "delete", error=str(e))]
    outcomes = [_delete(ctx, runner, promise, None, promise_key)]
    if outcomes[0].failed:
        return outcomes
    for key, request_record in sorted(previous.items(), key=lambda kv: str(kv[0])):
        if not key.is_promise:
            request = _request_from_record(promise, request_record)
            outcomes.append(_delete(ctx, runner, promise, request, key))
    return outcomes


def _configure(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    request: ResourceRequest | None,
    previous: ObjectRecord | None,
) -> ObjectOutcome:
    key = (
        ObjectKey.of_promise(promise) if request is None else ObjectKey.of_request(promise, request)
    )
    target = WorkflowTarget(promise, "configure", request, dry_run=ctx.preview)
    spec_hash = promise_hash(promise) if request is None else resource_hash(promise, request)
    start = _resume_point(ctx, key, target, spec_hash)
    run = runner.run(target, _stored_status(ctx, key), start_at=start)
    _store_status(ctx, key, run, spec_hash)
    finished = any(p.outcome == "succeeded" for p in run.pipelines)
    if run.outcome == "failed" or (run.outcome == "suspended" and not finished):
        return ObjectOutcome(key, "configure", run)
    try:
        outcome = _files_of(ctx, key, run, previous, spec_hash)
    except GitbotError as e:
        return ObjectOutcome(key, "configure", run, error=str(e))
    if run.outcome == "suspended" or start > 0:
        # Kratix writes each pipeline's Works as it finishes: those before the suspension go
        # out, and the object's earlier files stay until a complete run replaces them. A
        # resumed run did not rerun the first pipelines, so it removes nothing either.
        return _partial(outcome, previous)
    return outcome


def _resume_point(
    ctx: ReconcileContext, key: ObjectKey, target: WorkflowTarget, spec_hash: str
) -> int:
    """The pipeline a retryAfter rerun resumes from (0: from the start). Kratix resumes from
    the suspended pipeline unless the spec changed meanwhile."""
    if not ctx.resume or ctx.preview:
        return 0
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    if stored is None or stored.outcome != "suspended" or stored.spec_hash != spec_hash:
        return 0
    for index, pipeline in enumerate(target.pipelines):
        if stored.pipelines.get(pipeline.name) == "Suspended":
            return index
    return 0


def _partial(outcome: ObjectOutcome, previous: ObjectRecord | None) -> ObjectOutcome:
    record = outcome.record
    if record is None:
        return replace(outcome, partial=True)
    if previous is not None:
        aggregated = {d: dict(p) for d, p in previous.aggregated.items()}
        for dest, placements in record.aggregated.items():
            aggregated.setdefault(dest, {}).update(placements)
        record = replace(
            record,
            files=tuple(sorted(set(previous.files) | set(record.files))),
            placements={**previous.placements, **record.placements},
            aggregated=aggregated,
        )
    return replace(outcome, record=record, partial=True)


def _files_of(
    ctx: ReconcileContext,
    key: ObjectKey,
    run: WorkflowRun,
    previous: ObjectRecord | None,
    spec_hash: str,
) -> ObjectOutcome:
    sticky = None
    if previous is not None:
        placements = previous.placements
        sticky = lambda work, group: placements.get(f"{work.work_name}/{group.id}")  # noqa: E731
    schedules = [schedule_run(run, ctx.destinations, sticky)]
    if run.target.request is None:
        schedules.append(schedule_static_dependencies(run.target.promise, ctx.destinations))
    schedule = merge_schedules(schedules)
    flat = Schedule(
        tuple(p for p in schedule.placements if p.destination.filepath_mode != "aggregatedYAML"),
        schedule.unscheduled,
    )
    files = render(flat, ctx.destinations, ctx.state_path)
    aggregated: dict[str, dict[str, dict[str, str]]] = {}
    for p in schedule.placements:
        if p.destination.filepath_mode == "aggregatedYAML":
            name = workplacement_name(p.work, p.destination, p.group)
            contents = {
                path: data.decode("utf-8", "replace") for path, data in p.group.files.items()
            }
            aggregated.setdefault(p.destination.name, {})[name] = contents
    source = run.target.request.source if run.target.request else run.target.promise.source
    raw = run.target.request.raw if run.target.request else run.target.promise.raw
    record = ObjectRecord(
        key=key,
        source=ctx.snapshot.source,
        source_file=source.file,
        spec_hash=spec_hash,
        raw=raw,
        files=tuple(sorted(files)),
        placements={
            f"{p.work.work_name}/{p.group.id}": p.destination.name
            for p in schedule.placements
            if p.work.work_type == "resource"
        },
        aggregated=aggregated,
    )
    return ObjectOutcome(key, "configure", run, record, files, schedule.unscheduled)


def _delete(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    request: ResourceRequest | None,
    key: ObjectKey,
) -> ObjectOutcome:
    target = WorkflowTarget(promise, "delete", request, dry_run=ctx.preview)
    if not target.pipelines:
        if not ctx.preview:
            ctx.status.forget(ctx.snapshot.source, _status_key(key))
        return ObjectOutcome(key, "delete", note="no delete pipeline")
    if ctx.preview:
        return ObjectOutcome(key, "delete", note="its delete pipeline runs when this is merged")
    run = runner.run(target, _stored_status(ctx, key))
    if run.outcome == "succeeded":
        ctx.status.forget(ctx.snapshot.source, _status_key(key))
    else:
        _store_status(ctx, key, run, "")
    return ObjectOutcome(key, "delete", run)


def _kept_broken(key: ObjectKey, record: ObjectRecord) -> ObjectOutcome:
    note = f"{record.source_file} has errors, so its objects are kept as they were"
    return ObjectOutcome(key, "skipped", note=note)


def _request_from_record(promise: Promise, record: ObjectRecord) -> ResourceRequest:
    source = Source(record.source_file, 0)
    key = record.key
    return ResourceRequest(promise.name, key.name, key.namespace, record.raw, source)


def _promise_from_record(record: ObjectRecord) -> Promise:
    name = record.source_file or record.key.record_path
    result = load_texts({name: yamlio.dump_sorted(record.raw)})
    if result.problems or not result.promises:
        problems = "; ".join(str(p) for p in result.problems)
        raise GitbotError(f"cannot run the delete pipeline of {record.key}: {problems}")
    return result.promises[0]


def _status_key(key: ObjectKey) -> str:
    return f"{key.group}/{key.kind}/{key.namespace}/{key.name}"


def _stored_status(ctx: ReconcileContext, key: ObjectKey) -> dict[str, object] | None:
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    return dict(stored.status) if stored else None


def _store_status(ctx: ReconcileContext, key: ObjectKey, run: WorkflowRun, spec_hash: str) -> None:
    if ctx.preview:
        return
    phases = {p.name: p.outcome.capitalize() for p in run.pipelines}
    if run.failure is not None:
        phases[run.failure.pipeline] = "Failed"
    ctx.status.put(
        ctx.snapshot.source,
        _status_key(key),
        ObjectStatus(
            status=dict(run.status),
            outcome=run.outcome,
            spec_hash=spec_hash,
            source_commit=ctx.snapshot.commit,
            pipelines=phases,
            updated_at=datetime.now(UTC),
        ),
    )
