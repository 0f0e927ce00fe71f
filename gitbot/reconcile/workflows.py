"""Run every workflow a source snapshot calls for, Promise by Promise, in Kratix's order.

For each Promise: its configure workflow, then each of its requests' configure workflows, then
the delete workflows of requests that left the source. A Promise that left the source runs its
own delete pipeline, then its requests'. Independent Promises run concurrently, and so do a
Promise's requests once its own workflow is done (Kratix's dynamic controller reconciles each
request on its own); all of them share one bound on workflows running at once (`RunPool`). A
Promise waits for the Promises it requires (`spec.requiredPromises`) to settle whether they are
Available, as Kratix's promise controller decides (`internal/controller/promise_controller.go`):
a Promise is Available when its configure workflow completed and its requirements are
fulfilled, and only an Available Promise's requests run (`internal/controller/
dynamic_resource_request_controller.go`, `promiseCannotFulfilResourceRequests`); the others are
held, keeping their files, while removed requests still run their delete workflows (Kratix
deletes before it checks availability). An object whose configure workflow ran, even if it
never succeeded, runs its delete workflow when it leaves the source: Kratix adds the delete
finalizer before the first run (`addFinalizers` in the same controllers).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gitbot import yamlio
from gitbot.errors import GitbotError
from gitbot.kratix.hashing import promise_hash, resource_hash
from gitbot.kratix.layout import workplacement_name
from gitbot.kratix.loader import load_texts
from gitbot.kratix.objects import KRATIX_GROUP, Destination, Promise, ResourceRequest, Source
from gitbot.kratix.requirements import (
    RequiredView,
    Requirements,
    evaluate,
    is_available,
    promise_version,
    request_held,
    request_released,
    required_promises,
    with_availability,
    with_requirements,
)
from gitbot.kratix.revisions import (
    at_revision,
    bound_version,
    is_pinned,
    lookup_failed,
    revision_version,
    version_status,
)
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.runner import WorkflowRun, WorkflowRunner
from gitbot.platform.cluster import ClusterView
from gitbot.reconcile.runpool import RunnerFactory as RunnerFactory  # its callers' import
from gitbot.reconcile.runpool import RunPool
from gitbot.source.snapshot import SourceSnapshot
from gitbot.state.adoption import shown_files
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.placement import (
    NO_FILES,
    BaseFiles,
    Schedule,
    StickyLookup,
    found_on,
    merge_schedules,
    render,
    schedule_run,
    schedule_static_dependencies,
)
from gitbot.state.records import ObjectKey, ObjectRecord
from gitbot.statusdb import ObjectStatus, ObjectStatuses


@dataclass(frozen=True)
class ReconcileContext:
    """What every Promise's reconcile shares."""

    snapshot: SourceSnapshot
    previous: Mapping[ObjectKey, ObjectRecord]
    status: ObjectStatuses
    runners: RunnerFactory
    state_path: str = ""
    # A preview (a source pull request) runs resources with KRATIX_DRY_RUN=true and keeps no
    # status: it shows what would happen without changing anything.
    preview: bool = False
    resume: bool = False  # suspended objects resume from their suspended pipeline
    # The source at an earlier commit: where an object that ran but left no record (its
    # configure workflow never succeeded) is read back to run its delete workflow.
    history: Callable[[str], SourceSnapshot] | None = None
    # Destinations that left the source with `cleanup: all`: their resources are placed afresh.
    released_destinations: frozenset[str] = frozenset()
    # The files on the base branch, looked up as asked: where a resource without a record (say,
    # in a state store Kratix wrote) already has its files, so it keeps that Destination.
    base_paths: BaseFiles = NO_FILES
    # The state repository this reconcile writes for (as statuses name it): an object known
    # from its status alone is deleted only if its status was written for this one.
    state: str = ""
    # Compound Promises' children the platform holds (gitbot.reconcile.compound): shown by the
    # platform API beside the source's requests.
    generated: tuple[ResourceRequest, ...] = ()
    generated_promises: tuple[Promise, ...] = ()
    # Destinations a compound Promise's child put on the platform: placed on like the source's.
    installed_destinations: tuple[Destination, ...] = ()

    # The Promise as it was at a `kratix.io/promise-version` (a PromiseRevision), read from the
    # source history, for requests whose ResourceBinding pins that version; None: not found.
    revision: Callable[[Promise, str], Promise | None] | None = None

    @property
    def destinations(self) -> list[Destination]:
        return [*self.snapshot.destinations, *self.installed_destinations]


