"""The runs page: recent deliveries and jobs, and one job's pipelines, containers and logs.

Server-rendered, no build step. With GITBOT_RUNS_TOKEN set it asks for that token (header
`Authorization: Bearer ...`, or `?token=` once, remembered in a cookie); without one it answers
only clients on this machine, so it is never exposed by accident.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    render_template,
    request,
)

blueprint = Blueprint("runs", __name__)
COOKIE = "gitbot_runs"


@blueprint.before_request
def protect() -> Response | None:
    config = current_app.config["GITBOT"]
    token = config.runs_token
    if token is None:
        if request.remote_addr not in ("127.0.0.1", "::1"):
            abort(403, "the runs page answers only this machine unless GITBOT_RUNS_TOKEN is set")
        return None
    given = request.cookies.get(COOKIE) or request.args.get("token") or ""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        given = header[len("Bearer ") :]
    if not hmac.compare_digest(given.encode(), str(token).encode()):
        abort(401, "the runs page needs GITBOT_RUNS_TOKEN")
    return None


@blueprint.after_request
def remember(response: Response) -> Response:
    if request.args.get("token"):
        response.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict")
    return response


@blueprint.get("/runs")
def index() -> Response:
    store = current_app.config["GITBOT"].store
    page = render_template(
        "runs.html",
        title="runs",
        jobs=store.recent_jobs(100),
        deliveries=store.recent_deliveries(100),
    )
    return make_response(page)


@blueprint.get("/runs/<int:job_id>")
def job(job_id: int) -> Response:
    store = current_app.config["GITBOT"].store
    found = store.job(job_id)
    if found is None:
        abort(404)
    result: dict[str, Any] = dict(found.result or {})
    return make_response(
        render_template("run.html", title=f"run {job_id}", job=found, result=result)
    )
