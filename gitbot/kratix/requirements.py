"""A Promise's `spec.requiredPromises` and whether they are fulfilled, in Kratix's words.

Mirrors Kratix's promise controller (`internal/controller/promise_controller.go`:
`generateStatusAndMarkRequirements`, `evaluateRequirement`,
`evaluateRequirementAgainstRevisions`; the same condition type, reasons and messages as in
v0.125.0's `controllers/promise_controller.go`, plus the later "Requirement not available"). A
requirement is fulfilled when the required Promise exists, has the pinned
`kratix.io/promise-version` or once had it (Kratix: a PromiseRevision at that version exists;
gitbot looks in the source history, gitbot.source.revisions), and is itself Available. Until every
requirement is fulfilled the Promise is Unavailable and its resource requests do not run.
Pure: the caller says what it knows of each required Promise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gitbot.kratix.objects import Promise
from gitbot.kratix.status import merge_conditions

PROMISE_VERSION_LABEL = "kratix.io/promise-version"
REQUIREMENTS_CONDITION = "RequirementsFulfilled"
AVAILABLE_CONDITION = "Available"  # v1alpha1.PromiseAvailableConditionType
# On a resource request whose Promise cannot take it (lib/resourceutil/util.go).
PROMISE_AVAILABLE_CONDITION = "PromiseAvailable"

INSTALLED = "Requirement installed"
NOT_INSTALLED = "Requirement not installed"
NOT_AT_VERSION = "Requirement not installed at the specified version"
NOT_AVAILABLE = "Requirement not available"


@dataclass(frozen=True)
class RequiredPromise:
    """One entry of `spec.requiredPromises`: a name and an optional version pin."""

    name: str
    version: str = ""


@dataclass(frozen=True)
class RequiredView:
    """What is known of a required Promise: its version label and whether it is Available."""

    version: str
    available: bool
    # Whether a PromiseRevision of the required Promise has this version (Kratix keeps one per
    # version the Promise carried); None: only the current version counts.
    has_revision: Callable[[str], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RequirementState:
    """Kratix's `status.requiredPromises[]` entry."""

    name: str
    version: str
    state: str

    def as_status(self) -> dict[str, str]:
        entry = {"name": self.name, "state": self.state}
        if self.version:
            entry["version"] = self.version
        return entry

    def __str__(self) -> str:
        pin = f" {self.version}" if self.version else ""
        return f"{self.name}{pin}: {self.state}"


@dataclass(frozen=True)
class Requirements:
    """Every requirement's state and the RequirementsFulfilled condition they add up to."""

    states: tuple[RequirementState, ...] = ()
    reason: str = "RequirementsInstalled"
    message: str = "Requirements fulfilled"

    @property
    def fulfilled(self) -> bool:
        return all(s.state == INSTALLED for s in self.states)

    @property
    def missing(self) -> tuple[RequirementState, ...]:
        return tuple(s for s in self.states if s.state != INSTALLED)

    def summary(self) -> str:
        """One line for summaries and check runs: the condition and each missing requirement."""
        missing = "; ".join(str(s) for s in self.missing)
        return (
            f"Unavailable: {REQUIREMENTS_CONDITION}=False ({self.reason}: {self.message}); "
            f"{missing}"
        )


def required_promises(promise: Promise) -> tuple[RequiredPromise, ...]:
    """The Promise's `spec.requiredPromises` (already validated by the loader)."""
    entries = promise.spec.get("requiredPromises") or ()
    return tuple(
        RequiredPromise(str(e["name"]), str(e.get("version") or ""))
        for e in entries
        if isinstance(e, Mapping) and e.get("name")
    )


def promise_version(promise: Promise) -> str:
    """The `kratix.io/promise-version` label, or "" when the Promise is unversioned."""
    return str(promise.labels.get(PROMISE_VERSION_LABEL) or "")


