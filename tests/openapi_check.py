"""Check GitHub API traffic against the OpenAPI subset in tests/data (GitHub's own description).

`check_response("GET", "/repos/o/r/pulls/3", 200, body)` finds the operation whose path template
matches, takes the schema GitHub documents for that status and raises AssertionError listing
every violation. `request_violations(method, path, query, body)` checks what a client sent: the
path and query parameters, the JSON body against the operation's request schema (a property the
schema does not name is refused, as GitHub answers 422 for it), and GitHub's size limits that
the description states only in prose. The in-tree server runs it on every request it receives
(`GitHubServer(request_check=...)`). OpenAPI 3.0 `nullable` is turned into JSON Schema once, when
the file is loaded.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
from jsonschema.validators import Draft202012Validator

SCHEMA_FILE = Path(__file__).parent / "data" / "github-openapi-subset.json"
# Path parameters that GitHub lets span several segments (`heads/feature/x`, `feature/x`).
MULTI_SEGMENT = {"ref", "branch"}
METHODS = ("get", "put", "post", "patch", "delete", "head")
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class Operation:
    """One documented operation: its method, path template and responses."""

    method: str
    template: str
    operation_id: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]
    parameters: tuple[dict[str, Any], ...] = ()
    request_body: dict[str, Any] | None = None


def _nullable_to_json_schema(node: Any, in_properties: bool = False) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` as JSON Schema's null type, everywhere in `node`."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if in_properties:  # keys are property names, values are schemas
        return {key: _nullable_to_json_schema(value) for key, value in node.items()}
    out = {
        key: _nullable_to_json_schema(value, in_properties=key == "properties")
        for key, value in node.items()
        if key != "nullable"
    }
    if node.get("nullable") is not True:
        return out
    if isinstance(out.get("type"), str) and "$ref" not in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [{"type": "null"}, out]}


def _template_pattern(template: str) -> re.Pattern[str]:
    def param(match: re.Match[str]) -> str:
        return "(.+)" if match.group(1) in MULTI_SEGMENT else "([^/]+)"

    return re.compile(
        "^"
        + re.sub(r"\{(\w+)\}", param, re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
        + "$"
    )


@functools.cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    converted: dict[str, Any] = _nullable_to_json_schema(document)
    return converted


@functools.cache
def _operations() -> tuple[Operation, ...]:
    found = []
    for template, item in _document()["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                found.append(
                    Operation(
                        method.upper(),
                        template,
                        operation["operationId"],
                        _template_pattern(template),
                        operation["responses"],
                        tuple(
                            _resolve(p)
                            for p in [*item.get("parameters", ()), *operation.get("parameters", ())]
                        ),
                        _resolve(operation["requestBody"]) if "requestBody" in operation else None,
                    )
                )
    # Literal segments win over parameters: `/repos/{o}/{r}/installation` before `{o}/{r}`.
    found.sort(key=lambda op: (-op.template.count("/"), op.template.count("{"), op.template))
    return tuple(found)


def operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) in the subset."""
    return sorted((op.method, op.template) for op in _operations())


