"""The RBAC Kratix's pipeline factory grants, decided as Kubernetes decides it (pure)."""

from __future__ import annotations

from dataclasses import replace

from builders import pipeline, promise, request, sh

from gitbot.kratix.workflow import WorkflowTarget
from gitbot.platform.rbac import Access, allows, forbidden_message, pipeline_grants


def grants(*, pipeline_namespace: str | None = None, permissions=(), promise_workflow=False):
    thing = replace(promise(), pipeline_namespace=pipeline_namespace)
    target = WorkflowTarget(thing, "configure", None if promise_workflow else request())
    return pipeline_grants(target, pipeline("p", sh("c", "true"), permissions=permissions))


def test_a_resource_pipeline_gets_its_crd_and_works_in_its_namespace_only() -> None:
    found = grants()
    assert allows(found, Access("patch", "example.gitbot.dev", "things", "status", "default", "x"))
    assert allows(found, Access("delete", "platform.kratix.io", "works", "", "default", "w"))
    assert not allows(found, Access("get", "example.gitbot.dev", "things", "", "other", "x"))
    assert not allows(found, Access("list", "example.gitbot.dev", "things"))  # all namespaces
    assert not allows(found, Access("delete", "example.gitbot.dev", "things", "", "default", "x"))


def test_a_pipeline_namespace_not_the_requests_makes_the_crd_rule_cluster_wide() -> None:
    found = grants(pipeline_namespace="pipelines")
    assert allows(found, Access("get", "example.gitbot.dev", "things", "", "default", "one"))
    assert allows(found, Access("list", "example.gitbot.dev", "things"))
    assert not allows(found, Access("get", "platform.kratix.io", "works", "", "default", "w"))
    assert allows(found, Access("get", "platform.kratix.io", "works", "", "pipelines", "w"))


def test_a_promise_pipeline_gets_promises_cluster_wide() -> None:
    found = grants(promise_workflow=True)
    assert allows(found, Access("list", "platform.kratix.io", "promises"))
    assert allows(found, Access("patch", "platform.kratix.io", "promises", "status", "", "thing"))
    assert not allows(found, Access("list", "platform.kratix.io", "destinations"))


def test_permissions_by_resource_namespace_names_and_wildcards() -> None:
    found = grants(
        permissions=(
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
             "resourceNames": ["db"], "resourceNamespace": "vault"},
            {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"],
             "resourceNamespace": "*"},
        )
    )  # fmt: skip
    assert allows(found, Access("get", "", "secrets", "", "vault", "db"))
    assert not allows(found, Access("get", "", "secrets", "", "vault", "other"))
    assert not allows(found, Access("list", "", "secrets", "", "vault"))
    assert not allows(found, Access("get", "", "secrets", "", "default", "db"))
    assert allows(found, Access("get", "db.gitbot.dev", "databases", "status", "default", "b"))
    assert not allows(found, Access("get", "db.gitbot.dev", "databases", "", "default", "b"))
    assert allows(found, Access("list", "", "namespaces"))


def test_the_refusal_reads_as_the_api_servers() -> None:
    access = Access("patch", "example.gitbot.dev", "things", "status", "default", "one")
    assert forbidden_message("system:serviceaccount:default:sa", access) == (
        'things.example.gitbot.dev "one" is forbidden: User "system:serviceaccount:default:sa" '
        'cannot patch resource "things/status" in API group "example.gitbot.dev" in the '
        'namespace "default"'
    )
