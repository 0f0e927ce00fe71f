"""Who may do what: the RBAC Kratix grants a pipeline's ServiceAccount, decided as Kubernetes does.

Mirrors `kratix:api/v1alpha1/pipeline_factory.go` (`role`, `clusterRole`, `roleBindings`,
`clusterRoleBinding`, `resourcePolicyRule`) at the contract's snapshot:
- a promise workflow: a ClusterRole on `promises`, `promises/status` and `works`;
- a resource workflow: a Role in the pipeline namespace on the CRD's plural and its `/status`,
  plus every verb on `works`; cluster-wide when the pipeline namespace is not the request's;
- the Pipeline's `spec.rbac.permissions`: a Role in the pipeline namespace, or with
  `resourceNamespace` a ClusterRole bound in that namespace (`"*"`: everywhere).
A rule matches as Kubernetes' `RuleAllows` does (`*` wildcards, `*/sub`, resourceNames).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitbot.kratix.objects import KRATIX_GROUP, Pipeline
from gitbot.kratix.workflow import WorkflowTarget

PLATFORM_NAMESPACE = "kratix-platform-system"
_KRATIX_VERBS = ("get", "list", "update", "create", "patch")


@dataclass(frozen=True)
class PolicyRule:
    """A Kubernetes PolicyRule (resource rules only)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> PolicyRule:
        """From a validated `spec.rbac.permissions[]` entry."""
        return cls(
            tuple(raw.get("verbs") or ()),
            tuple(raw.get("apiGroups") or ()),
            tuple(raw.get("resources") or ()),
            tuple(raw.get("resourceNames") or ()),
        )


@dataclass(frozen=True)
class Grant:
    """A rule bound to the account: in one namespace (a RoleBinding) or everywhere (None)."""

    rule: PolicyRule
    namespace: str | None


@dataclass(frozen=True)
class Access:
    """One request as the authorizer sees it. `namespace` is "" for cluster-scoped objects and
    for lists across all namespaces; `name` is "" for lists."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def pipeline_namespace(target: WorkflowTarget) -> str:
    """Where Kratix runs the pipeline: `pipelineNamespace`, else the request's namespace for
    resource workflows and `kratix-platform-system` for promise workflows."""
    if target.promise.pipeline_namespace:
        return target.promise.pipeline_namespace
    return target.request.namespace if target.request is not None else PLATFORM_NAMESPACE


def service_account(target: WorkflowTarget, pipeline: Pipeline) -> str:
    """`spec.rbac.serviceAccount`, else the pipeline id Kratix names its account after."""
    return pipeline.service_account or target.pipeline_id(pipeline)


def pipeline_grants(target: WorkflowTarget, pipeline: Pipeline) -> tuple[Grant, ...]:
    """Every rule bound to the pipeline's ServiceAccount, with where it applies."""
    namespace = pipeline_namespace(target)
    grants: list[Grant] = []
    api = target.promise.api
    if target.request is None:
        resources = ("promises", "promises/status", "works")
        grants.append(Grant(PolicyRule(_KRATIX_VERBS, (KRATIX_GROUP,), resources), None))
    elif api is not None:
        own = PolicyRule(_KRATIX_VERBS, (api.group,), (api.plural, f"{api.plural}/status"))
        grants.append(Grant(own, namespace))
        grants.append(Grant(PolicyRule(("*",), (KRATIX_GROUP,), ("works",)), namespace))
        if namespace != target.request.namespace:
            grants.append(Grant(own, None))
    for raw in pipeline.permissions:
        rule = PolicyRule.of(raw)
        where = raw.get("resourceNamespace") or ""
        if not where:
            grants.append(Grant(rule, namespace))
        else:
            grants.append(Grant(rule, None if where == "*" else str(where)))
    return tuple(grants)


def allows(grants: Iterable[Grant], access: Access) -> bool:
    """Whether any grant allows the access (Kubernetes RBAC: allow rules only)."""
    return any(_grant_allows(g, access) for g in grants)


def _grant_allows(grant: Grant, access: Access) -> bool:
    if grant.namespace is not None and (
        not access.namespace or access.namespace != grant.namespace
    ):
        return False
    rule = grant.rule
    if "*" not in rule.verbs and access.verb not in rule.verbs:
        return False
    if "*" not in rule.api_groups and access.group not in rule.api_groups:
        return False
    if not any(_resource_matches(r, access) for r in rule.resources):
        return False
    return not rule.resource_names or (access.name != "" and access.name in rule.resource_names)


def _resource_matches(rule_resource: str, access: Access) -> bool:
    if rule_resource in ("*", access.full_resource):
        return True
    return bool(access.subresource) and rule_resource == f"*/{access.subresource}"


def forbidden_message(user: str, access: Access) -> str:
    """The API server's wording of a refusal (`k8s.io/apiserver` `forbiddenMessage`)."""
    qualified = f"{access.resource}.{access.group}" if access.group else access.resource
    subject = f'{qualified} "{access.name}"' if access.name else qualified
    where = f'in the namespace "{access.namespace}"' if access.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user}" cannot {access.verb} resource '
        f'"{access.full_resource}" in API group "{access.group}" {where}'
    )
