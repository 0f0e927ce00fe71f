"""One pipeline's identity on the platform API: its ServiceAccount, its grants, its own object.

A session lives while its pipeline runs. Its own object (the Promise or request the workflow is
for) is served with the live status of the run, and status writes through the API land here;
the runner reads them back before it merges the pipeline's `status.yaml`, as Kratix's status
writer reads the object's current status.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gitbot.kratix.objects import Pipeline
from gitbot.kratix.workflow import WorkflowTarget, input_object
from gitbot.platform.cluster import ClusterView, ResourceType, finish, promise_type
from gitbot.platform.rbac import Grant, pipeline_grants, pipeline_namespace, service_account
from gitbot.secrets import KeyedStore


@dataclass(frozen=True)
class RunScope:
    """What a pipeline run shows of the platform: its target, pipeline, cluster and folders."""

    target: WorkflowTarget
    pipeline: Pipeline
    cluster: ClusterView
    secrets: KeyedStore
    config_maps: KeyedStore


class Session:
    """A pipeline's view of the API; thread-safe (the server answers from many threads)."""

    def __init__(self, scope: RunScope, status: Mapping[str, Any]) -> None:
        self.scope = scope
        self.cluster = _with_target(scope.cluster, scope.target)
        self.namespace = pipeline_namespace(scope.target)
        self.account = service_account(scope.target, scope.pipeline)
        self.user = f"system:serviceaccount:{self.namespace}:{self.account}"
        self.grants: tuple[Grant, ...] = pipeline_grants(scope.target, scope.pipeline)
        self._status = copy.deepcopy(dict(status))
        self._lock = threading.Lock()
        self.writes = 0

    @property
    def status(self) -> dict[str, Any]:
        """The own object's status now, with what the pipeline wrote through the API."""
        with self._lock:
            return copy.deepcopy(self._status)

    def set_status(self, status: Mapping[str, Any]) -> None:
        with self._lock:
            self._status = copy.deepcopy(dict(status))
            self.writes += 1

    def own_type(self) -> ResourceType:
        target = self.scope.target
        if target.request is None:
            return promise_type()
        return next(t for t in self.cluster.types() if t.promise == target.promise.name)

    def is_own(self, rtype: ResourceType, namespace: str, name: str) -> bool:
        """Whether (type, namespace, name) is the object this workflow runs for."""
        target = self.scope.target
        if rtype != self.own_type():
            return False
        if target.request is None:
            return name == target.promise.name
        return (namespace, name) == (target.request.namespace, target.request.name)

    def own_object(self) -> dict[str, Any]:
        """The own object as the API serves it: as in object.yaml, with the live status."""
        return finish(input_object(self.scope.target, self.status), self.own_type())


def _with_target(cluster: ClusterView, target: WorkflowTarget) -> ClusterView:
    """The cluster, sure to hold the run's own Promise and request (as `gitbot run` needs)."""
    names = {p.name for p in cluster.promises}
    if target.promise.name not in names:
        cluster = replace(cluster, promises=(*cluster.promises, target.promise))
    request = target.request
    if request is not None and not any(
        (r.promise_name, r.namespace, r.name)
        == (request.promise_name, request.namespace, request.name)
        for r in cluster.requests
    ):
        cluster = replace(cluster, requests=(*cluster.requests, request))
    return cluster
