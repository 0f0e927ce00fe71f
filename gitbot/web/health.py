"""/healthz (the process answers), /readyz (its dependencies answer), /metrics."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gitbot.metrics import QUEUE_DEPTH, QUEUE_OLDEST
from gitbot.web import multiprocess

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@blueprint.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    config = current_app.config["GITBOT"]
    checks: dict[str, str] = {}
    for name, check in {"database": config.store.ping, **config.ready_checks}.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as e:  # any failure makes the instance not ready; say which and why
            checks[name] = f"failing: {e}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503


@blueprint.get("/metrics")
def metrics() -> Response:
    store = current_app.config["GITBOT"].store
    QUEUE_DEPTH.set(store.queue_depth())
    QUEUE_OLDEST.set(store.oldest_queued_age() or 0)
    registry = REGISTRY
    if os.environ.get(multiprocess.ENV):  # gunicorn's workers: add up all of their files
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
