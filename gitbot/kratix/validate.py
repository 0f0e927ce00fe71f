"""Schema checks with breadcrumbs: a Checker collects every problem of one YAML document."""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Mapping
from typing import Any, Literal

from gitbot.errors import Problem
from gitbot.kratix.objects import KRATIX_API_VERSION, Container, Pipeline
from gitbot.yamlio import Path, YamlDocument, format_path

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_QUANTITY = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")

Kind = Literal["a mapping", "a list", "a string", "a boolean", "an integer"]
_KINDS: dict[Kind, tuple[type, ...]] = {
    "a mapping": (dict,),
    "a list": (list,),
    "a string": (str,),
    "a boolean": (bool,),
    "an integer": (int,),
}


def kind_of(value: Any) -> str:
    """How a value reads in a message: 'a list', 'a string', 'null'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    for name, types in _KINDS.items():
        if isinstance(value, types):
            return name
    return type(value).__name__


class Checker:
    """Collects errors and warnings for one document, each at the line of its key path."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def problem(self, path: Path, message: str, *, warning: bool = False) -> Problem:
        """A Problem located at `path` (or its nearest existing ancestor)."""
        line = self.doc.line_of(path)
        return Problem(self.doc.file, line, format_path(path), message, warning)

    def error(self, path: Path, message: str) -> None:
        """Record an error at `path`."""
        self.errors.append(self.problem(path, message))

    def warn(self, path: Path, message: str) -> None:
        """Record a warning at `path`."""
        self.warnings.append(self.problem(path, message, warning=True))

    # --- types ---------------------------------------------------------------------------

    def expect(self, value: Any, path: Path, kind: Kind) -> bool:
        """True if `value` is of `kind` ('a mapping', 'a string'...); else report it."""
        types = _KINDS[kind]
        if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
            return True
        message = f"expected {kind}, got {kind_of(value)}"
        if kind == "a string" and isinstance(value, bool | int | float):
            text = self.doc.scalar_text(path) or str(value)
            message += f'; quote it: "{text}"'
        self.error(path, message)
        return False

    def get(self, parent: Mapping[str, Any], path: Path, key: str, kind: Kind) -> Any:
        """parent[key] if present, non-null and of `kind`; None otherwise (reported if wrong)."""
        value = parent.get(key)
        if value is None or not self.expect(value, (*path, key), kind):
            return None
        return value

    def require(self, parent: Mapping[str, Any], path: Path, key: str, kind: Kind) -> Any:
        """Like get(), but a missing, null or empty value is an error too."""
        if key not in parent:
            self.error(path, f"required key '{key}' is missing")
            return None
        value = parent[key]
        if value is None or value == "":
            self.error((*path, key), "must not be empty")
            return None
        return value if self.expect(value, (*path, key), kind) else None

    def mapping(self, value: Any, path: Path) -> dict[str, Any] | None:
        """`value` if it is a mapping (reported otherwise)."""
        return value if self.expect(value, path, "a mapping") else None

    def keys(
        self,
        value: Mapping[str, Any],
        path: Path,
        allowed: Collection[str],
        *,
        warn: bool = False,
    ) -> None:
        """Report keys outside `allowed` (as warnings if `warn`)."""
        names = ", ".join(sorted(allowed))
        for key in value:
            if key not in allowed:
                if warn:
                    self.warn((*path, key), f"unknown key '{key}' is ignored (known: {names})")
                else:
                    self.error((*path, key), f"unknown key '{key}' (allowed: {names})")

    def exact(self, parent: Mapping[str, Any], path: Path, key: str, expected: str) -> None:
        """parent[key] is required and must be exactly `expected` (an apiVersion, a kind)."""
        if key not in parent:
            self.error(path, f"required key '{key}' is missing")
        elif parent[key] != expected:
            self.error((*path, key), f"must be '{expected}', got '{parent[key]}'")

    def one_of(self, value: Any, path: Path, choices: Collection[str]) -> bool:
        """A string that must be one of `choices`."""
        if value in choices:
            return True
        self.error(path, f"must be one of {', '.join(choices)}, got '{value}'")
        return False

    def exactly_one(self, value: Mapping[str, Any], path: Path, keys: Collection[str]) -> None:
        """Exactly one of `keys` is set in `value`."""
        found = [k for k in sorted(keys) if k in value]
        if len(found) != 1:
            seen = " and ".join(found) if found else "none"
            self.error(path, f"must set exactly one of {', '.join(sorted(keys))}, found {seen}")

    def string_list(self, parent: Mapping[str, Any], path: Path, key: str) -> list[str] | None:
        """An optional list of strings."""
        items = self.get(parent, path, key, "a list")
        if items is None:
            return None
        ok = [self.expect(item, (*path, key, i), "a string") for i, item in enumerate(items)]
        return items if all(ok) else None

    def string_map(
        self, parent: Mapping[str, Any], path: Path, key: str, *, labels: bool = False
    ) -> dict[str, str]:
        """An optional string-to-string map; `labels` also checks Kubernetes label syntax."""
        value = self.get(parent, path, key, "a mapping")
        if value is None:
            return {}
        result: dict[str, str] = {}
        for name, item in value.items():
            where = (*path, key, name)
            if labels and not _valid_label_key(name):
                self.error(where, f"invalid label key '{name}'")
            if item is None:
                item = ""  # Kubernetes reads a null value as ""
            if not self.expect(item, where, "a string"):
                continue
            if labels and item and not (len(item) <= 63 and _LABEL_NAME.fullmatch(item)):
                self.error(
                    where,
                    f"invalid label value '{item}': at most 63 letters, digits, '-', '_' "
                    "and '.', starting and ending with a letter or digit",
                )
            result[name] = item
        return result

    # --- names and paths -----------------------------------------------------------------

    def dns_label(self, value: str, path: Path, what: str = "name") -> bool:
        """A DNS-1123 label: Kubernetes names of containers, pipelines, namespaces, volumes."""
        if len(value) <= 63 and _DNS_LABEL.fullmatch(value):
            return True
        self.error(
            path,
            f"invalid {what} '{value}': use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
        return False

    def dns_1035_label(self, value: str, path: Path, what: str, shown: str | None = None) -> bool:
        """A DNS-1035 label (starts with a letter): the names of a CRD's resources.

        `shown` is the value as written when `value` is derived from it (a kind, lower-cased)."""
        if len(value) <= 63 and _DNS_1035_LABEL.fullmatch(value):
            return True
        case = "may have mixed case, but otherwise must " if shown is not None else "must "
        self.error(
            path,
            f"invalid {what} '{value if shown is None else shown}': {case}be at most 63 "
            "lowercase letters, digits and '-', starting with a letter and ending with a letter "
            "or digit",
        )
        return False

    def dns_subdomain(self, value: str, path: Path, max_length: int = 253) -> bool:
        """A DNS-1123 subdomain: Kubernetes object names."""
        if not _DNS_SUBDOMAIN.fullmatch(value) or len(value) > 253:
            self.error(
                path,
                f"invalid name '{value}': use lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit",
            )
            return False
        if len(value) > max_length:
            self.error(
                path, f"name '{value}' is {len(value)} characters; at most {max_length} allowed"
            )
            return False
        return True

    def relative_path(self, value: str, path: Path, what: str) -> bool:
        """A relative path that stays inside its folder (no absolute path, no '..')."""
        if value and not value.startswith("/") and ".." not in value.split("/"):
            return True
        self.error(path, f"{what} must be a relative path without '..', got '{value}'")
        return False

    def quantity(self, value: Any, path: Path) -> None:
        """A Kubernetes resource quantity such as `100m`, `128Mi` or `2`."""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.error(path, f"expected a quantity like 100m or 128Mi, got {kind_of(value)}")
        elif not _QUANTITY.fullmatch(str(value)):
            self.error(path, f"invalid quantity '{value}' (like 100m, 0.5 or 128Mi)")


# --- object metadata --------------------------------------------------------------------------

# The JSON fields of k8s.io/apimachinery's metav1.ObjectMeta, by the kind of value each holds.
OBJECT_META_STRINGS = ("generateName", "name", "namespace", "resourceVersion", "selfLink", "uid")
OBJECT_META_INTEGERS = ("deletionGracePeriodSeconds", "generation")
OBJECT_META_TIMES = ("creationTimestamp", "deletionTimestamp")
OBJECT_META_KEYS = (
    *OBJECT_META_STRINGS,
    *OBJECT_META_INTEGERS,
    *OBJECT_META_TIMES,
    "annotations",
    "finalizers",
    "labels",
    "managedFields",
    "ownerReferences",
)
_OWNER_REFERENCE_KEYS = ("apiVersion", "blockOwnerDeletion", "controller", "kind", "name", "uid")
_MANAGED_FIELDS_KEYS = (
    "apiVersion",
    "fieldsType",
    "fieldsV1",
    "manager",
    "operation",
    "subresource",
    "time",
)
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def check_object_meta(
    ck: Checker, metadata: Mapping[str, Any], path: Path, *, strict: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """Standard Kubernetes object metadata (metav1.ObjectMeta): (labels, annotations).

    Every ObjectMeta field is accepted with its Go type; `strict` reports other keys as errors
    (Kratix decodes embedded Pipelines with unknown fields disallowed,
    `api/v1alpha1/pipeline_types.go` PipelinesFromUnstructured), otherwise as warnings (the
    API server drops them). Does not check `name`: callers know what a name must be.
    """
    if strict:
        ck.keys(metadata, path, OBJECT_META_KEYS)
    else:
        for key in metadata:
            if key not in OBJECT_META_KEYS:
                ck.warn((*path, key), DROPPED)
    for key in OBJECT_META_STRINGS:
        if key != "name":
            ck.get(metadata, path, key, "a string")
    for key in OBJECT_META_INTEGERS:
        ck.get(metadata, path, key, "an integer")
    for key in OBJECT_META_TIMES:
        stamp = ck.get(metadata, path, key, "a string")  # null is Go's zero time
        if stamp is not None and not _RFC3339.fullmatch(stamp):
            ck.error(
                (*path, key), f"expected an RFC 3339 time like 2024-01-31T12:00:00Z, got '{stamp}'"
            )
    ck.string_list(metadata, path, "finalizers")
    _object_list(ck, metadata, path, "ownerReferences", _OWNER_REFERENCE_KEYS)
    _object_list(ck, metadata, path, "managedFields", _MANAGED_FIELDS_KEYS)
    labels = ck.string_map(metadata, path, "labels", labels=True)
    annotations = ck.string_map(metadata, path, "annotations")
    for key in annotations:
        if not _valid_label_key(key):
            ck.error((*path, "annotations", key), f"invalid annotation key '{key}'")
    return labels, annotations


def _object_list(
    ck: Checker, parent: Mapping[str, Any], path: Path, key: str, allowed: tuple[str, ...]
) -> None:
    for i, item in enumerate(ck.get(parent, path, key, "a list") or ()):
        where = (*path, key, i)
        if ck.mapping(item, where) is None:
            continue
        ck.keys(item, where, allowed)
        for field in allowed:
            if field in ("blockOwnerDeletion", "controller"):
                ck.get(item, where, field, "a boolean")
            elif field == "fieldsV1":
                ck.get(item, where, field, "a mapping")
            else:
                ck.get(item, where, field, "a string")


# Said of a field a structural CRD schema does not list: the API server prunes it, so Kratix
# never sees it (kubectl's own --validate=strict, its default, refuses it).
DROPPED = "unknown field, dropped as the Kubernetes API server does"


def is_label(key: str, value: str) -> bool:
    """Whether a Destination could carry the label key=value (Kubernetes label syntax)."""
    valid_value = not value or (len(value) <= 63 and _LABEL_NAME.fullmatch(value) is not None)
    return _valid_label_key(key) and valid_value


def _valid_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and _LABEL_NAME.fullmatch(name) is not None


# --- pipelines --------------------------------------------------------------------------------

PIPELINE_ID_MAX = 60
CONTAINER_KEYS = (
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "name",
    "resources",
    "securityContext",
    "volumeMounts",
)
PIPELINE_SPEC_KEYS = (
    "containers",
    "imagePullSecrets",
    "jobOptions",
    "nodeSelector",
    "rbac",
    "restartPolicy",
    "tolerations",
    "volumes",
)
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
# corev1.VolumeSource: Kratix accepts any (its webhook dry-runs the Job); gitbot provides three.
VOLUME_SOURCES = (
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "gitRepo",
    "glusterfs",
    "hostPath",
    "image",
    "iscsi",
    "nfs",
    "persistentVolumeClaim",
    "photonPersistentDisk",
    "portworxVolume",
    "projected",
    "quobyte",
    "rbd",
    "scaleIO",
    "secret",
    "storageos",
    "vsphereVolume",
)
PROVIDED_VOLUMES = ("configMap", "emptyDir", "secret")
MOUNT_KEYS = (
    "mountPath",
    "mountPropagation",
    "name",
    "readOnly",
    "recursiveReadOnly",
    "subPath",
    "subPathExpr",
)
OUTSIDE_KUBERNETES = "not available outside Kubernetes: the container fails when run"
KRATIX_MOUNTS = ("/kratix/input", "/kratix/output", "/kratix/metadata")
KRATIX_VOLUMES = ("shared-input", "shared-output", "shared-metadata")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_SECURITY_BOOLS = ("allowPrivilegeEscalation", "privileged", "readOnlyRootFilesystem")
_SECURITY_KEYS = (
    *_SECURITY_BOOLS,
    "appArmorProfile",
    "capabilities",
    "procMount",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
)


def check_pipelines(
    ck: Checker, value: Any, path: Path, id_prefix: str | None
) -> tuple[Pipeline, ...]:
    """One workflow list (e.g. `resource.configure`); `id_prefix` is `<promise>-<type>-<action>`.

    Delete lists keep only their first pipeline, as Kratix runs only that one.
    """
    if value is None or not ck.expect(value, path, "a list"):
        return ()
    pipelines: list[Pipeline] = []
    names: set[str] = set()
    is_delete = path[-1] == "delete"
    for i, item in enumerate(value):
        pipeline = check_pipeline(ck, item, (*path, i))
        if pipeline is not None:
            pipelines.append(pipeline)
        name = _pipeline_name(item)
        if is_delete and i > 0:
            ignored = f"'{name}'" if name else f"pipeline {i}"
            ck.warn((*path, i), f"only the first delete pipeline is used; {ignored} is ignored")
        if name is None:
            continue
        where = (*path, i, "metadata", "name")
        if name in names:
            ck.error(where, f"duplicate pipeline name '{name}'")
        names.add(name)
        pipeline_id = f"{id_prefix}-{name}"
        if id_prefix is not None and len(pipeline_id) > PIPELINE_ID_MAX:
            ck.error(
                where,
                f"pipeline id '{pipeline_id}' is {len(pipeline_id)} characters; "
                f"Kratix allows at most {PIPELINE_ID_MAX}",
            )
    return tuple(pipelines[:1]) if is_delete else tuple(pipelines)


def _pipeline_name(item: Any) -> str | None:
    metadata = item.get("metadata") if isinstance(item, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def check_pipeline(ck: Checker, value: Any, path: Path) -> Pipeline | None:
    """A Pipeline object; None if it has errors (all of them reported)."""
    before = len(ck.errors)
    obj = ck.mapping(value, path)
    if obj is None:
        return None
    ck.keys(obj, path, ("apiVersion", "kind", "metadata", "spec"))
    ck.exact(obj, path, "apiVersion", KRATIX_API_VERSION)
    ck.exact(obj, path, "kind", "Pipeline")
    name, labels, annotations = _pipeline_metadata(ck, obj, path)
    spec = ck.require(obj, path, "spec", "a mapping")
    containers: tuple[Container, ...] = ()
    volumes: tuple[dict[str, Any], ...] = ()
    if spec is not None:
        containers, volumes = _pipeline_spec(ck, spec, (*path, "spec"))
    if len(ck.errors) > before or name is None:
        return None
    rbac = (spec or {}).get("rbac") or {}
    return Pipeline(
        name,
        containers,
        copy.deepcopy(volumes),
        labels,
        annotations,
        service_account=str(rbac.get("serviceAccount") or ""),
        permissions=tuple(copy.deepcopy(list(rbac.get("permissions") or ()))),
    )


def _pipeline_metadata(
    ck: Checker, obj: Mapping[str, Any], path: Path
) -> tuple[str | None, dict[str, str], dict[str, str]]:
    metadata = ck.require(obj, path, "metadata", "a mapping")
    if metadata is None:
        return None, {}, {}
    where = (*path, "metadata")
    name = ck.require(metadata, where, "name", "a string")
    if name is not None and not ck.dns_label(name, (*where, "name"), "pipeline name"):
        name = None
    labels, annotations = check_object_meta(ck, metadata, where, strict=True)
    return name, labels, annotations


def _pipeline_spec(
    ck: Checker, spec: Mapping[str, Any], path: Path
) -> tuple[tuple[Container, ...], tuple[dict[str, Any], ...]]:
    ck.keys(spec, path, PIPELINE_SPEC_KEYS)
    volumes = _volumes(ck, spec.get("volumes"), (*path, "volumes"))
    _pod_options(ck, spec, path)
    items = ck.require(spec, path, "containers", "a list")
    if items == []:
        ck.error((*path, "containers"), "must list at least one container")
    containers: list[Container] = []
    names: set[str] = set()
    for i, item in enumerate(items or ()):
        where = (*path, "containers", i)
        container = _container(ck, item, where, {str(v.get("name")) for v in volumes})
        if container is not None and container.name in names:
            ck.error((*where, "name"), f"duplicate container name '{container.name}'")
        if container is not None:
            names.add(container.name)
            containers.append(container)
    return tuple(containers), volumes


def _pod_options(ck: Checker, spec: Mapping[str, Any], path: Path) -> None:
    """The Pod-level settings Kratix copies onto the Job: checked for shape only."""
    for i, secret in enumerate(ck.get(spec, path, "imagePullSecrets", "a list") or ()):
        where = (*path, "imagePullSecrets", i)
        if ck.mapping(secret, where) is not None:
            ck.keys(secret, where, ("name",))
            ck.require(secret, where, "name", "a string")
    rbac = ck.get(spec, path, "rbac", "a mapping")
    if rbac is not None:
        _rbac(ck, rbac, (*path, "rbac"))
    job = ck.get(spec, path, "jobOptions", "a mapping")
    if job is not None:
        ck.keys(job, (*path, "jobOptions"), ("backoffLimit",))
        limit = ck.get(job, (*path, "jobOptions"), "backoffLimit", "an integer")
        if limit is not None and limit < 0:
            ck.error((*path, "jobOptions", "backoffLimit"), f"must not be negative, got {limit}")
    ck.string_map(spec, path, "nodeSelector")
    for i, toleration in enumerate(ck.get(spec, path, "tolerations", "a list") or ()):
        where = (*path, "tolerations", i)
        if ck.mapping(toleration, where) is not None:
            allowed = ("effect", "key", "operator", "tolerationSeconds", "value")
            ck.keys(toleration, where, allowed)
    policy = ck.get(spec, path, "restartPolicy", "a string")
    if policy is not None:
        ck.one_of(policy, (*path, "restartPolicy"), ("OnFailure", "Never"))


def _rbac(ck: Checker, rbac: Mapping[str, Any], path: Path) -> None:
    ck.keys(rbac, path, ("permissions", "serviceAccount"))
    ck.get(rbac, path, "serviceAccount", "a string")
    for i, rule in enumerate(ck.get(rbac, path, "permissions", "a list") or ()):
        where = (*path, "permissions", i)
        if ck.mapping(rule, where) is None:
            continue
        lists = ("apiGroups", "nonResourceURLs", "resourceNames", "resources", "verbs")
        ck.keys(rule, where, (*lists, "resourceNamespace"))
        if "verbs" not in rule:
            ck.error(where, "required key 'verbs' is missing")
        for key in lists:
            ck.string_list(rule, where, key)
        ck.get(rule, where, "resourceNamespace", "a string")


def _container(ck: Checker, value: Any, path: Path, volumes: set[str]) -> Container | None:
    before = len(ck.errors)
    obj = ck.mapping(value, path)
    if obj is None:
        return None
    ck.keys(obj, path, CONTAINER_KEYS)
    name = ck.require(obj, path, "name", "a string")
    if name is not None:
        ck.dns_label(name, (*path, "name"), "container name")
    image = ck.require(obj, path, "image", "a string")
    command = ck.string_list(obj, path, "command")
    args = ck.string_list(obj, path, "args")
    env = _env(ck, ck.get(obj, path, "env", "a list") or [], (*path, "env"))
    env_from = _env_from(ck, ck.get(obj, path, "envFrom", "a list") or [], (*path, "envFrom"))
    mounts = ck.get(obj, path, "volumeMounts", "a list") or []
    _volume_mounts(ck, mounts, (*path, "volumeMounts"), volumes)
    policy = ck.get(obj, path, "imagePullPolicy", "a string")
    if policy is not None:
        ck.one_of(policy, (*path, "imagePullPolicy"), PULL_POLICIES)
    security = ck.get(obj, path, "securityContext", "a mapping")
    if security is not None:
        _security_context(ck, security, (*path, "securityContext"))
    resources = ck.get(obj, path, "resources", "a mapping")
    if resources is not None:
        _resources(ck, resources, (*path, "resources"))
    if len(ck.errors) > before or name is None or image is None:
        return None
    return Container(
        name=name,
        image=image,
        command=None if command is None else tuple(command),
        args=None if args is None else tuple(args),
        env=tuple(copy.deepcopy(env)),
        env_from=tuple(copy.deepcopy(env_from)),
        volume_mounts=tuple(copy.deepcopy(mounts)),
        image_pull_policy=policy,
        security_context=copy.deepcopy(security or {}),
        resources=copy.deepcopy(resources),
    )


def _env(ck: Checker, entries: list[Any], path: Path) -> list[dict[str, Any]]:
    for i, entry in enumerate(entries):
        where = (*path, i)
        if ck.mapping(entry, where) is None:
            continue
        ck.keys(entry, where, ("name", "value", "valueFrom"))
        name = ck.require(entry, where, "name", "a string")
        if name is not None and not _ENV_NAME.fullmatch(name):
            ck.error(
                (*where, "name"),
                f"invalid environment variable name '{name}': use letters, digits, '_', '-' "
                "and '.', not starting with a digit",
            )
        value = ck.get(entry, where, "value", "a string")
        source = ck.get(entry, where, "valueFrom", "a mapping")
        if value and source is not None:
            ck.error(where, "set either value or valueFrom, not both")
        if source is not None:
            _value_from(ck, source, (*where, "valueFrom"))
    return entries


def _value_from(ck: Checker, source: Mapping[str, Any], path: Path) -> None:
    refs = ("configMapKeyRef", "fieldRef", "resourceFieldRef", "secretKeyRef")
    ck.keys(source, path, refs)
    ck.exactly_one(source, path, refs)
    for key in ("configMapKeyRef", "secretKeyRef"):
        ref = ck.get(source, path, key, "a mapping")
        if ref is not None:
            ck.keys(ref, (*path, key), ("key", "name", "optional"))
            ck.require(ref, (*path, key), "name", "a string")
            ck.require(ref, (*path, key), "key", "a string")
            ck.get(ref, (*path, key), "optional", "a boolean")
    field = ck.get(source, path, "fieldRef", "a mapping")
    if field is not None:
        ck.keys(field, (*path, "fieldRef"), ("apiVersion", "fieldPath"))
        ck.require(field, (*path, "fieldRef"), "fieldPath", "a string")
        ck.get(field, (*path, "fieldRef"), "apiVersion", "a string")
        ck.warn((*path, "fieldRef"), OUTSIDE_KUBERNETES)
    resource = ck.get(source, path, "resourceFieldRef", "a mapping")
    if resource is not None:
        where = (*path, "resourceFieldRef")
        ck.keys(resource, where, ("containerName", "divisor", "resource"))
        ck.require(resource, where, "resource", "a string")
        ck.get(resource, where, "containerName", "a string")
        if "divisor" in resource:
            ck.quantity(resource["divisor"], (*where, "divisor"))
        ck.warn(where, OUTSIDE_KUBERNETES)


def _env_from(ck: Checker, entries: list[Any], path: Path) -> list[dict[str, Any]]:
    for i, entry in enumerate(entries):
        where = (*path, i)
        if ck.mapping(entry, where) is None:
            continue
        ck.keys(entry, where, ("configMapRef", "prefix", "secretRef"))
        ck.exactly_one(entry, where, ("configMapRef", "secretRef"))
        ck.get(entry, where, "prefix", "a string")
        for key in ("configMapRef", "secretRef"):
            ref = ck.get(entry, where, key, "a mapping")
            if ref is not None:
                ck.keys(ref, (*where, key), ("name", "optional"))
                ck.require(ref, (*where, key), "name", "a string")
                ck.get(ref, (*where, key), "optional", "a boolean")
    return entries


def _volume_mounts(ck: Checker, mounts: list[Any], path: Path, volumes: set[str]) -> None:
    seen: set[str] = set()
    for i, mount in enumerate(mounts):
        where = (*path, i)
        if ck.mapping(mount, where) is None:
            continue
        ck.keys(mount, where, MOUNT_KEYS)
        for key in ("mountPropagation", "recursiveReadOnly", "subPathExpr"):
            ck.get(mount, where, key, "a string")
        if mount.get("subPathExpr"):
            ck.warn((*where, "subPathExpr"), OUTSIDE_KUBERNETES)
        name = ck.require(mount, where, "name", "a string")
        if name is not None and name not in volumes:
            ck.error((*where, "name"), f"no volume named '{name}' in the pipeline's spec.volumes")
        target = ck.require(mount, where, "mountPath", "a string")
        if target is not None:
            _mount_path(ck, target.rstrip("/") or "/", (*where, "mountPath"), seen)
        sub_path = ck.get(mount, where, "subPath", "a string")
        if sub_path:
            ck.relative_path(sub_path, (*where, "subPath"), "subPath")
        ck.get(mount, where, "readOnly", "a boolean")


def _mount_path(ck: Checker, target: str, path: Path, seen: set[str]) -> None:
    if not target.startswith("/"):
        ck.error(path, f"mountPath must be an absolute path, got '{target}'")
    elif target in KRATIX_MOUNTS:
        ck.error(path, f"'{target}' is mounted by Kratix; choose another mountPath")
    elif target in seen:
        ck.error(path, f"duplicate mountPath '{target}'")
    seen.add(target)


def _volumes(ck: Checker, value: Any, path: Path) -> tuple[dict[str, Any], ...]:
    if value is None or not ck.expect(value, path, "a list"):
        return ()
    names: set[str] = set()
    for i, volume in enumerate(value):
        where = (*path, i)
        if ck.mapping(volume, where) is None:
            continue
        ck.keys(volume, where, ("name", *VOLUME_SOURCES))
        name = ck.require(volume, where, "name", "a string")
        if name is not None and ck.dns_label(name, (*where, "name"), "volume name"):
            if name in names:
                ck.error((*where, "name"), f"duplicate volume name '{name}'")
            elif name in KRATIX_VOLUMES:
                ck.error((*where, "name"), f"volume name '{name}' is used by Kratix")
            names.add(name)
        found = [key for key in VOLUME_SOURCES if key in volume]
        if len(found) != 1:
            seen = " and ".join(found) if found else "none"
            ck.error(
                where,
                "must set exactly one volume source (secret, configMap, emptyDir, or another "
                f"of Kubernetes' VolumeSource), found {seen}",
            )
        _volume_source(ck, volume, where)
        for key in VOLUME_SOURCES:
            if key in volume and key not in PROVIDED_VOLUMES:
                ck.mapping(volume[key], (*where, key))
                ck.warn(
                    (*where, key),
                    f"gitbot cannot provide a {key} volume outside Kubernetes: a container "
                    "that mounts it fails when run",
                )
    return tuple(v for v in value if isinstance(v, dict))


def _volume_source(ck: Checker, volume: Mapping[str, Any], path: Path) -> None:
    for key, name_key in (("secret", "secretName"), ("configMap", "name")):
        source = ck.get(volume, path, key, "a mapping")
        if key in volume and source is None and volume[key] is None:
            ck.error(path, f"required key '{name_key}' is missing in {key}")
        if source is None:
            continue
        where = (*path, key)
        ck.keys(source, where, ("defaultMode", "items", "optional", name_key))
        ck.require(source, where, name_key, "a string")
        ck.get(source, where, "optional", "a boolean")
        _file_mode(ck, source, where, "defaultMode")
        for i, item in enumerate(ck.get(source, where, "items", "a list") or ()):
            if ck.mapping(item, (*where, "items", i)) is not None:
                _key_to_path(ck, item, (*where, "items", i))
    empty_dir = ck.get(volume, path, "emptyDir", "a mapping")
    if empty_dir is not None:
        ck.keys(empty_dir, (*path, "emptyDir"), ("medium", "sizeLimit"))


def _key_to_path(ck: Checker, item: Mapping[str, Any], path: Path) -> None:
    ck.keys(item, path, ("key", "mode", "path"))
    ck.require(item, path, "key", "a string")
    target = ck.require(item, path, "path", "a string")
    if target is not None:
        ck.relative_path(target, (*path, "path"), "path")
    _file_mode(ck, item, path, "mode")


def _file_mode(ck: Checker, parent: Mapping[str, Any], path: Path, key: str) -> None:
    mode = ck.get(parent, path, key, "an integer")
    if mode is not None and not 0 <= mode <= 0o777:
        ck.error((*path, key), f"must be between 0 and 0777 (511), got {mode}")


def _security_context(ck: Checker, context: Mapping[str, Any], path: Path) -> None:
    ck.keys(context, path, _SECURITY_KEYS)
    for key in (*_SECURITY_BOOLS, "runAsNonRoot"):
        ck.get(context, path, key, "a boolean")
    for key in ("runAsUser", "runAsGroup"):
        ck.get(context, path, key, "an integer")
    capabilities = ck.get(context, path, "capabilities", "a mapping")
    if capabilities is not None:
        ck.keys(capabilities, (*path, "capabilities"), ("add", "drop"))
        ck.string_list(capabilities, (*path, "capabilities"), "add")
        ck.string_list(capabilities, (*path, "capabilities"), "drop")
    for key in ("appArmorProfile", "seLinuxOptions", "seccompProfile", "windowsOptions"):
        ck.get(context, path, key, "a mapping")
    ck.get(context, path, "procMount", "a string")


def _resources(ck: Checker, resources: Mapping[str, Any], path: Path) -> None:
    ck.keys(resources, path, ("claims", "limits", "requests"))
    for key in ("limits", "requests"):
        amounts = ck.get(resources, path, key, "a mapping")
        for name, amount in (amounts or {}).items():
            ck.quantity(amount, (*path, key, name))
    ck.get(resources, path, "claims", "a list")
