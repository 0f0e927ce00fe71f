"""CRD schema defaults on resource requests, as the Kubernetes API server applies them."""

from __future__ import annotations

from pathlib import Path

from gitbot.kratix.defaults import apply_defaults
from gitbot.kratix.hashing import resource_hash
from gitbot.kratix.loader import load_objects

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "string", "default": "small"},
                "replicas": {"type": "integer", "default": 1},
                "backup": {
                    "type": "object",
                    "default": {},
                    "properties": {"schedule": {"type": "string", "default": "@daily"}},
                },
                "users": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"role": {"type": "string", "default": "reader"}},
                    },
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"team": {"type": "string", "default": "platform"}},
                    },
                },
            },
        }
    },
}


def test_absent_fields_get_their_defaults_and_given_values_win() -> None:
    request = {
        "spec": {
            "replicas": 3,
            "users": [{"name": "ada"}, {"name": "bob", "role": "admin"}],
            "labels": {"a": {}},
        }
    }
    assert apply_defaults(SCHEMA, request) == {
        "spec": {
            "size": "small",
            "replicas": 3,
            "backup": {"schedule": "@daily"},
            "users": [{"name": "ada", "role": "reader"}, {"name": "bob", "role": "admin"}],
            "labels": {"a": {"team": "platform"}},
        }
    }
    assert request["spec"].get("size") is None  # the input is not changed


def test_without_a_schema_nothing_changes() -> None:
    assert apply_defaults(None, {"spec": {"a": 1}}) == {"spec": {"a": 1}}


def test_loaded_requests_carry_their_defaults_into_the_spec_hash(tmp_path: Path) -> None:
    promise = tmp_path / "promise.yaml"
    promise.write_text(
        (Path(__file__).resolve().parents[2] / "promises/postgres/promise.yaml")
        .read_text()
        .replace("type: string\n", "type: string\n                      default: small\n", 1)
    )
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "apiVersion: platform.gitbot.dev/v1\nkind: Postgres\nmetadata: {name: a}\nspec: {}\n"
    )
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(
        "apiVersion: platform.gitbot.dev/v1\nkind: Postgres\nmetadata: {name: a}\n"
        "spec: {size: small}\n"
    )
    first = load_objects([promise, bare])
    second = load_objects([promise, explicit])
    assert first.problems == [] and second.problems == []
    assert first.resources[0].spec == {"size": "small"}
    assert resource_hash(first.promises[0], first.resources[0]) == resource_hash(
        second.promises[0], second.resources[0]
    )
