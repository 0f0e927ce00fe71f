"""The platform cluster a pipeline sees: which resource types exist and which objects they hold.

Built from what gitbot knows (the source repository's Promises, requests and Destinations, the
objects' stored statuses, the secrets and config-maps folders). Objects are plain JSON values
shaped as the API server returns them, with `uid` and `resourceVersion` derived from identity and
content (the same content always has the same resourceVersion; any change gives a new one).

Secrets and ConfigMaps: the folders hold one set of objects that every namespace sees alike,
`<dir>/<name>/<key>` being the object `<name>` in whichever namespace it is asked for, just as a
pipeline's `secretKeyRef` finds it whatever namespace the pipeline runs in.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitbot.kratix.objects import (
    KRATIX_API_VERSION,
    KRATIX_GROUP,
    KRATIX_VERSION,
    Destination,
    Promise,
    ResourceRequest,
)
from gitbot.kratix.workflow import PROMISE_NAME_LABEL
from gitbot.platform.rbac import PLATFORM_NAMESPACE
from gitbot.secrets import KeyedStore

# (promise, request or None for the Promise itself) -> its stored status, if any
StatusLookup = Callable[[Promise, ResourceRequest | None], Mapping[str, Any] | None]
_UID_NAMESPACE = uuid.UUID("6f1d3c57-2a55-4e0e-9d38-6a8f2f3a7b10")


@dataclass(frozen=True)
class ResourceType:
    """One resource of a group/version, as discovery lists it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    promise: str = ""  # for a Promise's API: that Promise's name

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


BUILT_IN: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, "namespace", ("ns",)),
    ResourceType("", "v1", "Secret", "secrets", True, "secret"),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, "configmap", ("cm",)),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        "customresourcedefinition",
        ("crd", "crds"),
    ),
    ResourceType(KRATIX_GROUP, KRATIX_VERSION, "Promise", "promises", False, "promise", (), True),
    ResourceType(KRATIX_GROUP, KRATIX_VERSION, "Destination", "destinations", False, "destination"),
)


@dataclass(frozen=True)
class ClusterView:
    """What the platform holds for one reconcile (or one `gitbot run`)."""

    promises: tuple[Promise, ...] = ()
    requests: tuple[ResourceRequest, ...] = ()
    destinations: tuple[Destination, ...] = ()
    status_of: StatusLookup | None = field(default=None, compare=False)

    def types(self) -> list[ResourceType]:
        """Built-in types and every Promise's API (its storage version)."""
        found = list(BUILT_IN)
        for promise in self.promises:
            if promise.api is not None:
                names = ((promise.raw.get("spec") or {}).get("api") or {}).get("spec", {})
                names = names.get("names") or {}
                found.append(
                    ResourceType(
                        promise.api.group,
                        promise.api.version,
                        promise.api.kind,
                        promise.api.plural,
                        promise.api.scope != "Cluster",
                        str(names.get("singular") or promise.api.kind.lower()),
                        tuple(names.get("shortNames") or ()),
                        True,
                        promise.name,
                    )
                )
        return found

    def namespaces(self) -> list[str]:
        """`default`, Kratix's own, and every namespace a request or pipeline uses."""
        found = {"default", PLATFORM_NAMESPACE}
        found.update(r.namespace for r in self.requests)
        found.update(p.pipeline_namespace for p in self.promises if p.pipeline_namespace)
        return sorted(found)

    def promise_object(self, promise: Promise) -> dict[str, Any]:
        obj = copy.deepcopy(dict(promise.raw))
        obj["status"] = dict(self._status(promise, None))
        return finish(obj, promise_type())

    def request_object(self, promise: Promise, request: ResourceRequest) -> dict[str, Any]:
        """The request as the API server stores it: namespace set, promise label, status."""
        obj = copy.deepcopy(dict(request.raw))
        metadata = obj.setdefault("metadata", {})
        metadata["namespace"] = request.namespace
        metadata.setdefault("labels", {})[PROMISE_NAME_LABEL] = promise.name
        obj["status"] = dict(self._status(promise, request))
        return obj

    def _status(self, promise: Promise, request: ResourceRequest | None) -> Mapping[str, Any]:
        if self.status_of is None:
            return {}
        return self.status_of(promise, request) or {}

    def objects(
        self, rtype: ResourceType, secrets: KeyedStore, config_maps: KeyedStore
    ) -> Iterator[dict[str, Any]]:
        """Every object of one type, each finished with uid and resourceVersion."""
        if rtype.kind == "Namespace":
            for name in self.namespaces():
                yield finish({"metadata": {"name": name}, "status": {"phase": "Active"}}, rtype)
        elif rtype.kind in ("Secret", "ConfigMap"):
            store = secrets if rtype.kind == "Secret" else config_maps
            for name in store.names():
                for namespace in self.namespaces():
                    yield folder_object(rtype, store, name, namespace)
        elif rtype.kind == "CustomResourceDefinition":
            for promise in self.promises:
                crd = (promise.raw.get("spec") or {}).get("api")
                if promise.api is not None and isinstance(crd, dict):
                    yield finish(copy.deepcopy(crd), rtype)
        elif rtype.group == KRATIX_GROUP and rtype.kind == "Promise":
            for promise in self.promises:
                yield self.promise_object(promise)
        elif rtype.group == KRATIX_GROUP and rtype.kind == "Destination":
            for destination in self.destinations:
                yield finish(destination_object(destination), rtype)
        else:
            promise = next(p for p in self.promises if p.name == rtype.promise)
            for request in self.requests:
                if request.promise_name == promise.name:
                    yield finish(self.request_object(promise, request), rtype)


