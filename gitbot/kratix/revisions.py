"""Which version of its Promise a request runs with: Kratix's ResourceBindings and revisions.

Kratix keeps a PromiseRevision for every `kratix.io/promise-version` a Promise has carried
(internal/controller/promise_controller.go `handlePromiseVersion`; an unversioned Promise's is
"not-set"), each holding the Promise's spec as last applied at that version. A request runs with
the revision its ResourceBinding names: "latest" (Kratix's default, the floating strategy) is
the current one, any other version that exact revision (`fetchRevision` and
`promiseRevisionByExactVersion` in internal/controller/dynamic_resource_request_controller.go,
which runs the request with `promise.Spec = revision.Spec.PromiseSpec`). Its status then says
`promiseVersion` (the revision's version) and `resourceBindingVersion` (the binding's).
gitbot keeps no revisions: the source repository's history is where they are read from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from gitbot.kratix.layout import process_name
from gitbot.kratix.objects import LATEST_VERSION, Promise, ResourceBinding, ResourceRequest
from gitbot.kratix.requirements import promise_version

UNVERSIONED = "not-set"  # the revision version of a Promise without the label
LABEL_VALUE_MAX = 63  # validation.LabelValueMaxLength


def revision_version(promise: Promise) -> str:
    """The version of the revision Kratix keeps for this Promise as it is."""
    return promise_version(promise) or UNVERSIONED


def binding_of(
    request: ResourceRequest, bindings: Sequence[ResourceBinding]
) -> ResourceBinding | None:
    """The request's ResourceBinding, found as Kratix finds it: by its labels in the request's
    namespace."""
    for binding in bindings:
        if (binding.namespace, binding.promise, binding.resource) == (
            request.namespace,
            request.promise_name,
            resource_label(request.name),
        ):
            return binding
    return None


def resource_label(name: str) -> str:
    """The `kratix.io/resource-name` value Kratix gives a request's binding: the name, or for
    one longer than a label allows, its shortened form and the first five characters of its
    md5 (`resourceNameLabelValue`, lib/objectutil `GenerateDeterministicObjectName`)."""
    if len(name) <= LABEL_VALUE_MAX:
        return name
    return f"{process_name(name)}-{hashlib.md5(name.encode()).hexdigest()[:5]}"


def bound_version(request: ResourceRequest, bindings: Sequence[ResourceBinding]) -> str:
    """The version the request's binding names; "latest" without a binding."""
    binding = binding_of(request, bindings)
    return binding.version if binding is not None else LATEST_VERSION


def is_pinned(promise: Promise, version: str) -> bool:
    """Whether `version` names a revision other than the Promise as it is now."""
    return version not in (LATEST_VERSION, revision_version(promise))


def at_revision(promise: Promise, revision: Promise) -> Promise:
    """The Promise a pinned request runs with: the revision's workflows, scheduling and pipeline
    namespace; its API stays the current Promise's (the installed CRD serves the request)."""
    return replace(
        promise,
        workflows=revision.workflows,
        destination_selectors=revision.destination_selectors,
        pipeline_namespace=revision.pipeline_namespace,
        reconciliation_interval=revision.reconciliation_interval,
        raw=revision.raw,
    )


def lookup_failed(promise: Promise, version: str) -> str:
    """Kratix's message when no revision has the version (FailedPromiseRevisionLookup)."""
    return f"cannot find a PromiseRevision for Promise {promise.name} with version {version}"


def version_status(used: str, bound: str) -> dict[str, str]:
    """The status fields Kratix sets once a request reconciled with a revision."""
    return {"promiseVersion": used, "resourceBindingVersion": bound}
