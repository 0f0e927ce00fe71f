"""The Kratix-modelled corpus (tests/data/kratix-modelled/) validates exactly as Kratix would.

Every file at the corpus's top level is one Kratix accepts: it loads with no error, and every
object in it is found. Every file under `rejected/` is one Kratix's CRDs or webhooks refuse:
it fails with exactly the problems listed here. See the corpus README for what each file models.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gitbot.kratix.loader import LoadResult, load_objects

CORPUS = Path(__file__).parent.parent / "data" / "kratix-modelled"
ACCEPTED = sorted(CORPUS.glob("*.yaml"))


def test_the_corpus_is_there() -> None:
    assert [p.name for p in ACCEPTED] == [
        "core-testbundle.yaml",
        "destinations.yaml",
        "exported-list.yaml",
        "marketplace-namespace.yaml",
        "operator-crd.yaml",
        "secrets-and-anchors.yaml",
        "workflow-control.yaml",
    ]
    for path in [*ACCEPTED, *CORPUS.glob("rejected/*.yaml")]:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# Modelled on "), path


@pytest.fixture(scope="module")
def accepted() -> LoadResult:
    return load_objects(ACCEPTED)


def test_every_accepted_file_loads_without_error(accepted: LoadResult) -> None:
    result = accepted
    assert [str(p) for p in result.problems] == []


def test_every_object_is_found(accepted: LoadResult) -> None:
    result = accepted
    promises = {p.name: p for p in result.promises}
    assert sorted(promises) == [
        "bundle",
        "cache",
        "database",
        "exported",
        "gated",
        "team-namespace",
    ]
    assert sorted((r.promise_name, r.namespace, r.name) for r in result.resources) == [
        ("bundle", "default", "example"),
        ("cache", "default", "sessions"),
        ("database", "shop", "orders"),
        ("team-namespace", "default", "payments"),
    ]
    destinations = {d.name: d for d in result.destinations}
    assert {n: (d.path, d.filepath_mode, d.cleanup) for n, d in destinations.items()} == {
        "worker-1": ("worker-1", "nestedByMetadata", "none"),
        "catalogue": ("catalogue", "aggregatedYAML", "none"),
        "flat": ("flat", "none", "all"),
        "platform": ("", "nestedByMetadata", "none"),
        "worker-3": ("worker-3", "nestedByMetadata", "none"),
    }
    assert destinations["catalogue"].aggregated_filename == "catalog.yaml"
    assert destinations["flat"].init_workloads is False
    # The GitStateStore is no object gitbot reads (the List wrapper is flattened, not ignored).
    assert len(result.ignored) == 1


def test_what_the_accepted_objects_carry(accepted: LoadResult) -> None:
    result = accepted
    promises = {p.name: p for p in result.promises}
    exported = promises["exported"]
    assert exported.reconciliation_interval == timedelta(minutes=30)  # the annotation wins
    assert exported.api is not None and exported.api.api_version == "test.gitbot.dev/v1alpha1"
    (configure,) = exported.workflows.promise_configure
    assert configure.labels == {"app.kubernetes.io/part-of": "exported"}
    provision, wait = promises["database"].workflows.resource_configure
    assert provision.containers[0].env == wait.containers[0].env  # the YAML anchor
    (delete,) = promises["gated"].workflows.promise_delete
    assert delete.name == "teardown"
    cache = next(r for r in result.resources if r.name == "sessions")
    assert cache.spec == {"size": "small", "replicas": 1}  # defaulted as the API server does


def test_what_kratix_ignores_is_a_warning(accepted: LoadResult) -> None:
    result = accepted
    warnings = [str(p).replace(f"{CORPUS}/", "") for p in result.warnings]
    assert warnings == [
        "exported-list.yaml:30: warning: spec.api.apiVersion: 'apiextensions.k8s.io/v1beta1' is "
        "ignored: Kratix creates the API as an apiextensions.k8s.io/v1 CustomResourceDefinition",
    ]


def test_what_kratix_refuses_is_refused() -> None:
    result = load_objects(sorted(CORPUS.glob("rejected/*.yaml")))
    assert [str(p).replace(f"{CORPUS}/rejected/", "") for p in result.problems] == [
        'promise-webhook.yaml:10: metadata.annotations["kratix.io/reconciliation-interval"]: '
        "must be at least 1m0s, got '10s'",
        "promise-webhook.yaml:20: spec.api.spec.scope: must be a namespaced CRD (scope: "
        "Namespaced), got 'Cluster'",
        "promise-webhook.yaml:33: spec.workflows.resource.configure[0].spec.containers[0]."
        "workingDir: unknown key 'workingDir' (allowed: args, command, env, envFrom, image, "
        "imagePullPolicy, name, resources, securityContext, volumeMounts)",
        "promise-webhook.yaml:36: spec.workflows.resource.configure[1].metadata.name: "
        "duplicate pipeline name 'render'",
        "promise-webhook.yaml:25: spec.workflows.config.reconciliationInterval: must be at "
        "least 1m0s, got '30s'",
        "destination-webhook.yaml:8: spec: required key 'path' is missing",
        "destination-webhook.yaml:15: spec: required key 'stateStoreRef' is missing",
        "destination-webhook.yaml:31: spec.path: destination path 'shared' already exists for "
        "state store 'default' (Destination 'first', destination-webhook.yaml:18)",
        "destination-webhook.yaml:40: spec.cleanup: must be one of none, all, got 'sometimes'",
    ]
    assert result.promises == [] and [d.name for d in result.destinations] == ["first"]
