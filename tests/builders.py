"""Small builders for Kratix objects in tests (real objects, not mocks)."""

from __future__ import annotations

import json
from typing import Any

from gitbot.kratix.objects import (
    Container,
    CRDInfo,
    Pipeline,
    Promise,
    ResourceRequest,
    Source,
    Workflows,
)

BUSYBOX = "docker.io/library/busybox:latest"
API = CRDInfo(group="example.gitbot.dev", version="v1", kind="Thing", plural="things")


def sh(name: str, script: str, **fields: Any) -> Container:
    """A busybox container running a shell script (the image is local: never pulled)."""
    fields.setdefault("image_pull_policy", "IfNotPresent")
    return Container(name=name, image=BUSYBOX, command=("sh", "-c", script), **fields)


def pipeline(name: str, *containers: Container, **fields: Any) -> Pipeline:
    return Pipeline(name=name, containers=containers, **fields)


def promise(
    name: str = "thing",
    *,
    workflows: Workflows | None = None,
    selectors: dict[str, str] | None = None,
    dependencies: tuple[dict[str, Any], ...] = (),
    spec: dict[str, Any] | None = None,
) -> Promise:
    raw = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": name},
        "spec": spec if spec is not None else {"destinationSelectors": []},
    }
    return Promise(
        name=name,
        raw=raw,
        source=Source("promise.yaml", 1),
        api=API,
        workflows=workflows or Workflows(),
        destination_selectors=selectors or {},
        dependencies=dependencies,
    )


def request(
    name: str = "one", namespace: str = "default", spec: dict[str, Any] | None = None
) -> ResourceRequest:
    raw = {
        "apiVersion": API.api_version,
        "kind": API.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec or {"size": "small"},
    }
    return ResourceRequest("thing", name, namespace, raw, Source("request.yaml", 1))


DATABASE_API = CRDInfo(group="db.gitbot.dev", version="v1", kind="Database", plural="databases")


def database_promise() -> Promise:
    """A second Promise with an API, whose requests another Promise's pipeline may read."""
    raw = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "database"},
        "spec": {"api": {"spec": {"names": {"plural": "databases", "kind": "Database"}}}},
    }
    return Promise("database", raw, Source("db.yaml", 1), api=DATABASE_API)


def database_request(name: str, labels: dict[str, str] | None = None) -> ResourceRequest:
    raw = {
        "apiVersion": DATABASE_API.api_version,
        "kind": DATABASE_API.kind,
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"engine": "pg"},
    }
    return ResourceRequest("database", name, "default", raw, Source("db.yaml", 5))


def script_promise_yaml(name: str, script: str) -> str:
    """A Promise file whose promise configure workflow runs one busybox shell script."""
    return pipelines_promise_yaml(name, {"wait": script})


def pipelines_promise_yaml(name: str, scripts: dict[str, str]) -> str:
    """A Promise file whose promise configure workflow has one pipeline per (name, script)."""
    pipelines = "".join(
        f"""\
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: {pipeline}
          spec:
            containers:
              - name: {pipeline}
                image: {BUSYBOX}
                imagePullPolicy: IfNotPresent
                command: [sh, -c, {json.dumps(script)}]
"""
        for pipeline, script in scripts.items()
    )
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}
spec:
  workflows:
    promise:
      configure:
{pipelines}"""
