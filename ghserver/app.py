"""The Flask app: REST under /api/v3, git at /<owner>/<repo>.git, faults, rate limits, record."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from ghserver import (
    auth,
    conditional,
    githttp,
    routes_apps,
    routes_checks,
    routes_pulls,
    routes_repos,
)
from ghserver.errors import DOCS, ApiError
from ghserver.faults import Fault
from ghserver.record import RecordedRequest, is_write, redact_headers
from ghserver.web import EXTENSION, Services, error_response, respond, services

API_PREFIX = "/api/v3"
_log = logging.getLogger(__name__)
_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {id}."
)
_SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


def create_app(svc: Services) -> Flask:
    """A Flask app serving `svc` (state, record, faults and rate limits)."""
    app = Flask(__name__)
    app.extensions[EXTENSION] = svc
    for blueprint in (routes_apps.bp, routes_repos.bp, routes_pulls.bp, routes_checks.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(githttp.bp)
    app.before_request(_inject_fault)
    app.before_request(_check_request)
    app.after_request(_finish)
    app.teardown_request(_unlock)
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _server_error)
    return app


def _fault_response(fault: Fault) -> Response:
    if fault.kind == "server_error":
        return respond({"message": "Server Error"}, fault.status)
    headers = {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(time.time()) + fault.retry_after),
    }
    if fault.kind == "primary_rate_limit":
        message = {"message": f"API rate limit exceeded for {_who()}.", "documentation_url": DOCS}
        return respond(message, 403, headers)
    headers["retry-after"] = str(fault.retry_after)
    message = {"message": _SECONDARY.format(id=g.request_id), "documentation_url": _SECONDARY_DOCS}
    return respond(message, 403 if fault.kind == "rate_limit" else 429, headers)


def _who() -> str:
    """The caller as GitHub names it in rate limit messages, from the Authorization header."""
    credential = auth.parse_header(request.headers.get("Authorization"))
    token = services().state.tokens.get(credential.secret) if credential else None
    return f"installation ID {token.installation.id}" if token else request.remote_addr or "you"


def _inject_fault() -> Response | None:
    g.started = time.time()
    g.request_id = uuid.uuid4().hex[:20].upper()
    fault = services().faults.take(request.method, request.path)
    if fault is not None:
        g.fault = fault.kind
        if fault.kind != "delay":
            return _fault_response(fault)
        time.sleep(fault.seconds)
    if request.path.startswith(API_PREFIX + "/"):
        # REST calls run one at a time: the records are plain objects, and git (which can take
        # long) never takes this lock.
        services().state.lock.acquire()
        g.locked = True
    return None


def _check_request() -> Response | None:
    """GitHub validates every request against its schema first: 422 "Invalid request" with the
    reasons, before anything changes."""
    check = services().request_check
    if check is None or not request.path.startswith(API_PREFIX + "/"):
        return None
    found = tuple(
        check(
            request.method,
            request.path[len(API_PREFIX) :],
            request.query_string.decode(),
            request.get_data(cache=True),
        )
    )
    if not found:
        return None
    g.violations = found
    message = "Invalid request.\n\n" + "\n".join(found)
    return respond({"message": message, "documentation_url": DOCS, "status": "422"}, 422)


def _unlock(error: BaseException | None) -> None:
    if g.pop("locked", False):
        services().state.lock.release()


def _finish(response: Response) -> Response:
    svc = services()
    caller = g.get("caller") or f"ip:{request.remote_addr}"
    if _conditional(response):
        response = conditional.apply(response, request.headers.get("If-None-Match"))
        if response.status_code == 304 and g.get("caller"):
            g.free = True  # GitHub: an authorized 304 costs no rate-limit point
    window = svc.limits.window(caller) if g.get("free") else svc.limits.spend(caller)
    for name, value in window.headers().items():
        response.headers.setdefault(name, value)
    response.headers["X-GitHub-Request-Id"] = g.get("request_id", "")
    # git streams its body to the backend in another thread: never read it here
    raw_body = g.request_body if "request_body" in g else request.get_data(cache=True)
    kept = b"" if response.is_streamed or response.direct_passthrough else response.get_data()
    svc.record.add(
        RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query_string.decode(),
            status=response.status_code,
            headers=redact_headers(dict(request.headers)),
            raw_body=raw_body,
            response_body=kept,
            response_headers=dict(response.headers),
            write=is_write(request.method, request.path),
            started=g.get("started", time.time()),
            fault=g.get("fault"),
            violations=g.get("violations", ()),
        )
    )
    return response


def _conditional(response: Response) -> bool:
    """REST reads answered 200 carry an ETag and honour If-None-Match."""
    return (
        request.method == "GET"
        and response.status_code == 200
        and request.path.startswith(API_PREFIX + "/")
        and not (response.is_streamed or response.direct_passthrough)
    )


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    message = "Not Found" if status in (404, 405) else (error.name or "Error")
    return respond(
        {"message": message, "documentation_url": DOCS, "status": str(status)},
        404 if status == 405 else status,
    )


def _server_error(error: Exception) -> Response:
    _log.exception("unexpected error serving %s %s", request.method, request.path)
    return respond({"message": "Server Error"}, 500)
