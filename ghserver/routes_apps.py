"""REST for Apps: the App itself, its installations, installation tokens and the rate limit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from ghserver import auth, render
from ghserver.errors import ApiError, not_found
from ghserver.model import Installation, Token
from ghserver.state import covers
from ghserver.web import (
    app_caller,
    body_object,
    page_of,
    respond,
    services,
    token_caller,
    urls,
)

bp = Blueprint("apps", __name__)


@bp.get("/app")
def get_authenticated() -> Response:
    """apps/get-authenticated."""
    app = app_caller()
    count = sum(1 for i in services().state.installations.values() if i.app is app)
    return respond(render.integration(app, urls(), installations_count=count))


def _installations() -> list[Installation]:
    app = app_caller()
    found = [i for i in services().state.installations.values() if i.app is app]
    return sorted(found, key=lambda i: i.id)


@bp.get("/app/installations")
def list_installations() -> Response:
    """apps/list-installations."""
    chunk, headers = page_of(_installations())
    return respond([render.installation(i, urls()) for i in chunk], headers=headers)


def _installation(installation_id: int) -> Installation:
    for found in _installations():
        if found.id == installation_id:
            return found
    raise not_found()


@bp.get("/app/installations/<int:installation_id>")
def get_installation(installation_id: int) -> Response:
    """apps/get-installation."""
    return respond(render.installation(_installation(installation_id), urls()))


def _list_of(payload: dict[str, Any], key: str, kind: type) -> list[Any] | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise ApiError(
            422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not an array."
        )
    return value


@bp.post("/app/installations/<int:installation_id>/access_tokens")
def create_token(installation_id: int) -> Response:
    """apps/create-installation-access-token."""
    installation = _installation(installation_id)
    payload = body_object()
    permissions = payload.get("permissions")
    if permissions is not None and not isinstance(permissions, dict):
        raise ApiError(
            422, "Invalid request.\n\nFor 'properties/permissions', it is not an object."
        )
    state = services().state
    token = state.issue_token(
        installation,
        _list_of(payload, "repositories", str),
        _list_of(payload, "repository_ids", int),
        permissions,
    )
    return respond(_token_body(token), 201)


def _token_body(token: Token) -> dict[str, Any]:
    out: dict[str, Any] = {
        "token": token.value,
        "expires_at": render.iso(token.expires_at),
        "permissions": dict(token.permissions),
        "repository_selection": token.installation.repository_selection,
    }
    if token.repo_ids is not None:
        state = services().state
        repos = [r for r in state.installation_repos(token.installation) if r.id in token.repo_ids]
        out["repository_selection"] = "selected"
        out["repositories"] = [render.repository(r, urls()) for r in repos]
    return out


@bp.get("/repos/<owner>/<name>/installation")
def get_repo_installation(owner: str, name: str) -> Response:
    """apps/get-repo-installation."""
    app = app_caller()
    state = services().state
    repo = state.repo(owner, name)
    for installation in state.installations.values():
        if installation.app is app and covers(installation, repo):
            return respond(render.installation(installation, urls()))
    raise not_found()


@bp.get("/installation/repositories")
def list_installation_repos() -> Response:
    """apps/list-repos-accessible-to-installation."""
    token = token_caller()
    state = services().state
    repos = [
        r
        for r in state.installation_repos(token.installation)
        if token.repo_ids is None or r.id in token.repo_ids
    ]
    chunk, headers = page_of(repos)
    return respond(
        {
            "total_count": len(repos),
            "repository_selection": token.installation.repository_selection,
            "repositories": [render.repository(r, urls()) for r in chunk],
        },
        headers=headers,
    )


@bp.get("/rate_limit")
def rate_limit() -> Response:
    """rate-limit/get; it does not count against the limit."""
    credential = auth.parse_header(request.headers.get("Authorization"))
    if credential is not None and credential.secret.count(".") == 2:
        app_caller()
    elif credential is not None:
        token_caller()
    g.free = True
    caller = g.get("caller") or f"ip:{request.remote_addr}"
    window = services().limits.window(caller)
    core = {
        "limit": window.limit,
        "used": window.used,
        "remaining": window.remaining,
        "reset": window.reset,
    }
    idle = {"limit": 30, "used": 0, "remaining": 30, "reset": window.reset}
    return respond(
        {"resources": {"core": core, "search": idle, "graphql": dict(core)}, "rate": core}
    )
