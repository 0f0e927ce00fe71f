"""Pure state-store layout: where each workload group's files go on a Destination (§3.3-3.5).

Checked against syntasso/kratix `internal/controller/workplacement_controller.go` and
`destination_controller.go`:
- nestedByMetadata dirs come from `getDir` (`dependencies/<promise>/<pipeline>/<shortID>`,
  `resources/<ns>/<promise>/<resource>/<pipeline>/<shortID>`; `filepath.Join` drops the empty
  pipeline segment of static dependencies).
- `none` writes `.kratix/<wp-namespace>-<wp-name>.yaml`, a gopkg.in/yaml.v2 dump of
  `StateFile{Files []string}` (`files:` then `- path` lines, sequence not indented). The
  indexed Kratix versions list each workload's bare filepath; gitbot follows the contract
  (§3.3, newer snapshot, writer rooted at the state store) and prefixes the Destination path.
- aggregatedYAML: active WorkPlacements sorted by name, each one's workloads in Work order,
  contents joined with "\\n---\\n" (`combineAllWorkloads`).
- Canary files: `yaml.Marshal` (sigs.k8s.io/yaml) of a Namespace and a ConfigMap; the exact
  bytes below are the ones pinned by Kratix's destination controller tests. The ConfigMap's
  text is "this confirms your infrastructure is reading from Kratix state stores".
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from gitbot.errors import UserError
from gitbot.kratix.objects import Destination
from gitbot.kratix.scheduling import ROOT_DIRECTORY, WorkloadGroup, make_group, walk_order

WorkType = Literal["promise", "resource", "static-dependency"]
SYSTEM_NAMESPACE = "kratix-platform-system"
AGGREGATE_SEPARATOR = b"\n---\n"

CANARY_NAMESPACE = (
    b"apiVersion: v1\nkind: Namespace\nmetadata:\n  creationTimestamp: null\n"
    b"  name: kratix-worker-system\nspec: {}\nstatus: {}\n"
)
CANARY_CONFIGMAP = (
    b"apiVersion: v1\ndata:\n"
    b"  canary: this confirms your infrastructure is reading from Kratix state stores\n"
    b"kind: ConfigMap\nmetadata:\n  creationTimestamp: null\n  name: kratix-info\n"
    b"  namespace: kratix-worker-system\n"
)


@dataclass(frozen=True)
class WorkRef:
    """Identifies one Kratix Work: a Pipeline's output, or a Promise's static dependencies.

    Build it with `promise_workflow`, `resource_workflow` or `static_dependencies`.
    `pipeline_namespace` is the Promise's `workflows.config.pipelineNamespace`, if set.
    """

    promise: str
    pipeline: str
    work_type: WorkType
    resource_name: str | None = None
    resource_namespace: str | None = None
    pipeline_namespace: str | None = None

    def __post_init__(self) -> None:
        is_resource = self.work_type == "resource"
        if is_resource != (self.resource_name is not None and self.resource_namespace is not None):
            raise ValueError(
                "resource Works need resource_name and resource_namespace, others none"
            )
        if (self.work_type == "static-dependency") != (self.pipeline == ""):
            raise ValueError("only static-dependency Works have no pipeline")

    @classmethod
    def promise_workflow(cls, promise: str, pipeline: str) -> WorkRef:
        """The Work of a promise configure Pipeline."""
        return cls(promise, pipeline, "promise")

    @classmethod
    def resource_workflow(
        cls,
        promise: str,
        pipeline: str,
        name: str,
        namespace: str,
        pipeline_namespace: str | None = None,
    ) -> WorkRef:
        """The Work of a resource configure Pipeline for request `namespace/name`."""
        return cls(promise, pipeline, "resource", name, namespace, pipeline_namespace)

    @classmethod
    def static_dependencies(cls, promise: str) -> WorkRef:
        """The Work holding a Promise's `spec.dependencies`."""
        return cls(promise, "", "static-dependency")

    @property
    def work_name(self) -> str:
        """Kratix's Work name without its random suffix (gitbot's names are deterministic)."""
        if self.work_type == "static-dependency":
            return f"{self.promise}-static-deps"
        if self.work_type == "promise":
            return f"{self.promise}-{self.pipeline}"
        # The request namespace joins the name only when Works of requests from several
        # namespaces share one pipeline namespace (Kratix's `<promise>-<rr>[-<ns>]-<pipeline>`).
        parts = [self.promise, self.resource_name]
        if self.pipeline_namespace:
            parts.append(self.resource_namespace)
        return "-".join([*(p for p in parts if p), self.pipeline])

    @property
    def workplacement_namespace(self) -> str:
        """Namespace of the Work and its WorkPlacements."""
        if self.work_type != "resource":
            return SYSTEM_NAMESPACE
        return self.pipeline_namespace or self.resource_namespace or ""


