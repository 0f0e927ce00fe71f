"""Requests checked against their CRD schema: pruned, defaulted, validated like the API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitbot.kratix.crdschema import conform
from gitbot.kratix.loader import load_objects

HEAD = {"apiVersion": "x.dev/v1", "kind": "Db", "metadata": {"name": "a", "extra": 1}}


def spec_schema(properties: dict[str, Any], **more: Any) -> dict[str, Any]:
    spec = {"type": "object", "properties": properties, **more}
    return {"type": "object", "properties": {"spec": spec}}


def errors(schema: dict[str, Any], spec: Any) -> list[str]:
    result = conform(schema, {**HEAD, "spec": spec})
    return [f"{'.'.join(map(str, path))}: {message}" for path, message in result.errors]


def test_unknown_fields_are_pruned_and_reported_but_metadata_is_kept() -> None:
    schema = spec_schema(
        {
            "size": {"type": "string"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "items": {"type": "object", "properties": {}}},
        }
    )
    spec = {
        "size": "s",
        "typo": 1,
        "free": {"any": {"thing": 1}},
        "labels": {"a": "b"},
        "items": [{"gone": True}],
    }
    result = conform(schema, {**HEAD, "spec": spec, "junk": 2})
    assert result.value == {
        **HEAD,
        "spec": {"size": "s", "free": {"any": {"thing": 1}}, "labels": {"a": "b"}, "items": [{}]},
    }
    assert result.pruned == [("spec", "typo"), ("spec", "items", 0, "gone"), ("junk",)]
    assert result.errors == []


def test_nulls_of_non_nullable_fields_are_dropped_then_defaulted() -> None:
    schema = spec_schema(
        {
            "size": {"type": "string", "default": "small"},
            "note": {"type": "string", "nullable": True},
        }
    )
    result = conform(schema, {**HEAD, "spec": {"size": None, "note": None}})
    assert result.value["spec"] == {"size": "small", "note": None}
    assert result.errors == []


def test_types_are_checked_with_int_or_string() -> None:
    schema = spec_schema(
        {
            "replicas": {"type": "integer"},
            "ratio": {"type": "number"},
            "on": {"type": "boolean"},
            "port": {"x-kubernetes-int-or-string": True},
            "tags": {"type": "array", "items": {"type": "string"}},
        }
    )
    assert errors(schema, {"replicas": 3, "ratio": 1, "on": True, "port": "http"}) == []
    assert errors(
        schema, {"replicas": "3", "ratio": "x", "on": "yes", "port": 1.5, "tags": ["a", 2]}
    ) == [
        "spec.replicas: expected an integer, got a string",
        "spec.ratio: expected a number, got a string",
        "spec.on: expected a boolean, got a string",
        "spec.port: expected an integer or a string, got a number",
        "spec.tags.1: expected a string, got an integer",
    ]
    assert errors(schema, {"replicas": True}) == [
        "spec.replicas: expected an integer, got a boolean"
    ]


def test_value_constraints() -> None:
    schema = spec_schema(
        {
            "size": {"type": "string", "enum": ["small", "large"]},
            "name": {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "exclusiveMaximum": True},
            "step": {"type": "integer", "multipleOf": 5},
            "zones": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": True},
        },
        required=["size"],
    )
    good = {"size": "small", "name": "abc", "replicas": 4, "step": 10, "zones": ["a"]}
    assert errors(schema, good) == []
    assert errors(
        schema,
        {"name": "A", "replicas": 5, "step": 7, "zones": ["a", "a", "b"]},
    ) == [
        "spec: required key 'size' is missing",
        "spec.name: must have at least 2 character(s), has 1",
        "spec.name: must match the pattern ^[a-z]+$, got 'A'",
        "spec.replicas: must be < 5, got 5",
        "spec.step: must be a multiple of 5, got 7",
        "spec.zones: must have at most 2 item(s), has 3",
        "spec.zones: items must be unique",
    ]
    assert errors(schema, {"size": "huge"}) == [
        "spec.size: must be one of 'small', 'large', got 'huge'"
    ]
    assert errors(schema, {"size": "small", "replicas": 0}) == [
        "spec.replicas: must be >= 1, got 0"
    ]


def test_combinations() -> None:
    schema = spec_schema(
        {
            "any": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "one": {"oneOf": [{"minimum": 0}, {"maximum": 10}]},
            "not": {"not": {"enum": ["root"]}},
        }
    )
    assert errors(schema, {"any": 1, "one": 20, "not": "ada"}) == []
    assert errors(schema, {"any": [1], "one": 5, "not": "root"}) == [
        "spec.any: matches none of the schema's anyOf choices",
        "spec.one: must match exactly one of the schema's oneOf choices",
        "spec.not: matches a schema it must not match",
    ]


def test_without_a_schema_the_request_is_kept_whole() -> None:
    result = conform(None, {**HEAD, "spec": {"a": None}})
    assert (result.value, result.errors, result.pruned) == ({**HEAD, "spec": {"a": None}}, [], [])


PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: db
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: dbs.x.dev
    spec:
      group: x.dev
      names: {kind: Db, plural: dbs}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    size: {type: string, enum: [small, large]}
                    replicas: {type: integer, default: 1}
"""


def test_loaded_requests_are_refused_at_file_line_and_key_path_and_pruning_warns(
    tmp_path: Path,
) -> None:
    (tmp_path / "promise.yaml").write_text(PROMISE)
    (tmp_path / "requests.yaml").write_text(
        "apiVersion: x.dev/v1\nkind: Db\nmetadata: {name: ok}\nspec:\n  size: small\n"
        "  colour: blue\n"
        "---\n"
        "apiVersion: x.dev/v1\nkind: Db\nmetadata: {name: bad}\nspec:\n  size: huge\n"
        "  replicas: two\n"
    )
    result = load_objects([tmp_path / "promise.yaml", tmp_path / "requests.yaml"])
    assert [r.name for r in result.resources] == ["ok"]
    assert result.resources[0].raw["spec"] == {"size": "small", "replicas": 1}
    file = str(tmp_path / "requests.yaml")
    assert [str(p) for p in result.problems] == [
        f"{file}:12: spec.size: must be one of 'small', 'large', got 'huge'",
        f"{file}:13: spec.replicas: expected an integer, got a string",
    ]
    assert [str(w) for w in result.warnings] == [
        f"{file}:6: warning: spec.colour: unknown field, dropped as the Kubernetes API server does"
    ]


def test_a_root_requiring_api_version_and_kind_accepts_a_request() -> None:
    """Operator CRDs often list apiVersion, kind (even metadata, spec) under the root's
    `required`: the API server validates the whole object, so a request that has them passes."""
    schema = {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string", "enum": ["Db"]},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"size": {"type": "string"}}},
        },
    }
    result = conform(schema, {**HEAD, "spec": {"size": "s"}})
    assert result.errors == []
    assert result.value == {**HEAD, "spec": {"size": "s"}}
    no_spec = conform(schema, HEAD)
    assert no_spec.errors == [((), "required key 'spec' is missing")]
    wrong_kind = conform(schema, {**HEAD, "kind": "Other", "spec": {}})
    assert wrong_kind.errors == [(("kind",), "must be one of 'Db', got 'Other'")]
