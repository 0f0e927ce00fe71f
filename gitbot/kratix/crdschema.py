"""A resource request checked against its Promise's CRD schema, as the API server does it.

Kratix only ever sees requests that the Kubernetes API server accepted: unknown fields pruned,
nulls of non-nullable fields dropped, defaults filled in, then the structural schema's value
checks (type, enum, bounds, lengths, pattern, required...). gitbot does the same before any
pipeline runs, so a request Kratix would never see fails here with its file, line and key path
instead of in a container. Written by hand rather than with a JSON Schema library because the
API server's rules are not JSON Schema's: pruning, `nullable`, `x-kubernetes-int-or-string`
and `x-kubernetes-preserve-unknown-fields` decide the result. CEL rules
(`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitbot.kratix.defaults import apply_defaults
from gitbot.kratix.validate import kind_of
from gitbot.yamlio import Path

_ALWAYS_KEPT = ("apiVersion", "kind", "metadata", "status")  # never pruned at the top level
_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"


@dataclass
class Conformed:
    """The request as the API server would store it, and what it said on the way."""

    value: Any
    errors: list[tuple[Path, str]] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)


def conform(schema: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> Conformed:
    """Prune, default and validate `obj` (a whole request) against its openAPIV3Schema."""
    if not isinstance(schema, Mapping):
        return Conformed(copy.deepcopy(dict(obj)))
    result = Conformed(None)
    kept = {k: copy.deepcopy(v) for k, v in obj.items() if k in _ALWAYS_KEPT}
    checked = {k: v for k, v in obj.items() if k not in _ALWAYS_KEPT}
    body = _prune(schema, checked, (), result.pruned)
    body = apply_defaults(schema, body)
    _validate(_root(schema, obj), {**_type_meta(obj), **body}, (), result.errors)
    result.value = {**kept, **body}
    return result


def _type_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """apiVersion and kind: part of the object the API server validates against the schema."""
    return {key: obj[key] for key in ("apiVersion", "kind") if key in obj}


def _root(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The root schema as applied to a whole request.

    `apiVersion` and `kind` are checked like any field, so a root that lists them under
    `required` (as operator CRDs often do) accepts a request that has them. `metadata` is the
    API server's own (ObjectMeta, checked elsewhere) and `status` belongs to the status
    subresource: a root requiring either is satisfied when the request has it.
    """
    required = schema.get("required")
    properties = schema.get("properties")
    if not isinstance(required, list) and not isinstance(properties, Mapping):
        return schema
    root = dict(schema)
    if isinstance(required, list):
        root["required"] = [k for k in required if k not in ("metadata", "status") or k not in obj]
    if isinstance(properties, Mapping):
        root["properties"] = {
            k: v for k, v in properties.items() if k not in ("metadata", "status")
        }
    return root


# --- pruning ----------------------------------------------------------------------------------


def _prune(schema: Mapping[str, Any], value: Any, path: Path, pruned: list[Path]) -> Any:
    if isinstance(value, dict):
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        extra = schema.get("additionalProperties")
        keep_unknown = schema.get(_PRESERVE) is True or extra is True
        result: dict[str, Any] = {}
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(extra, Mapping):
                sub = extra
            if sub is None:
                if keep_unknown:
                    result[key] = copy.deepcopy(item)
                else:
                    pruned.append((*path, key))
                continue
            if item is None and not sub.get("nullable"):
                continue  # the API server drops nulls of non-nullable fields, then defaults
            result[key] = _prune(sub, item, (*path, key), pruned)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_prune(schema["items"], item, (*path, i), pruned) for i, item in enumerate(value)]
    return copy.deepcopy(value)


# --- validation -------------------------------------------------------------------------------

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}


