"""From workflow results to state-store files: schedule each workload group, then lay it out."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitbot.kratix.layout import (
    WorkRef,
    destination_root,
    kratix_state_file,
    nested_dir,
    place_all,
    static_dependencies_group,
)
from gitbot.kratix.objects import Destination, Promise
from gitbot.kratix.scheduling import (
    WorkloadGroup,
    choose_destination,
    group_output,
    matching_destinations,
)
from gitbot.pipeline.runner import WorkflowRun
from gitbot.state.adoption import kratix_tracking_file


class BaseFiles(Protocol):
    """What the base branch holds, asked path by path so that a big state repository is never
    listed whole (gitbot.gitrepo.TreeView; PathSet in memory)."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def files_in(self, folders: Collection[str]) -> dict[str, list[str]]:
        """Every file under each folder, recursively, sorted ([] when the folder is absent)."""
        ...


class PathSet:
    """BaseFiles from a list of file paths held in memory."""

    def __init__(self, paths: Iterable[str]) -> None:
        self._paths = frozenset(paths)
        self._dirs = {
            "/".join(p.split("/")[:i]) for p in self._paths for i in range(p.count("/") + 1)
        }

    def is_file(self, path: str) -> bool:
        return path in self._paths

    def is_dir(self, path: str) -> bool:
        return path in self._dirs

    def files_in(self, folders: Collection[str]) -> dict[str, list[str]]:
        return {
            f: sorted(p for p in self._paths if p.startswith(f.rstrip("/") + "/")) for f in folders
        }


NO_FILES = PathSet(())

# Given a resource group, the name of the Destination it already has files under, if any.
StickyLookup = Callable[[WorkRef, WorkloadGroup], str | None]


@dataclass(frozen=True)
class Placement:
    """One workload group of one Work on one Destination (Kratix's WorkPlacement)."""

    destination: Destination
    work: WorkRef
    group: WorkloadGroup


@dataclass(frozen=True)
class Unscheduled:
    """A workload group whose selectors matched no Destination: nothing is written for it."""

    work: WorkRef
    group: WorkloadGroup

    def __str__(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.group.selectors.items()))
        where = "output root" if self.group.directory == "." else f"'{self.group.directory}/'"
        return f"{self.work.work_name} {where}: no Destination matches {{{labels}}}"


@dataclass(frozen=True)
class Misplaced:
    """A resource group kept on a Destination its selectors no longer match.

    Kratix keeps the WorkPlacement, labels it `kratix.io/misplaced: "true"` and sets
    ScheduleSucceeded=False, reason DestinationSelectorMismatch, with this message
    (`internal/controller/scheduler.go`, `internal/controller/workplacement_controller.go`)."""

    work: WorkRef
    group: WorkloadGroup
    destination: str

    def __str__(self) -> str:
        where = "output root" if self.group.directory == "." else f"'{self.group.directory}/'"
        return (
            f"{self.work.work_name} {where} on Destination {self.destination}: "
            "Target destination no longer matches destinationSelectors"
        )


@dataclass(frozen=True)
class Schedule:
    """Where a set of Works go, which groups could not go anywhere, which stayed misplaced."""

    placements: tuple[Placement, ...] = ()
    unscheduled: tuple[Unscheduled, ...] = ()
    misplaced: tuple[Misplaced, ...] = ()


def schedule_run(
    run: WorkflowRun,
    destinations: Sequence[Destination],
    sticky: StickyLookup | None = None,
    released: Collection[str] = (),
) -> Schedule:
    """Schedule every succeeded configure pipeline of a run (§3.1, §3.2).

    A resource group placed on a Destination that has left the source stays there, misplaced
    and not written (Kratix cannot write to it; `cleanup: none` keeps its WorkPlacements), unless
    that Destination is in `released` (it had `cleanup: all`, which deletes its WorkPlacements,
    so the scheduler places the group afresh).
    """
    if run.target.action != "configure" or run.failure is not None:
        return Schedule()
    promise, request = run.target.promise, run.target.request
    placements: list[Placement] = []
    unscheduled: list[Unscheduled] = []
    misplaced: list[Misplaced] = []
    for pipeline in run.pipelines:
        if pipeline.outcome != "succeeded":
            continue
        if request is None:
            work = WorkRef.promise_workflow(promise.name, pipeline.name)
        else:
            work = WorkRef.resource_workflow(
                promise.name,
                pipeline.name,
                request.name,
                request.namespace,
                promise.pipeline_namespace,
            )
        for group in group_output(
            pipeline.files, pipeline.selectors, promise.destination_selectors, pipeline.output_dirs
        ):
            gone = _kept_on_removed(work, group, destinations, sticky, released)
            if gone is not None:
                misplaced.append(Misplaced(work, group, gone))
                continue
            chosen = _destinations_for(work, group, destinations, sticky)
            if not chosen:
                unscheduled.append(Unscheduled(work, group))
            placements.extend(Placement(dest, work, group) for dest in chosen)
            matching = {d.name for d in matching_destinations(group.selectors, destinations)}
            misplaced.extend(
                Misplaced(work, group, d.name) for d in chosen if d.name not in matching
            )
    return Schedule(tuple(placements), tuple(unscheduled), tuple(misplaced))


