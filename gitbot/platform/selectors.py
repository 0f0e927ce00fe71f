"""Kubernetes label selectors (`?labelSelector=`) and the field selectors every object supports.

Grammar as `k8s.io/apimachinery/pkg/labels/selector.go` parses it: comma-separated
requirements `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Matcher = Callable[[Mapping[str, Any]], bool]
_SET_RE = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    """A selector that does not parse (the API server answers 400)."""


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Callable[[Mapping[str, str]], bool]:
    if match := _SET_RE.match(text):
        key, op, values = match.group(1), match.group(2), match.group(3)
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if match := _EQ_RE.match(text):
        key, op, value = match.group(1), match.group(2), match.group(3)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS_RE.match(text):
        negate, key = match.group(1) == "!", match.group(2)
        return lambda labels: (key in labels) != negate
    raise SelectorError(f"unable to parse requirement: {text.strip()!r}")


def label_selector(text: str) -> Matcher:
    """A matcher over objects' `metadata.labels`; SelectorError when it does not parse."""
    requirements = [_requirement(part) for part in _split(text)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r(labels) for r in requirements)

    return matches


def field_selector(text: str) -> Matcher:
    """`metadata.name` and `metadata.namespace` with `=`, `==`, `!=` (what every kind supports)."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for part in _split(text):
        match = _EQ_RE.match(part)
        if not match or match.group(1) not in ("metadata.name", "metadata.namespace"):
            raise SelectorError(f"field label not supported: {part.strip()!r}")
        field, op, value = match.group(1).split(".", 1)[1], match.group(2), match.group(3)

        def check(obj: Mapping[str, Any], f: str = field, o: str = op, v: str = value) -> bool:
            actual = str((obj.get("metadata") or {}).get(f, ""))
            return (actual == v) != (o == "!=")

        checks.append(check)
    return lambda obj: all(c(obj) for c in checks)
