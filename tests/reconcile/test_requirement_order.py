"""Promises start in requirement order, so a worker only ever waits for an earlier one."""

from __future__ import annotations

from builders import promise

from gitbot.kratix.objects import Promise
from gitbot.reconcile.workflows import requirement_order


def needs(name: str, *required: str) -> Promise:
    return promise(name, spec={"requiredPromises": [{"name": r} for r in required]})


def test_required_promises_come_first_and_cycles_last() -> None:
    promises = [
        needs("app", "db", "cache"),
        needs("db"),
        needs("cache", "db"),
        needs("left", "right"),
        needs("right", "left"),
        needs("behind", "left"),
        needs("lonely", "absent"),
    ]
    names = {p.name for p in promises}
    assert requirement_order(promises, names) == [
        "db",
        "lonely",
        "cache",
        "app",
        "behind",
        "left",
        "right",
    ]
    # A Promise outside this reconcile does not hold anyone's place.
    assert requirement_order(promises, {"app", "cache"}) == ["cache", "app"]