def _clean(path: str) -> str:
    """Normalise a repo-relative POSIX path; the repository root is ""."""
    cleaned = posixpath.normpath(path.strip("/")) if path.strip("/") else ""
    return "" if cleaned == "." else cleaned


def _join(*parts: str) -> str:
    """Join path segments like Go's `filepath.Join`: empty parts skipped, "/" never resets."""
    kept = [part.strip("/") for part in parts if part.strip("/")]
    return _clean(posixpath.join(*kept)) if kept else ""


def join_path(*parts: str) -> str:
    """Repository paths joined as Kratix's writer joins them (Go's `filepath.Join`)."""
    return _join(*parts)


_MAX_NAME = 63 - 1 - 5  # lib/objectutil/name.go: maxNameLength, room for "-" and five chars


def process_name(name: str) -> str:
    """A name as Kratix's `processName` (lib/objectutil/name.go) shortens it before adding a
    five-character suffix: 56 characters when longer than 57, ending in a letter or digit."""
    short = name[: _MAX_NAME - 1] if len(name) > _MAX_NAME else name
    while short and not (short[-1].isascii() and short[-1].isalnum()):
        short = short[:-1]
    return short


def check_relative(path: str, what: str) -> str:
    """Refuse empty, absolute or `..` paths with a UserError naming the file."""
    cleaned = _clean(path)
    if not cleaned or path.startswith("/") or ".." in path.split("/"):
        raise UserError(f"refusing to write {what} {path!r}: it escapes its directory")
    return cleaned


def destination_root(state_path: str, dest: Destination) -> str:
    """The Destination's directory in the repo: StateStore path + Destination path ("" = root)."""
    for path, what in (
        (state_path, "state store path"),
        (dest.path, f"Destination {dest.name} path"),
    ):
        if ".." in path.split("/"):
            raise UserError(f"refusing {what} {path!r}: it escapes the state repository")
    return _join(state_path, dest.path)


def workplacement_name(work: WorkRef, dest: Destination, group: WorkloadGroup) -> str:
    """Kratix's WorkPlacement name: `<work-name>.<destination>-<shortID>`."""
    return f"{work.work_name}.{dest.name}-{group.short_id}"


def nested_dir(work: WorkRef, group: WorkloadGroup) -> str:
    """The per-group directory of nestedByMetadata mode, relative to the Destination root."""
    if work.work_type == "resource":
        namespace = work.workplacement_namespace
        name = work.resource_name or ""
        return _join("resources", namespace, work.promise, name, work.pipeline, group.short_id)
    return _join("dependencies", work.promise, work.pipeline, group.short_id)


def nested_group_dir(path: str, roots: Sequence[str]) -> str | None:
    """The nestedByMetadata group directory holding `path` (under one of these Destination
    roots), or None. Kratix replaces such a directory wholesale when it writes the group."""
    depth = {"resources": 6, "dependencies": 4}  # segments from the kind to the group id
    for root in roots:
        rest = path[len(root) + 1 :] if root else path
        if root and not path.startswith(root + "/"):
            continue
        parts = rest.split("/")
        wanted = depth.get(parts[0])
        if wanted is not None and len(parts) > wanted:
            return _join(root, *parts[:wanted])
    return None


def kratix_state_file(
    state_path: str, dest: Destination, work: WorkRef, group: WorkloadGroup
) -> str:
    """Path of the `.kratix` tracking file of one WorkPlacement in `none` mode."""
    name = f"{work.workplacement_namespace}-{workplacement_name(work, dest, group)}.yaml"
    return _join(destination_root(state_path, dest), ".kratix", name)


