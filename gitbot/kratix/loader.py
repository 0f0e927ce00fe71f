"""Load Promises, Destinations and resource requests from YAML files, with every problem found."""

from __future__ import annotations

import copy
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from gitbot.durations import parse_go_duration
from gitbot.errors import InvalidObjects, Problem
from gitbot.kratix.crdschema import conform
from gitbot.kratix.defaults import storage_schema
from gitbot.kratix.objects import (
    KRATIX_API_VERSION,
    Cleanup,
    CRDInfo,
    Destination,
    FilepathMode,
    Promise,
    ResourceBinding,
    ResourceRequest,
    Source,
    Workflows,
)
from gitbot.kratix.validate import (
    DROPPED,
    Checker,
    check_object_meta,
    check_pipelines,
    is_label,
)
from gitbot.yamlio import Path, YamlDocument, load_file, load_text

CRD_API_VERSION = "apiextensions.k8s.io/v1"
OBJECT_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")
KRATIX_KINDS = ("Promise", "Destination", "ResourceBinding")
# config/crd/bases/platform.kratix.io_resourcebindings.yaml
BINDING_SPEC_KEYS = ("promiseRef", "resourceRef", "version")
BINDING_LABELS = ("kratix.io/promise-name", "kratix.io/resource-name")
# The fields of Kratix's CRDs (config/crd/bases/platform.kratix.io_promises.yaml,
# ..._destinations.yaml); the API server drops any other, so gitbot warns and ignores it.
PROMISE_SPEC_KEYS = (
    "api",
    "dependencies",
    "destinationSelectors",
    "requiredPromises",
    "workflows",
)
DESTINATION_SPEC_KEYS = (
    "cleanup",
    "filepath",
    "initWorkloads",
    "path",
    "stateStoreRef",
    "strictMatchLabels",
)
CLEANUP_POLICIES = ("none", "all")
STATE_STORE_KINDS = ("BucketStateStore", "GitStateStore")
FILEPATH_MODES = ("nestedByMetadata", "none", "aggregatedYAML")
MIN_RECONCILIATION_INTERVAL = timedelta(minutes=1)  # v1alpha1.MinReconciliationInterval
RECONCILIATION_INTERVAL_ANNOTATION = "kratix.io/reconciliation-interval"
REQUEST_NAME_MAX = 63


