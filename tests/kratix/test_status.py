"""Tests for status.yaml merging and workflow-control.yaml parsing."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from gitbot.errors import UserError
from gitbot.kratix.status import (
    NO_CONTROL,
    StatusMerge,
    WorkflowControl,
    final_message,
    merge_status,
    parse_workflow_control,
)


def test_top_level_keys_replace_wholesale() -> None:
    current = {"message": "Pending", "iam": {"user": "a", "role": "r"}, "list": [1, 2]}
    result = merge_status(current, {"iam": {"user": "b"}, "list": [3]}, "resource")
    assert result == StatusMerge(
        status={"message": "Pending", "iam": {"user": "b"}, "list": [3]}, dropped=()
    )


def test_conditions_merge_by_type_incoming_wins_order_stable() -> None:
    current = {
        "conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "Other", "status": "True"},
        ]
    }
    incoming = {
        "conditions": [{"type": "New", "status": "True"}, {"type": "Ready", "status": "True"}]
    }
    result = merge_status(current, incoming, "resource")
    assert result.status["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "Other", "status": "True"},
        {"type": "New", "status": "True"},
    ]


def test_conditions_set_when_none_exist() -> None:
    result = merge_status({}, {"conditions": [{"type": "A"}]}, "resource")
    assert result.status == {"conditions": [{"type": "A"}]}


def test_inputs_are_not_mutated_nor_shared() -> None:
    current: dict[str, Any] = {"conditions": [{"type": "A", "x": 1}], "deep": {"k": [1]}}
    incoming: dict[str, Any] = {"conditions": [{"type": "B"}], "other": {"k": [2]}}
    before = (copy.deepcopy(current), copy.deepcopy(incoming))
    result = merge_status(current, incoming, "resource")
    result.status["deep"]["k"].append(9)
    result.status["other"]["k"].append(9)
    result.status["conditions"][0]["x"] = 2
    assert (current, incoming) == before


def test_empty_status_file_changes_nothing() -> None:
    assert merge_status({"message": "m"}, None, "resource").status == {"message": "m"}


@pytest.mark.parametrize(
    ("incoming", "error"),
    [
        (["a"], "status.yaml must be a mapping, got a list"),
        ("text", "status.yaml must be a mapping, got a string"),
        ({1: "x"}, "status.yaml keys must be strings, got 1"),
        (
            {"kratix": {"workflows": {}}},
            "status.yaml must not set 'kratix': status.kratix is owned by Kratix",
        ),
        ({"message": 3}, "status.yaml: 'message' must be a string, got an integer"),
        ({"conditions": {"type": "A"}}, "status.yaml: 'conditions' must be a list, got a mapping"),
        ({"conditions": ["A"]}, "status.yaml: conditions[0] must be a mapping, got a string"),
        (
            {"conditions": [{"type": "A"}, {"status": "True"}]},
            "status.yaml: conditions[1] must have a string 'type'",
        ),
    ],
)
def test_invalid_status_yaml(incoming: Any, error: str) -> None:
    with pytest.raises(UserError) as info:
        merge_status({}, incoming, "resource")
    assert str(info.value) == error


def test_kratix_key_rejected_for_promises_too() -> None:
    with pytest.raises(UserError, match="owned by Kratix"):
        merge_status({}, {"kratix": 1}, "promise")


def test_promise_workflows_keep_only_message() -> None:
    current = {"message": "Pending", "status": "Available"}
    incoming = {"foo": 1, "message": "hello", "conditions": [{"type": "A"}]}
    result = merge_status(current, incoming, "promise")
    assert result.status == {"message": "hello", "status": "Available"}
    assert result.dropped == ("foo", "conditions")


@pytest.mark.parametrize(
    ("status", "workflow_type", "expected"),
    [
        ({"message": "Pending"}, "resource", "Resource requested"),
        ({"message": "Pending"}, "promise", "Promise configured"),
        ({}, "resource", "Resource requested"),
        ({"message": "Ready to use"}, "resource", "Ready to use"),
        ({"message": "done"}, "promise", "done"),
    ],
)
def test_final_message(status: dict[str, Any], workflow_type: Any, expected: str) -> None:
    assert final_message(status, workflow_type) == expected


def test_workflow_control_defaults() -> None:
    assert parse_workflow_control(None) == NO_CONTROL
    assert parse_workflow_control({}) == WorkflowControl(False, None, "")
    assert not NO_CONTROL.halts
    assert NO_CONTROL.action == "continue"


def test_workflow_control_suspend() -> None:
    control = parse_workflow_control({"suspend": True, "message": "waiting for approval"})
    assert control == WorkflowControl(
        suspend=True, retry_after=None, message="waiting for approval"
    )
    assert control.halts
    assert control.action == "suspend"


def test_retry_after_wins_over_suspend() -> None:
    control = parse_workflow_control({"suspend": True, "retryAfter": "10m"})
    assert control.retry_after == timedelta(minutes=10)
    assert control.halts
    assert control.action == "retry"


def test_unknown_workflow_control_keys_are_ignored_as_kratix_does() -> None:
    """Kratix decodes workflow-control.yaml without strictness (workflow_control.go): an
    unknown key such as `maxAttempts` is ignored, not a pipeline failure."""
    control = parse_workflow_control({"retryAfter": "5m", "maxAttempts": 3, "suspended": True})
    assert (control.retry_after, control.suspend) == (timedelta(minutes=5), False)
    assert control.ignored_keys == ("maxAttempts", "suspended")
    assert control.action == "retry"


def test_empty_retry_after_is_unset() -> None:
    assert parse_workflow_control({"retryAfter": "", "suspend": False}) == NO_CONTROL


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (["suspend"], "workflow-control.yaml must be a mapping, got a list"),
        ({"suspend": "yes"}, "workflow-control.yaml: 'suspend' must be true or false, got 'yes'"),
        ({"message": 5}, "workflow-control.yaml: 'message' must be a string, got 5"),
        (
            {"retryAfter": 10},
            "workflow-control.yaml: 'retryAfter' must be a duration string such as '10m', got 10",
        ),
        (
            {"retryAfter": "10 minutes"},
            "workflow-control.yaml: 'retryAfter' '10 minutes' is not a duration "
            "(use a number and unit such as '30s', '10m' or '1h30m')",
        ),
        ({"retryAfter": "-1m"}, "workflow-control.yaml: 'retryAfter' '-1m' must not be negative"),
    ],
)
def test_invalid_workflow_control(data: Any, error: str) -> None:
    with pytest.raises(UserError) as info:
        parse_workflow_control(data)
    assert str(info.value) == error
