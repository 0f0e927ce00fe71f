"""`--output json`: the documents `validate`, `run` and `reconcile` print for scripts and CI.

One JSON document on stdout, shaped as the README's "JSON output" section says; keys are
camelCase as in Kubernetes. The shape is a contract: add keys, never rename or remove them
without changing `apiVersion`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitbot.errors import Problem
from gitbot.kratix.loader import LoadResult
from gitbot.kratix.objects import (
    KRATIX_API_VERSION,
    Destination,
    Promise,
    ResourceBinding,
    ResourceRequest,
)
from gitbot.pipeline.runner import ContainerRun, Failure, PipelineRun, WorkflowRun
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.publish import BranchResult

API_VERSION = "gitbot.dev/v1"
Json = dict[str, Any]


def document(kind: str, **fields: Any) -> Json:
    """A top-level document: apiVersion and kind first, as kubectl prints objects."""
    return {"apiVersion": API_VERSION, "kind": kind, **fields}


def error_document(command: str, message: str, exit_code: int, problems: Sequence[Problem]) -> Json:
    """What a command prints when it stops on an error before its own document."""
    return document(
        "Error",
        command=command,
        message=message,
        exitCode=exit_code,
        problems=[problem(p) for p in problems],
    )


def problem(p: Problem) -> Json:
    return {
        "file": p.file,
        "line": p.line,
        "path": p.path,
        "message": p.message,
        "severity": "warning" if p.warning else "error",
    }


def problems(result: LoadResult) -> list[Json]:
    found = sorted([*result.problems, *result.warnings], key=lambda p: (p.file, p.line))
    return [problem(p) for p in found]


def promise_object(p: Promise) -> Json:
    return _object(KRATIX_API_VERSION, "Promise", p.name, None, None, p.source.file, p.source.line)


def destination_object(d: Destination) -> Json:
    return _object(
        KRATIX_API_VERSION, "Destination", d.name, None, None, d.source.file, d.source.line
    )


def request_object(r: ResourceRequest) -> Json:
    return _object(
        str(r.raw.get("apiVersion", "")),
        str(r.raw.get("kind", "")),
        r.name,
        r.namespace,
        r.promise_name,
        r.source.file,
        r.source.line,
    )


def binding_object(b: ResourceBinding) -> Json:
    return _object(
        KRATIX_API_VERSION,
        "ResourceBinding",
        b.name,
        b.namespace,
        b.promise or None,
        b.source.file,
        b.source.line,
    )


def objects(result: LoadResult) -> list[Json]:
    return [
        *(promise_object(p) for p in result.promises),
        *(destination_object(d) for d in result.destinations),
        *(request_object(r) for r in result.resources),
        *(binding_object(b) for b in result.bindings),
    ]


def _object(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    promise: str | None,
    file: str,
    line: int,
) -> Json:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "promise": promise,
        "file": file,
        "line": line,
    }


def workflow_run(run: WorkflowRun) -> Json:
    """One workflow's run: its pipelines, containers, outcome and failure."""
    target = run.target
    return {
        "workflow": target.workflow_type,
        "action": target.action,
        "outcome": run.outcome,
        "pipelines": [_pipeline(p) for p in run.pipelines]
        + ([] if run.failure is None else [_failed_pipeline(run.failure)]),
        "failure": None if run.failure is None else _failure(run.failure),
        "statusMessage": str(run.status.get("message", "")),
    }


def _pipeline(p: PipelineRun) -> Json:
    return {
        "name": p.name,
        "outcome": p.outcome,
        "seconds": round(p.seconds, 3),
        "containers": [_container(c) for c in p.containers],
        "outputFiles": sorted(p.files),
    }


def _failed_pipeline(f: Failure) -> Json:
    """The pipeline a workflow stopped at, in the same shape: its seconds are those of the
    containers that ran (a pipeline that failed before any container ran has 0 and none)."""
    return {
        "name": f.pipeline,
        "outcome": "failed",
        "seconds": round(sum(c.seconds for c in f.containers), 3),
        "containers": [_container(c) for c in f.containers],
        "outputFiles": [],
    }


def _container(c: ContainerRun) -> Json:
    return {
        "name": c.name,
        "image": c.image,
        "exitCode": c.exit_code,
        "timedOut": c.timed_out,
        "seconds": round(c.seconds, 3),
    }


def _failure(f: Failure) -> Json:
    return {
        "pipeline": f.pipeline,
        "container": f.container,
        "message": f.message,
        "logTail": f.log_tail,
    }


def outcome(o: ObjectOutcome) -> Json:
    """One object's part in a reconcile: which workflow ran (if any) and how it ended."""
    key = o.key
    ran = workflow_run(o.run) if o.run is not None else None
    return {
        "object": {
            "kind": key.kind,
            "group": key.group,
            "name": key.name,
            "namespace": key.namespace or None,
            "promise": key.promise,
        },
        # A compound Promise's child: the objects above it, the source's object first.
        "ancestors": [str(k) for k in o.ancestors],
        "action": o.action,
        "failed": o.failed,
        "error": o.error,
        "note": o.note,
        "run": ran,
        "files": sorted(o.files),
        "unscheduled": [str(u) for u in o.unscheduled],
    }


def branch(result: BranchResult, objects: Sequence[ObjectOutcome]) -> Json:
    return {
        "name": result.branch,
        "action": result.action,
        "commit": result.commit,
        "added": list(result.added),
        "changed": list(result.changed),
        "removed": list(result.removed),
        "detail": result.detail,
        "objects": [str(o.key) for o in objects],
    }


def files_by_path(files: Mapping[str, bytes]) -> list[str]:
    return sorted(files)
