"""What the state repository shows of objects gitbot keeps no record of: a state store Kratix wrote.

Kratix keeps no `.gitbot/objects/` records: its WorkPlacements say where each group went and which
files it wrote. gitbot reads the same facts back from the layout Kratix's writer leaves
(`internal/controller/workplacement_controller.go`, `lib/writers/git.go`): the nestedByMetadata
directories `resources/<ns>/<promise>/<name>/...` and `dependencies/<promise>/...`, and in `none`
mode the `.kratix/<wp-namespace>-<wp-name>.yaml` tracking files, whose WorkPlacement names carry
the random five-character suffix of the Work's name (`lib/objectutil/name.go`,
`GenerateObjectName`). gitbot's own names have no suffix; it keeps Kratix's where they exist.

A record that only restates what the state repository already shows (the object's files are
there, byte for byte, and nothing of it would go) is no change worth a pull request: a branch
that holds nothing else is not proposed, and the record rides along with the branch's next real
change (gitbot.reconcile.repositories; README, "Kratix compatibility").
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from gitbot.kratix.layout import WorkRef, destination_root, join_path, process_name
from gitbot.kratix.objects import Destination, Promise
from gitbot.kratix.scheduling import WorkloadGroup
from gitbot.state.records import ObjectKey, ObjectRecord

if TYPE_CHECKING:  # placement imports this module, and outcomes imports placement
    from gitbot.state.outcomes import ObjectOutcome
    from gitbot.state.placement import BaseFiles

ReadFiles = Callable[[Collection[str]], Mapping[str, bytes]]  # base-branch contents by path

_SUFFIX = re.compile(r"-[0-9a-f]{5}(?=\.)")  # a Work name's random suffix, before ".<dest>"


def kratix_work_name(work_name: str) -> str:
    """A Work name as Kratix shortens it before adding its random suffix."""
    return process_name(work_name)


def _tracking_name(work: WorkRef, dest: Destination, short_id: str) -> str:
    """The tracking file name without the Work's random suffix."""
    return (
        f"{work.workplacement_namespace}-{kratix_work_name(work.work_name)}."
        f"{dest.name}-{short_id}.yaml"
    )


def kratix_tracking_file(
    state_path: str,
    dest: Destination,
    work: WorkRef,
    group: WorkloadGroup,
    base: BaseFiles,
) -> str | None:
    """The `.kratix/` tracking file Kratix wrote for this WorkPlacement (its Work's name with
    the random suffix), when the base branch has one; None otherwise."""
    folder = join_path(destination_root(state_path, dest), ".kratix")
    key = join_path(folder, _tracking_name(work, dest, group.short_id))
    return _tracking_index(base, folder).get(key)


_INDEXES: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def _tracking_index(base: BaseFiles, folder: str) -> dict[str, str]:
    """The folder's tracking files by their names without a random suffix (built once per
    base branch and folder: Promises are reconciled in threads, each asking many times)."""
    with _INDEXES_LOCK:
        known = _INDEXES.setdefault(base, {})
        if folder in known:
            cached: dict[str, str] = known[folder]
            return cached
    index: dict[str, str] = {}
    for path in base.files_in([folder])[folder]:
        parent, _, name = path.rpartition("/")
        if parent != folder:
            continue
        for found in _SUFFIX.finditer(name):
            index.setdefault(f"{folder}/{name[: found.start()]}{name[found.end() :]}", path)
    with _INDEXES_LOCK:
        known[folder] = index
    return index


def shown_files(
    key: ObjectKey,
    promise: Promise | None,
    destinations: Sequence[Destination],
    state_path: str,
    base: BaseFiles,
) -> tuple[set[str], set[str]]:
    """The files the base branch shows for an object, as Kratix's writer laid them out, and
    among them its `none` mode tracking files (whose contents list more of its files).

    nestedByMetadata: everything under the object's directory (`resources/<ns>/<promise>/
    <name>/`, or `dependencies/<promise>/` for a Promise). `none`: the tracking files of its
    Works (their names need the Promise's pipelines). aggregatedYAML files are shared and say
    nothing of whose part is whose: none are counted.
    """
    found: set[str] = set()
    tracking: set[str] = set()
    for dest in destinations:
        root = destination_root(state_path, dest)
        if dest.filepath_mode == "nestedByMetadata":
            folder = _object_folder(key, promise, root)
            found |= set(base.files_in([folder])[folder])
        elif dest.filepath_mode == "none" and promise is not None:
            index = _work_index(base, join_path(root, ".kratix"), dest.name)
            for work in _works(key, promise):
                tracking.update(index.get(_work_prefix(work), ()))
    return found | tracking, tracking


