"""What every console template may use: the form token, who is signed in, and time helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from gitbot.web import access


def context() -> dict[str, Any]:
    """The template context shared by the console's pages."""
    return {
        "csrf_token": access.csrf_token,
        "signed_in": access.signed_in,
        "actions_enabled": current_app.config["GITBOT"].console_token is not None,
        "when": when,
        "seconds": seconds,
        "here": request.full_path.rstrip("?"),
    }


def when(at: datetime | None) -> str:
    """A UTC time as `YYYY-MM-DD HH:MM:SS`, or "" for None."""
    return "" if at is None else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    """A duration for people: `0.42 s`, `12.3 s`, `4 min 05 s`."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def error_page(error: HTTPException) -> tuple[str, int]:
    """A refused or failed console request as a page of the console (navigation, sign-in).

    401 (no read token) offers a form for GITBOT_RUNS_TOKEN; a 403 that needs the console
    token links to the sign-in page."""
    code = error.code or 500
    message = error.description or error.name
    referrer = urlsplit(request.referrer or "")
    same_site = referrer.netloc == request.host and referrer.path.startswith("/")
    back = referrer.path + (f"?{referrer.query}" if referrer.query else "") if same_site else "/"
    html = render_template(
        "error.html",
        title=f"{code} {error.name}",
        message=message,
        needs_read_token=code == 401,
        needs_sign_in=code == 403
        and "console token" in message
        and current_app.config["GITBOT"].console_token is not None,
        back=back,
    )
    return html, code


def console_blueprint(name: str, import_name: str) -> Blueprint:
    """A console page's blueprint: the read token checked, sign-in remembered, the shared
    template context, and errors shown in the console's layout."""
    blueprint = Blueprint(name, import_name)
    blueprint.before_request(access.protect_reading)
    blueprint.after_request(access.remember)
    blueprint.context_processor(context)
    blueprint.register_error_handler(HTTPException, error_page)
    return blueprint
