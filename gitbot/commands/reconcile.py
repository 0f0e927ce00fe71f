"""`gitbot reconcile`: a whole source repository into reviewable branches of a state repository."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gitbot.errors import EXIT_OK, EXIT_USER_ERROR, UserError
from gitbot.gitrepo import CachedRepo, RepoCache
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import ContainerRun, WorkflowRunner
from gitbot.pipeline.setup import RunnerConfig, make_runner, runner_config
from gitbot.publisher import (
    BranchResult,
    StateBase,
    commit_message,
    publish_branch,
    publish_direct,
)
from gitbot.reconciler import ObjectOutcome, ReconcileContext, RunnerFactory, reconcile_all
from gitbot.secrets import Redactor
from gitbot.settings import load_settings
from gitbot.sourcerepo import SourceSnapshot, read_snapshot
from gitbot.statebranch import BranchPlan, Changes, plan_branches, plan_changes
from gitbot.staterecord import RECORD_ROOT, ObjectKey, ObjectRecord, records_in
from gitbot.statusstore import StatusStore


def reconcile_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run everything, publish the branches, print a summary; exit 1 if anything failed."""
    settings = load_settings()
    cache = RepoCache(settings.data_dir / "repos", timeout=settings.git_timeout)
    source_repo = cache.open(args.source)
    ref = args.source_ref or source_repo.default_branch()
    if ref is None:
        raise UserError(f"source repository {args.source} has no branches yet")
    commit = source_repo.resolve(ref)
    snapshot = read_snapshot(source_repo, args.source, commit)
    config = snapshot.config
    state_url = args.state or config.state_repository
    if not state_url:
        raise UserError("no state repository: pass --state or set stateRepository in .gitbot.yaml")
    base = StateBase(cache.open(state_url), config.base_branch)
    _print_header(out, args.source, ref, snapshot, state_url, base)
    base_paths = set(base.repo.list_files(base.sha))
    base_records = _records(base.repo, base.sha, base_paths)
    previous = _previous_records(base, base_records, snapshot)
    lock = threading.Lock()
    with StatusStore(settings.data_dir / "status.sqlite") as status:
        ctx = ReconcileContext(
            snapshot,
            previous,
            status,
            _runner_factory(runner_config(settings, args.secrets_dir), out, lock),
            state_path=config.path,
        )
        outcomes = reconcile_all(ctx, args.only, workers=settings.workers)
    plans = plan_branches(outcomes, config, commit)

    def changes_of(plan: BranchPlan) -> Changes:
        return plan_changes(
            plan.outcomes, base_records, base_paths, snapshot.destinations, config.path
        )

    if args.direct:
        results = _direct(base, plans, changes_of, args.source, commit)
    else:
        results = [
            publish_branch(base, plan, changes_of(plan), _message(plan, args.source, commit))
            for plan in plans
        ]
    _print_summary(out, plans, results, state_url, base.branch)
    failed = bool(snapshot.objects.problems) or any(
        r.action in ("failed", "rejected", "human-commit") for r in results
    )
    return EXIT_USER_ERROR if failed else EXIT_OK


def _records(repo: CachedRepo, commit: str, paths: set[str]) -> dict[ObjectKey, ObjectRecord]:
    wanted = sorted(p for p in paths if p.startswith(RECORD_ROOT + "/"))
    return records_in(repo.read_files(commit, wanted)) if wanted else {}


def _previous_records(
    base: StateBase, base_records: Mapping[ObjectKey, ObjectRecord], snapshot: SourceSnapshot
) -> dict[ObjectKey, ObjectRecord]:
    """Objects gitbot built before: on the base branch, or proposed on a gitbot branch."""
    previous = dict(base_records)
    names = {p.name for p in snapshot.promises} | {k.promise for k in base_records}
    for name in sorted(names):
        head = base.repo.branch_sha(f"gitbot/{name}")
        if head is not None:
            paths = set(base.repo.list_files(head, RECORD_ROOT))
            for key, record in _records(base.repo, head, paths).items():
                previous.setdefault(key, record)
    return previous


