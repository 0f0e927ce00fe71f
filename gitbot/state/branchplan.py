"""Plan the state-repository branches of a reconcile: which objects go where, which files change.

Pure: from object outcomes and the records on the base branch to per-branch file changes.
Every branch starts from the latest base, so it holds exactly its own objects' changes. The base
branch's files are asked about path by path (BaseFiles): a plan reads the folders its objects
own, never the whole state repository.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

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
from gitbot.state.placement import BaseFiles
from gitbot.state.records import (
    ObjectKey,
    ObjectRecord,
    destination_record_path,
    dump_destination,
)

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
    base_files: BaseFiles,
    destinations: Sequence[Destination],
    state_path: str,
    aggregated: bool = True,
    recorded: Mapping[str, Destination] | None = None,
    restating: Collection[ObjectKey] = (),
) -> Changes:
    """File changes on top of base for these outcomes (objects not changing state are kept).

    `restating` objects get no record: it would only restate what the base branch shows
    (gitbot.state.adoption), and `base_records` then holds what it shows of them.

    `aggregated=False` leaves the aggregatedYAML files alone (the records still carry each
    object's contributions): in branch mode they have a branch of their own per Destination
    (`plan_aggregated`), so two pull requests never change the same aggregated file.

    `recorded` are the `cleanup: all` Destinations recorded on the base branch. A Destination
    that left the source is cleaned up as its `spec.cleanup` said (Kratix's
    destination_controller.go): with `all` (recorded) its objects' files, canary files and
    aggregated file go; otherwise (`none`, Kratix's default) every file an object has outside
    the current Destinations stays, as Kratix leaves a deleted Destination's files alone.
    """
    changes: Changes = {}
    recorded = recorded or {}
    current = {d.name for d in destinations}
    released = [d for name, d in recorded.items() if name not in current]
    kept = _outside(destinations, released, state_path)
    moving = [o for o in outcomes if o.changes_state]
    roots = [
        destination_root(state_path, d)
        for d in destinations
        if d.filepath_mode == "nestedByMetadata"
    ]
    owned_by = [_owned(outcome, base_records) for outcome in moving]
    # Group directories are the object's alone and are replaced wholesale, as Kratix does: a
    # file someone else put there goes too. Only these folders of the base are read.
    group_dirs = {
        found
        for owned in owned_by
        for path in owned
        if (found := nested_group_dir(path, roots)) is not None
    }
    in_group_dir = base_files.files_in(sorted(group_dirs)) if group_dirs else {}
    for outcome, owned in zip(moving, owned_by, strict=True):
        # A partial outcome (the pipelines a suspended workflow finished) adds, removes nothing.
        if not outcome.partial:
            for path in list(owned):
                group_dir = nested_group_dir(path, roots)
                if group_dir is not None:
                    owned |= set(in_group_dir.get(group_dir, ()))
            stays = {path for path in owned if kept(path)} if outcome.record else set()
            for path in owned - set(outcome.files) - stays:
                changes[path] = None
        record = outcome.record
        if record is not None and not outcome.partial:
            old = base_records.get(outcome.key)
            stays = {path for path in (old.files if old else ()) if kept(path)}
            record = replace(record, files=tuple(sorted(set(record.files) | stays)))
        changes.update(outcome.files)
        if outcome.key not in restating:
            changes[outcome.key.record_path] = record.dump() if record else None
    if aggregated:
        changes.update(_aggregated_changes(moving, base_records, destinations, state_path))
    if moving:
        for dest in destinations:
            for path, content in canary_files(state_path, dest).items():
                if not base_files.is_file(path):
                    changes[path] = content
        changes.update(_destination_records(destinations, recorded, released, base_files))
        for dest in released:
            gone = [*canary_files(state_path, dest), aggregated_path(state_path, dest)]
            changes.update({path: None for path in gone if base_files.is_file(path)})
    return changes


def _owned(outcome: ObjectOutcome, base_records: Mapping[ObjectKey, ObjectRecord]) -> set[str]:
    """The files an object had on base and has now ({} for a partial outcome, which removes
    nothing)."""
    if outcome.partial:
        return set()
    old = base_records.get(outcome.key)
    return set(old.files if old else ()) | set(outcome.files)


def _outside(
    destinations: Sequence[Destination], released: Sequence[Destination], state_path: str
) -> Callable[[str], bool]:
    """Whether a path lies outside every current and every released Destination's folder:
    the files of a Destination removed with `cleanup: none`, which stay."""
    roots = [destination_root(state_path, d) for d in (*destinations, *released)]

    def outside(path: str) -> bool:
        return not any(root == "" or path.startswith(root + "/") for root in roots)

    return outside


def _destination_records(
    destinations: Sequence[Destination],
    recorded: Mapping[str, Destination],
    released: Collection[Destination],
    base_files: BaseFiles,
) -> Changes:
    """Records of the `cleanup: all` Destinations; gone with the Destination or the policy."""
    changes: Changes = {}
    for dest in destinations:
        path = destination_record_path(dest.name)
        if dest.cleanup == "all":
            changes[path] = dump_destination(dest)
        elif base_files.is_file(path):
            changes[path] = None
    for dest in released:
        changes[destination_record_path(dest.name)] = None
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
    base_files: BaseFiles,
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
        elif base_files.is_file(path):
            changes[path] = None
        title = f"gitbot: aggregated file of Destination {dest.name}"
        plans.append((BranchPlan(aggregated_branch(dest), title, ()), changes))
    return plans


def _add(placements: dict[str, dict[str, bytes]], found: Mapping[str, Mapping[str, str]]) -> None:
    for name, files in found.items():
        placements[name] = {path: text.encode("utf-8") for path, text in files.items()}