def find_operation(method: str, path: str) -> Operation:
    """The operation documented for a concrete request path (no `/api/v3` prefix, no query)."""
    path = urlsplit(path).path
    for op in _operations():
        if op.method == method.upper() and op.pattern.match(path):
            return op
    raise AssertionError(f"no documented operation for {method.upper()} {path}")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` to a component (responses are referenced, not inlined)."""
    while "$ref" in node:
        target: Any = _document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")  # type: ignore[untyped-decorator]
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.match(value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri")  # type: ignore[untyped-decorator]
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.scheme == "mailto"))

    return checker


@functools.cache
def _checker() -> jsonschema.FormatChecker:
    return _format_checker()


def response_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    """The JSON schema GitHub documents for this response, or None when it has no body."""
    op = find_operation(method, path)
    if status == 304 and method.upper() == "GET":
        return None  # GitHub answers any conditional read so, documented or not
    response = op.responses.get(str(status)) or op.responses.get("default")
    if response is None:
        if status >= 400:  # undocumented error statuses still carry GitHub's error body
            return {"$ref": "#/components/schemas/basic-error"}
        raise AssertionError(
            f"{op.operation_id}: status {status} is not documented "
            f"(documented: {', '.join(sorted(op.responses))})"
        )
    content = _resolve(response).get("content")
    if not content:
        return None
    media = content.get("application/json") or next(iter(content.values()))
    schema: dict[str, Any] = media["schema"]
    return schema


def violations(method: str, path: str, status: int, body: Any) -> list[str]:
    """Every schema violation of the response body, as `at <json path>: <message>` lines."""
    schema = response_schema(method, path, status)
    if schema is None:
        return [] if body in (None, b"", "") else [f"expected no body, got {body!r:.200}"]
    root = {"components": _document()["components"], "allOf": [schema]}
    validator = Draft202012Validator(root, format_checker=_checker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"at {e.json_path}: {_leaf_message(e)}" for e in errors]


def _leaf_message(error: jsonschema.ValidationError) -> str:
    """For anyOf/oneOf failures, the sub-errors explain more than "is not valid under any"."""
    # A nullable value that is not null: the other branch's errors are the interesting ones.
    context = [e for e in error.context or () if e.schema != {"type": "null"}]
    if context:
        best = jsonschema.exceptions.best_match(context)
        return f"{best.message} (at {best.json_path}, in {error.validator})"
    return str(error.message)


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """Raise AssertionError listing every way the response differs from GitHub's description."""
    found = violations(method, path, status, body)
    if found:
        op = find_operation(method, path)
        listing = "\n".join(f"  - {line}" for line in found)
        raise AssertionError(
            f"{method.upper()} {path} -> {status} ({op.operation_id}) does not match the "
            f"schema, {len(found)} violation(s):\n{listing}"
        )


# --- requests ---------------------------------------------------------------------------------

# Limits GitHub enforces but documents only in prose ("Maximum length: 65536 characters"); its
# answer is 422 "body is too long".
TEXT_LIMITS = {
    ("pulls/create", "body"): 65536,
    ("pulls/update", "body"): 65536,
    ("issues/create-comment", "body"): 65536,
    ("checks/create", "name"): 255,
    ("checks/update", "name"): 255,
}
MAX_BODY_BYTES = 25 * 1024 * 1024


def _closed(node: Any) -> Any:
    """A request schema in which objects accept only the properties they name, as GitHub does
    (a schema that says `additionalProperties` keeps its own rule)."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: ({k: _closed(v) for k, v in value.items()} if key == "properties" else _closed(value))
        for key, value in node.items()
    }
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def _coerce(raw: str, schema: dict[str, Any]) -> object:
    """A path or query string value as the JSON type its schema asks for (or left a string)."""
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def _value_violations(where: str, value: object, schema: dict[str, Any]) -> list[str]:
    root = {"components": _document()["components"], "allOf": [_closed(schema)]}
    validator = Draft202012Validator(root, format_checker=_checker())
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{where}{e.json_path.removeprefix('$')}: {_leaf_message(e)}" for e in errors]


def request_violations(method: str, path: str, query: str, body: bytes) -> list[str]:
    """Every way a request differs from what GitHub documents for it; empty when it is fine."""
    path = urlsplit(path).path
    try:
        op = find_operation(method, path)
    except AssertionError as e:
        return [str(e)]
    found: list[str] = []
    match = op.pattern.match(path)
    assert match is not None
    names = re.findall(r"\{(\w+)\}", op.template)
    given_path = dict(zip(names, match.groups(), strict=True))
    given_query = parse_qs(query, keep_blank_values=True)
    declared = {(p["in"], p["name"]): p for p in op.parameters}
    for name in given_query:
        if ("query", name) not in declared:
            found.append(f"query parameter {name!r} is not a parameter of {op.operation_id}")
    for (place, name), parameter in declared.items():
        values = [given_path[name]] if place == "path" and name in given_path else []
        if place == "query":
            values = given_query.get(name, [])
        if not values:
            if parameter.get("required"):
                found.append(f"{place} parameter {name!r} is required")
            continue
        if len(values) > 1:
            found.append(f"query parameter {name!r} is given {len(values)} times")
        schema = parameter.get("schema", {})
        found += _value_violations(
            f"{place} parameter {name!r}", _coerce(values[0], schema), schema
        )
    found += _body_violations(op, body)
    return found


def _body_violations(op: Operation, body: bytes) -> list[str]:
    if len(body) > MAX_BODY_BYTES:
        return [f"the body is {len(body)} bytes, over GitHub's {MAX_BODY_BYTES}"]
    if op.request_body is None:
        return [] if not body.strip() else [f"{op.operation_id} takes no body"]
    if not body.strip():
        return ["a body is required"] if op.request_body.get("required") else []
    try:
        value = json.loads(body)
    except ValueError as e:
        return [f"the body is not JSON: {e}"]
    schema = op.request_body["content"]["application/json"]["schema"]
    found = _value_violations("body", value, schema)
    for (operation, key), limit in TEXT_LIMITS.items():
        text = value.get(key) if isinstance(value, dict) and operation == op.operation_id else None
        if isinstance(text, str) and len(text) > limit:
            found.append(f"body.{key}: {len(text)} characters, over GitHub's limit of {limit}")
    return found
