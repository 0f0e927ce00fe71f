"""What gitbot leaves in the state repository about each object: `.gitbot/objects/...`.

One small YAML file per object records its source file and the object itself (so a delete
pipeline can run after the object left the source repo), the files its workflows produced (so they
can leave again), where its resource groups were placed (placement is sticky), and its
contributions to aggregatedYAML files (which several objects share). The source commit is in the
commit message's trailers instead, so a new source commit that changes nothing for an object
leaves its record, and its branch, untouched. Any machine can pick up where another left off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitbot import yamlio
from gitbot.errors import InvalidObjects, UserError
from gitbot.kratix.objects import KRATIX_GROUP, Destination, Promise, ResourceRequest, Source

RECORD_ROOT = ".gitbot/objects"
HEADER = "# Written by gitbot: what this object's files here were built from. Do not edit.\n"


@dataclass(frozen=True)
class ObjectKey:
    """Identity of an object: (group, kind, namespace, name), and the Promise it belongs to."""

    promise: str
    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of_promise(cls, promise: Promise) -> ObjectKey:
        return cls(promise.name, KRATIX_GROUP, "Promise", "", promise.name)

    @classmethod
    def of_request(cls, promise: Promise, request: ResourceRequest) -> ObjectKey:
        assert promise.api is not None
        return cls(
            promise.name, promise.api.group, promise.api.kind, request.namespace, request.name
        )

    @property
    def is_promise(self) -> bool:
        return self.kind == "Promise" and self.group == KRATIX_GROUP

    @property
    def record_path(self) -> str:
        leaf = "promise" if self.is_promise else f"{self.namespace}.{self.name}"
        return f"{RECORD_ROOT}/{self.promise}/{leaf}.yaml"

    def __str__(self) -> str:
        if self.is_promise:
            return f"Promise {self.name}"
        return f"{self.promise} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class ObjectRecord:
    """One object's record in the state repository."""

    key: ObjectKey
    source: str
    source_file: str
    spec_hash: str
    raw: Mapping[str, Any]
    files: tuple[str, ...] = ()
    placements: Mapping[str, str] = field(default_factory=dict)  # "work/group id" -> Destination
    aggregated: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # A compound Promise's child: the object whose output scheduled it to the platform.
    parent: ObjectKey | None = None

    def dump(self) -> bytes:
        """The record file's bytes; stable, so an unchanged object changes nothing."""
        data = {
            "object": _key_data(self.key),
            "source": self.source,
            "sourceFile": self.source_file,
            "specHash": self.spec_hash,
            "files": list(self.files),
            "placements": dict(self.placements),
            "aggregated": {
                d: {w: dict(f) for w, f in p.items()} for d, p in self.aggregated.items()
            },
            "raw": self.raw,
        }
        if self.parent is not None:
            data["parent"] = _key_data(self.parent)
        return (HEADER + yamlio.dump_sorted(data)).encode("utf-8")


def parse_record(path: str, content: bytes) -> ObjectRecord:
    """Read a record back; UserError naming the file when it is not one of gitbot's."""
    try:
        data = yamlio.safe_load(content.decode("utf-8"), path)
        key = _key_of(data["object"])
        parent = _key_of(data["parent"]) if data.get("parent") is not None else None
        return ObjectRecord(
            key=key,
            source=str(data["source"]),
            source_file=str(data.get("sourceFile") or ""),
            spec_hash=str(data["specHash"]),
            raw=dict(data["raw"]),
            files=tuple(str(f) for f in data.get("files") or ()),
            placements={str(k): str(v) for k, v in (data.get("placements") or {}).items()},
            aggregated=data.get("aggregated") or {},
            parent=parent,
        )
    except (InvalidObjects, UnicodeDecodeError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: not a gitbot record ({e}); remove or repair it") from e


def _key_data(key: ObjectKey) -> dict[str, str]:
    return {
        "promise": key.promise,
        "group": key.group,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
    }


def _key_of(obj: Mapping[str, Any]) -> ObjectKey:
    return ObjectKey(
        str(obj["promise"]),
        str(obj["group"]),
        str(obj["kind"]),
        str(obj["namespace"]),
        str(obj["name"]),
    )


def records_in(files: Mapping[str, bytes]) -> dict[ObjectKey, ObjectRecord]:
    """Every record among a tree's files (paths under .gitbot/objects/)."""
    records = {}
    for path, content in files.items():
        if path.startswith(RECORD_ROOT + "/") and path.endswith(".yaml"):
            record = parse_record(path, content)
            records[record.key] = record
    return records


# --- Destinations whose removal deletes their files -------------------------------------------

DESTINATION_RECORD_ROOT = ".gitbot/destinations"


def destination_record_path(name: str) -> str:
    """Where the record of a `cleanup: all` Destination lives."""
    return f"{DESTINATION_RECORD_ROOT}/{name}.yaml"


def dump_destination(dest: Destination) -> bytes:
    """The record of a Destination with `cleanup: all`: enough to clean it up once it is gone.

    Only such Destinations get one: a Destination that leaves the source without a record is
    treated as Kratix's default, `cleanup: none`, so a state store Kratix wrote needs none.
    """
    data = {
        "name": dest.name,
        "path": dest.path,
        "filepath": {"mode": dest.filepath_mode, "filename": dest.aggregated_filename},
        "initWorkloads": dest.init_workloads,
        "cleanup": dest.cleanup,
    }
    if dest.installed_by:
        # Installed by a compound Promise's output: kept with what placing on it needs while
        # its parent does not run or fails (gitbot.reconcile.compound).
        data["installedBy"] = dest.installed_by
        data["labels"] = dict(dest.labels)
        data["strictMatchLabels"] = dest.strict_match_labels
    return (HEADER + yamlio.dump_sorted(data)).encode("utf-8")


def destinations_in(files: Mapping[str, bytes]) -> dict[str, Destination]:
    """Every Destination record among a tree's files, by name; UserError for a broken one."""
    found = {}
    for path, content in files.items():
        if not (path.startswith(DESTINATION_RECORD_ROOT + "/") and path.endswith(".yaml")):
            continue
        try:
            data = yamlio.safe_load(content.decode("utf-8"), path)
            filepath = data["filepath"]
            dest = Destination(
                name=str(data["name"]),
                source=Source(path, 1),
                path=str(data["path"]),
                filepath_mode=filepath["mode"],
                aggregated_filename=str(filepath["filename"]),
                init_workloads=bool(data["initWorkloads"]),
                cleanup=data["cleanup"],
                installed_by=str(data.get("installedBy") or ""),
                labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
                strict_match_labels=bool(data.get("strictMatchLabels", False)),
            )
        except (InvalidObjects, UnicodeDecodeError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not a gitbot record ({e}); remove or repair it") from e
        found[dest.name] = dest
    return found
