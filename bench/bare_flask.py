"""The baseline for bench_webhook.py: a bare Flask handler that verifies the signature and
inserts one row into SQLite, served like gitbot (werkzeug, threaded).

    python bench/bare_flask.py PORT DB_PATH SECRET
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import sys
import threading

from flask import Flask, request
from werkzeug.serving import make_server

port, db_path, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
app = Flask(__name__)
local = threading.local()


def db() -> sqlite3.Connection:
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
        local.db.execute("PRAGMA journal_mode=WAL")
        local.db.execute("PRAGMA synchronous=NORMAL")
        local.db.execute("CREATE TABLE IF NOT EXISTS d (guid TEXT PRIMARY KEY, body BLOB)")
    return local.db


@app.post("/webhook")
def webhook() -> tuple[str, int]:
    body = request.get_data()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
        return "", 401
    db().execute(
        "INSERT OR IGNORE INTO d VALUES (?, ?)", (request.headers["X-GitHub-Delivery"], body)
    )
    return "", 202


make_server("127.0.0.1", port, app, threaded=True).serve_forever()
