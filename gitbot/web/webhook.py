"""POST /webhook: verify the signature over the raw body, store the delivery, answer 202."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, current_app, request

from gitbot.events import Ignored, PayloadError, parse_event, verify_signature
from gitbot.web.metrics import DELIVERIES

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
    known = store.delivery(guid)
    if known is not None and known.status == "succeeded":
        DELIVERIES.labels(event=event, result="duplicate").inc()
        return {"status": "already processed", "delivery": guid}, 200
    if not event:
        store.record_delivery(guid, "", None, body, "invalid", "no X-GitHub-Event header")
        DELIVERIES.labels(event="unknown", result="invalid").inc()
        return {"error": "no X-GitHub-Event header"}, 400
    try:
        parsed = parse_event(event, body)
    except PayloadError as e:
        store.record_delivery(guid, event, None, body, "invalid", e.reason)
        DELIVERIES.labels(event=event, result="invalid").inc()
        return {"error": e.reason, "delivery": guid}, 400
    if isinstance(parsed, Ignored):
        store.record_delivery(guid, event, None, body, "ignored", parsed.reason)
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
    )
    if not new:
        # Still queued, running or ignored: the stored delivery already has its work.
        DELIVERIES.labels(event=event, result="duplicate").inc()
        return {"status": f"already {stored.status}", "delivery": guid}, 202
    # Routing (which Promises a push touches) needs git, so the worker does it; its own
    # queue key keeps it from waiting behind long reconciles of the same repository.
    store.enqueue(ROUTE, f"delivery:{guid}", None, None, {"guid": guid}, guid, supersede=False)
    DELIVERIES.labels(event=event, result="queued").inc()
    return {"status": "queued", "delivery": guid}, 202