class Availability:
    """Whether each Promise is Available, settled as its reconcile goes (thread-safe).

    A Promise reconciled in this run is waited for; any other is as its stored status says
    (Kratix reads the required Promise's `status.status`)."""

    def __init__(self, ctx: ReconcileContext, running: Sequence[str] = ()) -> None:
        self._ctx = ctx
        self._events = {name: threading.Event() for name in running}
        self._order = {name: i for i, name in enumerate(running)}
        self._available: dict[str, bool] = {}
        self._promises = {p.name: p for p in ctx.snapshot.promises}

    def settle(self, name: str, available: bool) -> None:
        """Record a Promise's availability once; later calls for it change nothing."""
        event = self._events.get(name)
        if event is not None and not event.is_set():
            self._available[name] = available
            event.set()

    def view(self, name: str, waiting: str) -> RequiredView | None:
        """What `waiting` may know of the Promise `name` it requires; None when absent."""
        promise = self._promises.get(name)
        if promise is None:
            return None
        revision = self._ctx.revision
        return RequiredView(
            promise_version(promise),
            self._is_available(name, waiting),
            None if revision is None else lambda v: revision(promise, v) is not None,
        )

    def stored(self, name: str) -> bool:
        stored = self._ctx.status.get(self._ctx.snapshot.source, _status_key(_promise_key(name)))
        return is_available(stored.status if stored else None)

    def _is_available(self, name: str, waiting: str) -> bool:
        event = self._events.get(name)
        if event is None:
            return self.stored(name)
        # Promises start in requirement order, so a required one earlier in the order is
        # running or done; one later is in (or behind) a requirement cycle and can never be
        # Available, as in Kratix where each waits for the other forever.
        if self._order[name] >= self._order.get(waiting, len(self._order)):
            return False
        event.wait()
        return self._available[name]


def reconcile_all(
    ctx: ReconcileContext, only: Sequence[str] = (), workers: int = 2
) -> dict[str, list[ObjectOutcome]]:
    """Outcomes by Promise name, for every current or previously recorded Promise.

    At most `workers` workflows run at once, Promises' and requests' alike, each on a runner of
    its own from `ctx.runners`; outcomes come in the same order however the runs interleave."""
    ctx = replace(ctx, previous={**_unrecorded(ctx), **ctx.previous})
    # A Promise a compound Promise put on the platform is gitbot.reconcile.compound's to run.
    generated = {k.promise for k, r in ctx.previous.items() if k.is_promise and r.parent}
    names = {p.name for p in ctx.snapshot.promises} | {
        k.promise for k in ctx.previous if k.promise not in generated
    }
    if only:
        names &= set(only)
    order = requirement_order(ctx.snapshot.promises, names)
    availability = Availability(ctx, order)
    with (
        _run_pool(ctx, workers) as runs,
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="promise") as pool,
    ):
        # Submitted in requirement order: a Promise only ever waits for an earlier one. A
        # Promise's thread holds no runner while it waits (see RunPool), so waits cannot starve
        # the runs they wait for.
        futures = {
            name: pool.submit(reconcile_promise, ctx, name, availability, runs) for name in order
        }
        return {name: futures[name].result() for name in sorted(futures)}


def _run_pool(ctx: ReconcileContext, workers: int) -> RunPool:
    def prepare(runner: WorkflowRunner) -> None:
        runner.cluster = platform_view(ctx)

    return RunPool(ctx.runners, workers, prepare)


def requirement_order(promises: Sequence[Promise], names: set[str]) -> list[str]:
    """`names` with every required Promise before the Promises requiring it (by name among
    equals); Promises in or behind a requirement cycle come last."""
    required = {
        p.name: {r.name for r in required_promises(p)} & names for p in promises if p.name in names
    }
    order: list[str] = []
    placed: set[str] = set()
    pending = sorted(names)
    while True:
        ready = [n for n in pending if required.get(n, set()) <= placed]
        if not ready:
            break
        order.extend(ready)
        placed.update(ready)
        pending = [n for n in pending if n not in placed]
    return order + pending


