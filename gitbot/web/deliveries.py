"""The deliveries page: each webhook delivery's event, action, repository, outcome and the jobs
it caused; and "run again" for one whose work failed (console token, same-site form)."""

from __future__ import annotations

import logging
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

from gitbot.web import access
from gitbot.web.pages import console_blueprint
from gitbot.work.handlers import ROUTE
from gitbot.work.store import DELIVERY_STATUSES, RERUNNABLE

log = logging.getLogger("gitbot.console")
blueprint = console_blueprint("deliveries", __name__)
PAGE_SIZE = 100


@blueprint.get("/deliveries")
def index() -> Response:
    store = current_app.config["GITBOT"].store
    filters = {k: request.args.get(k, "").strip() for k in ("repository", "event", "status")}
    if filters["status"] and filters["status"] not in DELIVERY_STATUSES:
        abort(400, f"status must be one of {', '.join(DELIVERY_STATUSES)}")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        abort(400, "page must be a number")
    found = store.delivery_page(
        repository=filters["repository"] or None,
        event=filters["event"] or None,
        status=filters["status"] or None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE + 1,
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    jobs = store.jobs_for_deliveries([d.guid for d in found])
    return Response(
        render_template(
            "deliveries.html",
            title="deliveries",
            deliveries=found,
            jobs=jobs,
            filters=filters,
            query={k: v for k, v in filters.items() if v},
            statuses=DELIVERY_STATUSES,
            page=page,
            more=more,
            rerunnable=lambda d: (
                d.status in RERUNNABLE or any(j.status == "failed" for j in jobs.get(d.guid, ()))
            ),
        )
    )


@blueprint.post("/deliveries/<guid>/run-again")
def run_again(guid: str) -> Any:
    """Run a failed delivery again as GitHub's redelivery would, or requeue its failed jobs."""
    access.check_same_site()
    actor = access.require_actor()
    store = current_app.config["GITBOT"].store
    delivery = store.delivery(guid)
    if delivery is None:
        abort(404, f"there is no delivery {guid}")
    who = {"actor": actor, "remote": request.remote_addr, "delivery": guid}
    if delivery.status in RERUNNABLE:
        key = f"route:{delivery.repository}" if delivery.repository else f"delivery:{guid}"
        store.record_delivery(
            guid,
            delivery.event,
            delivery.action,
            delivery.payload,
            "queued",
            repository=delivery.repository,
            installation_id=delivery.installation_id,
            route_job=(ROUTE, key),
        )
        log.info("console: %s asked to run delivery %s again", actor, guid, extra=who)
        return redirect(url_for("deliveries.index"), code=303)
    failed = [j for j in store.jobs_for_delivery(guid) if j.status == "failed"]
    if not failed:
        abort(409, f"delivery {guid} is {delivery.status} and none of its jobs failed")
    for old in failed:
        new = store.enqueue(
            old.kind, old.repository, old.promise, old.commit, dict(old.payload), guid
        )
        log.info(
            "console: %s asked to run job %d of delivery %s again; job %d queued",
            actor,
            old.id,
            guid,
            new.id,
            extra={**who, "repository": old.repository, "promise": old.promise, "job": new.id},
        )
    return redirect(url_for("deliveries.index"), code=303)
