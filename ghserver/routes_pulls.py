"""REST for pull requests and their conversation: comments, labels, reviewers, reactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from ghserver import pulls, render
from ghserver.errors import ApiError, validation_failed
from ghserver.model import PullRequest, Repo
from ghserver.web import body, body_object, listing, repo_access, respond, services, urls

bp = Blueprint("pulls", __name__)
_CONVERSATION = ("issues", "pull_requests")  # either permission may write on a pull request


def _text(payload: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = payload.get(key)
    if value is None:
        if required:
            raise validation_failed("PullRequest", "missing_field", key)
        return None
    if not isinstance(value, str):
        raise ApiError(
            422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not a string."
        )
    return value


def _flag(payload: dict[str, Any], key: str) -> bool | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, bool):
        raise ApiError(
            422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not a boolean."
        )
    return value


def _full(repo: Repo, pr: PullRequest) -> dict[str, Any]:
    return render.pull(pr, pulls.stats(services().state, repo, pr), urls())


@bp.post("/repos/<owner>/<name>/pulls")
def create_pull(owner: str, name: str) -> Response:
    """pulls/create."""
    token, repo = repo_access(owner, name, "write", "pull_requests")
    payload = body_object()
    new = pulls.NewPull(
        title=_text(payload, "title", required=True) or "",
        head=_text(payload, "head", required=True) or "",
        base=_text(payload, "base", required=True) or "",
        body=_text(payload, "body"),
        draft=bool(_flag(payload, "draft")),
        maintainer_can_modify=_flag(payload, "maintainer_can_modify") is not False,
    )
    pr = pulls.create(services().state, repo, token.installation.app.bot, new)
    url = f"{urls().repo_api(repo)}/pulls/{pr.number}"
    return respond(_full(repo, pr), 201, {"Location": url})


@bp.get("/repos/<owner>/<name>/pulls")
def list_pulls(owner: str, name: str) -> Response:
    """pulls/list, by state, head (`owner:branch`) and base."""
    _, repo = repo_access(owner, name, "read", "pull_requests")
    args = request.args
    status = args.get("state", "open")
    if status not in ("open", "closed", "all"):
        raise validation_failed("PullRequest", "invalid", "state")
    found = pulls.search(
        services().state,
        repo,
        status,
        args.get("head"),
        args.get("base"),
        args.get("sort", "created"),
        args.get("direction"),
    )
    return listing(found, lambda pr: render.pull_simple(pr, urls()))


@bp.get("/repos/<owner>/<name>/pulls/<int:number>")
def get_pull(owner: str, name: str, number: int) -> Response:
    """pulls/get."""
    _, repo = repo_access(owner, name, "read", "pull_requests")
    return respond(_full(repo, pulls.get(services().state, repo, number)))


@bp.patch("/repos/<owner>/<name>/pulls/<int:number>")
def update_pull(owner: str, name: str, number: int) -> Response:
    """pulls/update: title, body, state, base, maintainer_can_modify."""
    _, repo = repo_access(owner, name, "write", "pull_requests")
    payload = body_object()
    status = _text(payload, "state")
    if status not in (None, "open", "closed"):
        raise validation_failed("PullRequest", "invalid", "state")
    pr = pulls.update(
        services().state,
        repo,
        number,
        title=_text(payload, "title"),
        body=_text(payload, "body"),
        status=status,
        base=_text(payload, "base"),
        maintainer_can_modify=_flag(payload, "maintainer_can_modify"),
    )
    return respond(_full(repo, pr))


def _names(payload: dict[str, Any], key: str) -> list[str]:
    value = payload.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(
            422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not an array."
        )
    return value


@bp.post("/repos/<owner>/<name>/pulls/<int:number>/requested_reviewers")
def request_reviewers(owner: str, name: str, number: int) -> Response:
    """pulls/request-reviewers."""
    _, repo = repo_access(owner, name, "write", "pull_requests")
    payload = body_object()
    pr = pulls.request_reviewers(
        services().state,
        repo,
        number,
        _names(payload, "reviewers"),
        _names(payload, "team_reviewers"),
    )
    return respond(render.pull_simple(pr, urls()), 201)


@bp.post("/repos/<owner>/<name>/issues/<int:number>/comments")
def create_comment(owner: str, name: str, number: int) -> Response:
    """issues/create-comment."""
    token, repo = repo_access(owner, name, "write", *_CONVERSATION)
    text = _text(body_object(), "body")
    if text is None:
        raise validation_failed("IssueComment", "missing_field", "body")
    app = token.installation.app
    comment = pulls.add_comment(services().state, repo, number, app.bot, app, text)
    url = f"{urls().repo_api(repo)}/issues/comments/{comment.id}"
    return respond(render.issue_comment(comment, urls()), 201, {"Location": url})


@bp.get("/repos/<owner>/<name>/issues/<int:number>/comments")
def list_comments(owner: str, name: str, number: int) -> Response:
    """issues/list-comments (oldest first, `since` an ISO time)."""
    _, repo = repo_access(owner, name, "read", *_CONVERSATION)
    since_arg = request.args.get("since")
    since = None
    if since_arg:
        try:
            since = datetime.fromisoformat(since_arg.replace("Z", "+00:00"))
        except ValueError:
            raise validation_failed("IssueComment", "invalid", "since") from None
    found = pulls.comments(services().state, repo, number, since)
    return listing(found, lambda c: render.issue_comment(c, urls()))


def _label_names(payload: Any) -> list[str]:
    """`["a"]`, `{"labels": ["a"]}` or `{"labels": [{"name": "a"}]}`, as GitHub accepts."""
    items = payload.get("labels") if isinstance(payload, dict) else payload
    names = []
    for item in items if isinstance(items, list) else [None]:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise validation_failed("Label", "invalid", "labels")
        names.append(name)
    return names


@bp.post("/repos/<owner>/<name>/issues/<int:number>/labels")
def add_labels(owner: str, name: str, number: int) -> Response:
    """issues/add-labels; answers every label now on the issue."""
    _, repo = repo_access(owner, name, "write", *_CONVERSATION)
    labels = pulls.add_labels(services().state, repo, number, _label_names(body()))
    return respond([render.label(repo, item, urls()) for item in labels])


@bp.post("/repos/<owner>/<name>/issues/comments/<int:comment_id>/reactions")
def create_reaction(owner: str, name: str, comment_id: int) -> Response:
    """reactions/create-for-issue-comment: 201 when new, 200 when it was already there."""
    token, repo = repo_access(owner, name, "write", *_CONVERSATION)
    content = _text(body_object(), "content")
    if content is None:
        raise validation_failed("Reaction", "missing_field", "content")
    bot = token.installation.app.bot
    reaction, new = pulls.react(services().state, repo, comment_id, bot, content)
    return respond(render.reaction(reaction, urls()), 201 if new else 200)
