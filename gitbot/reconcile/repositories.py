"""One reconcile of a source repository into a state repository, whoever asks for it.

Read the source at a commit, run every workflow (gitbot.reconcile.workflows), plan the
branches (gitbot.state.branchplan) and publish them (gitbot.state.publish). What users see of it
(console lines, pull requests, check runs) is a Feedback, so the CLI and the webhook worker share
this path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gitbot.errors import UserError
from gitbot.gitrepo import CachedRepo
from gitbot.kratix.objects import Destination, Promise
from gitbot.reconcile.compound import reconcile_compound
from gitbot.reconcile.workflows import ReconcileContext, RunnerFactory
from gitbot.source.config import resolve_state_repository
from gitbot.source.revisions import find_revision
from gitbot.source.snapshot import SourceSnapshot, read_snapshot
from gitbot.state.adoption import restating, shown_records
from gitbot.state.branchplan import (
    BranchPlan,
    Changes,
    plan_aggregated,
    plan_branches,
    plan_changes,
)
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.publish import (
    BranchResult,
    StateBase,
    base_branch,
    commit_message,
    preview_branch,
    publish_branch,
    publish_direct,
    remove_branch,
)
from gitbot.state.records import (
    DESTINATION_RECORD_ROOT,
    RECORD_ROOT,
    ObjectKey,
    ObjectRecord,
    destinations_in,
    records_in,
)
from gitbot.statusdb import ObjectStatuses


@dataclass(frozen=True)
class ReconcileRequest:
    """What to reconcile: `source`/`state` name the repositories, `*_url` is what git fetches."""

    source: str
    source_url: str
    state: str | None = None
    state_url: str | None = None
    source_ref: str | None = None
    direct: bool = False
    only: tuple[str, ...] = ()
    only_known: bool = False  # a name in `only` that no Promise has is an UnknownPromise
    preview: bool = False  # compute the branches' changes and report them; push nothing
    # A retryAfter rerun: suspended objects resume from their suspended pipeline, as Kratix does.
    resume: bool = False
    pull_request: int | None = None  # source_ref is its head, maybe only in refs/pull/N/head


@dataclass
class ReconcileReport:
    """Everything a reconcile did, for summaries, check runs and exit codes."""

    snapshot: SourceSnapshot
    ref: str
    state: str
    base: StateBase
    outcomes: Mapping[str, Sequence[ObjectOutcome]] = field(default_factory=dict)
    plans: list[BranchPlan] = field(default_factory=list)
    results: list[BranchResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.snapshot.objects.problems) or any(
            r.action in _BAD_RESULTS for r in self.results
        )

    def succeeded_promises(self) -> list[str]:
        """Promises whose every workflow ran and whose branch was published (or unchanged)."""
        bad = {
            o.key.promise
            for p in self.plans
            for o in p.outcomes
            if p.failures or _result_of(self, p.branch) in _BAD_RESULTS
        }
        outcomes = [o for found in self.outcomes.values() for o in found]
        bad |= {o.key.promise for o in outcomes if o.failed or o.action in ("paused", "skipped")}
        return sorted({o.key.promise for o in outcomes} - bad)


_BAD_RESULTS = ("failed", "rejected", "human-commit")


def _result_of(report: ReconcileReport, branch: str) -> str | None:
    return next((r.action for r in report.results if r.branch == branch), None)


class UnknownPromise(UserError):
    """`only` names a Promise neither the source nor the state repository has."""


class NotASourceRepository(UserError):
    """The repository's `.gitbot.yaml` names no state repository (it may be a state repo)."""


class RepoOpener(Protocol):
    """Opens a repository by URL or path (a RepoCache, or one that knows `owner/name`)."""

    def open(self, url: str) -> CachedRepo: ...


class Feedback(Protocol):
    """What users see of a reconcile, at each step."""

    def started(self, report: ReconcileReport, promises: Sequence[str]) -> None: ...

    def skip_push(self, plan: BranchPlan, changes: Changes) -> BranchResult | None: ...

    def published(
        self, report: ReconcileReport, plan: BranchPlan, changes: Changes, result: BranchResult
    ) -> BranchResult: ...

    def finished(self, report: ReconcileReport) -> None: ...


class LocalFeedback:
    """Plain git: a branch whose content reached the base branch is simply deleted."""

    def started(self, report: ReconcileReport, promises: Sequence[str]) -> None:
        pass

    def skip_push(self, plan: BranchPlan, changes: Changes) -> BranchResult | None:
        return None

    def published(
        self, report: ReconcileReport, plan: BranchPlan, changes: Changes, result: BranchResult
    ) -> BranchResult:
        if result.action == "equal-to-base":
            return remove_branch(report.base, result)
        return result

    def finished(self, report: ReconcileReport) -> None:
        pass


