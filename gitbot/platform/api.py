"""The Kubernetes API a pipeline calls, as pure request handling over a Session.

Paths, verbs, discovery documents, list kinds and `Status` errors follow the Kubernetes API
conventions (`contributors/devel/sig-architecture/api-conventions.md`). Reads: GET and LIST
(`labelSelector`, `fieldSelector`) of every type in `cluster.BUILT_IN` and every Promise's API.
Writes: PATCH (merge or JSON patch) and PUT of the own object's `status` subresource only;
anything RBAC refuses is 403, as the API server says it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitbot.errors import UserError
from gitbot.platform.cluster import ResourceType, find_type, resource_version
from gitbot.platform.patches import PatchError, json_patch, merge_patch
from gitbot.platform.rbac import Access, allows, forbidden_message
from gitbot.platform.selectors import SelectorError, field_selector, label_selector
from gitbot.platform.session import Session

KUBERNETES_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0+gitbot"}
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
_READ_VERBS = ("get", "list")
_STATUS_VERBS = ("get", "patch", "update")
_METHOD_VERBS = {"GET": "get", "PATCH": "patch", "PUT": "update", "POST": "create"}


@dataclass(frozen=True)
class Response:
    """An answer: HTTP status and a JSON body."""

    code: int
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    """One HTTP request, already read."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    content_type: str = ""
    body: bytes = b""


def status_error(
    code: int, reason: str, message: str, details: Mapping[str, Any] | None = None
) -> Response:
    """The API server's `Status` failure shape."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = dict(details)
    return Response(code, body)


def handle(session: Session, request: Request) -> Response:
    """Answer one authenticated request of the session's pipeline."""
    parts = [p for p in request.path.split("/") if p]
    if request.method == "GET" and (
        not parts or parts in (["api"], ["apis"], ["version"]) or parts[0] in _HEALTH
    ):
        return _top_level(session, parts)
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    elif parts[:1] == ["apis"] and len(parts) == 2 and request.method == "GET":
        return _group(session, parts[1])
    else:
        return _not_found_path()
    if not rest:
        return _resource_list(session, group, version) if request.method == "GET" else _method()
    return _resource(session, request, group, version, rest)


_HEALTH = ("healthz", "livez", "readyz")


def _top_level(session: Session, parts: list[str]) -> Response:
    if not parts:
        return Response(200, {"paths": ["/api", "/api/v1", "/apis", "/version"]})
    if parts[0] in _HEALTH:
        return Response(200, {"status": "ok"})
    if parts == ["version"]:
        return Response(200, {**KUBERNETES_VERSION, "platform": "gitbot"})
    if parts == ["api"]:
        return Response(
            200,
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [],
            },
        )
    groups = sorted({(t.group, t.version) for t in session.cluster.types() if t.group})
    return Response(
        200,
        {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_document(g, [v for gg, v in groups if gg == g]) for g, _ in groups],
        },
    )


def _group_document(group: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def _group(session: Session, group: str) -> Response:
    versions = sorted({t.version for t in session.cluster.types() if t.group == group})
    if not versions:
        return _not_found_path()
    return Response(200, _group_document(group, versions))


def _resource_list(session: Session, group: str, version: str) -> Response:
    types = [t for t in session.cluster.types() if (t.group, t.version) == (group, version)]
    if not types:
        return _not_found_path()
    resources: list[dict[str, Any]] = []
    for t in types:
        entry: dict[str, Any] = {
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": list(_READ_VERBS),
        }
        if t.short_names:
            entry["shortNames"] = list(t.short_names)
        resources.append(entry)
        if t.has_status:
            resources.append(
                {
                    "name": f"{t.plural}/status",
                    "singularName": "",
                    "namespaced": t.namespaced,
                    "kind": t.kind,
                    "verbs": list(_STATUS_VERBS),
                }
            )
    groupversion = f"{group}/{version}" if group else version
    return Response(
        200,
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": groupversion,
            "resources": resources,
        },
    )


def _resource(
    session: Session, request: Request, group: str, version: str, rest: list[str]
) -> Response:
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return _not_found_path()
    plural, name = rest[0], rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    verb = _METHOD_VERBS.get(request.method, request.method.lower())
    if verb == "get" and not name:
        verb = "watch" if _query(request, "watch") in ("true", "1") else "list"
    access = Access(verb, group, plural, subresource, namespace, name)
    if not allows(session.grants, access):
        return status_error(
            403,
            "Forbidden",
            forbidden_message(session.user, access),
            {"name": name, "group": group, "kind": plural}
            if name
            else {"group": group, "kind": plural},
        )
    rtype = find_type(session.cluster.types(), group, version, plural)
    if rtype is None or (namespace and not rtype.namespaced):
        return _not_found_path()
    if subresource and (subresource != "status" or not rtype.has_status):
        return _not_found_path()
    if verb in ("list", "get"):
        return _read(session, request, rtype, namespace, name)
    if verb in ("patch", "update") and subresource == "status":
        return _write_status(session, request, rtype, namespace, name)
    return _method()