def reconcile_promise(
    ctx: ReconcileContext,
    name: str,
    availability: Availability | None = None,
    runs: RunPool | None = None,
) -> list[ObjectOutcome]:
    """Every workflow of one Promise and its requests, its requests' on `runs` side by side
    (default: a pool of one, so one after another); errors stay with this Promise."""
    availability = availability or Availability(ctx)
    promise = next((p for p in ctx.snapshot.promises if p.name == name), None)
    previous = {k: r for k, r in ctx.previous.items() if k.promise == name}
    if promise is not None:
        # A compound Promise's children come and go with their parents' output, not the
        # source: gitbot.reconcile.compound runs (and deletes) them.
        previous = {k: r for k, r in previous.items() if r.parent is None}
    try:
        if runs is None:
            with _run_pool(ctx, 1) as own:
                return _promise_workflows(ctx, own, name, promise, previous, availability)
        return _promise_workflows(ctx, runs, name, promise, previous, availability)
    finally:
        availability.settle(name, False)  # whatever went wrong, nobody waits forever


def _promise_workflows(
    ctx: ReconcileContext,
    runs: RunPool,
    name: str,
    promise: Promise | None,
    previous: Mapping[ObjectKey, ObjectRecord],
    availability: Availability,
) -> list[ObjectOutcome]:
    if promise is None:
        return _removed_promise(ctx, runs, name, previous)
    return _current_promise(ctx, runs, promise, previous, availability)


def _in_order(slots: Sequence[ObjectOutcome | Future[ObjectOutcome]]) -> list[ObjectOutcome]:
    """The outcomes in the order given, once every run has ended; a run that raised raises
    here (the first in order), after the others have finished with their runners."""
    wait([s for s in slots if isinstance(s, Future)])
    return [s.result() if isinstance(s, Future) else s for s in slots]


def _current_promise(
    ctx: ReconcileContext,
    runs: RunPool,
    promise: Promise,
    previous: Mapping[ObjectKey, ObjectRecord],
    availability: Availability,
) -> list[ObjectOutcome]:
    key = ObjectKey.of_promise(promise)
    requests = {ObjectKey.of_request(promise, r): r for r in ctx.snapshot.requests_of(promise.name)}
    if promise.paused:
        availability.settle(promise.name, availability.stored(promise.name))
        paused = [ObjectOutcome(key, "paused", note="kratix.io/paused is set on the Promise")]
        return paused + [
            ObjectOutcome(k, "skipped", note="its Promise is paused") for k in requests
        ]
    requirements = evaluate(
        required_promises(promise), lambda name: availability.view(name, promise.name)
    )
    status = with_requirements(_stored_status(ctx, key) or {}, requirements, _now())
    configured = runs.run(
        lambda runner: _configure(ctx, runner, promise, None, previous.get(key), status)
    )
    available = _completed(configured) and requirements.fulfilled
    _restore_status(ctx, key, lambda s: with_availability(s, available, _now()))
    availability.settle(promise.name, available)
    if not requirements.fulfilled:
        configured = replace(configured, note=requirements.summary())
    outcomes: list[ObjectOutcome | Future[ObjectOutcome]] = [configured]
    held = "" if available else _held_note(promise, configured, requirements)
    for request_key, request in requests.items():
        if request.paused:
            outcomes.append(ObjectOutcome(request_key, "paused", note="kratix.io/paused is set"))
        elif held:
            # Kratix's dynamic controller marks the request and leaves it (and its files) be.
            _restore_status(ctx, request_key, lambda s: request_held(s, _now()))
            outcomes.append(ObjectOutcome(request_key, "skipped", note=held, held=True))
        else:
            outcomes.append(
                runs.submit(_request_configure(ctx, promise, request, previous.get(request_key)))
            )
    for old_key, record in sorted(previous.items(), key=lambda kv: str(kv[0])):
        if old_key.is_promise or old_key in requests:
            continue
        if record.source_file in ctx.snapshot.broken_files:
            outcomes.append(_kept_broken(old_key, record))
            continue
        request = _request_from_record(promise, record)
        applied = _applied(ctx, promise, old_key)
        outcomes.append(runs.submit(_request_delete(ctx, applied, request, old_key)))
    return _in_order(outcomes)


