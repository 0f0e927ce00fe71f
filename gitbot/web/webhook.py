"""POST /webhook: verify the signature over the raw body, store the delivery, answer 202."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, request

from gitbot.github.events import Ignored, PayloadError, parse_event, verify_signature
from gitbot.metrics import DELIVERIES

blueprint = Blueprint("webhook", __name__)
ROUTE = "route"


@blueprint.post("/webhook")
def receive() -> tuple[dict[str, Any], int]:
    config = current_app.config["GITBOT"]
    body = request.get_data(cache=False)
    if not verify_signature(
        str(config.webhook_secret).encode(), body, request.headers.get("X-Hub-Signature-256")
    ):
        DELIVERIES.labels(event="unknown", result="unauthorized").inc()
        return {"error": "missing or wrong X-Hub-Signature-256"}, 401
    event = request.headers.get("X-GitHub-Event", "")
    guid = request.headers.get("X-GitHub-Delivery") or "sha256-" + hashlib.sha256(body).hexdigest()
    store = config.store
    try:
        if not event:
            raise PayloadError("no X-GitHub-Event header")
        parsed = parse_event(event, body)
    except PayloadError as e:
        stored, _ = store.record_delivery(guid, event, None, body, "invalid", e.reason)
        if stored.status == "succeeded":
            return _processed(event, guid)
        DELIVERIES.labels(event=event or "unknown", result="invalid").inc()
        return {"error": e.reason, "delivery": guid}, 400
    if isinstance(parsed, Ignored):
        stored, _ = store.record_delivery(guid, event, None, body, "ignored", parsed.reason)
        if stored.status == "succeeded":
            return _processed(event, guid)
        DELIVERIES.labels(event=event, result="ignored").inc()
        return {"status": "ignored", "reason": parsed.reason, "delivery": guid}, 202
    repository = getattr(getattr(parsed, "repository", None), "full_name", None)
    stored, new = store.record_delivery(
        guid,
        event,
        getattr(parsed, "action", None),
        body,
        "queued",
        repository=repository,
        installation_id=getattr(parsed, "installation_id", None),
        # Routing (which Promises a push touches) needs git, so the worker does it. Its own
        # queue key keeps it from waiting behind long reconciles of the repository, and routes
        # one repository's deliveries one at a time in arrival order: a newer push routed first
        # would otherwise be superseded by the older one routed after it.
        route_job=(ROUTE, f"route:{repository}" if repository else f"delivery:{guid}"),
    )
    if not new:
        if stored.status == "succeeded":
            return _processed(event, guid)
        # Still queued, running or ignored: the stored delivery already has its work.
        DELIVERIES.labels(event=event, result="duplicate").inc()
        return {"status": "queued", "delivery": guid, "duplicate": True}, 202
    DELIVERIES.labels(event=event, result="queued").inc()
    return {"status": "queued", "delivery": guid}, 202


def _processed(event: str, guid: str) -> tuple[dict[str, Any], int]:
    DELIVERIES.labels(event=event or "unknown", result="duplicate").inc()
    return {"status": "already processed", "delivery": guid}, 200
