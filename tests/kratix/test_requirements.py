"""`spec.requiredPromises` in Kratix's words (internal/controller/promise_controller.go)."""

from __future__ import annotations

from datetime import UTC, datetime

from gitbot.kratix.requirements import (
    RequiredPromise,
    RequiredView,
    evaluate,
    request_held,
    request_released,
    with_availability,
    with_requirements,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KNOWN = {"db": RequiredView("v2", True), "cache": RequiredView("", False)}


def test_each_requirement_gets_kratix_state_and_the_last_unfulfilled_one_sets_the_reason() -> None:
    result = evaluate(
        [
            RequiredPromise("db", "v2"),
            RequiredPromise("queue"),
            RequiredPromise("db", "v1"),
            RequiredPromise("cache"),
        ],
        KNOWN.get,
    )
    assert [s.state for s in result.states] == [
        "Requirement installed",
        "Requirement not installed",
        "Requirement not installed at the specified version",
        "Requirement not available",
    ]
    assert (result.fulfilled, result.reason, result.message) == (
        False,
        "RequirementsNotAvailable",
        "Requirements not fulfilled",
    )
    assert evaluate([RequiredPromise("db")], KNOWN.get).fulfilled  # no pin: any version


def test_the_promise_status_carries_requirements_and_availability() -> None:
    result = evaluate([RequiredPromise("queue", "v1")], KNOWN.get)
    status = with_availability(with_requirements({"message": "m"}, result, NOW), False, NOW)
    assert status["requiredPromises"] == [
        {"name": "queue", "version": "v1", "state": "Requirement not installed"}
    ]
    assert status["status"] == "Unavailable"
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in status["conditions"]] == [
        (
            "RequirementsFulfilled",
            "False",
            "RequirementsNotInstalled",
            "Requirements not fulfilled",
        ),
        ("Available", "False", "PromiseUnavailable", "Cannot fulfil resource requests"),
    ]
    # A Promise without requirements gets no requiredPromises, as in Kratix.
    assert "requiredPromises" not in with_requirements({}, evaluate([], KNOWN.get), NOW)


def test_a_held_request_is_pending_until_its_promise_is_available_again() -> None:
    held = request_held({"message": "Resource requested"}, NOW)
    assert held["message"] == "Pending"
    assert [(c["type"], c["status"], c["message"]) for c in held["conditions"]] == [
        ("PromiseAvailable", "False", "Promise Requirements are not installed")
    ]
    released = request_released(held, NOW)
    assert [(c["type"], c["status"], c["message"]) for c in released["conditions"]] == [
        ("PromiseAvailable", "True", "Promise Requirements are met")
    ]
    assert request_released({"message": "x"}, NOW) == {"message": "x"}