def promise_type() -> ResourceType:
    return next(t for t in BUILT_IN if t.kind == "Promise")


def folder_object(
    rtype: ResourceType, store: KeyedStore, name: str, namespace: str
) -> dict[str, Any]:
    """A Secret (values base64, each registered for redaction) or ConfigMap from its folder."""
    values = store.keys(name)
    metadata = {"name": name, "namespace": namespace}
    if rtype.kind == "ConfigMap":
        return finish({"metadata": metadata, "data": values}, rtype)
    data = {}
    for key, value in values.items():
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        store.redactor.add(encoded)
        data[key] = encoded
    return finish({"metadata": metadata, "type": "Opaque", "data": data}, rtype)


def destination_object(destination: Destination) -> dict[str, Any]:
    filepath: dict[str, Any] = {"mode": destination.filepath_mode}
    if destination.filepath_mode == "aggregatedYAML":
        filepath["filename"] = destination.aggregated_filename
    return {
        "apiVersion": KRATIX_API_VERSION,
        "kind": "Destination",
        "metadata": {"name": destination.name, "labels": dict(destination.labels)},
        "spec": {
            "path": destination.path,
            "filepath": filepath,
            "strictMatchLabels": destination.strict_match_labels,
        },
    }


def finish(obj: dict[str, Any], rtype: ResourceType) -> dict[str, Any]:
    """Set apiVersion, kind, uid and a content-derived resourceVersion on an object."""
    obj["apiVersion"] = rtype.api_version
    obj["kind"] = rtype.kind
    metadata = obj.setdefault("metadata", {})
    metadata.pop("resourceVersion", None)
    identity = f"{rtype.qualified}/{metadata.get('namespace', '')}/{metadata.get('name', '')}"
    metadata["uid"] = str(uuid.uuid5(_UID_NAMESPACE, identity))
    if rtype.has_status:
        metadata.setdefault("generation", 1)
    metadata["resourceVersion"] = resource_version(obj)
    return obj


def resource_version(obj: Mapping[str, Any]) -> str:
    """Opaque, as the conventions ask; here a number derived from the content."""
    content = {k: v for k, v in obj.items() if k != "metadata"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    text = json.dumps([content, meta], sort_keys=True, default=str)
    return str(int(hashlib.sha256(text.encode()).hexdigest()[:12], 16))


def find_type(
    types: Sequence[ResourceType], group: str, version: str, plural: str
) -> ResourceType | None:
    return next(
        (t for t in types if (t.group, t.version, t.plural) == (group, version, plural)), None
    )