@dataclass
class LoadResult:
    """Everything found in a set of files: valid objects, problems, warnings, other documents."""

    promises: list[Promise] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    resources: list[ResourceRequest] = field(default_factory=list)
    bindings: list[ResourceBinding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    ignored: list[Source] = field(default_factory=list)


# --- Promise ----------------------------------------------------------------------------------


def parse_promise(doc: YamlDocument) -> tuple[Promise, list[Problem]]:
    """A valid Promise and its warnings; InvalidObjects lists every error otherwise."""
    ck = Checker(doc)
    promise = _promise(ck)
    if promise is None or ck.errors:
        raise InvalidObjects(ck.errors)
    return promise, ck.warnings


def _promise(ck: Checker) -> Promise | None:
    obj = ck.mapping(ck.doc.data, ())
    if obj is None:
        return None
    _dropped(ck, obj, (), OBJECT_KEYS)
    name, _, annotations = _metadata(ck, obj)
    annotated = _annotated_interval(ck, annotations)
    spec = ck.get(obj, (), "spec", "a mapping") or {}
    where: Path = ("spec",)
    _dropped(ck, spec, where, PROMISE_SPEC_KEYS)
    api = _crd(ck, spec["api"], (*where, "api")) if spec.get("api") is not None else None
    workflows, interval, namespace = _workflows(ck, spec, name, spec.get("api") is not None)
    selectors = _selectors(ck, spec)
    dependencies = _dependencies(ck, spec)
    _required_promises(ck, spec)
    if name is None or ck.errors:
        return None
    return Promise(
        name=name,
        raw=copy.deepcopy(obj),
        source=Source(ck.doc.file, ck.doc.line),
        api=api,
        workflows=workflows,
        destination_selectors=selectors,
        dependencies=dependencies,
        reconciliation_interval=annotated or interval,
        pipeline_namespace=namespace,
    )


def _dropped(ck: Checker, value: Mapping[str, Any], path: Path, known: Sequence[str]) -> None:
    """Warn of keys a structural CRD schema does not list: the API server prunes them."""
    for key in value:
        if key not in known:
            ck.warn((*path, key), DROPPED)


def _metadata(
    ck: Checker, obj: Mapping[str, Any], max_length: int = 253
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """metadata.name (a DNS-1123 subdomain), labels and annotations of a whole object."""
    metadata = ck.require(obj, (), "metadata", "a mapping")
    if metadata is None:
        return None, {}, {}
    name = ck.require(metadata, ("metadata",), "name", "a string")
    if name is not None and not ck.dns_subdomain(name, ("metadata", "name"), max_length):
        name = None
    labels, annotations = check_object_meta(ck, metadata, ("metadata",), strict=False)
    return cast("str | None", name), labels, annotations


def _annotated_interval(ck: Checker, annotations: Mapping[str, str]) -> timedelta | None:
    """The `kratix.io/reconciliation-interval` annotation, which overrides the Promise's own.

    Kratix's webhook refuses a value that is not a Go duration or is under one minute
    (internal/webhook/v1alpha1/promiserevision_webhook.go validateReconciliationIntervalAnnotation,
    called from promise_webhook.go); the revision then carries it and it wins over
    `spec.workflows.config.reconciliationInterval` (api/v1alpha1/promiserevision_types.go).
    """
    text = annotations.get(RECONCILIATION_INTERVAL_ANNOTATION)
    if text is None:
        return None
    where: Path = ("metadata", "annotations", RECONCILIATION_INTERVAL_ANNOTATION)
    return _min_interval(ck, text, where)


def _min_interval(ck: Checker, text: str, where: Path) -> timedelta | None:
    """A Go duration of at least MIN_RECONCILIATION_INTERVAL, else an error at `where`."""
    try:
        interval = parse_go_duration(text)
    except ValueError as exc:
        ck.error(where, str(exc))
        return None
    if interval < MIN_RECONCILIATION_INTERVAL:
        ck.error(where, f"must be at least 1m0s, got '{text}'")
        return None
    return interval


def _crd(ck: Checker, value: Any, path: Path) -> CRDInfo | None:
    """The storage GVK and plural of a Promise's `spec.api` CustomResourceDefinition."""
    crd = ck.mapping(value, path)
    if crd is None:
        return None
    # An embedded resource (x-kubernetes-embedded-resource) needs both; Kratix then decodes it
    # into an apiextensions/v1 CRD and creates it with the typed client, which sets its own
    # apiVersion and kind (promise_types.go GetAPI, promise_webhook.go validateCRD).
    for key, expected in (("apiVersion", CRD_API_VERSION), ("kind", "CustomResourceDefinition")):
        value = ck.require(crd, path, key, "a string")
        if value is not None and value != expected:
            message = (
                f"'{value}' is ignored: Kratix creates the API as an {CRD_API_VERSION} "
                "CustomResourceDefinition"
            )
            ck.warn((*path, key), message)
    spec = ck.require(crd, path, "spec", "a mapping")
    if spec is None:
        return None
    where = (*path, "spec")
    group = ck.require(spec, where, "group", "a string")
    group_ok = group is not None and _crd_group(ck, group, (*where, "group"))
    names = ck.require(spec, where, "names", "a mapping") or {}
    kind = ck.require(names, (*where, "names"), "kind", "a string") if names else None
    plural = ck.require(names, (*where, "names"), "plural", "a string") if names else None
    names_ok = bool(names) and _crd_names(ck, names, (*where, "names"))
    scope = ck.require(spec, where, "scope", "a string")
    if scope is not None and scope != "Namespaced":
        ck.error((*where, "scope"), f"must be a namespaced CRD (scope: Namespaced), got '{scope}'")
    version = _storage_version(ck, spec, where)
    _crd_name(ck, crd, path, plural, group, group_ok and names_ok)
    if group is None or kind is None or plural is None or version is None:
        return None
    if not (group_ok and names_ok):
        return None
    return CRDInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        schema=storage_schema(crd, version),
        served=_served_versions(spec),
    )


def _served_versions(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the versions marked `served: true` (already checked by _storage_version)."""
    versions = spec.get("versions")
    return tuple(
        v["name"]
        for v in versions or ()
        if isinstance(v, dict) and isinstance(v.get("name"), str) and v.get("served") is True
    )


def _crd_group(ck: Checker, group: str, path: Path) -> bool:
    """A CRD's group is a DNS-1123 subdomain with at least one dot.

    Mirrors apiextensions' ValidateCustomResourceDefinitionSpec (k8s.io/apiextensions-apiserver
    pkg/apis/apiextensions/validation/validation.go), which the API server runs when Kratix's
    Promise webhook dry-runs the CRD (internal/webhook/v1alpha1/promise_webhook.go validateCRD).
    """
    if not ck.dns_subdomain(group, path):
        return False
    if "." not in group:
        ck.error(path, f"group '{group}' must be a domain with at least one dot")
        return False
    return True


_ONE = {"shortNames": "short name", "categories": "category"}


def _crd_names(ck: Checker, names: Mapping[str, Any], path: Path) -> bool:
    """Check a CRD's `spec.names` as the API server does; False when kind or plural is invalid.

    Mirrors apiextensions' ValidateCustomResourceDefinitionNames (k8s.io/apiextensions-apiserver
    pkg/apis/apiextensions/validation/validation.go), run by the API server when Kratix's Promise
    webhook dry-runs the CRD: `plural`, `singular`, each of `shortNames` and `categories` are
    DNS-1035 labels; `kind` and `listKind` are, lower-cased; `listKind` is not `kind`. The API
    server defaults `singular` and `listKind` before validating, so both may be absent.
    """
    ok = True
    for key in ("plural", "kind"):
        value = names.get(key)
        if value == "":
            ck.error((*path, key), "must not be empty")
            ok = False
        elif isinstance(value, str):
            # A kind may be mixed case: its lower-case form is what must be a label.
            shown = value if key == "kind" else None
            label = value.lower() if shown else value
            ok = ck.dns_1035_label(label, (*path, key), key, shown) and ok
    singular = ck.get(names, path, "singular", "a string")
    if singular:
        ck.dns_1035_label(singular, (*path, "singular"), "singular")
    list_kind = ck.get(names, path, "listKind", "a string")
    if list_kind:
        ck.dns_1035_label(list_kind.lower(), (*path, "listKind"), "listKind", list_kind)
        if list_kind == names.get("kind"):
            ck.error((*path, "listKind"), "kind and listKind may not be the same")
    for key in ("shortNames", "categories"):
        for i, item in enumerate(ck.string_list(names, path, key) or ()):
            ck.dns_1035_label(item, (*path, key, i), _ONE[key])
    return ok


def _storage_version(ck: Checker, spec: Mapping[str, Any], path: Path) -> str | None:
    versions = ck.require(spec, path, "versions", "a list")
    if versions is None:
        return None
    if not versions:
        ck.error((*path, "versions"), "must list at least one version")
        return None
    names: list[str] = []
    stored: list[str] = []
    for i, version in enumerate(versions):
        where = (*path, "versions", i)
        if ck.mapping(version, where) is None:
            continue
        name = ck.require(version, where, "name", "a string")
        if name is not None:
            names.append(name)
            if ck.get(version, where, "storage", "a boolean"):
                stored.append(name)
    if len(stored) > 1:
        ck.error((*path, "versions"), f"only one version may have storage: true, found {stored}")
    if len(names) != len(versions):
        return None
    return stored[0] if stored else names[0]


def _crd_name(
    ck: Checker,
    crd: Mapping[str, Any],
    path: Path,
    plural: str | None,
    group: str | None,
    valid: bool,
) -> None:
    """`metadata.name` must be `<plural>.<group>` (ValidateCustomResourceDefinition).

    The expected name is suggested only when `valid` (plural and group are valid names), so the
    message never suggests a name the API server would refuse."""
    metadata = ck.require(crd, path, "metadata", "a mapping")
    if metadata is None:
        return
    name = ck.require(metadata, (*path, "metadata"), "name", "a string")
    if name is not None and plural is not None and group is not None:
        expected = f"{plural}.{group}"
        if name != expected:
            where = (*path, "metadata", "name")
            hint = f" ('{expected}')" if valid else ""
            ck.error(where, f"must be '<plural>.<group>'{hint}, got '{name}'")


def _workflows(
    ck: Checker, spec: Mapping[str, Any], name: str | None, has_api: bool
) -> tuple[Workflows, timedelta | None, str | None]:
    path: Path = ("spec", "workflows")
    workflows = ck.get(spec, ("spec",), "workflows", "a mapping")
    if workflows is None:
        return Workflows(), None, None
    _dropped(ck, workflows, path, ("config", "promise", "resource"))
    lists: dict[str, tuple[Any, ...]] = {}
    for workflow_type in ("promise", "resource"):
        actions = ck.get(workflows, path, workflow_type, "a mapping") or {}
        _dropped(ck, actions, (*path, workflow_type), ("configure", "delete"))
        for action in ("configure", "delete"):
            where = (*path, workflow_type, action)
            prefix = f"{name}-{workflow_type}-{action}" if name else None
            pipelines = check_pipelines(ck, actions.get(action), where, prefix)
            lists[f"{workflow_type}_{action}"] = pipelines
        if workflow_type == "resource" and actions and not has_api:
            message = "resource workflows never run: the Promise has no spec.api"
            ck.warn((*path, "resource"), message)
    interval, namespace = _workflow_config(ck, workflows, path)
    return Workflows(**lists), interval, namespace


def _workflow_config(
    ck: Checker, workflows: Mapping[str, Any], path: Path
) -> tuple[timedelta | None, str | None]:
    config = ck.get(workflows, path, "config", "a mapping")
    if config is None:
        return None, None
    where = (*path, "config")
    _dropped(ck, config, where, ("pipelineNamespace", "reconciliationInterval"))
    namespace = ck.get(config, where, "pipelineNamespace", "a string")
    if namespace is not None and not ck.dns_label(namespace, (*where, "pipelineNamespace")):
        namespace = None
    text = ck.get(config, where, "reconciliationInterval", "a string")
    if text is None:
        return None, namespace
    return _min_interval(ck, text, (*where, "reconciliationInterval")), namespace


def _selectors(ck: Checker, spec: Mapping[str, Any]) -> dict[str, str]:
    """`destinationSelectors` squashed, earlier entries winning (SquashPromiseScheduling).

    The pre-2023 `spec.scheduling` is no longer in Kratix's CRD
    (api/v1alpha1/promise_types.go): the API server drops it, and gitbot warns and ignores it.
    """
    squashed: dict[str, str] = {}
    for i, entry in enumerate(ck.get(spec, ("spec",), "destinationSelectors", "a list") or ()):
        where: Path = ("spec", "destinationSelectors", i)
        if ck.mapping(entry, where) is not None:
            _dropped(ck, entry, where, ("matchLabels",))
            # The CRD takes any string map; a pair no label can be only ever fails to match.
            for key, value in ck.string_map(entry, where, "matchLabels").items():
                if not is_label(key, value):
                    ck.warn(
                        (*where, "matchLabels", key),
                        f"'{key}: {value}' is not a valid label: no Destination can match it",
                    )
                squashed.setdefault(key, value)
    return squashed


def _dependencies(ck: Checker, spec: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    items = ck.get(spec, ("spec",), "dependencies", "a list") or []
    found = [ck.mapping(item, ("spec", "dependencies", i)) for i, item in enumerate(items)]
    return tuple(copy.deepcopy(item) for item in found if item is not None)


def _required_promises(ck: Checker, spec: Mapping[str, Any]) -> None:
    """`requiredPromises` entries: optional `name` and `version` strings, as in Kratix's CRD."""
    for i, entry in enumerate(ck.get(spec, ("spec",), "requiredPromises", "a list") or ()):
        where: Path = ("spec", "requiredPromises", i)
        if ck.mapping(entry, where) is None:
            continue
        _dropped(ck, entry, where, ("name", "version"))
        name = ck.get(entry, where, "name", "a string")
        ck.get(entry, where, "version", "a string")
        if not name:
            ck.warn(
                where, "a requirement without a name is never met: the Promise stays unavailable"
            )


