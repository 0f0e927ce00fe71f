"""GET /github/app-created: where GitHub sends the browser after registering the App from
deploy/github-app-manifest.json (its `redirect_url`), with the one-hour code to exchange."""

from __future__ import annotations

import re
from html import escape

from flask import Blueprint, Response, request

blueprint = Blueprint("setup", __name__)
PATH = "/github/app-created"
_CODE = re.compile(r"[A-Za-z0-9_-]{1,100}")


@blueprint.get(PATH)
def app_created() -> Response:
    """The exchange command for `?code=`; GitHub's code is single-use and expires in an hour."""
    code = request.args.get("code", "")
    if not _CODE.fullmatch(code):
        body = "<p>No registration code here: GitHub adds <code>?code=</code> after you create "
        body += "the App from <code>deploy/github-app-manifest.json</code>.</p>"
        return _page(body, 400)
    command = (
        "curl -sX POST -H 'Accept: application/vnd.github+json' "
        f"https://api.github.com/app-manifests/{code}/conversions > app.json"
    )
    body = (
        "<p>GitHub registered the App. Within one hour, exchange the code for the App's id, "
        "private key and webhook secret (on GitHub Enterprise Server use "
        "<code>https://HOST/api/v3/app-manifests/...</code>), then follow "
        "<code>deploy/README.md</code>, step 1.4:</p>"
        f"<pre>{escape(command)}</pre>"
    )
    state = request.args.get("state")
    if state:
        body += (
            f"<p>Check that the state is the one you generated: <code>{escape(state)}</code></p>"
        )
    return _page(body, 200)


def _page(body: str, status: int) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>gitbot — GitHub App</title></head><body><h1>gitbot: GitHub App</h1>"
        f"{body}</body></html>"
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the code is a credential for an hour
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
