"""CRD schema defaults, applied to a resource request as the Kubernetes API server does.

Kratix never sees a request without its defaults: the API server fills every absent field
whose structural schema has a `default` before storing it, so object.yaml and the spec hash
include them. Pure; the request's own values always win.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def apply_defaults(schema: Mapping[str, Any] | None, value: Any) -> Any:
    """A copy of `value` with the schema's defaults filled in where fields are absent."""
    if not isinstance(schema, Mapping):
        return copy.deepcopy(value)
    if isinstance(value, dict):
        result = {k: copy.deepcopy(v) for k, v in value.items()}
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for key, sub in properties.items():
                if key not in result and isinstance(sub, Mapping) and "default" in sub:
                    result[key] = copy.deepcopy(sub["default"])
                if key in result:
                    result[key] = apply_defaults(sub, result[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key in result:
                if not isinstance(properties, Mapping) or key not in properties:
                    result[key] = apply_defaults(extra, result[key])
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [apply_defaults(schema["items"], item) for item in value]
    return copy.deepcopy(value)


def storage_schema(crd: Mapping[str, Any], version: str) -> Mapping[str, Any] | None:
    """The openAPIV3Schema of one version of a CRD (per version, or the old top-level one)."""
    spec = crd.get("spec") or {}
    for entry in spec.get("versions") or ():
        if isinstance(entry, Mapping) and entry.get("name") == version:
            found = (entry.get("schema") or {}).get("openAPIV3Schema")
            if isinstance(found, Mapping):
                return found
    legacy = (spec.get("validation") or {}).get("openAPIV3Schema")
    return legacy if isinstance(legacy, Mapping) else None
