"""Spec hashes as Kratix computes them: md5 of Go's json.Marshal of the spec."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest

from gitbot.kratix.hashing import go_json, promise_hash, resource_hash, spec_hash
from gitbot.kratix.objects import Promise, ResourceRequest, Source


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def test_matches_kratix_own_test_vector() -> None:
    # syntasso/kratix lib/hash/hash_test.go: spec {"foo": "bar"}
    assert spec_hash({"foo": "bar"}) == "9bb58f26192e4ba00f01e2e7b136bbd8"


def test_keys_sorted_at_every_level_and_compact() -> None:
    spec = {"z": {"b": [{"y": 1, "x": 2}], "a": None}, "A": True, "m": "v"}
    assert go_json(spec) == '{"A":true,"m":"v","z":{"a":null,"b":[{"x":2,"y":1}]}}'


def test_html_characters_and_line_separators_are_escaped() -> None:
    text = "<a href='x'>&</a>\u2028\u2029"
    expected = '{"s":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e\\u2028\\u2029"}'
    assert go_json({"s": text}) == expected
    assert spec_hash({"s": text}) == md5(expected)


def test_unicode_kept_and_control_characters_escaped() -> None:
    value = 'é 日本 "q" \\ \n\t\r\b\f\x01\x7f'
    expected = '"é 日本 \\"q\\" \\\\ \\n\\t\\r\\b\\f\\u0001\x7f"'
    assert go_json(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (-12, "-12"),
        (10**20, "100000000000000000000"),
        (1.0, "1"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1.25e-10, "1.25e-10"),
        (123456789.125, "123456789.125"),
    ],
)
def test_numbers_as_go_writes_float64(value: Any, text: str) -> None:
    assert go_json(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="json: unsupported value"):
        go_json(value)


def test_tuples_are_arrays() -> None:
    assert go_json({"a": ("x", 1)}) == '{"a":["x",1]}'


def promise(spec: Any) -> Promise:
    raw: dict[str, Any] = {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Promise"}
    if spec is not None:
        raw["spec"] = spec
    return Promise(name="p", raw=raw, source=Source("p.yaml", 1))


def request(spec: Any) -> ResourceRequest:
    raw: dict[str, Any] = {"metadata": {"name": "r", "namespace": "default"}}
    if spec is not None:
        raw["spec"] = spec
    return ResourceRequest("p", "r", "default", raw, Source("r.yaml", 1))


def test_promise_and_resource_hashes() -> None:
    p = promise({"workflows": {"resource": {}}, "api": {"kind": "CRD"}})
    promise_json = '{"api":{"kind":"CRD"},"workflows":{"resource":{}}}'
    assert promise_hash(p) == md5(promise_json)
    r = request({"size": "<small>", "replicas": 3})
    request_json = '{"replicas":3,"size":"\\u003csmall\\u003e"}'
    assert resource_hash(p, r) == md5(f"{md5(promise_json)}-{md5(request_json)}")


def test_missing_spec_hashes_as_json_null() -> None:
    assert promise_hash(promise(None)) == md5("null")
    assert resource_hash(promise({}), request(None)) == md5(f"{md5('{}')}-{md5('null')}")


def test_status_and_metadata_do_not_change_the_hash() -> None:
    p = promise({"a": 1})
    other = Promise(name="p", raw={**p.raw, "status": {"x": 1}}, source=Source("q.yaml", 9))
    assert promise_hash(p) == promise_hash(other)
