"""Helpers the server's blueprints share: services, URLs, JSON answers, callers and pagination."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, request

from ghserver import auth
from ghserver.errors import ApiError
from ghserver.faults import Faults
from ghserver.model import App, Repo, Token
from ghserver.paging import paginate
from ghserver.ratelimit import RateLimits
from ghserver.record import Recorder
from ghserver.render import Json, Urls
from ghserver.state import State

T = TypeVar("T")
EXTENSION = "ghserver"
# (method, REST path without /api/v3, query string, body) -> what GitHub would refuse in it.
RequestCheck = Callable[[str, str, str, bytes], Sequence[str]]


@dataclass
class Services:
    """What the web layer works with; one per server."""

    state: State
    record: Recorder = field(default_factory=Recorder)
    faults: Faults = field(default_factory=Faults)
    limits: RateLimits = field(default_factory=RateLimits)
    git_timeout: float = 120.0
    # Checks each REST request against GitHub's description; a request it faults is answered
    # 422 as GitHub would, and kept in the record (`RecordedRequest.violations`).
    request_check: RequestCheck | None = None


def services() -> Services:
    """The current app's services."""
    return cast(Services, current_app.extensions[EXTENSION])


def urls() -> Urls:
    """URLs as the client reached the server."""
    return Urls(request.host_url.rstrip("/"))


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with GitHub's media type header."""
    response = Response(
        json.dumps(body, ensure_ascii=False) + "\n",
        status=status,
        mimetype="application/json",
    )
    response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: ApiError) -> Response:
    """GitHub's JSON error body for an ApiError."""
    return respond(error.body(), error.status, error.headers)


def body() -> Any:
    """The request's JSON body; 400 "Problems parsing JSON" when it is not JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None


def body_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    found = body()
    if not isinstance(found, dict):
        raise ApiError(400, "Problems parsing JSON")
    return found


def _identify(caller: str, installation_id: int | None = None) -> None:
    g.caller = caller
    window = services().limits.window(caller)
    if window.remaining == 0:
        who = f"installation ID {installation_id}" if installation_id else caller
        raise ApiError(
            403,
            f"API rate limit exceeded for {who}.",
            documentation_url="https://docs.github.com/rest/overview/resources-in-the-rest-api"
            "#rate-limiting",
        )


def app_caller() -> App:
    """The App authenticated by the request's JWT (401 otherwise)."""
    credential = auth.parse_header(request.headers.get("Authorization"))
    app = auth.app_from_jwt(services().state, credential)
    _identify(f"app:{app.id}")
    return app


def token_caller() -> Token:
    """The installation token of the request (401 when missing, unknown or expired)."""
    credential = auth.parse_header(request.headers.get("Authorization"))
    if credential is None:
        raise ApiError(401, "Requires authentication")
    token = auth.installation_token(services().state, credential)
    _identify(f"installation:{token.installation.id}", token.installation.id)
    return token


def repo_access(
    owner: str, name: str, level: str = "read", *permissions: str
) -> tuple[Token, Repo]:
    """The caller's token and the repository it may see, with one of `permissions` at `level`."""
    token = token_caller()
    repo = auth.repo_for(services().state, token, owner, name)
    auth.require(token, level, *(permissions or ("metadata",)))
    return token, repo


def page_of(items: Sequence[T]) -> tuple[list[T], dict[str, str]]:
    """The requested page and its Link header."""
    chunk, link = paginate(items, request.args, request.base_url)
    return chunk, ({"Link": link} if link else {})


def listing(items: Sequence[T], render: Callable[[T], Json]) -> Response:
    """A paginated JSON array."""
    chunk, headers = page_of(items)
    return respond([render(item) for item in chunk], headers=headers)
