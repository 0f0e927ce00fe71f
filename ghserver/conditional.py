"""Conditional requests as GitHub answers them: an `ETag` on every REST read, and `304 Not
Modified` (no body, not counted against the rate limit) when `If-None-Match` names it.

GitHub documents this in "Best practices for using the REST API" and "Rate limits for the REST
API": a 304 to an authorized conditional request costs no rate-limit point.
"""

from __future__ import annotations

import hashlib

from flask import Response


def etag_of(body: bytes) -> str:
    """A weak entity tag for a JSON body, in GitHub's `W/"<hex>"` form."""
    return f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` header names this tag (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    wanted = _opaque(etag)
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or _opaque(candidate) == wanted:
            return True
    return False


def apply(response: Response, if_none_match: str | None) -> Response:
    """Tag a 200 answer to a read; a 304 without body when the client already holds it."""
    etag = etag_of(response.get_data())
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
    if not matches(if_none_match, etag):
        return response
    not_modified = Response(status=304)
    for name in ("ETag", "Vary", "X-GitHub-Media-Type", "Cache-Control", "Last-Modified"):
        if name in response.headers:
            not_modified.headers[name] = response.headers[name]
    return not_modified


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")
