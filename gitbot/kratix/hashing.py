"""Kratix's spec hashes (`kratix.io/hash`): md5 of the spec as Go's json.Marshal writes it."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gitbot.kratix.objects import Promise, ResourceRequest

# Go's encoder escapes these even inside strings, to keep JSON safe to embed in HTML/JS.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(obj: Any) -> str:
    """`json.Marshal` of unstructured data: sorted keys, compact, HTML-safe, UTF-8 kept."""
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts)


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True or obj is False:
        out.append("true" if obj else "false")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, float):
        out.append(_go_json_float(obj))
    elif isinstance(obj, str):
        out.append(_go_json_string(obj))
    elif isinstance(obj, Mapping):
        out.append("{")
        for i, key in enumerate(sorted(obj, key=_key_text)):
            out.append("," if i else "")
            out.append(_go_json_string(_key_text(key)) + ":")
            _encode(obj[key], out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            out.append("," if i else "")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"json: unsupported type: {type(obj).__name__}")


def _key_text(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"json: unsupported map key type: {type(key).__name__}")
    return key


def _go_json_string(text: str) -> str:
    # Python escapes the same control characters the same way (\b \f \n \r \t, else \u00XX).
    return json.dumps(text, ensure_ascii=False).translate(_GO_ESCAPES)


def _go_json_float(value: float) -> str:
    """Go's float64 encoding: shortest digits, exponent form below 1e-6 or from 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"json: unsupported value: {value}")
    dec = Decimal(repr(value)).normalize()
    if dec.is_zero() or 1e-6 <= abs(value) < 1e21:
        return format(dec, "f")
    sign, digits, _ = dec.as_tuple()
    exponent = dec.adjusted()
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    # Go writes e-7, not e-07 (but keeps two digits for positive exponents: e+21).
    exp_text = f"-{abs(exponent)}" if exponent < 0 else f"+{exponent:02d}"
    return f"{'-' if sign else ''}{mantissa}e{exp_text}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def spec_hash(spec: Mapping[str, Any] | None) -> str:
    """md5 hex of the spec's JSON; a missing spec is JSON `null`, as in Kratix."""
    return _md5(go_json(spec))


def promise_hash(promise: Promise) -> str:
    """The `kratix.io/hash` of a Promise's workflows: md5 of its spec."""
    return spec_hash(promise.raw.get("spec"))


def resource_hash(promise: Promise, request: ResourceRequest) -> str:
    """A resource workflow's hash: md5 of `<promise hash>-<request spec hash>` (contract §5)."""
    return _md5(f"{promise_hash(promise)}-{spec_hash(request.raw.get('spec'))}")
