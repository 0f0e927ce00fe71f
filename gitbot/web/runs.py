"""The runs pages: jobs (filtered, paged), one run's tree of objects, pipelines and containers with
their whole logs (downloadable), and a running job's container logs as server-sent events.

Server-rendered, no build step; a running job's page also refreshes itself without JavaScript,
and with it a small script follows `/runs/<id>/events` (EventSource) to append log lines live.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Response, abort, current_app, render_template, request

from gitbot.web.pages import console_blueprint
from gitbot.work.store import JOB_STATUSES, Job

blueprint = console_blueprint("runs", __name__)
PAGE_SIZE = 100
EVENTS_POLL_SECONDS = 0.25  # how often the event stream looks for new log lines
EVENTS_MAX_SECONDS = 120.0  # a stream ends after this; EventSource reconnects by itself
KEEPALIVE_SECONDS = 15.0
# Each stream holds a server thread (gunicorn's gthread workers have 4): a few per process at
# most, so live viewers never starve the webhook endpoint. Over the limit: 503, and the page
# falls back to reloading itself.
EVENTS_MAX_STREAMS = 2
_streams = threading.BoundedSemaphore(EVENTS_MAX_STREAMS)


@blueprint.get("/runs")
def index() -> Response:
    store = current_app.config["GITBOT"].store
    filters = {k: request.args.get(k, "").strip() for k in ("repository", "promise", "status")}
    if filters["status"] and filters["status"] not in JOB_STATUSES:
        abort(400, f"status must be one of {', '.join(JOB_STATUSES)}")
    before = _int_arg("before")
    jobs = store.job_page(
        repository=filters["repository"] or None,
        promise=filters["promise"] or None,
        status=filters["status"] or None,
        before=before,
        limit=PAGE_SIZE + 1,
    )
    more = len(jobs) > PAGE_SIZE
    jobs = jobs[:PAGE_SIZE]
    deliveries = [] if before else store.delivery_page(limit=10)
    return Response(
        render_template(
            "runs.html",
            title="runs",
            jobs=jobs,
            deliveries=deliveries,
            filters=filters,
            query={k: v for k, v in filters.items() if v},
            statuses=JOB_STATUSES,
            next_before=jobs[-1].id if more and jobs else None,
        )
    )


@blueprint.get("/runs/<int:job_id>")
def job(job_id: int) -> Response:
    found = _job(job_id)
    result: Mapping[str, Any] = found.result or {}
    live = found.status in ("queued", "running")
    tree = _tree(result.get("objects") or [])
    return Response(
        render_template(
            "run.html",
            title=f"run {job_id}",
            job=found,
            result=result,
            tree=tree,
            live=live,
            progress=result.get("containers") if result.get("live") else None,
        )
    )


@blueprint.get("/runs/<int:job_id>/logs/<int:o>/<int:p>/<int:c>.log")
def log(job_id: int, o: int, p: int, c: int) -> Response:
    """One container's whole redacted log as a text file."""
    found = _job(job_id)
    try:
        obj = (found.result or {})["objects"][o]
        container = obj["pipelines"][p]["containers"][c]
    except (KeyError, IndexError, TypeError):
        abort(404, "no such container in this run")
    name = "-".join(
        _safe(part)
        for part in (str(job_id), obj["key"], obj["pipelines"][p]["name"], container["name"])
    )
    return Response(
        container.get("log") or "",
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{name}.log"'},
    )


@blueprint.get("/runs/<int:job_id>/events")
def events(job_id: int) -> Response:
    """Server-sent events: `log` (a container's new lines or its whole log when it was cut),
    then `done` with the job's status when it finishes."""
    _job(job_id)
    store = current_app.config["GITBOT"].store
    if not _streams.acquire(blocking=False):
        abort(503, "too many live log streams on this server; the page reloads instead")

    def stream() -> Iterator[str]:
        sent: dict[int, str] = {}
        states: dict[int, str] = {}
        started = time.monotonic()
        quiet_since = started
        yield "retry: 1000\n\n"
        while time.monotonic() - started < EVENTS_MAX_SECONDS:
            current = store.job(job_id)
            if current is None:
                return
            result = current.result or {}
            containers = result.get("containers") if result.get("live") else None
            for index, entry in enumerate(containers or ()):
                text = str(entry.get("log") or "")
                before = sent.get(index)
                if before == text and states.get(index) == entry.get("state"):
                    continue
                message = {k: entry.get(k) for k in _DESCRIBE}
                message["index"] = index
                if before is not None and text.startswith(before):
                    message["append"] = text[len(before) :]
                else:
                    message["replace"] = text
                sent[index], states[index] = text, str(entry.get("state"))
                quiet_since = time.monotonic()
                yield f"event: log\ndata: {json.dumps(message)}\n\n"
            if current.status not in ("queued", "running"):
                yield f"event: done\ndata: {json.dumps({'status': current.status})}\n\n"
                return
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(EVENTS_POLL_SECONDS)

    response = Response(
        stream(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    # The server closes the response when the stream ends or the client goes, started or not.
    response.call_on_close(_streams.release)
    return response


_DESCRIBE = ("object", "promise", "pipeline", "container", "image", "state", "exit_code")


def _job(job_id: int) -> Job:
    found: Job | None = current_app.config["GITBOT"].store.job(job_id)
    if found is None:
        abort(404, f"there is no run {job_id}")
    return found


def _tree(objects: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Objects as a tree: each Promise with its requests beneath it (a request whose Promise did
    not run this time is a root of its own), a compound Promise's children beneath the object
    that scheduled them. Indexes stay those of the run's object list."""
    roots: list[dict[str, Any]] = []
    promises: dict[str, dict[str, Any]] = {}
    by_key: dict[str, dict[str, Any]] = {}
    for index, o in enumerate(objects):
        if o.get("kind") == "Promise" or str(o.get("key", "")).startswith("Promise "):
            node = {"index": index, "object": o, "children": []}
            promises[str(o.get("name") or str(o.get("key", "")).split()[-1])] = node
            by_key[str(o.get("key", ""))] = node
            roots.append(node)
    for index, o in enumerate(objects):
        if any(node["index"] == index for node in promises.values()):
            continue
        node = {"index": index, "object": o, "children": []}
        by_key[str(o.get("key", ""))] = node
        # A child follows its parent in the run's list, so its parent's node already exists.
        parent = by_key.get(str(o.get("parent") or "")) or promises.get(
            str(o.get("promise") or str(o.get("key", "")).split()[0])
        )
        (parent["children"] if parent else roots).append(node)
    return roots


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "log"


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        abort(400, f"{name} must be a number")