def _object_folder(key: ObjectKey, promise: Promise | None, root: str) -> str:
    """An object's nestedByMetadata folder under a Destination root."""
    if key.is_promise:
        return join_path(root, "dependencies", key.promise)
    namespace = (promise.pipeline_namespace if promise else None) or key.namespace
    return join_path(root, "resources", namespace, key.promise, key.name)


def _works(key: ObjectKey, promise: Promise) -> list[WorkRef]:
    """The Works of an object's configure workflow (and a Promise's static dependencies)."""
    if key.is_promise:
        pipelines = promise.workflows.promise_configure
        works = [WorkRef.promise_workflow(promise.name, p.name) for p in pipelines]
        return [*works, WorkRef.static_dependencies(promise.name)]
    return [
        WorkRef.resource_workflow(
            promise.name, p.name, key.name, key.namespace, promise.pipeline_namespace
        )
        for p in promise.workflows.resource_configure
    ]


def _work_prefix(work: WorkRef) -> str:
    return f"{work.workplacement_namespace}-{kratix_work_name(work.work_name)}"


def _work_index(base: BaseFiles, folder: str, dest: str) -> dict[str, list[str]]:
    """A Destination's tracking files by `<namespace>-<work>`, with and without a trailing
    five-character suffix (Kratix's names have one, gitbot's none), once per base branch."""
    with _INDEXES_LOCK:
        known = _INDEXES.setdefault(base, {})
        if (folder, dest) in known:
            by_work: dict[str, list[str]] = known[(folder, dest)]
            return by_work
    tail = re.compile(re.escape(f".{dest}-") + r"[0-9a-f]{5}\.yaml")
    index: dict[str, list[str]] = {}
    for path in base.files_in([folder])[folder]:
        parent, _, name = path.rpartition("/")
        found = tail.search(name)
        if parent != folder or found is None or found.end() != len(name):
            continue
        prefix = name[: found.start()]
        index.setdefault(prefix, []).append(path)
        if re.search(r"-[0-9a-f]{5}$", prefix):
            index.setdefault(prefix[:-6], []).append(path)
    with _INDEXES_LOCK:
        known[(folder, dest)] = index
    return index


def _listed(content: bytes) -> list[str]:
    """The `files` a tracking file lists; none when it is not one."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def shown_records(
    outcomes: Sequence[ObjectOutcome],
    base_records: Mapping[ObjectKey, ObjectRecord],
    promises: Mapping[str, Promise],
    destinations: Sequence[Destination],
    state_path: str,
    base: BaseFiles,
    read: ReadFiles,
) -> dict[ObjectKey, ObjectRecord]:
    """Records, holding only `files`, of the objects without a record on the base branch: what
    the state repository shows of them, so that a change or a delete removes their old files."""
    shown: dict[ObjectKey, ObjectRecord] = {}
    found: dict[ObjectKey, tuple[set[str], set[str]]] = {}
    for outcome in outcomes:
        key = outcome.key
        if key in base_records or key in found or outcome.action not in ("configure", "delete"):
            continue
        promise = outcome.run.target.promise if outcome.run else promises.get(key.promise)
        found[key] = shown_files(key, promise, destinations, state_path, base)
    contents = read({path for _, tracking in found.values() for path in tracking})
    for key, (files, tracking) in found.items():
        for path in tracking:
            files |= {join_path(state_path, f) for f in _listed(contents.get(path, b""))}
        if files:
            shown[key] = ObjectRecord(key, "", "", "", {}, tuple(sorted(files)))
    return shown


def restating(
    outcomes: Sequence[ObjectOutcome],
    base_records: Mapping[ObjectKey, ObjectRecord],
    shown: Mapping[ObjectKey, ObjectRecord],
    read: ReadFiles,
) -> frozenset[ObjectKey]:
    """The objects whose new record would only restate the base branch: completed configure
    runs of objects without a record there, whose files are all there unchanged, with nothing
    else shown for them (which would go) and no part in an aggregatedYAML file (which only a
    record tells apart)."""
    candidates = [
        o
        for o in outcomes
        if o.action == "configure"
        and o.changes_state
        and not o.partial
        and o.record is not None
        and not o.record.aggregated
        and o.key not in base_records
        and set(shown[o.key].files if o.key in shown else ()) <= set(o.files)
    ]
    current = read({path for o in candidates for path in o.files})
    return frozenset(
        o.key
        for o in candidates
        if all(current.get(path) == content for path, content in o.files.items())
    )
