"""The status Kratix itself keeps on an object while its workflow runs (contract §6).

Pipelines see it in `object.yaml`: `status.kratix.workflows.pipelines` with each pipeline's phase
(all Pending at a fresh run, Running while it runs, then Succeeded, Failed or Suspended, with
`message`, and `attempts` and `nextRetryAt` for a `retryAfter`, counted while the workflow
resumes and reset by a run from the start), the workflow counts, the time of
the last successful configure workflow, and the `ConfigureWorkflowCompleted` / `Reconciled`
(or `DeleteWorkflowCompleted`) conditions. A pipeline that retries can read its own `attempts`.
Pure functions over a status mapping; `status.yaml` may not write any of `status.kratix`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from gitbot.kratix.status import merge_conditions

Phase = Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"]
Action = Literal["configure", "delete"]


def start(status: Mapping[str, Any], pipelines: Sequence[str], now: datetime) -> dict[str, Any]:
    """The status at the start of a run from the first pipeline: every pipeline Pending, with
    no message, `attempts` or `nextRetryAt`, and no `suspendedGeneration`.

    Kratix's `ResetPipelineStatusToPending` (lib/resourceutil/util.go), which
    lib/workflow/reconciler.go calls for every run from the start: a manual reconcile, the
    reconciliation interval, a spec change (`run-from-start`) and a fresh delete workflow. Only
    a run resuming a suspended pipeline after its `retryAfter` keeps the attempts; the runner
    does not call `start` for it.
    """
    result = copy.deepcopy(dict(status))
    workflows = _workflows(result)
    workflows.pop("suspendedGeneration", None)
    workflows["pipelines"] = [
        {"name": name, "phase": "Pending", "lastTransitionTime": _time(now)} for name in pipelines
    ]
    return result


def mark(
    status: Mapping[str, Any],
    pipeline: str,
    phase: Phase,
    now: datetime,
    *,
    message: str = "",
    retry_after: timedelta | None = None,
) -> dict[str, Any]:
    """The status with one pipeline's phase changed (a retry counts an attempt)."""
    result = copy.deepcopy(dict(status))
    for entry in _workflows(result).get("pipelines") or ():
        if entry.get("name") != pipeline:
            continue
        entry.update(phase=phase, lastTransitionTime=_time(now))
        entry.pop("message", None)
        entry.pop("nextRetryAt", None)
        if message:
            entry["message"] = message
        if retry_after is not None:
            entry["attempts"] = int(entry.get("attempts", 0)) + 1
            entry["nextRetryAt"] = _time(now + retry_after)
        elif phase == "Succeeded":
            entry.pop("attempts", None)
    return result


def finish(
    status: Mapping[str, Any], action: Action, outcome: str, now: datetime
) -> dict[str, Any]:
    """The status after the workflow ended: counts, conditions, last success time."""
    result = copy.deepcopy(dict(status))
    workflows = _workflows(result)
    phases = [p.get("phase") for p in workflows.get("pipelines") or ()]
    result["workflows"] = len(phases)
    result["workflowsSucceeded"] = phases.count("Succeeded")
    result["workflowsFailed"] = phases.count("Failed")
    if action == "configure" and outcome == "succeeded":
        workflows["lastSuccessfulConfigureWorkflowTime"] = _time(now)
        result["lastSuccessfulConfigureWorkflowTime"] = _time(now)
    failed = next(
        (p.get("name", "") for p in workflows.get("pipelines") or () if p.get("phase") == "Failed"),
        "",
    )
    conditions = _conditions(action, outcome, now, str(failed))
    existing = result.get("conditions")
    result["conditions"] = merge_conditions(
        existing if isinstance(existing, list) else [], conditions
    )
    return result


def _conditions(
    action: Action, outcome: str, now: datetime, failed_pipeline: str = ""
) -> list[dict[str, str]]:
    """Kratix's conditions and messages (lib/resourceutil/util.go: MarkConfigureWorkflowAsFailed,
    MarkReconciledFailing, MarkDeleteWorkflowAsFailed, MarkDeleteWorkflowSuspended)."""

    def condition(kind: str, state: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": _time(now),
        }

    if action == "delete":
        if outcome == "failed":
            return [
                condition(
                    "DeleteWorkflowCompleted",
                    "False",
                    "DeleteWorkflowFailed",
                    "The Delete Pipeline has failed",
                )
            ]
        if outcome == "suspended":
            return [
                condition(
                    "DeleteWorkflowCompleted",
                    "False",
                    "DeleteWorkflowSuspended",
                    "The delete workflow is suspended",
                )
            ]
        return []
    if outcome == "succeeded":
        return [
            condition(
                "ConfigureWorkflowCompleted",
                "True",
                "PipelinesExecutedSuccessfully",
                "Pipelines completed",
            ),
            condition("Reconciled", "True", "Reconciled", "Reconciled"),
        ]
    if outcome == "suspended":
        return [
            condition(
                "ConfigureWorkflowCompleted",
                "False",
                "PipelinesInProgress",
                "Pipelines are still in progress",
            ),
            condition("Reconciled", "Unknown", "WorkflowSuspended", "Workflow suspended"),
        ]
    return [
        condition(
            "ConfigureWorkflowCompleted",
            "False",
            "ConfigureWorkflowFailed",
            f"A Configure Pipeline has failed: {failed_pipeline}",
        ),
        condition("Reconciled", "False", "ConfigureWorkflowFailed", "Failing"),
    ]


def _workflows(status: dict[str, Any]) -> dict[str, Any]:
    kratix = status.get("kratix")
    if not isinstance(kratix, dict):
        kratix = status["kratix"] = {}
    workflows = kratix.get("workflows")
    if not isinstance(workflows, dict):
        workflows = kratix["workflows"] = {}
    return workflows


def _time(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")
