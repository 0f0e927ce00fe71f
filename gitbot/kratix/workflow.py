"""What a workflow run is about: its target object, Kratix's variables and its object.yaml."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitbot.kratix.objects import (
    KRATIX_GROUP,
    KRATIX_VERSION,
    Action,
    Pipeline,
    Promise,
    ResourceRequest,
    WorkflowType,
)

PROMISE_NAME_LABEL = "kratix.io/promise-name"


@dataclass(frozen=True)
class WorkflowTarget:
    """One workflow of one object: a Promise's own, or one of its resource requests'."""

    promise: Promise
    action: Action
    request: ResourceRequest | None = None
    dry_run: bool = False

    @property
    def workflow_type(self) -> WorkflowType:
        return "promise" if self.request is None else "resource"

    @property
    def pipelines(self) -> tuple[Pipeline, ...]:
        return self.promise.workflows.pipelines(self.workflow_type, self.action)

    @property
    def display_name(self) -> str:
        if self.request is None:
            return f"Promise {self.promise.name}"
        return f"{self.promise.name} request {self.request.namespace}/{self.request.name}"

    def pipeline_id(self, pipeline: Pipeline) -> str:
        return f"{self.promise.name}-{self.workflow_type}-{self.action}-{pipeline.name}"


def kratix_env(target: WorkflowTarget, pipeline: Pipeline) -> dict[str, str]:
    """The KRATIX_* variables of contract §2.4, in Kratix's order."""
    promise, request = target.promise, target.request
    env = {
        "KRATIX_WORKFLOW_ACTION": target.action,
        "KRATIX_WORKFLOW_TYPE": target.workflow_type,
        "KRATIX_PROMISE_NAME": promise.name,
        "KRATIX_PIPELINE_NAME": pipeline.name,
    }
    if request is None:
        env.update(
            KRATIX_OBJECT_KIND="Promise",
            KRATIX_OBJECT_GROUP=KRATIX_GROUP,
            KRATIX_OBJECT_VERSION=KRATIX_VERSION,
            KRATIX_OBJECT_NAME=promise.name,
            KRATIX_OBJECT_NAMESPACE="",
            KRATIX_CRD_PLURAL="promises",
            KRATIX_CLUSTER_SCOPED="true",
        )
        return env
    assert promise.api is not None  # a request exists only for a Promise with an API
    env.update(
        KRATIX_OBJECT_KIND=promise.api.kind,
        KRATIX_OBJECT_GROUP=promise.api.group,
        KRATIX_OBJECT_VERSION=promise.api.version,
        KRATIX_OBJECT_NAME=request.name,
        KRATIX_OBJECT_NAMESPACE=request.namespace,
        KRATIX_CRD_PLURAL=promise.api.plural,
        KRATIX_CLUSTER_SCOPED="true" if promise.api.scope == "Cluster" else "false",
    )
    if target.dry_run:
        env["KRATIX_DRY_RUN"] = "true"
    return env


def input_object(target: WorkflowTarget, status: Mapping[str, Any]) -> dict[str, Any]:
    """The object as Kratix's reader writes it to object.yaml: as stored, with its status."""
    source = target.promise.raw if target.request is None else target.request.raw
    obj: dict[str, Any] = copy.deepcopy(dict(source))
    obj.pop("status", None)
    metadata = obj.setdefault("metadata", {})
    if target.request is not None:
        metadata["namespace"] = target.request.namespace
        labels = metadata.setdefault("labels", {})
        labels[PROMISE_NAME_LABEL] = target.promise.name
    if target.action == "delete":
        now = datetime.now(UTC).replace(microsecond=0)
        metadata.setdefault("deletionTimestamp", now.isoformat().replace("+00:00", "Z"))
    obj["status"] = copy.deepcopy(dict(status))
    return obj