def evaluate(
    requirements: Sequence[RequiredPromise], lookup: Callable[[str], RequiredView | None]
) -> Requirements:
    """Each requirement's state; a later unfulfilled one sets the reason, as in Kratix."""
    states: list[RequirementState] = []
    reason, message = "RequirementsInstalled", "Requirements fulfilled"
    for requirement in requirements:
        found = lookup(requirement.name)
        if found is None:
            state, why = NOT_INSTALLED, "RequirementsNotInstalled"
        elif requirement.version and not _at_version(found, requirement.version):
            state, why = NOT_AT_VERSION, "RequirementsNotInstalled"
        elif not found.available:
            state, why = NOT_AVAILABLE, "RequirementsNotAvailable"
        else:
            state, why = INSTALLED, ""
        if why:
            reason, message = why, "Requirements not fulfilled"
        states.append(RequirementState(requirement.name, requirement.version, state))
    return Requirements(tuple(states), reason, message)


def _at_version(found: RequiredView, version: str) -> bool:
    """Kratix's `requiredRevisionExists`: the current version, or a kept revision, has it."""
    if found.version == version:
        return True
    return found.has_revision is not None and found.has_revision(version)


def with_requirements(
    status: Mapping[str, Any], requirements: Requirements, now: datetime
) -> dict[str, Any]:
    """The Promise status with `requiredPromises` and RequirementsFulfilled, as Kratix writes
    them before the Promise's workflow runs (only for a Promise that has requirements)."""
    result = copy.deepcopy(dict(status))
    if not requirements.states:
        return result
    result["requiredPromises"] = [s.as_status() for s in requirements.states]
    condition = _condition(
        REQUIREMENTS_CONDITION,
        "True" if requirements.fulfilled else "False",
        requirements.reason,
        requirements.message,
        now,
    )
    return _set_conditions(result, [condition])


def with_availability(status: Mapping[str, Any], available: bool, now: datetime) -> dict[str, Any]:
    """The Promise status with `status` (Available/Unavailable) and the Available condition."""
    result = copy.deepcopy(dict(status))
    word = "Available" if available else "Unavailable"
    result["status"] = word
    kratix = result.get("kratix")
    if isinstance(kratix, dict):
        kratix["status"] = word
    if available:
        condition = _condition(
            AVAILABLE_CONDITION,
            "True",
            "PromiseAvailable",
            "Ready to fulfil resource requests",
            now,
        )
    else:
        condition = _condition(
            AVAILABLE_CONDITION,
            "False",
            "PromiseUnavailable",
            "Cannot fulfil resource requests",
            now,
        )
    return _set_conditions(result, [condition])


def is_available(status: Mapping[str, Any] | None) -> bool:
    """Whether a stored Promise status says Available."""
    return bool(status) and status is not None and status.get("status") == "Available"


def request_held(status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A request's status while its Promise cannot take it: message Pending and
    PromiseAvailable=False (`MarkPromiseConditionAsNotAvailable`, lib/resourceutil/util.go)."""
    result = copy.deepcopy(dict(status))
    result["message"] = "Pending"
    condition = _condition(
        PROMISE_AVAILABLE_CONDITION,
        "False",
        "PromiseRequirementsNotInstalled",
        "Promise Requirements are not installed",
        now,
    )
    return _set_conditions(result, [condition])


def request_released(status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A held request's status once its Promise is Available again (`MarkPromiseCondition
    AsAvailable`); a request that was never held is returned unchanged."""
    conditions = status.get("conditions")
    held = isinstance(conditions, list) and any(
        isinstance(c, Mapping)
        and c.get("type") == PROMISE_AVAILABLE_CONDITION
        and c.get("status") == "False"
        for c in conditions
    )
    if not held:
        return dict(status)
    condition = _condition(
        PROMISE_AVAILABLE_CONDITION,
        "True",
        "PromiseAvailable",
        "Promise Requirements are met",
        now,
    )
    return _set_conditions(copy.deepcopy(dict(status)), [condition])


def _condition(kind: str, state: str, reason: str, message: str, now: datetime) -> dict[str, str]:
    return {
        "type": kind,
        "status": state,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }


def _set_conditions(status: dict[str, Any], conditions: list[dict[str, str]]) -> dict[str, Any]:
    existing = status.get("conditions")
    status["conditions"] = merge_conditions(
        existing if isinstance(existing, list) else [], conditions
    )
    return status