def _validate(
    schema: Mapping[str, Any],
    value: Any,
    path: Path,
    errors: list[tuple[Path, str]],
) -> None:
    if value is None:
        if not schema.get("nullable"):
            errors.append((path, "must not be null"))
        return
    if not _type_ok(schema, value):
        wanted = _TYPE_NAMES.get(str(schema.get("type")), str(schema.get("type")))
        if schema.get(_INT_OR_STRING):
            wanted = "an integer or a string"
        errors.append((path, f"expected {wanted}, got {kind_of(value)}"))
        return
    before = len(errors)
    _check_value(schema, value, path, errors)
    if len(errors) > before:
        return
    if isinstance(value, dict):
        for key in schema.get("required") or ():
            if key not in value:
                errors.append((path, f"required key '{key}' is missing"))
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, extra if isinstance(extra, Mapping) else None)
            if isinstance(sub, Mapping):
                _validate(sub, item, (*path, key), errors)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            _validate(schema["items"], item, (*path, i), errors)
    _check_combinations(schema, value, path, errors)


def _type_ok(schema: Mapping[str, Any], value: Any) -> bool:
    if schema.get(_INT_OR_STRING):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    kind = schema.get("type")
    if kind is None:
        return True
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


def _check_value(
    schema: Mapping[str, Any], value: Any, path: Path, errors: list[tuple[Path, str]]
) -> None:
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        allowed = ", ".join(_show(v) for v in enum)
        errors.append((path, f"must be one of {allowed}, got {_show(value)}"))
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, path, errors)
    if isinstance(value, str):
        _check_bounds(schema, len(value), "minLength", "maxLength", "character(s)", path, errors)
        pattern = schema.get("pattern")
        if isinstance(pattern, str) and re.search(pattern, value) is None:
            errors.append((path, f"must match the pattern {pattern}, got {_show(value)}"))
    if isinstance(value, list):
        _check_bounds(schema, len(value), "minItems", "maxItems", "item(s)", path, errors)
        if schema.get("uniqueItems") and _has_duplicates(value):
            errors.append((path, "items must be unique"))
    if isinstance(value, dict):
        _check_bounds(schema, len(value), "minProperties", "maxProperties", "key(s)", path, errors)


def _check_number(
    schema: Mapping[str, Any], value: float, path: Path, errors: list[tuple[Path, str]]
) -> None:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float):
        exclusive = schema.get("exclusiveMinimum") is True
        if value < low or (exclusive and value == low):
            errors.append((path, f"must be {'>' if exclusive else '>='} {low}, got {value}"))
    if isinstance(high, int | float):
        exclusive = schema.get("exclusiveMaximum") is True
        if value > high or (exclusive and value == high):
            errors.append((path, f"must be {'<' if exclusive else '<='} {high}, got {value}"))
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0 and (value / step) % 1 != 0:
        errors.append((path, f"must be a multiple of {step}, got {value}"))


def _check_bounds(
    schema: Mapping[str, Any],
    size: int,
    low_key: str,
    high_key: str,
    unit: str,
    path: Path,
    errors: list[tuple[Path, str]],
) -> None:
    low, high = schema.get(low_key), schema.get(high_key)
    if isinstance(low, int) and size < low:
        errors.append((path, f"must have at least {low} {unit}, has {size}"))
    if isinstance(high, int) and size > high:
        errors.append((path, f"must have at most {high} {unit}, has {size}"))


def _check_combinations(
    schema: Mapping[str, Any], value: Any, path: Path, errors: list[tuple[Path, str]]
) -> None:
    for sub in schema.get("allOf") or ():
        if isinstance(sub, Mapping):
            _validate(sub, value, path, errors)
    options = [s for s in schema.get("anyOf") or () if isinstance(s, Mapping)]
    if options and not any(_valid(s, value) for s in options):
        errors.append((path, "matches none of the schema's anyOf choices"))
    options = [s for s in schema.get("oneOf") or () if isinstance(s, Mapping)]
    if options and sum(_valid(s, value) for s in options) != 1:
        errors.append((path, "must match exactly one of the schema's oneOf choices"))
    negated = schema.get("not")
    if isinstance(negated, Mapping) and _valid(negated, value):
        errors.append((path, "matches a schema it must not match"))


def _valid(schema: Mapping[str, Any], value: Any) -> bool:
    found: list[tuple[Path, str]] = []
    _validate(schema, value, (), found)
    return not found


def _has_duplicates(items: list[Any]) -> bool:
    seen: list[Any] = []
    for item in items:
        if item in seen:
            return True
        seen.append(item)
    return False


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