def reconcile(
    request: ReconcileRequest,
    cache: RepoOpener,
    status: ObjectStatuses,
    runners: RunnerFactory,
    feedback: Feedback,
    workers: int = 2,
) -> ReconcileReport:
    """Render the source at its ref into the state repository; see the module docstring."""
    source_repo = cache.open(request.source_url)
    if request.pull_request is not None and request.source_ref is not None:
        source_repo.ensure_pull_request_commit(request.pull_request, request.source_ref)
    ref = request.source_ref or source_repo.default_branch()
    if ref is None:
        # An empty repository names no state repository either (a new state repository).
        raise NotASourceRepository(f"source repository {request.source} has no branches yet")
    commit = source_repo.resolve(ref)
    snapshot = read_snapshot(source_repo, request.source, commit)
    config = snapshot.config
    # A relative stateRepository is relative to the source repository, never to the cwd.
    state = request.state or resolve_state_repository(config, source_repo.url)
    state_url = request.state_url or state
    if not state or not state_url:
        raise NotASourceRepository(
            "no state repository: pass --state or set stateRepository in .gitbot.yaml"
        )
    state_repo = cache.open(state_url)
    base = StateBase(state_repo, base_branch(state_repo, config.base_branch))
    report = ReconcileReport(snapshot, ref, state, base)
    promises = sorted({p.name for p in snapshot.promises})
    # Looked up a folder at a time: a big state repository is never listed whole.
    base_files = base.repo.tree_view(base.sha)
    base_records = _records(base.repo, base.sha, base.repo.list_files(base.sha, RECORD_ROOT))
    feedback.started(report, [p for p in promises if not request.only or p in request.only])
    previous = _previous_records(base, base_records, snapshot)
    if request.only_known:
        # A Promise that left the source but whose records remain (on the base branch or its
        # unmerged branch) still has deletes to run.
        known = sorted({*promises, *(key.promise for key in previous)})
        unknown = [name for name in request.only if name not in known]
        if unknown:
            raise UnknownPromise(
                f"--only {', '.join(unknown)}: no such Promise in source {request.source} at "
                f"{commit[:12]} or in state {state}; the Promises: {', '.join(known) or 'none'}"
            )
    recorded = _destination_records(
        base.repo, base.sha, base.repo.list_files(base.sha, DESTINATION_RECORD_ROOT)
    )
    current = {d.name for d in snapshot.destinations}
    ctx = ReconcileContext(
        snapshot,
        previous,
        status,
        runners,
        config.path,
        preview=request.preview,
        resume=request.resume,
        history=lambda at: read_snapshot(source_repo, request.source, at),
        revision=_revisions(source_repo, commit),
        released_destinations=frozenset(name for name in recorded if name not in current),
        base_paths=base_files,
        state=state,
    )
    installed = [d for d in recorded.values() if d.installed_by and d.name not in current]
    compound = reconcile_compound(ctx, request.only, workers=workers, recorded=installed)
    report.outcomes = compound.outcomes
    # Destinations a compound Promise put on the platform are written to like the source's.
    destinations = [*snapshot.destinations, *compound.installed]
    report.plans = plan_branches(report.outcomes, config, commit)

    # Branches leave aggregatedYAML files to a branch of their own (plan_aggregated); a
    # preview and --direct show and write them with the objects that changed them.
    separate = not request.preview and not request.direct
    aggregated = [
        (plan, changes)
        for plan, changes in (
            plan_aggregated(base_records, base_files, destinations, config.path) if separate else []
        )
        if _needed(base, plan, changes)
    ]
    extra = {plan.branch: changes for plan, changes in aggregated}
    # Objects without a record (a state store Kratix wrote): what the base branch shows of
    # them stands in for a record. Records that would only restate it are no change worth a
    # branch of their own: they ride along with the branch's next real change.
    outcomes = [o for found in report.outcomes.values() for o in found]

    def read(paths: Collection[str]) -> Mapping[str, bytes]:
        return base.repo.read_files(base.sha, sorted(paths)) if paths else {}

    shown = shown_records(
        outcomes,
        base_records,
        {p.name: p for p in snapshot.promises},
        destinations,
        config.path,
        base_files,
        read,
    )
    unrecorded = restating(outcomes, base_records, shown, read)

    def changes_of(plan: BranchPlan) -> Changes:
        if plan.branch in extra:
            return extra[plan.branch]

        def planned(skip: Collection[ObjectKey]) -> Changes:
            return plan_changes(
                plan.outcomes,
                {**shown, **base_records},
                base_files,
                destinations,
                config.path,
                aggregated=not separate,
                recorded=recorded,
                restating=skip,
            )

        skip = unrecorded & {o.key for o in plan.outcomes}
        if not skip:
            return planned(())
        quiet = planned(skip)
        current = read(quiet)  # absent paths are left out
        if all(current.get(path) == content for path, content in quiet.items()):
            return quiet
        return planned(())

    if request.preview:
        report.results = [preview_branch(base, p, changes_of(p)) for p in report.plans]
    elif request.direct:
        report.results = _direct(base, report.plans, changes_of, request.source, commit)
    else:
        report.plans += [plan for plan, _ in aggregated]
        for plan in report.plans:
            changes = changes_of(plan)
            result = feedback.skip_push(plan, changes)
            if result is None:
                message = _message(plan, request.source, commit)
                result = publish_branch(base, plan, changes, message)
                result = feedback.published(report, plan, changes, result)
            report.results.append(result)
    feedback.finished(report)
    return report