def place_group(
    state_path: str, dest: Destination, work: WorkRef, group: WorkloadGroup
) -> dict[str, bytes]:
    """Repo paths and contents for one group on one nestedByMetadata or `none` Destination."""
    root = destination_root(state_path, dest)
    files = {check_relative(path, "output file"): content for path, content in group.files.items()}
    if dest.filepath_mode == "nestedByMetadata":
        base = _join(root, nested_dir(work, group))
        return {_join(base, path): content for path, content in files.items()}
    if dest.filepath_mode == "none":
        placed = {_join(root, path): content for path, content in files.items()}
        listed = [_join(_clean(dest.path), path) for path in files]
        state = yaml.safe_dump({"files": listed}, sort_keys=True, default_flow_style=False)
        placed[kratix_state_file(state_path, dest, work, group)] = state.encode()
        return placed
    raise ValueError("aggregatedYAML Destinations share one file: use place_all or aggregate")


def aggregated_path(state_path: str, dest: Destination) -> str:
    """Path of the single file of an aggregatedYAML Destination."""
    filename = check_relative(dest.aggregated_filename, f"Destination {dest.name} filename")
    return _join(destination_root(state_path, dest), filename)


def aggregate(placements: Mapping[str, Mapping[str, bytes]]) -> bytes:
    """Kratix's aggregated YAML: every workload, WorkPlacements by name, joined by `---`."""
    contents = [
        placements[name][path]
        for name in sorted(placements)
        for path in sorted(placements[name], key=walk_order)
    ]
    return AGGREGATE_SEPARATOR.join(contents)


def place_all(
    state_path: str, dest: Destination, placements: Sequence[tuple[WorkRef, WorkloadGroup]]
) -> dict[str, bytes]:
    """Every file one Destination gets from its WorkPlacements, in any filepath mode."""
    by_name: dict[str, tuple[WorkRef, WorkloadGroup]] = {}
    for work, group in placements:
        name = workplacement_name(work, dest, group)
        if name in by_name:
            raise ValueError(f"WorkPlacement {name} is placed twice on {dest.name}")
        by_name[name] = (work, group)
    if dest.filepath_mode == "aggregatedYAML":
        if not by_name:
            return {}
        for _, group in by_name.values():
            for path in group.files:
                check_relative(path, "output file")
        files = {name: group.files for name, (_, group) in by_name.items()}
        return {aggregated_path(state_path, dest): aggregate(files)}
    result: dict[str, bytes] = {}
    owners: dict[str, str] = {}
    for name in sorted(by_name):
        for path, content in place_group(state_path, dest, *by_name[name]).items():
            # Flat mode can make two WorkPlacements write one path; Kratix's last writer wins
            # at random, gitbot refuses unless both agree.
            if path in result and result[path] != content:
                raise UserError(
                    f"Destination {dest.name}: {path} is written by both {owners[path]} and {name}"
                )
            result[path], owners[path] = content, name
    return result


def static_dependencies_group(
    promise_name: str, dependencies: Sequence[Mapping[str, Any]]
) -> WorkloadGroup | None:
    """One root group holding `static/<promise>-dependencies.yaml`, or None if none."""
    if not dependencies:
        return None
    documents = [_plain(dependency) for dependency in dependencies]
    content = yaml.safe_dump_all(
        documents, sort_keys=True, default_flow_style=False, allow_unicode=True
    )
    path = f"static/{promise_name}-dependencies.yaml"
    return make_group(ROOT_DIRECTORY, {path: content.encode()}, {})


def _plain(value: Any) -> Any:
    """Copy frozen mappings and tuples into the dicts and lists `yaml.safe_dump` accepts."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def canary_files(state_path: str, dest: Destination) -> dict[str, bytes]:
    """The files Kratix writes when a Destination is created (unless initWorkloads is off)."""
    if not dest.init_workloads:
        return {}
    root = destination_root(state_path, dest)
    nested = dest.filepath_mode == "nestedByMetadata"
    namespace_dir, configmap_dir = ("dependencies", "resources") if nested else ("", "")
    return {
        _join(root, namespace_dir, "kratix-canary-namespace.yaml"): CANARY_NAMESPACE,
        _join(root, configmap_dir, "kratix-canary-configmap.yaml"): CANARY_CONFIGMAP,
    }
