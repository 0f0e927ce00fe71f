"""The console's overview page, its sign-in for actions, and "reconcile now".

GET /console lists source repositories (20 per page) with each Promise's last result; it
refreshes itself every REFRESH_SECONDS with a `<meta http-equiv="refresh">`, so it works without
JavaScript (`?refresh=0` stops it). POST routes change state: they need the console token and a
same-site form (see access.py), and are written to the JSON log with who asked.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from gitbot.web import access, overview
from gitbot.web.pages import console_blueprint

log = logging.getLogger("gitbot.console")
blueprint = console_blueprint("console", __name__)
REPOSITORIES_PER_PAGE = 10  # with 10 Promises each, about 100 rows as on the other pages
REFRESH_SECONDS = 15
PROMISE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # a Kubernetes object name


@blueprint.get("/")
def root() -> Any:
    return redirect(url_for("console.index"))


@blueprint.get("/console")
def index() -> Response:
    config = current_app.config["GITBOT"]
    repository = request.args.get("repository", "").strip()
    promise = request.args.get("promise", "").strip()
    result = request.args.get("result", "").strip()
    page = _page_number()
    names = overview.repository_names(config.store)
    known = names
    if repository:
        names = [n for n in names if n == repository]
    # Every repository's results (brief: without the objects' stored statuses), so that the
    # summary counts them all and a failure sorts onto page 1 whatever its name; then the full
    # rows of this page only.
    everything = overview.failures_first(
        overview.build(
            config.store,
            config.status(),
            names,
            config.reconcile_interval,
            promise=promise,
            result=result,
            cache=config.results,
            brief=True,
        )
    )
    total = len(everything)
    pages = max(1, -(-total // REPOSITORIES_PER_PAGE))
    page = min(page, pages)
    shown = [
        r.name
        for r in everything[(page - 1) * REPOSITORIES_PER_PAGE : page * REPOSITORIES_PER_PAGE]
    ]
    full = overview.build(
        config.store,
        config.status(),
        shown,
        config.reconcile_interval,
        promise=promise,
        result=result,
        cache=config.results,
    )
    rows = sorted(full, key=lambda r: shown.index(r.name))
    refresh = request.args.get("refresh") != "0"
    return Response(
        render_template(
            "console.html",
            title="overview",
            rows=rows,
            counts=overview.counts(everything),
            failing=sum(1 for r in everything if r.failing),
            results=overview.RESULTS,
            repositories=known,
            filters={"repository": repository, "promise": promise, "result": result},
            query={
                k: v
                for k, v in (("repository", repository), ("promise", promise), ("result", result))
                if v
            },
            page=page,
            pages=pages,
            total=total,
            refresh=REFRESH_SECONDS if refresh else None,
        )
    )


@blueprint.get("/console/promise")
def promise() -> Response:
    """One Promise of a repository: the overview's row with every object's Kratix status."""
    config = current_app.config["GITBOT"]
    repository = request.args.get("repository", "").strip()
    name = request.args.get("promise", "").strip()
    if repository not in overview.repository_names(config.store):
        abort(404, f"gitbot does not know the repository {repository!r}")
    rows = overview.build(
        config.store,
        config.status(),
        [repository],
        config.reconcile_interval,
        promise=name,
        cache=config.results,
    )
    found = [p for r in rows for p in r.promises]
    if not found:
        abort(404, f"{repository} has no Promise {name!r}")
    return Response(render_template("promise.html", title=f"{repository}: {name}", row=found[0]))


@blueprint.get("/console/signin")
def signin() -> Response:
    """The sign-in form on a page of its own: the overview's auto-refresh cannot wipe it."""
    return Response(render_template("signin.html", title="sign in", next=_back(request.args)))


@blueprint.post("/console/read-token")
def read_sign_in() -> Any:
    """Take GITBOT_RUNS_TOKEN from the form on a 401 page and keep it in the read cookie."""
    access.check_same_site()
    token = current_app.config["GITBOT"].runs_token
    given = request.form.get("token", "")
    if token is None or not hmac.compare_digest(given.encode(), str(token).encode()):
        abort(401, "wrong token: the console needs GITBOT_RUNS_TOKEN")
    response = redirect(_back(), code=303)
    response.set_cookie(access.READ_COOKIE, given, httponly=True, samesite="Strict")
    return response


@blueprint.post("/console/sign-in")
def sign_in() -> Any:
    access.check_same_site()
    config = current_app.config["GITBOT"]
    if config.console_token is None:
        abort(403, "actions are off: set GITBOT_CONSOLE_TOKEN to allow them")
    actor = access.require_actor()  # checks the token given in the form
    log.info("console: %s signed in", actor, extra=_who(actor))
    response = redirect(_back())
    response.set_cookie(
        access.ACT_COOKIE, access.actor_cookie(actor), httponly=True, samesite="Strict"
    )
    return response


@blueprint.post("/console/sign-out")
def sign_out() -> Any:
    access.check_same_site()
    response = redirect(_back())
    response.delete_cookie(access.ACT_COOKIE)
    return response


@blueprint.post("/console/reconcile")
def reconcile_now() -> Any:
    """Queue a reconcile of a repository, or of one Promise in it; opens the queued job."""
    access.check_same_site()
    actor = access.require_actor()
    config = current_app.config["GITBOT"]
    repository = request.form.get("repository", "").strip()
    promise = request.form.get("promise", "").strip() or None
    if repository not in overview.repository_names(config.store):
        abort(404, f"gitbot does not know the repository {repository!r}")
    if promise is not None and not PROMISE_NAME.fullmatch(promise):
        abort(400, f"not a Promise name: {promise!r}")
    if promise is not None and promise not in overview.known_promises(
        config.store, config.status(), repository, config.reconcile_interval
    ):
        abort(
            404,
            f"{repository} has no Promise {promise!r} that gitbot knows of: reconcile the "
            "whole repository to find new Promises",
        )
    job = config.store.enqueue(
        overview.RECONCILE, repository, promise, None, {"reason": "console", "actor": actor}
    )
    what = f"{repository} {promise}" if promise else repository
    log.info(
        "console: %s asked to reconcile %s now; job %d queued",
        actor,
        what,
        job.id,
        extra={**_who(actor), "repository": repository, "promise": promise, "job": job.id},
    )
    return redirect(url_for("runs.job", job_id=job.id), code=303)


def _who(actor: str) -> dict[str, Any]:
    return {"actor": actor, "remote": request.remote_addr}


def _back(fields: Mapping[str, str] | None = None) -> str:
    """Where to go after a sign-in (`next` of the form): a path on this site only."""
    target = (request.form if fields is None else fields).get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("console.index")


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1
