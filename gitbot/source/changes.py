"""Which Promises a source change touches, from the objects at two commits (not the payload's
file lists, which GitHub truncates on large pushes)."""

from __future__ import annotations

from gitbot.kratix.hashing import promise_hash, resource_hash
from gitbot.kratix.requirements import required_promises
from gitbot.source.snapshot import SourceSnapshot


def affected_promises(before: SourceSnapshot | None, after: SourceSnapshot) -> set[str] | None:
    """Promise names whose workflows must rerun; None means all of them.

    A Promise is affected when its spec hash changed (then all its requests rerun), when one of
    its requests was added, removed or changed its spec, or when it was added or removed.
    Moving an object between files changes nothing. A changed `.gitbot.yaml` or set of
    Destinations affects everything. A Promise that requires (`spec.requiredPromises`) an
    affected one is affected too: its availability, and so whether its requests run, may have
    changed (Kratix's promise controller watches required Promises).
    """
    if before is None or before.config != after.config:
        return None
    if _destinations(before) != _destinations(after):
        return None
    old, new = _hashes(before), _hashes(after)
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    return _with_dependents(changed, after)


def _with_dependents(names: set[str], snapshot: SourceSnapshot) -> set[str]:
    """`names` and every Promise requiring one of them, directly or not."""
    required = {p.name: {r.name for r in required_promises(p)} for p in snapshot.promises}
    result = set(names)
    while more := {n for n, needs in required.items() if needs & result} - result:
        result |= more
    return result


def _destinations(snapshot: SourceSnapshot) -> dict[str, object]:
    return {
        d.name: (
            d.labels,
            d.path,
            d.filepath_mode,
            d.aggregated_filename,
            d.strict_match_labels,
            d.init_workloads,
        )
        for d in snapshot.destinations
    }


def _hashes(
    snapshot: SourceSnapshot,
) -> dict[str, tuple[str, bool, frozenset[tuple[str, str, bool]]]]:
    """Per Promise: its hash, paused flag, and (request id, hash, paused) of its requests."""
    requests = snapshot.requests_by_promise()
    found = {}
    for promise in snapshot.promises:
        found[promise.name] = (
            promise_hash(promise),
            promise.paused,
            frozenset(
                (f"{r.namespace}/{r.name}", resource_hash(promise, r), r.paused)
                for r in requests.get(promise.name, [])
            ),
        )
    return found
