"""Who may read the console and who may act on it, and protection against cross-site requests.

Reading: with GITBOT_RUNS_TOKEN set, that token (header `Authorization: Bearer ...`, or `?token=`
once, remembered in a cookie); without one, only clients on this machine, so the pages are never
exposed by accident.

Acting ("reconcile now", "run again"): also the console token, GITBOT_CONSOLE_TOKEN, given once
with the asker's name in the console's sign-in form (remembered in a cookie that holds the name
and an HMAC of it, never the token) or with each request; without that setting nobody may act.

Cross-site requests: every form carries a random token that must equal the one in a
SameSite=Strict cookie (a double submit: another site can neither read the cookie nor make the
browser send it), and a request whose `Origin` or `Sec-Fetch-Site` says another site is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from flask import Response, abort, current_app, g, request

READ_COOKIE = "gitbot_runs"
ACT_COOKIE = "gitbot_console"
CSRF_COOKIE = "gitbot_csrf"
CSRF_FIELD = "csrf"
ACTOR = re.compile(r"[\w.@+ -]{1,64}")  # a name fit for logs: no newlines or control characters


def protect_reading() -> None:
    """Refuse a reader without the runs token (or from another machine when there is none)."""
    token = current_app.config["GITBOT"].runs_token
    if token is not None and request.endpoint == "console.read_sign_in":
        return  # the form that takes the token checks it itself
    if token is None:
        if request.remote_addr not in ("127.0.0.1", "::1"):
            abort(403, "the console answers only this machine unless GITBOT_RUNS_TOKEN is set")
        return
    given = request.cookies.get(READ_COOKIE) or request.args.get("token") or ""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        given = header[len("Bearer ") :]
    if not hmac.compare_digest(given.encode(), str(token).encode()):
        abort(401, "the console needs GITBOT_RUNS_TOKEN")


def remember(response: Response) -> Response:
    """Keep the runs token given once as `?token=`, and hand out the form token."""
    if request.args.get("token"):
        response.set_cookie(READ_COOKIE, request.args["token"], httponly=True, samesite="Strict")
    if getattr(g, "new_csrf", None):
        response.set_cookie(CSRF_COOKIE, g.new_csrf, httponly=True, samesite="Strict")
    return response


def csrf_token() -> str:
    """The form token of this browser (made now, and set as a cookie, if it has none)."""
    existing = request.cookies.get(CSRF_COOKIE) or getattr(g, "new_csrf", None)
    if existing:
        return str(existing)
    g.new_csrf = secrets.token_urlsafe(24)
    return str(g.new_csrf)


def check_same_site() -> None:
    """Refuse a state-changing request that another site may have made (403)."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        abort(403, "cross-site request refused")
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        expected = urlsplit(request.host_url)
        given = urlsplit(origin)
        if (given.scheme, given.netloc) != (expected.scheme, expected.netloc):
            abort(403, "cross-site request refused: Origin is another site")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    field = request.form.get(CSRF_FIELD, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), field.encode()):
        abort(
            403, "cross-site request refused: the form token is missing or wrong; reload the page"
        )


def signature(token: str, actor: str) -> str:
    """The cookie's proof that `actor` gave the console token."""
    return hmac.new(token.encode(), f"gitbot-console:{actor}".encode(), hashlib.sha256).hexdigest()


def actor_cookie(actor: str) -> str:
    """The value of the act cookie for a signed-in asker."""
    token = current_app.config["GITBOT"].console_token
    assert token is not None
    return f"{actor}|{signature(str(token), actor)}"


def valid_actor(name: str) -> str:
    """The asker's name, stripped; 400 unless it is a plain name."""
    name = name.strip()
    if not ACTOR.fullmatch(name):
        abort(400, "give your name (letters, digits, spaces, . @ + - _; at most 64)")
    return name


def require_actor() -> str:
    """Who asks for an action: 403 without the console token, from the form or the cookie."""
    token = current_app.config["GITBOT"].console_token
    if token is None:
        abort(403, "actions are off: set GITBOT_CONSOLE_TOKEN to allow them")
    given = request.form.get("console_token", "")
    if given:
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            abort(403, "wrong console token (GITBOT_CONSOLE_TOKEN)")
        return valid_actor(request.form.get("actor", ""))
    actor, _, proof = request.cookies.get(ACT_COOKIE, "").rpartition("|")
    if actor and hmac.compare_digest(proof.encode(), signature(str(token), actor).encode()):
        return actor
    abort(403, "this action needs the console token (GITBOT_CONSOLE_TOKEN): sign in first")


def signed_in() -> str | None:
    """The name of the signed-in asker, if the act cookie is valid."""
    token = current_app.config["GITBOT"].console_token
    if token is None:
        return None
    actor, _, proof = request.cookies.get(ACT_COOKIE, "").rpartition("|")
    if actor and hmac.compare_digest(proof.encode(), signature(str(token), actor).encode()):
        return actor
    return None
