"""The response validator itself: it finds operations and reports every schema violation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_check import SCHEMA_FILE, check_response, find_operation, operations

LABEL = {
    "id": 1,
    "node_id": "LA_1",
    "url": "http://h/api/v3/repos/o/r/labels/x",
    "name": "x",
    "description": None,
    "color": "ededed",
    "default": False,
}


def test_the_subset_holds_exactly_the_operations_gitbot_uses() -> None:
    document = json.loads(SCHEMA_FILE.read_text())
    assert document["x-source"]["package"] == "@octokit/openapi"
    assert len(operations()) == len(document["x-source"]["operations"]) == 23
    assert ("GET", "/repos/{owner}/{repo}/git/ref/{ref}") in operations()
    assert SCHEMA_FILE.stat().st_size < 1_000_000


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("GET", "/repos/o/r", "repos/get"),
        ("GET", "/repos/o/r/installation", "apps/get-repo-installation"),
        ("GET", "/repos/o/r/git/ref/heads/feature/x", "git/get-ref"),
        ("GET", "/repos/o/r/branches/feature/x", "repos/get-branch"),
        ("GET", "/repos/o/r/commits/feature/x/check-runs", "checks/list-for-ref"),
        ("PATCH", "/repos/o/r/pulls/3?x=1", "pulls/update"),
        ("POST", "/repos/o/r/issues/comments/7/reactions", "reactions/create-for-issue-comment"),
    ],
)
def test_concrete_paths_find_their_operation(method: str, path: str, operation_id: str) -> None:
    assert find_operation(method, path).operation_id == operation_id


def test_unknown_operations_are_an_error() -> None:
    with pytest.raises(AssertionError, match="no documented operation for GET /repos/o/r/issues/1"):
        check_response("GET", "/repos/o/r/issues/1", 200, {})


def test_valid_bodies_pass_including_nullable_fields() -> None:
    check_response("POST", "/repos/o/r/issues/1/labels", 200, [LABEL])
    check_response("GET", "/rate_limit", 304, None)


def test_every_violation_is_listed() -> None:
    broken: dict[str, Any] = {**LABEL, "id": "one", "color": None}
    del broken["name"]
    with pytest.raises(AssertionError) as caught:
        check_response("POST", "/repos/o/r/issues/1/labels", 200, [broken, "nope"])
    message = str(caught.value)
    assert "(issues/add-labels) does not match the schema, 4 violation(s)" in message
    assert "at $[0]: 'name' is a required property" in message
    assert "at $[0].id: 'one' is not of type 'integer'" in message
    assert "at $[0].color: None is not of type 'string'" in message
    assert "at $[1]: 'nope' is not of type 'object'" in message


def test_formats_are_checked() -> None:
    reaction = {
        "id": 1,
        "node_id": "R",
        "user": None,
        "content": "eyes",
        "created_at": "yesterday",
    }
    with pytest.raises(AssertionError, match="'yesterday' is not a 'date-time'"):
        check_response("POST", "/repos/o/r/issues/comments/1/reactions", 201, reaction)


def test_undocumented_statuses() -> None:
    # Errors GitHub does not list per operation still carry its error body...
    check_response("GET", "/repos/o/r", 401, {"message": "Bad credentials"})
    with pytest.raises(AssertionError, match="is not of type 'string'"):
        check_response("GET", "/repos/o/r", 401, {"message": 401})
    # ...but an undocumented success is a mistake.
    with pytest.raises(AssertionError, match="repos/get: status 201 is not documented"):
        check_response("GET", "/repos/o/r", 201, {})