def _request_configure(
    ctx: ReconcileContext,
    promise: Promise,
    request: ResourceRequest,
    previous: ObjectRecord | None,
) -> Callable[[WorkflowRunner], ObjectOutcome]:
    """A request's configure workflow, to run on a runner of the pool."""

    def work(runner: WorkflowRunner) -> ObjectOutcome:
        key = ObjectKey.of_request(promise, request)
        stored = _stored_status(ctx, key)
        released = request_released(stored, _now()) if stored is not None else None
        return _configure_bound(ctx, runner, promise, request, previous, released)

    return work


def _request_delete(
    ctx: ReconcileContext, promise: Promise, request: ResourceRequest, key: ObjectKey
) -> Callable[[WorkflowRunner], ObjectOutcome]:
    """A removed request's delete workflow, to run on a runner of the pool."""
    return lambda runner: _delete(ctx, runner, promise, request, key)


def _configure_bound(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    request: ResourceRequest,
    previous: ObjectRecord | None,
    status: Mapping[str, Any] | None,
) -> ObjectOutcome:
    """A request's configure workflow with the Promise revision its ResourceBinding names
    (gitbot.kratix.revisions); held, its files kept, when no revision has that version."""
    key = ObjectKey.of_request(promise, request)
    bound = bound_version(request, ctx.snapshot.objects.bindings)
    running, used = promise, revision_version(promise)
    if is_pinned(promise, bound):
        revision = ctx.revision(promise, bound) if ctx.revision is not None else None
        if revision is None:
            note = f"held: {lookup_failed(promise, bound)} (FailedPromiseRevisionLookup)"
            return ObjectOutcome(key, "skipped", note=f"{note}; its files are kept", held=True)
        running, used = at_revision(promise, revision), bound
    outcome = _configure(ctx, runner, running, request, previous, status)
    if _completed(outcome):
        _restore_status(ctx, key, lambda s: {**s, **version_status(used, bound)})
    if running is not promise and not outcome.note:
        outcome = replace(outcome, note=f"ran with Promise version {bound} (ResourceBinding)")
    return outcome


def _applied(ctx: ReconcileContext, promise: Promise, key: ObjectKey) -> Promise:
    """The Promise a removed request's delete workflow runs with: the revision it last ran
    with (its status's `promiseVersion`), as Kratix's `fetchRevisionForDelete`; the current
    Promise when that revision is gone from the source history."""
    applied = str((_stored_status(ctx, key) or {}).get("promiseVersion") or "")
    if not applied or not is_pinned(promise, applied) or ctx.revision is None:
        return promise
    revision = ctx.revision(promise, applied)
    return at_revision(promise, revision) if revision is not None else promise


def configure_object(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    request: ResourceRequest,
    previous: ObjectRecord | None,
    *,
    resume: bool = False,
) -> ObjectOutcome:
    """One request's configure workflow, as a Promise's reconcile runs it (for compound
    Promises' children); `resume`: from its suspended pipeline, as a retryAfter rerun."""
    if resume:
        # The stored (suspended) status and the revision the request is bound to, as before.
        return _configure_bound(replace(ctx, resume=True), runner, promise, request, previous, None)
    stored = _stored_status(ctx, ObjectKey.of_request(promise, request))
    released = request_released(stored, _now()) if stored is not None else None
    return _configure_bound(ctx, runner, promise, request, previous, released)


def configure_promise(
    ctx: ReconcileContext, runner: WorkflowRunner, promise: Promise, previous: ObjectRecord | None
) -> ObjectOutcome:
    """A Promise's configure workflow, settling whether it is Available as a Promise's
    reconcile does (for Promises a compound Promise puts on the platform)."""
    key = ObjectKey.of_promise(promise)
    availability = Availability(ctx)
    requirements = evaluate(
        required_promises(promise), lambda name: availability.view(name, promise.name)
    )
    status = with_requirements(_stored_status(ctx, key) or {}, requirements, _now())
    configured = _configure(ctx, runner, promise, None, previous, status)
    available = _completed(configured) and requirements.fulfilled
    _restore_status(ctx, key, lambda s: with_availability(s, available, _now()))
    return (
        configured if requirements.fulfilled else replace(configured, note=requirements.summary())
    )


def delete_object(
    ctx: ReconcileContext, runner: WorkflowRunner, promise: Promise, record: ObjectRecord
) -> ObjectOutcome:
    """The delete workflow of an object that left the platform (a compound Promise's child)."""
    if record.key.is_promise:
        return _delete(ctx, runner, promise, None, record.key)
    request = _request_from_record(promise, record)
    return _delete(ctx, runner, _applied(ctx, promise, record.key), request, record.key)


