"""Typed, frozen Kratix objects, built from validated YAML documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

KRATIX_API_VERSION = "platform.kratix.io/v1alpha1"
KRATIX_GROUP = "platform.kratix.io"
KRATIX_VERSION = "v1alpha1"

WorkflowType = Literal["promise", "resource"]
Action = Literal["configure", "delete"]
FilepathMode = Literal["nestedByMetadata", "none", "aggregatedYAML"]
Cleanup = Literal["none", "all"]


@dataclass(frozen=True)
class Source:
    """Where an object was read from: file and 1-based line of its document."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Container:
    """One user container of a Pipeline, with the Kubernetes fields Kratix accepts."""

    name: str
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    env: tuple[Mapping[str, Any], ...] = ()
    env_from: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()
    image_pull_policy: str | None = None
    security_context: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Pipeline:
    """A Kratix Pipeline: containers run one after another sharing input/output/metadata."""

    name: str
    containers: tuple[Container, ...]
    volumes: tuple[Mapping[str, Any], ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # spec.rbac: the ServiceAccount Kratix runs the pipeline as (default: the pipeline id) and
    # the extra PolicyRules (with optional resourceNamespace) it grants that account.
    service_account: str = ""
    permissions: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Workflows:
    """The four workflow lists of a Promise; delete lists keep only their first pipeline."""

    promise_configure: tuple[Pipeline, ...] = ()
    promise_delete: tuple[Pipeline, ...] = ()
    resource_configure: tuple[Pipeline, ...] = ()
    resource_delete: tuple[Pipeline, ...] = ()

    def pipelines(self, workflow_type: WorkflowType, action: Action) -> tuple[Pipeline, ...]:
        """The pipelines Kratix runs for this workflow and action (delete: the first only)."""
        pipelines: tuple[Pipeline, ...] = getattr(self, f"{workflow_type}_{action}")
        return pipelines[:1] if action == "delete" else pipelines


@dataclass(frozen=True)
class CRDInfo:
    """What gitbot needs from a Promise's `spec.api` CRD: its storage GVK and plural."""

    group: str
    version: str
    kind: str
    plural: str
    scope: str = "Namespaced"
    # The storage version's openAPIV3Schema (for defaults); not part of the API's identity.
    schema: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    # Every version with `served: true` (the API server answers for these only).
    served: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def served_versions(self) -> tuple[str, ...]:
        """The versions the API server answers for (the storage version when none is known)."""
        return self.served or (self.version,)


class _FromRaw:
    """`spec` and `labels` of an object kept as written in `raw`."""

    raw: Mapping[str, Any]

    @property
    def spec(self) -> Mapping[str, Any]:
        spec: Mapping[str, Any] = self.raw.get("spec") or {}
        return spec

    @property
    def labels(self) -> Mapping[str, str]:
        labels: Mapping[str, str] = (self.raw.get("metadata") or {}).get("labels") or {}
        return labels

    @property
    def paused(self) -> bool:
        """`kratix.io/paused: "true"` stops new workflows for the object (contract §6)."""
        return self.labels.get("kratix.io/paused") == "true"


@dataclass(frozen=True)
class Promise(_FromRaw):
    """A validated Promise. `raw` is the whole object as written, for object.yaml and hashing."""

    name: str
    raw: Mapping[str, Any]
    source: Source
    api: CRDInfo | None = None
    workflows: Workflows = field(default_factory=Workflows)
    destination_selectors: Mapping[str, str] = field(default_factory=dict)
    dependencies: tuple[Mapping[str, Any], ...] = ()
    reconciliation_interval: timedelta | None = None
    pipeline_namespace: str | None = None


LATEST_VERSION = "latest"  # a ResourceBinding that follows the Promise's current version


@dataclass(frozen=True)
class ResourceBinding:
    """Which version of its Promise a request is reconciled with: `spec.version` is "latest"
    (Kratix's default) or a `kratix.io/promise-version` (api/v1alpha1/resourcebinding_types.go).

    Kratix finds a request's binding by labels in the request's namespace,
    `kratix.io/promise-name` and `kratix.io/resource-name` (`promise` and `resource` here, ""
    when missing), not by `spec.resourceRef` (`findResourceBinding` in
    internal/controller/dynamic_resource_request_controller.go)."""

    name: str
    namespace: str
    source: Source
    version: str
    promise: str = ""
    resource: str = ""


@dataclass(frozen=True)
class Destination:
    """A Destination: where a group of documents may go, and how files are laid out there.

    `cleanup` mirrors Kratix's `spec.cleanup` (`api/v1alpha1/destination_types.go`,
    `internal/controller/destination_controller.go`): `none` (the default) keeps a removed
    Destination's files and its existing placements; `all` removes them.
    """

    name: str
    source: Source
    labels: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    filepath_mode: FilepathMode = "nestedByMetadata"
    aggregated_filename: str = "aggregated.yaml"
    strict_match_labels: bool = False
    init_workloads: bool = True
    cleanup: Cleanup = "none"
    # `spec.stateStoreRef` (kind, name): every state store is gitbot's one state repository.
    state_store_ref: tuple[str, str] = ("GitStateStore", "default")
    # `spec.path` as written: Kratix's webhook compares these, unnormalised, for clashes.
    written_path: str = field(default="", compare=False, repr=False)
    # Put on the platform by this object's output (a compound Promise's, as its key's text),
    # not by the source: it stays while that object's Work does.
    installed_by: str = field(default="", compare=False)


IMPLICIT_DESTINATION = Destination(name="default", source=Source("<implicit>", 0), path="default")


@dataclass(frozen=True)
class ResourceRequest(_FromRaw):
    """A request for a Promise's API. `raw` is the object as written, namespace defaulted."""

    promise_name: str
    name: str
    namespace: str
    raw: Mapping[str, Any]
    source: Source
