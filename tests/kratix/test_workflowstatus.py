"""Kratix's own status on an object: pipeline phases, counts, conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gitbot.kratix import workflowstatus

NOW = datetime(2026, 11, 27, 10, 0, 0, 123, tzinfo=UTC)


def reasons(status: dict) -> list[tuple[str, str, str]]:
    return [(c["type"], c.get("status", ""), c.get("reason", "")) for c in status["conditions"]]


def messages(status: dict) -> list[str]:
    return [c.get("message", "") for c in status["conditions"]]


def test_a_failed_configure_workflow_counts_and_conditions() -> None:
    status = workflowstatus.start({"conditions": [{"type": "Ready"}]}, ["a", "b"], NOW)
    status = workflowstatus.mark(status, "a", "Succeeded", NOW)
    status = workflowstatus.mark(status, "b", "Failed", NOW)
    status = workflowstatus.finish(status, "configure", "failed", NOW)
    assert (status["workflows"], status["workflowsSucceeded"], status["workflowsFailed"]) == (
        2,
        1,
        1,
    )
    assert reasons(status)[1:] == [
        ("ConfigureWorkflowCompleted", "False", "ConfigureWorkflowFailed"),
        ("Reconciled", "False", "ConfigureWorkflowFailed"),
    ]
    # Kratix's messages (lib/resourceutil/util.go), naming the pipeline that failed.
    assert messages(status)[1:] == ["A Configure Pipeline has failed: b", "Failing"]
    assert status["conditions"][0] == {"type": "Ready"}  # a pipeline's own condition stays
    assert "lastSuccessfulConfigureWorkflowTime" not in status


def test_delete_workflows_report_only_when_they_do_not_complete() -> None:
    for outcome, reason, message in (
        ("failed", "DeleteWorkflowFailed", "The Delete Pipeline has failed"),
        ("suspended", "DeleteWorkflowSuspended", "The delete workflow is suspended"),
    ):
        status = workflowstatus.finish(workflowstatus.start({}, ["d"], NOW), "delete", outcome, NOW)
        assert reasons(status) == [("DeleteWorkflowCompleted", "False", reason)]
        assert messages(status) == [message]
    done = workflowstatus.finish(workflowstatus.start({}, ["d"], NOW), "delete", "succeeded", NOW)
    assert done["conditions"] == []


def test_a_run_from_the_start_resets_every_pipeline_attempts_included() -> None:
    # Kratix's ResetPipelineStatusToPending (lib/resourceutil/util.go): a run from the start
    # (manual reconcile, interval, spec change) forgets the attempts of a retrying pipeline.
    status = workflowstatus.start({}, ["a", "b"], NOW)
    status = workflowstatus.mark(status, "a", "Suspended", NOW, retry_after=timedelta(minutes=5))
    status["kratix"]["workflows"]["suspendedGeneration"] = 3
    entry = status["kratix"]["workflows"]["pipelines"][0]
    assert (entry["attempts"], entry["nextRetryAt"]) == (1, "2026-11-27T10:05:00Z")
    again = workflowstatus.start(status, ["a", "b"], NOW)
    assert again["kratix"]["workflows"] == {
        "pipelines": [
            {"name": "a", "phase": "Pending", "lastTransitionTime": "2026-11-27T10:00:00Z"},
            {"name": "b", "phase": "Pending", "lastTransitionTime": "2026-11-27T10:00:00Z"},
        ]
    }
