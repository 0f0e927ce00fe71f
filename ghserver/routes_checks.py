"""REST for check runs: create, update, and list those of a commit."""

from __future__ import annotations

from flask import Blueprint, Response, request

from ghserver import checks, pulls, render
from ghserver.errors import validation_failed
from ghserver.model import CheckRun
from ghserver.web import body, page_of, repo_access, respond, services, urls

bp = Blueprint("checks", __name__)


def _render(run: CheckRun) -> render.Json:
    open_pulls = pulls.pulls_for_commit(services().state, run.repo, run.head_sha)
    return render.check_run(run, open_pulls, urls())


@bp.post("/repos/<owner>/<name>/check-runs")
def create_run(owner: str, name: str) -> Response:
    """checks/create (only an App's installation token may)."""
    token, repo = repo_access(owner, name, "write", "checks")
    change = checks.parse(body(), creating=True)
    run = checks.create(services().state, repo, token.installation.app, change)
    return respond(_render(run), 201)


@bp.patch("/repos/<owner>/<name>/check-runs/<int:run_id>")
def update_run(owner: str, name: str, run_id: int) -> Response:
    """checks/update."""
    token, repo = repo_access(owner, name, "write", "checks")
    change = checks.parse(body(), creating=False)
    run = checks.update(services().state, repo, token.installation.app, run_id, change)
    return respond(_render(run))


@bp.get("/repos/<owner>/<name>/commits/<path:ref>/check-runs")
def list_for_ref(owner: str, name: str, ref: str) -> Response:
    """checks/list-for-ref (`filter=latest` by default, or `all`)."""
    _, repo = repo_access(owner, name, "read", "checks")
    args = request.args
    status = args.get("status")
    if status not in (None, "queued", "in_progress", "completed"):
        raise validation_failed("CheckRun", "invalid", "status")
    app_id = args.get("app_id")
    runs = checks.for_ref(
        services().state,
        repo,
        ref,
        check_name=args.get("check_name"),
        status=status,
        app_id=int(app_id) if app_id and app_id.isdigit() else None,
        latest=args.get("filter", "latest") != "all",
    )
    chunk, headers = page_of(runs)
    return respond(
        {"total_count": len(runs), "check_runs": [_render(r) for r in chunk]}, headers=headers
    )
