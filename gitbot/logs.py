"""JSON log lines with gitbot's ids (delivery, installation, repository, job), secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from gitbot.secrets import Redactor

IDS = ("delivery", "installation", "repository", "job", "promise", "commit", "actor", "remote")


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
