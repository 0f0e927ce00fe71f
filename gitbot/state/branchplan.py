"""Plan the state-repository branches of a reconcile: which objects go where, which files change.

Pure: from object outcomes and the records on the base branch to per-branch file changes.
Every branch starts from the latest base, so it holds exactly its own objects' changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitbot.kratix.layout import (
    aggregate,
    aggregated_path,
    canary_files,
    destination_root,
    nested_group_dir,
)
from gitbot.kratix.objects import Destination
from gitbot.source.config import RepoConfig
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.records import ObjectKey, ObjectRecord

Changes = dict[str, bytes | None]  # path -> new content, or None to remove it


@dataclass(frozen=True)
class BranchPlan:
    """One branch's worth of outcomes; it fails as a whole if any of them failed."""

    branch: str
    title: str
    outcomes: tuple[ObjectOutcome, ...]

    @property
    def failures(self) -> list[ObjectOutcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def failure_summary(self) -> str:
        """One line per failed object: its key and the first line of what failed."""
        return "; ".join(f"{o.key}: {o.failure_text.splitlines()[0]}" for o in self.failures)


def plan_branches(
    outcomes: Mapping[str, Sequence[ObjectOutcome]], config: RepoConfig, source_commit: str
) -> list[BranchPlan]:
    """Group outcomes into branches per `pullRequests.groupBy`."""
    group_by = config.pull_requests.group_by
    if group_by == "push":
        everything = tuple(o for name in sorted(outcomes) for o in outcomes[name])
        title = f"gitbot: source commit {source_commit[:12]}"
        return [BranchPlan(f"gitbot/push/{source_commit[:12]}", title, everything)]
    if group_by == "object":
        return [
            BranchPlan(_object_branch(o.key), f"gitbot: {o.key}", (o,))
            for name in sorted(outcomes)
            for o in outcomes[name]
        ]
    return [
        BranchPlan(f"gitbot/{name}", f"gitbot: Promise {name}", tuple(outcomes[name]))
        for name in sorted(outcomes)
        if outcomes[name]
    ]


def _object_branch(key: ObjectKey) -> str:
    if key.is_promise:
        return f"gitbot/object/{key.promise}"
    return f"gitbot/object/{key.promise}.{key.namespace}.{key.name}"


def plan_changes(
    outcomes: Sequence[ObjectOutcome],
    base_records: Mapping[ObjectKey, ObjectRecord],
    base_paths: set[str],
    destinations: Sequence[Destination],
    state_path: str,
    aggregated: bool = True,
) -> Changes:
    """File changes on top of base for these outcomes (objects not changing state are kept).

    `aggregated=False` leaves the aggregatedYAML files alone (the records still carry each
    object's contributions): in branch mode they have a branch of their own per Destination
    (`plan_aggregated`), so two pull requests never change the same aggregated file."""
    changes: Changes = {}
    moving = [o for o in outcomes if o.changes_state]
    roots = [
        destination_root(state_path, d)
        for d in destinations
        if d.filepath_mode == "nestedByMetadata"
    ]
    in_group_dir: dict[str, set[str]] = {}
    if moving:
        for path in base_paths:
            found = nested_group_dir(path, roots)
            if found is not None:
                in_group_dir.setdefault(found, set()).add(path)
    for outcome in moving:
        # A partial outcome (the pipelines a suspended workflow finished) adds, removes nothing.
        if not outcome.partial:
            old = base_records.get(outcome.key)
            owned = set(old.files if old else ()) | set(outcome.files)
            # Group directories are the object's alone and are replaced wholesale, as Kratix
            # does: a file someone else put there goes too.
            for path in list(owned):
                group_dir = nested_group_dir(path, roots)
                if group_dir is not None:
                    owned |= in_group_dir.get(group_dir, set())
            for path in owned - set(outcome.files):
                changes[path] = None
        changes.update(outcome.files)
        record_path = outcome.key.record_path
        changes[record_path] = outcome.record.dump() if outcome.record else None
    if aggregated:
        changes.update(_aggregated_changes(moving, base_records, destinations, state_path))
    if moving:
        for dest in destinations:
            for path, content in canary_files(state_path, dest).items():
                if path not in base_paths:
                    changes[path] = content
    return changes


def _aggregated_changes(
    moving: Sequence[ObjectOutcome],
    base_records: Mapping[ObjectKey, ObjectRecord],
    destinations: Sequence[Destination],
    state_path: str,
) -> Changes:
    """Rebuild each shared aggregatedYAML file from every object's contribution."""
    changes: Changes = {}
    moved = {o.key for o in moving}
    for dest in destinations:
        if dest.filepath_mode != "aggregatedYAML":
            continue
        touched = any(
            dest.name in (o.record.aggregated if o.record else {})
            or dest.name in (base_records[o.key].aggregated if o.key in base_records else {})
            for o in moving
        )
        if not touched:
            continue
        placements: dict[str, dict[str, bytes]] = {}
        for key, record in base_records.items():
            if key not in moved:
                _add(placements, record.aggregated.get(dest.name, {}))
        for outcome in moving:
            if outcome.record is not None:
                _add(placements, outcome.record.aggregated.get(dest.name, {}))
        path = aggregated_path(state_path, dest)
        changes[path] = aggregate(placements) if placements else None
    return changes


def aggregated_branch(dest: Destination) -> str:
    return f"gitbot/aggregated/{dest.name}"


def plan_aggregated(
    base_records: Mapping[ObjectKey, ObjectRecord],
    base_paths: set[str],
    destinations: Sequence[Destination],
    state_path: str,
) -> list[tuple[BranchPlan, Changes]]:
    """One branch per aggregatedYAML Destination: its file rebuilt from the records on the base
    branch, i.e. from the object branches already merged, so it never conflicts with them."""
    plans = []
    for dest in destinations:
        if dest.filepath_mode != "aggregatedYAML":
            continue
        placements: dict[str, dict[str, bytes]] = {}
        for _, record in sorted(base_records.items(), key=lambda kv: str(kv[0])):
            _add(placements, record.aggregated.get(dest.name, {}))
        path = aggregated_path(state_path, dest)
        changes: Changes = {}
        if placements:
            changes[path] = aggregate(placements)
        elif path in base_paths:
            changes[path] = None
        title = f"gitbot: aggregated file of Destination {dest.name}"
        plans.append((BranchPlan(aggregated_branch(dest), title, ()), changes))
    return plans


def _add(placements: dict[str, dict[str, bytes]], found: Mapping[str, Mapping[str, str]]) -> None:
    for name, files in found.items():
        placements[name] = {path: text.encode("utf-8") for path, text in files.items()}