def _revisions(repo: CachedRepo, commit: str) -> Callable[[Promise, str], Promise | None]:
    """Looks a Promise up at a version in the source history, each (name, version) once."""
    found: dict[tuple[str, str], Promise | None] = {}
    lock = threading.Lock()  # a Promise's requests look up side by side: each lookup once

    def revision(promise: Promise, version: str) -> Promise | None:
        key = (promise.name, version)
        with lock:
            if key not in found:
                found[key] = find_revision(repo, commit, promise, version)
            return found[key]

    return revision


def _needed(base: StateBase, plan: BranchPlan, changes: Changes) -> bool:
    """An aggregated file's branch is worth publishing when it exists or changes the base."""
    if base.repo.branch_sha(plan.branch) is not None:
        return True
    current = base.repo.read_files(base.sha, sorted(changes))  # absent paths are left out
    return any(current.get(path) != content for path, content in changes.items())


def _records(repo: CachedRepo, commit: str, paths: Iterable[str]) -> dict[ObjectKey, ObjectRecord]:
    wanted = sorted(p for p in paths if p.startswith(RECORD_ROOT + "/"))
    return records_in(repo.read_files(commit, wanted)) if wanted else {}


def _destination_records(
    repo: CachedRepo, commit: str, paths: Iterable[str]
) -> dict[str, Destination]:
    wanted = sorted(p for p in paths if p.startswith(DESTINATION_RECORD_ROOT + "/"))
    return destinations_in(repo.read_files(commit, wanted)) if wanted else {}


def _previous_records(
    base: StateBase, base_records: Mapping[ObjectKey, ObjectRecord], snapshot: SourceSnapshot
) -> dict[ObjectKey, ObjectRecord]:
    """Objects gitbot built before: on the base branch, or proposed on a gitbot branch (also
    the branch of a Promise that left the source before it merged: a compound Promise's
    children are recorded only there, and their delete workflows must run)."""
    previous = dict(base_records)
    names = {p.name for p in snapshot.promises} | {k.promise for k in base_records}
    names |= {
        b.removeprefix("gitbot/")
        for b in base.repo.branches()
        if b.startswith("gitbot/") and "/" not in b.removeprefix("gitbot/")
    }
    for name in sorted(names):
        head = base.repo.branch_sha(f"gitbot/{name}")
        if head is not None:
            paths = set(base.repo.list_files(head, RECORD_ROOT))
            for key, record in _records(base.repo, head, paths).items():
                previous.setdefault(key, record)
    return previous


def _direct(
    base: StateBase,
    plans: Sequence[BranchPlan],
    changes_of: Callable[[BranchPlan], Changes],
    source: str,
    commit: str,
) -> list[BranchResult]:
    ok = [p for p in plans if not p.failures]
    failed = [
        BranchResult(p.branch, "failed", detail=p.failure_summary) for p in plans if p.failures
    ]
    changes: Changes = {}
    for plan in ok:
        changes.update(changes_of(plan))
    objects = [str(o.key) for p in ok for o in p.outcomes if o.changes_state]
    message = commit_message("gitbot: reconcile", source, commit, objects)
    return [publish_direct(base, changes, message), *failed]


def _message(plan: BranchPlan, source: str, commit: str) -> str:
    objects = [f"{o.key} ({o.action})" for o in plan.outcomes if o.changes_state]
    return commit_message(plan.title, source, commit, objects)
