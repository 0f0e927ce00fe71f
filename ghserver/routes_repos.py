"""REST for repositories: the repository, its branches and refs, and collaborator permissions."""

from __future__ import annotations

from flask import Blueprint, Response

from ghserver import bare, render
from ghserver.errors import not_found
from ghserver.model import ROLES
from ghserver.web import repo_access, respond, services, urls

bp = Blueprint("repos", __name__)
# GitHub's `permission` field predates roles: maintain shows as write and triage as read.
_LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


@bp.get("/repos/<owner>/<name>")
def get_repo(owner: str, name: str) -> Response:
    """repos/get."""
    _, repo = repo_access(owner, name)
    return respond(render.repository(repo, urls(), full=True))


@bp.get("/repos/<owner>/<name>/branches/<path:branch>")
def get_branch(owner: str, name: str, branch: str) -> Response:
    """repos/get-branch."""
    _, repo = repo_access(owner, name, "read", "contents", "metadata")
    sha = bare.ref_sha(repo.path, f"refs/heads/{branch}")
    if sha is None:
        raise not_found("Branch not found")
    info = bare.commit_info(repo.path, sha)
    return respond(render.branch(repo, branch, info, urls()))


@bp.get("/repos/<owner>/<name>/git/ref/<path:ref>")
def get_ref(owner: str, name: str, ref: str) -> Response:
    """git/get-ref (`heads/<branch>` or `tags/<tag>`)."""
    _, repo = repo_access(owner, name, "read", "contents", "metadata")
    full = f"refs/{ref}"
    sha = bare.ref_sha(repo.path, full) if ref.startswith(("heads/", "tags/")) else None
    if sha is None:
        raise not_found()
    return respond(render.git_ref(repo, full, sha, urls()))


@bp.get("/repos/<owner>/<name>/collaborators/<login>/permission")
def get_permission(owner: str, name: str, login: str) -> Response:
    """repos/get-collaborator-permission-level."""
    _, repo = repo_access(owner, name)
    state = services().state
    account = state.find_account(login)
    if account is None or account.type == "Organization":
        raise not_found()
    role = state.role(repo, login)
    at = ROLES.index(role) if role else len(ROLES)
    user = render.user(account, urls())
    user["permissions"] = {
        "admin": at <= ROLES.index("admin"),
        "maintain": at <= ROLES.index("maintain"),
        "push": at <= ROLES.index("write"),
        "triage": at <= ROLES.index("triage"),
        "pull": at <= ROLES.index("read"),
    }
    user["role_name"] = role or "none"
    return respond(
        {
            "permission": _LEGACY_PERMISSION.get(role or "", "none"),
            "role_name": role or "none",
            "user": user,
        }
    )