def _runner_factory(config: RunnerConfig, out: TextIO, lock: threading.Lock) -> RunnerFactory:
    redactor = Redactor()

    @contextmanager
    def runner() -> Iterator[WorkflowRunner]:
        engine = DockerEngine(config.engine_url)

        def show(pipeline: str, container: ContainerRun) -> None:
            state = "ok" if container.exit_code == 0 else "FAILED"
            with lock:
                print(
                    f"  ran {pipeline}/{container.name}: {state} in {container.seconds:.2f}s",
                    file=out,
                    flush=True,
                )

        try:
            yield make_runner(config, engine, redactor, show)
        finally:
            engine.close()

    return runner


def _direct(
    base: StateBase,
    plans: Sequence[BranchPlan],
    changes_of: Callable[[BranchPlan], Changes],
    source: str,
    commit: str,
) -> list[BranchResult]:
    ok = [p for p in plans if not p.failures]
    results = [BranchResult(p.branch, "failed", detail=_failure(p)) for p in plans if p.failures]
    changes: Changes = {}
    for plan in ok:
        changes.update(changes_of(plan))
    objects = [str(o.key) for p in ok for o in p.outcomes if o.changes_state]
    message = commit_message("gitbot: reconcile", source, commit, objects)
    return [publish_direct(base, changes, message), *results]


def _message(plan: BranchPlan, source: str, commit: str) -> str:
    objects = [f"{o.key} ({o.action})" for o in plan.outcomes if o.changes_state]
    return commit_message(plan.title, source, commit, objects)


def _failure(plan: BranchPlan) -> str:
    return "; ".join(f"{o.key}: {o.failure_text.splitlines()[0]}" for o in plan.failures)


def _print_header(
    out: TextIO, source: str, ref: str, snapshot: SourceSnapshot, state: str, base: StateBase
) -> None:
    objects = snapshot.objects
    print(
        f"source {source} at {snapshot.commit[:12]} ({ref}): {len(objects.promises)} Promise(s), "
        f"{len(objects.resources)} request(s), {len(objects.destinations)} Destination(s)",
        file=out,
    )
    if snapshot.implicit_destination:
        print("no Destination in the source: using the implicit Destination 'default'", file=out)
    for problem in objects.problems:
        print(f"error: {problem}", file=out)
    for warning in objects.warnings:
        print(str(warning), file=out)
    print(f"state {state}: base branch {base.branch} at {base.sha[:12]}", file=out)


def _print_summary(
    out: TextIO,
    plans: Sequence[BranchPlan],
    results: Sequence[BranchResult],
    state: str,
    base_branch: str,
) -> None:
    outcomes = {p.branch: p.outcomes for p in plans}
    for result in results:
        line = f"{result.branch}: {result.action}"
        if result.commit:
            line += f" {result.commit[:12]}"
        if result.action in ("created", "updated", "unchanged"):
            line += (
                f" ({len(result.added)} added, {len(result.changed)} changed, "
                f"{len(result.removed)} removed)"
            )
        print(line, file=out)
        if result.detail:
            print(f"  {result.detail}", file=out)
        for outcome in outcomes.get(result.branch, ()):
            print(f"  {_describe(outcome)}", file=out)
            for unscheduled in outcome.unscheduled:
                print(f"    not scheduled: {unscheduled}", file=out)
        if result.action in ("created", "updated", "unchanged") and result.branch != base_branch:
            print(f"  see: {_diff_command(state, base_branch, result.branch)}", file=out)
    pushed = sum(r.action in ("created", "updated", "removed") for r in results)
    if pushed == 0 and all(r.action in ("unchanged", "no-change") for r in results):
        print("nothing changed: nothing pushed", file=out)
    else:
        print(f"{pushed} branch(es) pushed", file=out)


def _describe(outcome: ObjectOutcome) -> str:
    text = f"{outcome.key}: {outcome.action}"
    if outcome.run is not None:
        timings = ", ".join(f"{p.name} {p.seconds:.2f}s" for p in outcome.run.pipelines)
        text += f" {outcome.run.outcome}" + (f" ({timings})" if timings else "")
    if outcome.note:
        text += f" — {outcome.note}"
    if outcome.failed:
        text += "\n    " + outcome.failure_text.replace("\n", "\n    ")
    return text


def _diff_command(state: str, base: str, branch: str) -> str:
    if Path(state).exists():
        return f"git -C {state} diff {base}...{branch}"
    return f"git diff origin/{base}...origin/{branch}  (in a clone of {state})"
