"""Pure scheduling rules: destination selectors, workload groups, Destination choice (§2.5, §3)."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitbot.errors import UserError
from gitbot.kratix.objects import Destination
from gitbot.kratix.validate import kind_of

ROOT_DIRECTORY = "."
SELECTORS_FILE = "destination-selectors.yaml"


def group_id(directory: str) -> str:
    """Kratix's workload group id: the md5 hex digest of the (cleaned) directory."""
    return hashlib.md5(directory.encode()).hexdigest()


def go_clean(path: str) -> str:
    """Go's `filepath.Clean` on POSIX: "" and "." become ".", `a/../b` becomes `b`."""
    cleaned = posixpath.normpath(path) if path else "."
    # normpath keeps a leading "//" (POSIX allows it); Go collapses it to "/".
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def walk_order(path: str) -> list[str]:
    """Sort key giving the order Kratix reads files (`os.ReadDir`, recursively, by name)."""
    return path.split("/")


@dataclass(frozen=True)
class DestinationSelector:
    """One entry of `destination-selectors.yaml`; `directory` is "." for the default group."""

    directory: str
    match_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """True for the entry that selects Destinations for the default group."""
        return self.directory == ROOT_DIRECTORY


def parse_destination_selectors(data: Any) -> tuple[DestinationSelector, ...]:
    """Validate a parsed `destination-selectors.yaml` like Kratix's ParseDestinationSelectors."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise UserError(f"{SELECTORS_FILE} must be a list, got {kind_of(data)}")
    selectors: list[DestinationSelector] = []
    seen: set[str] = set()
    for index, item in enumerate(data):
        selector = _parse_selector(index, item)
        if selector.directory in seen:
            raise UserError(
                f"{SELECTORS_FILE}: directory {selector.directory!r} is listed more than once"
            )
        seen.add(selector.directory)
        selectors.append(selector)
    return tuple(selectors)


def _parse_selector(index: int, item: Any) -> DestinationSelector:
    """Validate one entry; unknown keys are ignored, as Kratix's non-strict decoder does."""
    where = f"{SELECTORS_FILE}: entry {index}"
    if not isinstance(item, Mapping):
        raise UserError(f"{where} must be a mapping, got {kind_of(item)}")
    labels = item.get("matchLabels")
    if labels is None or labels == {}:
        raise UserError(f"{where} has no matchLabels")
    if not isinstance(labels, Mapping):
        raise UserError(f"{where}: matchLabels must be a mapping, got {kind_of(labels)}")
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise UserError(
                f"{where}: matchLabels must map strings to strings, got {key!r}: {kind_of(value)}"
            )
    return DestinationSelector(
        directory=_parse_directory(where, item.get("directory")), match_labels=dict(labels)
    )


def _parse_directory(where: str, raw: Any) -> str:
    """Clean `directory` and require a single top-level name inside /kratix/output."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise UserError(f"{where}: directory must be a string, got {kind_of(raw)}")
    directory = go_clean(raw)
    if directory.startswith("/"):
        raise UserError(
            f"{SELECTORS_FILE}: invalid directory {raw!r}: must be relative to /kratix/output"
        )
    if directory == ".." or directory.startswith("../"):
        raise UserError(
            f"{SELECTORS_FILE}: invalid directory {raw!r}: must stay inside /kratix/output"
        )
    if "/" in directory:
        raise UserError(
            f"{SELECTORS_FILE}: invalid directory {directory!r}: sub-directories are not allowed"
        )
    return directory


@dataclass(frozen=True)
class WorkloadGroup:
    """Files that are scheduled together; `files` keep their path relative to the output root."""

    directory: str
    id: str
    files: Mapping[str, bytes]
    selectors: Mapping[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        """The first five hex characters of the id, used in paths and WorkPlacement names."""
        return self.id[:5]


def make_group(
    directory: str, files: Mapping[str, bytes], selectors: Mapping[str, str]
) -> WorkloadGroup:
    """Build a group with Kratix's id for `directory` and files in Kratix's read order."""
    ordered = {path: files[path] for path in sorted(files, key=walk_order)}
    return WorkloadGroup(
        directory=directory, id=group_id(directory), files=ordered, selectors=dict(selectors)
    )


def group_output(
    files: Mapping[str, bytes],
    selectors: Sequence[DestinationSelector],
    promise_selectors: Mapping[str, str],
    directories: Collection[str] = (),
) -> list[WorkloadGroup]:
    """Split a Pipeline's output into workload groups: default group first, then directories.

    `directories` are the top-level folders of the output, empty ones included: a selector
    naming one that holds no file makes an empty group, as Kratix's reader does (os.ReadDir
    of an empty folder); one naming no folder at all is an error (UserError), as the
    work-writer fails on it (work-creator/lib/work_creator.go getWorkloadsFromDir).
    """
    groups: list[WorkloadGroup] = []
    claimed: set[str] = set()
    root_labels: Mapping[str, str] = {}
    for selector in selectors:
        if selector.is_root:
            root_labels = selector.match_labels
            continue
        prefix = selector.directory + "/"
        in_dir = {path: content for path, content in files.items() if path.startswith(prefix)}
        if not in_dir and selector.directory not in directories:
            raise UserError(
                f"{SELECTORS_FILE}: directory {selector.directory!r} does not exist in "
                "/kratix/output"
            )
        claimed.update(in_dir)
        groups.append(make_group(selector.directory, in_dir, selector.match_labels))
    rest = {path: content for path, content in files.items() if path not in claimed}
    if not rest:
        return groups
    # Lowest priority first: the workflow's root selector, then the Promise's (which wins).
    default_labels = {**root_labels, **promise_selectors}
    return [make_group(ROOT_DIRECTORY, rest, default_labels), *groups]


def matches(selectors: Mapping[str, str], destination: Destination) -> bool:
    """True when `destination` carries every selector label (Kratix's scheduler rule)."""
    if not selectors:
        return not (destination.strict_match_labels and destination.labels)
    return all(destination.labels.get(key) == value for key, value in selectors.items())


def matching_destinations(
    selectors: Mapping[str, str], destinations: Sequence[Destination]
) -> list[Destination]:
    """Destinations that `selectors` match, in input order."""
    return [destination for destination in destinations if matches(selectors, destination)]


def _score(key: str, destination: Destination) -> bytes:
    """Rendezvous-hashing weight of `destination` for `key`."""
    return hashlib.sha256(f"{key}/{destination.name}".encode()).digest()


def choose_destination(key: str, candidates: Sequence[Destination]) -> Destination | None:
    """Pick one Destination for a resource group, stable across runs (rendezvous hashing).

    Kratix picks at random; gitbot picks the highest sha256(key/name), so adding or removing
    another Destination only moves the groups that it wins or held (design.md).
    """
    if not candidates:
        return None
    return max(candidates, key=lambda destination: (_score(key, destination), destination.name))