# --- Destination ------------------------------------------------------------------------------


def parse_destination(doc: YamlDocument) -> Destination:
    """A valid Destination; InvalidObjects lists every error otherwise."""
    destination, errors, _ = _destination(doc)
    if destination is None:
        raise InvalidObjects(errors)
    return destination


def _destination(doc: YamlDocument) -> tuple[Destination | None, list[Problem], list[Problem]]:
    ck = Checker(doc)
    obj = ck.mapping(doc.data, ())
    if obj is None:
        return None, ck.errors, ck.warnings
    _dropped(ck, obj, (), OBJECT_KEYS)
    name, labels, _ = _metadata(ck, obj)
    spec = ck.require(obj, (), "spec", "a mapping") or {}
    _dropped(ck, spec, ("spec",), DESTINATION_SPEC_KEYS)
    written = ck.require(spec, ("spec",), "path", "a string") if "spec" in obj else None
    path = _destination_path(ck, written)
    store = _state_store_ref(ck, spec) if "spec" in obj else None
    mode, filename = _filepath(ck, spec)
    strict = ck.get(spec, ("spec",), "strictMatchLabels", "a boolean")
    init = ck.get(spec, ("spec",), "initWorkloads", "a mapping")
    enabled = None
    if init is not None:
        _dropped(ck, init, ("spec", "initWorkloads"), ("enabled",))
        enabled = ck.get(init, ("spec", "initWorkloads"), "enabled", "a boolean")
    cleanup = ck.get(spec, ("spec",), "cleanup", "a string") or "none"
    ck.one_of(cleanup, ("spec", "cleanup"), CLEANUP_POLICIES)
    if name is None or store is None or written is None or ck.errors:
        return None, ck.errors, ck.warnings
    destination = Destination(
        name=name,
        source=Source(doc.file, doc.line),
        labels=labels,
        path=path,
        filepath_mode=mode,
        aggregated_filename=filename,
        strict_match_labels=bool(strict),
        init_workloads=enabled is not False,
        cleanup=cast(Cleanup, cleanup),
        state_store_ref=store,
        written_path=written,
    )
    return destination, ck.errors, ck.warnings


