"""When a reconcile's objects asked to run again (`retryAfter`), and which Promise's job reruns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from builders import promise

from gitbot.kratix.status import WorkflowControl
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.runner import PipelineRun, WorkflowRun
from gitbot.reconcile.repositories import ReconcileReport
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.records import ObjectKey
from gitbot.work.handlers import _retries

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def suspended(key: ObjectKey, minutes: int, ancestors: tuple[ObjectKey, ...] = ()) -> ObjectOutcome:
    control = WorkflowControl(retry_after=timedelta(minutes=minutes))
    pipeline = PipelineRun("wait", "suspended", (), 0.1, control=control)
    run = WorkflowRun(WorkflowTarget(promise(key.promise), "configure"), (pipeline,), {})
    return ObjectOutcome(key, "configure", run, ancestors=ancestors)


def test_a_compound_child_asking_to_retry_reruns_its_root_promise() -> None:
    app = ObjectKey("app", "app.gitbot.dev", "App", "default", "web")
    child = ObjectKey("database", "db.gitbot.dev", "Database", "default", "web-db")
    alone = ObjectKey("cache", "cache.gitbot.dev", "Cache", "default", "solo")
    report = ReconcileReport(cast(Any, None), "main", "state", cast(Any, None))
    report.outcomes = {
        "app": [suspended(app, 10), suspended(child, 3, (app,))],
        "cache": [suspended(alone, 5)],
    }
    assert _retries(report, NOW) == {
        "app": NOW + timedelta(minutes=3),
        "cache": NOW + timedelta(minutes=5),
    }