def promise_of_record(record: ObjectRecord) -> Promise:
    """The Promise a record holds; GitbotError when it no longer loads."""
    return _promise_from_record(record)


def stored_status(ctx: ReconcileContext, key: ObjectKey) -> dict[str, object] | None:
    """The object's status as gitbot keeps it (None: never ran)."""
    return _stored_status(ctx, key)


def request_of_record(promise: Promise, record: ObjectRecord) -> ResourceRequest:
    return _request_from_record(promise, record)


def _completed(outcome: ObjectOutcome) -> bool:
    """A configure workflow that ran every pipeline through (none failed or suspended)."""
    return not outcome.failed and outcome.run is not None and outcome.run.outcome == "succeeded"


def _held_note(promise: Promise, configured: ObjectOutcome, requirements: Requirements) -> str:
    """Why a request of an Unavailable Promise does not run, in Kratix's words."""
    if not requirements.fulfilled:
        missing = ", ".join(str(s) for s in requirements.missing)
        why = f"its Promise's requirements are not fulfilled ({missing})"
    elif configured.run is not None and configured.run.outcome == "suspended":
        why = "its Promise's configure workflow is suspended"
    else:
        why = "its Promise's configure workflow did not complete"
    return (
        f"held: Promise {promise.name} is Unavailable, {why}; "
        "PromiseAvailable=False (PromiseRequirementsNotInstalled); its files are kept"
    )


