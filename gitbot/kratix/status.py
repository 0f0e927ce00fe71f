"""Pure rules for a Pipeline's `status.yaml` and `workflow-control.yaml` (contract §2.5)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from gitbot.durations import parse_go_duration
from gitbot.errors import UserError
from gitbot.kratix.objects import WorkflowType
from gitbot.kratix.validate import kind_of

PENDING_MESSAGE = "Pending"
DEFAULT_MESSAGES: Mapping[WorkflowType, str] = {
    "resource": "Resource requested",
    "promise": "Promise configured",
}
KRATIX_KEY_ERROR = "status.yaml must not set 'kratix': status.kratix is owned by Kratix"


@dataclass(frozen=True)
class StatusMerge:
    """The object's status after one Pipeline, and the `status.yaml` keys that were dropped."""

    status: dict[str, Any]
    dropped: tuple[str, ...] = ()


def merge_status(
    current: Mapping[str, Any], incoming: Any, workflow_type: WorkflowType
) -> StatusMerge:
    """Merge a parsed `status.yaml` into `current` the way Kratix's status-writer does."""
    incoming = _check_incoming(incoming)
    merged = copy.deepcopy(dict(current))
    dropped: list[str] = []
    for key, value in incoming.items():
        # Promise status has a fixed schema: the API server drops every key but `message`.
        if workflow_type == "promise" and key != "message":
            dropped.append(key)
        elif key == "conditions" and isinstance(merged.get("conditions"), list):
            merged["conditions"] = merge_conditions(merged["conditions"], value)
        else:
            merged[key] = copy.deepcopy(value)
    return StatusMerge(status=merged, dropped=tuple(dropped))


def _check_incoming(incoming: Any) -> Mapping[str, Any]:
    """Validate the shape of a parsed `status.yaml`; an empty file is an empty map."""
    if incoming is None:
        return {}
    if not isinstance(incoming, Mapping):
        raise UserError(f"status.yaml must be a mapping, got {kind_of(incoming)}")
    for key in incoming:
        if not isinstance(key, str):
            raise UserError(f"status.yaml keys must be strings, got {key!r}")
    if "kratix" in incoming:
        raise UserError(KRATIX_KEY_ERROR)
    if "message" in incoming and not isinstance(incoming["message"], str):
        raise UserError(
            f"status.yaml: 'message' must be a string, got {kind_of(incoming['message'])}"
        )
    if "conditions" in incoming:
        _check_conditions(incoming["conditions"])
    return incoming


def _check_conditions(conditions: Any) -> None:
    """Each incoming condition must be a mapping with a string `type`."""
    if not isinstance(conditions, list):
        raise UserError(f"status.yaml: 'conditions' must be a list, got {kind_of(conditions)}")
    for index, condition in enumerate(conditions):
        if not isinstance(condition, Mapping):
            raise UserError(
                f"status.yaml: conditions[{index}] must be a mapping, got {kind_of(condition)}"
            )
        if not isinstance(condition.get("type"), str):
            raise UserError(f"status.yaml: conditions[{index}] must have a string 'type'")


def merge_conditions(existing: list[Any], incoming: list[Any]) -> list[Any]:
    """Merge conditions by `type`, incoming wins; existing order kept, new types appended."""
    # Kratix keys a Go map by type, so its order is random and it drops existing conditions
    # without a string type; gitbot keeps a stable order so diffs and hashes stay quiet.
    merged: dict[str, Any] = {}
    for condition in existing:
        if isinstance(condition, Mapping) and isinstance(condition.get("type"), str):
            merged[condition["type"]] = copy.deepcopy(condition)
    for condition in incoming:
        merged[condition["type"]] = copy.deepcopy(condition)
    return list(merged.values())


def final_message(status: Mapping[str, Any], workflow_type: WorkflowType) -> str:
    """The message after the last Pipeline: Kratix's default unless a Pipeline wrote one."""
    message = status.get("message")
    if isinstance(message, str) and message != PENDING_MESSAGE:
        return message
    return DEFAULT_MESSAGES[workflow_type]


@dataclass(frozen=True)
class WorkflowControl:
    """A parsed `workflow-control.yaml`: suspend the workflow, or retry it after a delay."""

    suspend: bool = False
    retry_after: timedelta | None = None
    message: str = ""
    # Keys Kratix's decoder ignores (sigs.k8s.io/yaml into WorkflowControl, not strict).
    ignored_keys: tuple[str, ...] = ()

    @property
    def halts(self) -> bool:
        """True when this Pipeline's output is discarded and later Pipelines do not run."""
        return self.suspend or self.retry_after is not None

    @property
    def action(self) -> Literal["continue", "suspend", "retry"]:
        """What the runner does next; `retryAfter` wins over `suspend` (Kratix's rule)."""
        if self.retry_after is not None:
            return "retry"
        return "suspend" if self.suspend else "continue"


NO_CONTROL = WorkflowControl()
_CONTROL_KEYS = ("message", "retryAfter", "suspend")


def parse_workflow_control(data: Any) -> WorkflowControl:
    """Validate a parsed `workflow-control.yaml`; an empty file means no control.

    Decoded as Kratix's ReadWorkflowControlFile does (work-creator/lib/workflow_control.go):
    a wrongly typed `suspend`, `message` or `retryAfter` fails the pipeline (UserError); any
    other key is ignored and listed in `ignored_keys`.
    """
    if data is None:
        return NO_CONTROL
    if not isinstance(data, Mapping):
        raise UserError(f"workflow-control.yaml must be a mapping, got {kind_of(data)}")
    ignored = tuple(str(key) for key in data if key not in _CONTROL_KEYS)
    suspend = data.get("suspend", False)
    if suspend is None:
        suspend = False
    if not isinstance(suspend, bool):
        raise UserError(f"workflow-control.yaml: 'suspend' must be true or false, got {suspend!r}")
    message = data.get("message") or ""
    if not isinstance(message, str):
        raise UserError(f"workflow-control.yaml: 'message' must be a string, got {message!r}")
    return WorkflowControl(
        suspend=suspend,
        retry_after=_retry_after(data.get("retryAfter")),
        message=message,
        ignored_keys=ignored,
    )


def _retry_after(value: Any) -> timedelta | None:
    """Parse `retryAfter`; missing or "" means unset, as in Kratix (`RetryAfter != ""`)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UserError(
            f"workflow-control.yaml: 'retryAfter' must be a duration string such as '10m', "
            f"got {value!r}"
        )
    try:
        duration = parse_go_duration(value)
    except ValueError as e:
        raise UserError(
            f"workflow-control.yaml: 'retryAfter' {value!r} is not a duration "
            "(use a number and unit such as '30s', '10m' or '1h30m')"
        ) from e
    if duration < timedelta(0):
        raise UserError(f"workflow-control.yaml: 'retryAfter' {value!r} must not be negative")
    return duration
