"""The validator itself: it finds operations and reports every violation of a response or a
request, and the in-tree server refuses bad requests with it as GitHub does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openapi_check import (
    SCHEMA_FILE,
    check_response,
    find_operation,
    operations,
    request_violations,
)

from ghserver import GitHubServer

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


# --- requests ---------------------------------------------------------------------------------

CHECK_RUN = {"name": "gitbot: postgres", "head_sha": "a" * 40, "status": "in_progress"}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_a_request_as_github_documents_it_has_no_violations() -> None:
    assert request_violations("POST", "/repos/o/r/check-runs", "", body(CHECK_RUN)) == []
    assert (
        request_violations("GET", "/repos/o/r/pulls", "state=all&head=o:b&per_page=100", b"") == []
    )
    assert request_violations("POST", "/repos/o/r/issues/1/labels", "", body(["gitbot"])) == []
    assert request_violations("GET", "/repos/o/r/pulls/7", "", b"") == []


@pytest.mark.parametrize(
    ("method", "path", "query", "sent", "expected"),
    [
        # an unknown field, and one of the wrong type
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {**CHECK_RUN, "colour": "red"},
            "body: Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {**CHECK_RUN, "name": 7},
            "body.name: 7 is not of type 'string'",
        ),
        # a missing required field, a wrong enum value, a nested unknown field
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {"name": "x"},
            "body: 'head_sha' is a required property",
        ),
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {**CHECK_RUN, "conclusion": "green"},
            "body.conclusion: 'green' is not one of ['action_required', 'cancelled', 'failure', "
            "'neutral', 'success', 'skipped', 'stale', 'timed_out']",
        ),
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {**CHECK_RUN, "output": {"title": "t", "summary": "s", "colour": 1}},
            "body.output: Additional properties are not allowed ('colour' was unexpected)",
        ),
        # GitHub's size limits: in the schema, and those only in its prose
        (
            "POST",
            "/repos/o/r/check-runs",
            "",
            {**CHECK_RUN, "output": {"title": "t", "summary": "s" * 65536}},
            "body.output.summary: 'sssssssssssssssssssssssssssssssssssssssssssssssssssssssssss",
        ),
        (
            "PATCH",
            "/repos/o/r/pulls/3",
            "",
            {"body": "b" * 65537},
            "body.body: 65537 characters, over GitHub's limit of 65536",
        ),
        # parameters: unknown, mistyped, wrong enum, wrong path parameter type
        ("GET", "/repos/o/r/pulls", "colour=red", None, "query parameter 'colour' is not a"),
        (
            "GET",
            "/repos/o/r/pulls",
            "per_page=many",
            None,
            "query parameter 'per_page': 'many' is not of type 'integer'",
        ),
        (
            "GET",
            "/repos/o/r/pulls",
            "state=merged",
            None,
            "query parameter 'state': 'merged' is not one of ['open', 'closed', 'all']",
        ),
        (
            "PATCH",
            "/repos/o/r/check-runs/abc",
            "",
            {"status": "completed", "conclusion": "success"},
            "path parameter 'check_run_id': 'abc' is not of type 'integer'",
        ),
        # bodies that are not JSON, missing, or sent where none is taken
        ("POST", "/repos/o/r/check-runs", "", b"{not json", "the body is not JSON"),
        ("POST", "/repos/o/r/check-runs", "", b"", "a body is required"),
        ("GET", "/repos/o/r", "", {"x": 1}, "repos/get takes no body"),
        ("DELETE", "/repos/o/r", "", None, "no documented operation for DELETE /repos/o/r"),
    ],
)
def test_a_request_github_would_refuse_names_why(
    method: str, path: str, query: str, sent: Any, expected: str
) -> None:
    raw = sent if isinstance(sent, bytes) else (b"" if sent is None else body(sent))
    found = request_violations(method, path, query, raw)
    assert any(line.startswith(expected) for line in found), found


def test_the_server_answers_422_for_a_bad_request_and_records_it(tmp_path: Path) -> None:
    with GitHubServer(tmp_path / "github", request_check=request_violations) as server:
        request = urllib.request.Request(
            f"{server.api_url}/repos/o/r/pulls?state=merged", headers={"Accept": "*/*"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 422
        message = json.loads(answer.value.read())["message"]
        assert message.startswith("Invalid request.\n\nquery parameter 'state': 'merged' is not")
        assert server.request_violations == [
            "GET /api/v3/repos/o/r/pulls?state=merged: query parameter 'state': 'merged' is not "
            "one of ['open', 'closed', 'all']"
        ]
