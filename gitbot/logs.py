"""JSON log lines with gitbot's ids (delivery, installation, repository, job), secrets redacted.

Every process logs this way: `gitbot serve|web|worker` through `configure`, and gunicorn (the
Procfile's web process) through `gunicorn_logconfig`, which `gitbot/gunicorn_config.py` hands
to gunicorn so that its own `gunicorn.error` and `gunicorn.access` lines are JSON too.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from gitbot.secrets import Redactor

IDS = ("delivery", "installation", "repository", "job", "promise", "commit", "actor", "remote")
GUNICORN_LOGGERS = ("gunicorn.error", "gunicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every string passes the redactor."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redact(record.getMessage()),
        }
        for key in IDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure(redactor: Redactor, level: int = logging.INFO) -> None:
    """Send gitbot's logs (and the libraries') to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Under gunicorn its loggers keep their own handlers; from now on they redact what this
    # process knows to be secret, too.
    for name in GUNICORN_LOGGERS:
        for own in logging.getLogger(name).handlers:
            own.setFormatter(handler.formatter)


def json_formatter() -> JsonFormatter:
    """A JsonFormatter for logging's dictConfig (gunicorn's `logconfig_dict`)."""
    return JsonFormatter(Redactor())


def gunicorn_logconfig() -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its error and access lines as JSON on stderr."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "gitbot.logs.json_formatter"}},
        "handlers": {"json": handler},
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            name: {"level": "INFO", "handlers": ["json"], "propagate": False}
            for name in GUNICORN_LOGGERS
        },
    }