def _destination_path(ck: Checker, value: str | None) -> str:
    """spec.path without surrounding '/'; '.' or '/' is the store root.

    Kratix's CRD lists `path` under `required` and its webhook refuses an empty one
    (internal/webhook/v1alpha1/destination_webhook.go ValidateCreate: "path field is required").
    """
    if value is None:
        return ""
    text = posixpath.normpath(value.strip("/") or ".")
    if text == ".":
        return ""
    if text == ".." or text.startswith("../"):
        ck.error(("spec", "path"), f"path must stay inside the state store, got '{value}'")
        return ""
    return text


def _state_store_ref(ck: Checker, spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of `spec.stateStoreRef`, required by Kratix's Destination webhook.

    The CRD makes `kind` (BucketStateStore or GitStateStore) and `name` required; the webhook
    refuses a Destination without the reference ("stateStoreRef field is required").
    """
    where: Path = ("spec", "stateStoreRef")
    ref = ck.require(spec, ("spec",), "stateStoreRef", "a mapping")
    if ref is None:
        return None
    _dropped(ck, ref, where, ("kind", "name"))
    kind = ck.require(ref, where, "kind", "a string")
    if kind is not None and not ck.one_of(kind, (*where, "kind"), STATE_STORE_KINDS):
        kind = None
    name = ck.require(ref, where, "name", "a string")
    return (kind, name) if kind is not None and name is not None else None


def _filepath(ck: Checker, spec: Mapping[str, Any]) -> tuple[FilepathMode, str]:
    where: Path = ("spec", "filepath")
    filepath = ck.get(spec, ("spec",), "filepath", "a mapping") or {}
    _dropped(ck, filepath, where, ("filename", "mode"))
    mode = ck.get(filepath, where, "mode", "a string") or "nestedByMetadata"
    known = ck.one_of(mode, (*where, "mode"), FILEPATH_MODES)
    filename = ck.get(filepath, where, "filename", "a string")
    if filename:
        # Kratix joins it to the Destination's path with Go's filepath.Join (a leading '/'
        # does not make it absolute); gitbot keeps it inside the Destination's folder.
        cleaned = posixpath.normpath(filename.lstrip("/") or ".")
        if cleaned in (".", "..") or cleaned.startswith("../"):
            ck.error(
                (*where, "filename"),
                f"filename must name a file inside the Destination's path, got '{filename}'",
            )
        filename = cleaned
        if known and mode != "aggregatedYAML":
            ck.warn((*where, "filename"), "filename is only used with mode aggregatedYAML")
    return cast(FilepathMode, mode if known else "nestedByMetadata"), filename or "aggregated.yaml"


# --- resource requests ------------------------------------------------------------------------


def parse_resource_request(doc: YamlDocument, promise: Promise) -> ResourceRequest:
    """A valid request for `promise`'s API; InvalidObjects lists every error otherwise."""
    ck = Checker(doc)
    request = _resource_request(ck, promise)
    if request is None or ck.errors:
        raise InvalidObjects(ck.errors)
    return request


def _resource_request(ck: Checker, promise: Promise) -> ResourceRequest | None:
    obj = ck.mapping(ck.doc.data, ())
    if obj is None:
        return None
    name, _, _ = _metadata(ck, obj, REQUEST_NAME_MAX)
    metadata = obj.get("metadata")
    namespace = "default"
    if isinstance(metadata, dict):
        given = ck.get(metadata, ("metadata",), "namespace", "a string")
        if given and ck.dns_label(given, ("metadata", "namespace"), "namespace"):
            namespace = given
    if "spec" in obj:
        ck.mapping(obj["spec"], ("spec",))
    if name is None or ck.errors:
        return None
    # Kratix only ever sees what the API server stored: pruned, defaulted and valid.
    schema = promise.api.schema if promise.api is not None else None
    conformed = conform(schema, obj)
    for path in conformed.pruned:
        ck.warn(path, "unknown field, dropped as the Kubernetes API server does")
    for path, message in conformed.errors:
        ck.error(path, message)
    if ck.errors:
        return None
    raw = conformed.value
    raw["metadata"]["namespace"] = namespace
    return ResourceRequest(promise.name, name, namespace, raw, Source(ck.doc.file, ck.doc.line))


# --- loading many files -----------------------------------------------------------------------

GVK = tuple[str, str]  # (apiVersion, kind)


def load_objects(
    paths: Iterable[str | os.PathLike[str]], known_promises: Sequence[Promise] = ()
) -> LoadResult:
    """Load every document of every file; problems are collected, valid objects kept.

    Resource requests are documents whose apiVersion and kind are the storage GVK of a Promise's
    API, from these files or from `known_promises` (a Promise loaded here replaces a known one
    of the same name).
    """
    result = LoadResult()
    docs: list[YamlDocument] = []
    for path in paths:
        try:
            docs.extend(load_file(path))
        except InvalidObjects as exc:
            result.problems.extend(exc.problems)
    return _load_documents(docs, result, known_promises)


def load_texts(files: Mapping[str, str], known_promises: Sequence[Promise] = ()) -> LoadResult:
    """Like load_objects, for file contents already read (e.g. from a git commit), by name."""
    result = LoadResult()
    docs: list[YamlDocument] = []
    for name, text in files.items():
        try:
            docs.extend(load_text(text, name))
        except InvalidObjects as exc:
            result.problems.extend(exc.problems)
    return _load_documents(docs, result, known_promises)


def flatten_lists(docs: Iterable[YamlDocument]) -> list[YamlDocument]:
    """Documents with every `kind: List` (or `...List`) replaced by its `items`, recursively.

    `kubectl apply -f` reads a list object's items as separate objects (its resource builder's
    FlattenListVisitor); a Kratix user's repository may hold `kubectl get -o yaml` output so.
    Each item keeps its own line.
    """
    flat: list[YamlDocument] = []
    for doc in docs:
        data = doc.data
        is_list = isinstance(data, dict) and isinstance(data.get("items"), list)
        kind = data.get("kind") if is_list else None
        if isinstance(kind, str) and kind.endswith("List"):
            items = [doc.part(("items", i)) for i in range(len(data["items"]))]
            flat.extend(flatten_lists(item for item in items if item.data is not None))
        else:
            flat.append(doc)
    return flat


def _load_documents(
    docs: list[YamlDocument], result: LoadResult, known_promises: Sequence[Promise]
) -> LoadResult:
    docs = flatten_lists(docs)
    kinds = {id(doc): _kratix_kind(doc, result) for doc in docs}
    broken = _load_promises([d for d in docs if kinds[id(d)] == "Promise"], result)
    apis = _apis(result, known_promises)
    seen: dict[str, Source] = {}
    for doc in docs:
        if kinds[id(doc)] == "Destination":
            _add_destination(doc, result, seen)
        elif kinds[id(doc)] == "ResourceBinding":
            _add_binding(doc, result)
        elif kinds[id(doc)] is None:
            _add_other(doc, result, apis, broken)
    return result


def _kratix_kind(doc: YamlDocument, result: LoadResult) -> str | None:
    """'Promise', 'Destination' or 'ResourceBinding' for Kratix objects gitbot reads; None for
    anything else."""
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") not in KRATIX_KINDS:
        return None
    api_version = data.get("apiVersion")
    if api_version == KRATIX_API_VERSION:
        return cast(str, data["kind"])
    if isinstance(api_version, str) and api_version.startswith("platform.kratix.io/"):
        message = f"apiVersion '{api_version}' is not {KRATIX_API_VERSION}; document ignored"
        result.warnings.append(Checker(doc).problem(("apiVersion",), message, warning=True))
    return None


def _load_promises(docs: list[YamlDocument], result: LoadResult) -> dict[GVK, str]:
    """Add valid Promises to `result`; return the APIs of invalid ones (GVK -> Promise name)."""
    broken: dict[GVK, str] = {}
    names: dict[str, Source] = {}
    for doc in docs:
        ck = Checker(doc)
        promise = _promise(ck)
        result.warnings.extend(ck.warnings)
        if promise is not None and promise.name in names:
            message = f"duplicate Promise '{promise.name}' (also at {names[promise.name]})"
            ck.error(("metadata", "name"), message)
        if promise is None or ck.errors:
            result.problems.extend(ck.errors)
            name, info = _declared_api(doc)
            if info is not None:
                broken[(info.api_version, info.kind)] = name
            continue
        names[promise.name] = promise.source
        result.promises.append(promise)
    return broken


def _declared_api(doc: YamlDocument) -> tuple[str, CRDInfo | None]:
    """Name and API of a Promise that has errors, as far as they can be read."""
    data = doc.data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("name")
    name = name if isinstance(name, str) else "?"
    spec = data.get("spec")
    api = spec.get("api") if isinstance(spec, dict) else None
    return name, _crd(Checker(doc), api, ("spec", "api")) if api is not None else None


def _apis(result: LoadResult, known: Sequence[Promise]) -> dict[GVK, Promise]:
    """The resource APIs in play: known Promises first, then (checked) the ones loaded here."""
    loaded = {promise.name for promise in result.promises}
    apis: dict[GVK, Promise] = {}
    for promise in known:
        if promise.api is not None and promise.name not in loaded:
            apis.setdefault((promise.api.api_version, promise.api.kind), promise)
    for promise in list(result.promises):
        if promise.api is None:
            continue
        gvk = (promise.api.api_version, promise.api.kind)
        other = apis.get(gvk)
        if other is not None:
            doc_problem = Problem(
                promise.source.file,
                promise.source.line,
                "spec.api",
                f"Promise '{other.name}' ({other.source}) already provides "
                f"kind {gvk[1]} in {gvk[0]}",
            )
            result.problems.append(doc_problem)
            result.promises.remove(promise)
            continue
        apis[gvk] = promise
    return apis


def _add_destination(doc: YamlDocument, result: LoadResult, seen: dict[str, Source]) -> None:
    destination, errors, warnings = _destination(doc)
    result.warnings.extend(warnings)
    if destination is None:
        result.problems.extend(errors)
    elif destination.name in seen:
        message = f"duplicate Destination '{destination.name}' (also at {seen[destination.name]})"
        result.problems.append(Checker(doc).problem(("metadata", "name"), message))
    else:
        clash = path_clash(destination, result.destinations)
        if clash is not None:
            result.problems.append(Checker(doc).problem(("spec", "path"), clash))
            return
        seen[destination.name] = destination.source
        result.destinations.append(destination)


def _add_binding(doc: YamlDocument, result: LoadResult) -> None:
    """A ResourceBinding, checked as Kratix's CRD checks it; a second binding for the same
    request is an error, as Kratix's `findResourceBinding` refuses to choose."""
    ck = Checker(doc)
    binding = _binding(ck)
    result.warnings.extend(ck.warnings)
    if binding is None or ck.errors:
        result.problems.extend(ck.errors)
        return
    for other in result.bindings:
        same = (other.namespace, other.promise, other.resource)
        if (
            binding.promise
            and binding.resource
            and same
            == (
                binding.namespace,
                binding.promise,
                binding.resource,
            )
        ):
            message = (
                f"found multiple ResourceBindings for Resource {binding.resource} in namespace "
                f"{binding.namespace} (also {other.name} at {other.source}); there should be one "
                "ResourceBinding per Resource"
            )
            result.problems.append(ck.problem(("metadata", "labels"), message))
            return
    result.bindings.append(binding)


def _binding(ck: Checker) -> ResourceBinding | None:
    obj = ck.mapping(ck.doc.data, ())
    if obj is None:
        return None
    _dropped(ck, obj, (), OBJECT_KEYS)
    name, labels, _ = _metadata(ck, obj)
    metadata = obj.get("metadata")
    namespace = "default"
    if isinstance(metadata, dict):
        namespace = ck.get(metadata, ("metadata",), "namespace", "a string") or namespace
    spec = ck.require(obj, (), "spec", "a mapping") or {}
    _dropped(ck, spec, ("spec",), BINDING_SPEC_KEYS)
    version = ck.require(spec, ("spec",), "version", "a string") if "spec" in obj else None
    for key, known in (
        ("promiseRef", ("name",)),
        ("resourceRef", ("generation", "name", "namespace")),
    ):
        ref = ck.require(spec, ("spec",), key, "a mapping") if "spec" in obj else None
        if ref is None:
            continue
        _dropped(ck, ref, ("spec", key), known)
        for field_name in known:
            if field_name == "generation":
                ck.get(ref, ("spec", key), field_name, "an integer")
            else:
                ck.require(ref, ("spec", key), field_name, "a string")
    missing = [label for label in BINDING_LABELS if not labels.get(label)]
    if missing and name is not None:
        ck.warn(
            ("metadata", "labels"),
            f"no {' or '.join(missing)} label: Kratix finds a request's ResourceBinding by these "
            "labels, so this one binds no request",
        )
    if name is None or version is None or ck.errors:
        return None
    return ResourceBinding(
        name=name,
        namespace=namespace,
        source=Source(ck.doc.file, ck.doc.line),
        version=version,
        promise=labels.get(BINDING_LABELS[0], ""),
        resource=labels.get(BINDING_LABELS[1], ""),
    )


def path_clash(new: Destination, others: Sequence[Destination]) -> str | None:
    """Why `new` may not share its path with an earlier Destination, if it may not.

    Kratix's webhook refuses a path already used by another Destination of the same state store
    (destination_webhook.go ValidateCreate, comparing `spec.path` as written). gitbot writes
    every state store into its one state repository, so the same folder under two state stores
    would mix their files: refused too.
    """
    for other in others:
        if other.state_store_ref == new.state_store_ref and other.written_path == new.written_path:
            return (
                f"destination path '{new.written_path}' already exists for state store "
                f"'{new.state_store_ref[1]}' (Destination '{other.name}', {other.source})"
            )
        if other.state_store_ref != new.state_store_ref and other.path == new.path:
            return (
                f"path '{new.written_path}' is also Destination '{other.name}''s ({other.source}) "
                f"in state store '{other.state_store_ref[1]}'; gitbot writes every state store "
                "into one state repository, so their files would mix"
            )
    return None


def _add_other(
    doc: YamlDocument, result: LoadResult, apis: dict[GVK, Promise], broken: dict[GVK, str]
) -> None:
    """A resource request if its GVK is a Promise's API; otherwise an ignored document."""
    gvk = _gvk(doc)
    promise = apis.get(gvk) if gvk is not None else None
    if promise is not None:
        _add_request(doc, promise, result)
    elif gvk is not None and gvk in broken:
        message = f"not loaded: its Promise '{broken[gvk]}' has errors"
        result.problems.append(Problem(doc.file, doc.line, "", message))
    elif gvk is None or not _unserved(doc, gvk, apis, result):
        result.ignored.append(Source(doc.file, doc.line))


def _unserved(doc: YamlDocument, gvk: GVK, apis: Mapping[GVK, Promise], result: LoadResult) -> bool:
    """Report a document in a Promise's API group whose version or kind no Promise serves.

    The API server answers only for the versions and kinds a CRD serves: `kubectl apply` of such
    a document fails with `no matches for kind "K" in version "G/V"` (the REST mapper's
    NoKindMatchError), so it is an error here, not an ignored document. A version the CRD serves
    that is not its storage version is a warning: gitbot reads requests at the storage version
    only (shared/design.md). Returns whether the document was reported.
    """
    api_version, kind = gvk
    group, _, version = api_version.rpartition("/")
    same_group = [p for p in apis.values() if p.api is not None and p.api.group == group]
    if not group or not same_group:
        return False
    ck = Checker(doc)
    serving = [p for p in same_group if p.api is not None and p.api.kind == kind]
    if any(p.api is not None and version in p.api.served_versions for p in serving):
        storage = serving[0].api.api_version if serving[0].api is not None else ""
        message = (
            f"version {version} of {kind} is served, but gitbot reads requests at the storage "
            f"version {storage} only; document ignored"
        )
        result.warnings.append(ck.problem(("apiVersion",), message, warning=True))
        return False
    offers = "; ".join(
        f"Promise '{p.name}' ({p.source}) serves kind {p.api.kind} in "
        + ", ".join(f"{group}/{v}" for v in p.api.served_versions)
        for p in same_group
        if p.api is not None
    )
    # The kind exists (or neither does): the version is wrong; the version exists: the kind is.
    version_exists = any(version in p.api.served_versions for p in same_group if p.api)
    where = "kind" if not serving and version_exists else "apiVersion"
    message = f'no matches for kind "{kind}" in version "{api_version}": {offers}'
    result.problems.append(ck.problem((where,), message))
    return True


def _gvk(doc: YamlDocument) -> GVK | None:
    data = doc.data
    if not isinstance(data, dict):
        return None
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str):
        return api_version, kind
    return None


def _add_request(doc: YamlDocument, promise: Promise, result: LoadResult) -> None:
    ck = Checker(doc)
    request = _resource_request(ck, promise)
    result.warnings.extend(ck.warnings)
    if request is None or ck.errors:
        result.problems.extend(ck.errors)
        return
    duplicate = _find_request(result.resources, request)
    if duplicate is not None:
        kind = promise.api.kind if promise.api else "request"
        message = f"duplicate {kind} '{request.namespace}/{request.name}' (also at {duplicate})"
        result.problems.append(ck.problem(("metadata", "name"), message))
    else:
        result.resources.append(request)


def _find_request(requests: list[ResourceRequest], new: ResourceRequest) -> Source | None:
    for request in requests:
        key = (request.promise_name, request.namespace, request.name)
        if key == (new.promise_name, new.namespace, new.name):
            return request.source
    return None