def _removed_promise(
    ctx: ReconcileContext,
    runs: RunPool,
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
    deleted = runs.run(lambda runner: _delete(ctx, runner, promise, None, promise_key))
    if deleted.failed:
        return [deleted]
    outcomes: list[ObjectOutcome | Future[ObjectOutcome]] = [deleted]
    for key, request_record in sorted(previous.items(), key=lambda kv: str(kv[0])):
        if not key.is_promise:
            request = _request_from_record(promise, request_record)
            outcomes.append(runs.submit(_request_delete(ctx, promise, request, key)))
    return _in_order(outcomes)


def _configure(
    ctx: ReconcileContext,
    runner: WorkflowRunner,
    promise: Promise,
    request: ResourceRequest | None,
    previous: ObjectRecord | None,
    status: Mapping[str, Any] | None = None,
) -> ObjectOutcome:
    """Run one configure workflow from `status` (default: the stored one) and place its files."""
    key = (
        ObjectKey.of_promise(promise) if request is None else ObjectKey.of_request(promise, request)
    )
    target = WorkflowTarget(promise, "configure", request, dry_run=ctx.preview)
    spec_hash = promise_hash(promise) if request is None else resource_hash(promise, request)
    start = _resume_point(ctx, key, target, spec_hash)
    if status is None:
        status = _stored_status(ctx, key)
    run = runner.run(target, status, start_at=start)
    _store_status(ctx, key, run, spec_hash)
    finished = any(p.outcome == "succeeded" for p in run.pipelines)
    if run.outcome == "failed" or (run.outcome == "suspended" and not finished):
        return ObjectOutcome(key, "configure", run)
    try:
        outcome = _files_of(ctx, key, run, previous, spec_hash)
    except GitbotError as e:
        return ObjectOutcome(key, "configure", run, error=str(e))
    if run.outcome == "suspended" or (start or 0) > 0:
        # Kratix writes each pipeline's Works as it finishes: those before the suspension go
        # out, and the object's earlier files stay until a complete run replaces them. A
        # resumed run did not rerun the first pipelines, so it removes nothing either.
        return _partial(outcome, previous)
    return outcome


def _resume_point(
    ctx: ReconcileContext, key: ObjectKey, target: WorkflowTarget, spec_hash: str
) -> int | None:
    """The pipeline a retryAfter rerun resumes from, or None to run from the start. Kratix
    resumes from the suspended pipeline unless the spec changed meanwhile (run-from-start in
    lib/workflow/reconciler.go), and only a resumed run keeps the pipelines' attempts."""
    if not ctx.resume or ctx.preview:
        return None
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    if stored is None or stored.outcome != "suspended" or stored.spec_hash != spec_hash:
        return None
    for index, pipeline in enumerate(target.pipelines):
        if stored.pipelines.get(pipeline.name) == "Suspended":
            return index
    return None


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


def placed_again(
    ctx: ReconcileContext, outcome: ObjectOutcome, previous: ObjectRecord | None
) -> ObjectOutcome:
    """The outcome's run placed again on `ctx.destinations`, now that Destinations were
    installed after it ran; no pipeline reruns. As Kratix's scheduler does when a Destination
    appears (lib/scheduler): a resource group keeps the Destination it has (on the base branch,
    else from this run), an unplaced group is placed afresh, Promise work goes to every
    matching Destination. An outcome without placed files is returned as it is."""
    run, first = outcome.run, outcome.record
    if outcome.failed or outcome.action != "configure" or run is None or first is None:
        return outcome
    placements = {**first.placements, **(previous.placements if previous else {})}
    sticky: StickyLookup = lambda work, group: placements.get(  # noqa: E731
        f"{work.work_name}/{group.id}"
    )
    redone = _files_of(ctx, outcome.key, run, None, first.spec_hash, sticky)
    if outcome.partial:
        redone = _partial(redone, previous)
    record = redone.record
    if record is not None:
        record = replace(record, parent=first.parent)
    return replace(
        outcome,
        record=record,
        files=redone.files,
        unscheduled=redone.unscheduled,
        misplaced=redone.misplaced,
    )


def _files_of(
    ctx: ReconcileContext,
    key: ObjectKey,
    run: WorkflowRun,
    previous: ObjectRecord | None,
    spec_hash: str,
    placed: StickyLookup | None = None,
) -> ObjectOutcome:
    sticky: StickyLookup = lambda work, group: found_on(  # noqa: E731
        work, group, ctx.destinations, ctx.base_paths, ctx.state_path
    )
    if previous is not None:
        placements = previous.placements
        sticky = lambda work, group: placements.get(f"{work.work_name}/{group.id}")  # noqa: E731
    if placed is not None:
        sticky = placed
    schedules = [schedule_run(run, ctx.destinations, sticky, ctx.released_destinations)]
    if run.target.request is None:
        schedules.append(schedule_static_dependencies(run.target.promise, ctx.destinations))
    schedule = merge_schedules(schedules)
    flat = Schedule(
        tuple(p for p in schedule.placements if p.destination.filepath_mode != "aggregatedYAML"),
        schedule.unscheduled,
    )
    files = render(flat, ctx.destinations, ctx.state_path, ctx.base_paths)
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
            # Misplaced groups keep their Destination, even one that left the source.
            **{f"{m.work.work_name}/{m.group.id}": m.destination for m in schedule.misplaced},
            **{
                f"{p.work.work_name}/{p.group.id}": p.destination.name
                for p in schedule.placements
                if p.work.work_type == "resource"
            },
        },
        aggregated=aggregated,
    )
    return ObjectOutcome(
        key, "configure", run, record, files, schedule.unscheduled, schedule.misplaced
    )


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
            _mark_deleted(ctx, key)
        return ObjectOutcome(key, "delete", note="no delete pipeline")
    if ctx.preview:
        return ObjectOutcome(key, "delete", note="its delete pipeline runs when this is merged")
    run = runner.run(target, _stored_status(ctx, key))
    if run.outcome == "succeeded":
        _mark_deleted(ctx, key)
    else:
        _store_status(ctx, key, run, "")
    return ObjectOutcome(key, "delete", run)


def _mark_deleted(ctx: ReconcileContext, key: ObjectKey) -> None:
    """Keep a deleted object's status, marked deleted, until its files are gone from the base
    branch (see `_unrecorded`): an object without a record there (a state store Kratix wrote)
    is known from its status only, and its removal must be proposed again until it merges, as a
    record on the base branch makes it be for a recorded object."""
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    ctx.status.put(
        ctx.snapshot.source,
        _status_key(key),
        ObjectStatus(
            status=dict(stored.status) if stored else {},
            outcome="deleted",
            spec_hash="",
            source_commit=stored.source_commit if stored else ctx.snapshot.commit,
            pipelines=dict(stored.pipelines) if stored else {},
            updated_at=_now(),
            state=ctx.state,
        ),
    )