def schedule_static_dependencies(promise: Promise, destinations: Sequence[Destination]) -> Schedule:
    """The Promise's `spec.dependencies` on every Destination its selectors match (§3.5)."""
    group = static_dependencies_group(promise.name, promise.dependencies)
    if group is None:
        return Schedule()
    work = WorkRef.static_dependencies(promise.name)
    group = WorkloadGroup(group.directory, group.id, group.files, promise.destination_selectors)
    chosen = matching_destinations(group.selectors, destinations)
    if not chosen:
        return Schedule(unscheduled=(Unscheduled(work, group),))
    return Schedule(tuple(Placement(dest, work, group) for dest in chosen))


def merge_schedules(schedules: Sequence[Schedule]) -> Schedule:
    return Schedule(
        tuple(p for s in schedules for p in s.placements),
        tuple(u for s in schedules for u in s.unscheduled),
        tuple(m for s in schedules for m in s.misplaced),
    )


def render(
    schedule: Schedule,
    destinations: Sequence[Destination],
    state_path: str = "",
    base: BaseFiles | None = None,
) -> dict[str, bytes]:
    """Every file of the scheduled Works, by repository path, in each Destination's layout.

    A `none` tracking file keeps the name Kratix gave it on the base branch (`base`),
    random Work suffix and all, as Kratix keeps writing a Work under its first name."""
    files: dict[str, bytes] = {}
    for dest in destinations:
        mine = [(p.work, p.group) for p in schedule.placements if p.destination.name == dest.name]
        if not mine:
            continue
        placed = place_all(state_path, dest, mine)
        if dest.filepath_mode == "none" and base is not None:
            for work, group in mine:
                ours = kratix_state_file(state_path, dest, work, group)
                theirs = kratix_tracking_file(state_path, dest, work, group, base)
                if theirs is not None and ours in placed and not base.is_file(ours):
                    placed[theirs] = placed.pop(ours)
        files.update(placed)
    return dict(sorted(files.items()))


def _kept_on_removed(
    work: WorkRef,
    group: WorkloadGroup,
    destinations: Sequence[Destination],
    sticky: StickyLookup | None,
    released: Collection[str],
) -> str | None:
    """The removed Destination a resource group stays on, if it does."""
    if work.work_type != "resource" or sticky is None:
        return None
    current = sticky(work, group)
    if current is None or current in released or any(d.name == current for d in destinations):
        return None
    return current


def found_on(
    work: WorkRef,
    group: WorkloadGroup,
    destinations: Sequence[Destination],
    base: BaseFiles,
    state_path: str = "",
) -> str | None:
    """The Destination a resource group already has files on, read from the layout Kratix's
    writer leaves (lib/writers, internal/controller/workplacement_controller.go): its
    nestedByMetadata group directory, or its `.kratix/` tracking file in `none` mode (under
    gitbot's name or Kratix's, with its Work's random suffix). So a
    state store Kratix wrote keeps its (random) placements. None when there are none."""
    for dest in sorted(destinations, key=lambda d: d.name):
        if dest.filepath_mode == "nestedByMetadata":
            directory = f"{destination_root(state_path, dest)}/{nested_dir(work, group)}"
            found = base.is_dir(directory.lstrip("/"))
        else:  # aggregatedYAML keeps no per-placement trace: such a group is placed afresh
            found = dest.filepath_mode == "none" and (
                base.is_file(kratix_state_file(state_path, dest, work, group))
                or kratix_tracking_file(state_path, dest, work, group, base) is not None
            )
        if found:
            return dest.name
    return None


def _destinations_for(
    work: WorkRef,
    group: WorkloadGroup,
    destinations: Sequence[Destination],
    sticky: StickyLookup | None,
) -> list[Destination]:
    candidates = matching_destinations(group.selectors, destinations)
    if work.work_type != "resource":
        return candidates  # promise workflows go to every matching Destination
    if sticky is not None:
        # A resource keeps the Destination it has files under, even if labels changed (§3.2).
        current = sticky(work, group)
        kept = [d for d in destinations if d.name == current]
        if kept:
            return kept
    key = f"{work.resource_namespace}/{work.promise}/{work.resource_name}/{group.directory}"
    chosen = choose_destination(key, candidates)
    return [chosen] if chosen else []