def _query(request: Request, key: str) -> str:
    values = request.query.get(key) or [""]
    return values[0]


def _objects(session: Session, rtype: ResourceType) -> list[dict[str, Any]]:
    """Every object of the type, the own object with the run's live status."""
    scope = session.scope
    found = []
    for obj in session.cluster.objects(rtype, scope.secrets, scope.config_maps):
        metadata = obj.get("metadata") or {}
        if session.is_own(rtype, metadata.get("namespace", ""), metadata.get("name", "")):
            continue
        found.append(obj)
    if rtype == session.own_type():
        found.append(session.own_object())
    return sorted(
        found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", ""))
    )


def _read(
    session: Session, request: Request, rtype: ResourceType, namespace: str, name: str
) -> Response:
    try:
        objects = _objects(session, rtype)
    except UserError as e:
        return status_error(500, "InternalError", str(e))
    if namespace:
        objects = [o for o in objects if o["metadata"].get("namespace") == namespace]
    if name:
        for obj in objects:
            if obj["metadata"].get("name") == name:
                return Response(200, obj)
        return _not_found(rtype, name)
    try:
        if selector := _query(request, "labelSelector"):
            objects = [o for o in objects if label_selector(selector)(o)]
        if selector := _query(request, "fieldSelector"):
            objects = [o for o in objects if field_selector(selector)(o)]
    except SelectorError as e:
        return status_error(400, "BadRequest", str(e))
    versions = ",".join(o["metadata"]["resourceVersion"] for o in objects)
    return Response(
        200,
        {
            "apiVersion": rtype.api_version,
            "kind": f"{rtype.kind}List",
            "metadata": {"resourceVersion": resource_version({"items": versions})},
            "items": objects,
        },
    )


def _write_status(
    session: Session, request: Request, rtype: ResourceType, namespace: str, name: str
) -> Response:
    if not session.is_own(rtype, namespace, name):
        # RBAC may allow it, but only the object's own run keeps its status in gitbot.
        return status_error(
            403,
            "Forbidden",
            f'{rtype.qualified} "{name}" is forbidden: gitbot lets a pipeline write only the '
            "status of the object its workflow runs for",
            {"name": name, "group": rtype.group, "kind": rtype.plural},
        )
    current = session.own_object()
    try:
        body = json.loads(request.body or b"null")
    except ValueError as e:
        return status_error(400, "BadRequest", f"the request body is not JSON: {e}")
    try:
        if request.method == "PUT":
            updated = body if isinstance(body, dict) else None
            if updated is None:
                return status_error(400, "BadRequest", "the request body must be an object")
        elif request.content_type == MERGE_PATCH:
            updated = merge_patch(current, body)
        elif request.content_type == JSON_PATCH:
            updated = json_patch(current, body)
        else:
            return status_error(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {JSON_PATCH}, {MERGE_PATCH}",
            )
    except PatchError as e:
        code, reason = (409, "Conflict") if e.conflict else (422, "Invalid")
        return status_error(code, reason, str(e))
    if not isinstance(updated, dict):
        return status_error(422, "Invalid", "the patched object is not an object")
    wanted = (updated.get("metadata") or {}).get("resourceVersion")
    if wanted and wanted != current["metadata"]["resourceVersion"]:
        return status_error(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {rtype.qualified} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            {"name": name, "group": rtype.group, "kind": rtype.plural},
        )
    status = updated.get("status")
    if status is not None and not isinstance(status, dict):
        return status_error(422, "Invalid", ".status must be an object")
    session.set_status(copy.deepcopy(status or {}))
    return Response(200, session.own_object())


def _not_found(rtype: ResourceType, name: str) -> Response:
    return status_error(
        404,
        "NotFound",
        f'{rtype.qualified} "{name}" not found',
        {"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def _not_found_path() -> Response:
    return status_error(404, "NotFound", "the server could not find the requested resource")


def _method() -> Response:
    return status_error(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource "
        "(gitbot's platform API writes only the own object's status)",
    )
