"""The two patch formats the API serves for custom resources: JSON merge patch (RFC 7386) and
JSON patch (RFC 6902). Both are pure functions over JSON values; a bad patch raises PatchError."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that cannot apply (the API server's 422 or 409 for a failed `test`)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, `null` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 on a copy of `document`: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for index, op in enumerate(operations):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError(f"operation {index}: must be an object with an 'op'")
        doc = _apply(doc, op, index)
    return doc


def _apply(doc: Any, op: dict[str, Any], index: int) -> Any:
    name = op["op"]
    path = _pointer(op, "path", index)
    if name == "add":
        return _add(doc, path, copy.deepcopy(_value(op, index)), index)
    if name == "remove":
        doc, _ = _remove(doc, path, index)
        return doc
    if name == "replace":
        doc, _ = _remove(doc, path, index)
        return _add(doc, path, copy.deepcopy(_value(op, index)), index)
    if name in ("move", "copy"):
        source = _pointer(op, "from", index)
        if name == "move":
            doc, value = _remove(doc, source, index)
        else:
            value = copy.deepcopy(_get(doc, source, index))
        return _add(doc, path, value, index)
    if name == "test":
        if _get(doc, path, index) != _value(op, index):
            raise PatchError(f"operation {index}: test of {op['path']!r} failed", conflict=True)
        return doc
    raise PatchError(f"operation {index}: unknown op {name!r}")


def _value(op: dict[str, Any], index: int) -> Any:
    if "value" not in op:
        raise PatchError(f"operation {index}: {op['op']!r} needs a 'value'")
    return op["value"]


def _pointer(op: dict[str, Any], key: str, index: int) -> list[str]:
    text = op.get(key)
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"operation {index}: {key!r} must be a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def _parent(doc: Any, path: list[str], index: int) -> Any:
    return _get(doc, path[:-1], index)


def _get(doc: Any, path: list[str], index: int) -> Any:
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"operation {index}: path /{'/'.join(path)} does not exist")
    return node


def _add(doc: Any, path: list[str], value: Any, index: int) -> Any:
    if not path:
        return value
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise PatchError(f"operation {index}: index {last!r} is out of range")
    else:
        raise PatchError(f"operation {index}: cannot add under a {type(parent).__name__}")
    return doc


def _remove(doc: Any, path: list[str], index: int) -> tuple[Any, Any]:
    if not path:
        raise PatchError(f"operation {index}: cannot remove the whole document")
    value = _get(doc, path, index)
    parent, last = _parent(doc, path, index), path[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc, value