def platform_view(ctx: ReconcileContext) -> ClusterView:
    """What the platform API shows pipelines: the snapshot's objects with their stored status."""

    def status_of(promise: Promise, request: ResourceRequest | None) -> dict[str, object] | None:
        key = (
            ObjectKey.of_promise(promise)
            if request is None
            else ObjectKey.of_request(promise, request)
        )
        return _stored_status(ctx, key)

    return ClusterView(
        (*ctx.snapshot.promises, *ctx.generated_promises),
        (*ctx.snapshot.objects.resources, *ctx.generated),
        tuple(ctx.destinations),
        status_of,
    )


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


def _promise_key(name: str) -> ObjectKey:
    return ObjectKey(name, KRATIX_GROUP, "Promise", "", name)


def _now() -> datetime:
    return datetime.now(UTC)


def _restore_status(
    ctx: ReconcileContext, key: ObjectKey, change: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> None:
    """Change an object's stored status in place (nothing for a preview or an unseen object)."""
    if ctx.preview:
        return
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    if stored is not None and stored.outcome != "deleted":
        ctx.status.put(
            ctx.snapshot.source, _status_key(key), replace(stored, status=change(stored.status))
        )


def _unrecorded(ctx: ReconcileContext) -> dict[ObjectKey, ObjectRecord]:
    """Objects whose workflows ran (their status is stored) but that left no record, because
    no configure workflow of theirs ever completed, and that have since left the source: read
    back from the commit they last ran at, so their delete workflows run."""
    if ctx.history is None or ctx.preview:
        return {}
    current = {_status_key(ObjectKey.of_promise(p)) for p in ctx.snapshot.promises}
    for promise in ctx.snapshot.promises:
        if promise.api is not None:
            current |= {
                _status_key(ObjectKey.of_request(promise, r))
                for r in ctx.snapshot.requests_of(promise.name)
            }
    recorded = {_status_key(k) for k in ctx.previous}
    found: dict[ObjectKey, ObjectRecord] = {}
    snapshots: dict[str, SourceSnapshot | None] = {}
    for status_key, stored in ctx.status.all(ctx.snapshot.source).items():
        if status_key in current or status_key in recorded:
            continue
        if not ctx.state or stored.state != ctx.state:
            # Written for another state repository (or one unknown, from before statuses
            # named it): its delete workflow, with its side effects, is not this one's to run.
            continue
        commit = stored.source_commit
        if commit not in snapshots:
            snapshots[commit] = _at(ctx.history, commit)
        then = snapshots[commit]
        record = _record_at(then, status_key) if then is not None else None
        if stored.outcome == "deleted" and (record is None or not _shown(ctx, then, record)):
            # Deleted, and none of its files are left on the base branch: done with it.
            ctx.status.forget(ctx.snapshot.source, status_key)
            continue
        if record is not None:
            found[record.key] = record
    return found


def _shown(ctx: ReconcileContext, then: SourceSnapshot | None, record: ObjectRecord) -> bool:
    """Whether the base branch still shows any file of the object (as Kratix lays them out)."""
    promises = {p.name: p for p in then.promises} if then is not None else {}
    files, _ = shown_files(
        record.key,
        promises.get(record.key.promise),
        ctx.destinations,
        ctx.state_path,
        ctx.base_paths,
    )
    return bool(files)


def _at(history: Callable[[str], SourceSnapshot], commit: str) -> SourceSnapshot | None:
    try:
        return history(commit)
    except GitbotError:
        return None  # gone (a force-push): nothing to read the object back from


def _record_at(snapshot: SourceSnapshot, status_key: str) -> ObjectRecord | None:
    """A file-less record of the object with this status key in an earlier snapshot."""
    for promise in snapshot.promises:
        key = ObjectKey.of_promise(promise)
        if _status_key(key) == status_key:
            return ObjectRecord(key, snapshot.source, promise.source.file, "", promise.raw)
        if promise.api is None:
            continue
        for request in snapshot.requests_of(promise.name):
            key = ObjectKey.of_request(promise, request)
            if _status_key(key) == status_key:
                return ObjectRecord(key, snapshot.source, request.source.file, "", request.raw)
    return None


def _stored_status(ctx: ReconcileContext, key: ObjectKey) -> dict[str, object] | None:
    stored = ctx.status.get(ctx.snapshot.source, _status_key(key))
    # A deleted object that comes back starts afresh, as a new object does in Kratix.
    return dict(stored.status) if stored and stored.outcome != "deleted" else None


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
            state=ctx.state,
        ),
    )
