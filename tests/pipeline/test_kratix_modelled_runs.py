"""Kratix-modelled Promises (tests/data/kratix-modelled/) run as Kratix would run them.

Their busybox pipelines build nothing and need no registry: the engine's offline busybox image.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gitbot.kratix.loader import load_objects
from gitbot.kratix.objects import Promise
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import RunOptions, WorkflowRunner
from gitbot.secrets import Redactor, config_map_store, secret_store

CORPUS = Path(__file__).parent.parent / "data" / "kratix-modelled"


def promise(file: str, name: str) -> Promise:
    result = load_objects([CORPUS / file])
    assert result.problems == []
    return next(p for p in result.promises if p.name == name)


def runner(engine: DockerEngine) -> WorkflowRunner:
    redactor = Redactor()
    return WorkflowRunner(
        engine,
        secret_store(None, redactor),
        config_map_store(None, redactor),
        redactor,
        RunOptions(),
    )


def test_an_exported_promise_runs_its_promise_workflow(engine: DockerEngine) -> None:
    """exported-list.yaml: a `kubectl get -o yaml` List; its Pipelines' standard metadata."""
    run = runner(engine).run(WorkflowTarget(promise("exported-list.yaml", "exported"), "configure"))
    assert run.failure is None
    (done,) = run.pipelines
    assert (done.name, dict(done.files)) == ("promise-configure", {"ns.yaml": b"ns\n"})


def test_a_gate_with_an_unknown_control_key_suspends_as_kratix_does(engine: DockerEngine) -> None:
    """workflow-control.yaml: the second pipeline writes `retryAfter` next to `maxAttempts`,
    which Kratix's decoder ignores: the workflow suspends for a retry, it does not fail."""
    run = runner(engine).run(WorkflowTarget(promise("workflow-control.yaml", "gated"), "configure"))
    assert run.failure is None
    assert (run.outcome, run.retry_after) == ("suspended", timedelta(minutes=5))
    assert [(p.name, p.outcome) for p in run.pipelines] == [
        ("first", "succeeded"),
        ("gate", "suspended"),
    ]
    assert run.pipelines[1].control is not None
    assert run.pipelines[1].control.message == "waiting for approval"
    assert run.pipelines[1].warnings == (
        "workflow-control.yaml: 'maxAttempts' ignored, as Kratix does (it reads suspend, "
        "retryAfter and message)",
    )
