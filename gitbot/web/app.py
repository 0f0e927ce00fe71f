"""Flask app factory: the webhook, health, metrics and the console pages over one Store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from gitbot.secrets import Secret
from gitbot.statusdb import ObjectStatuses, StatusStore
from gitbot.web import console, deliveries, health, runs, setup, webhook
from gitbot.web.overview import ResultCache
from gitbot.work.store import Store


@dataclass
class WebConfig:
    """What the web layer needs; `ready_checks` name -> callable raising when unhealthy.

    `statuses` is the workers' object status store when they share the work database;
    otherwise `status_path` is their SQLite status file (opened when it exists, read only);
    `reconcile_interval` (seconds) is the scheduler's default, to show when a rerun is due."""

    webhook_secret: Secret
    store: Store
    runs_token: Secret | None = None
    ready_checks: dict[str, Any] = field(default_factory=dict)
    console_token: Secret | None = None
    status_path: Path | None = None
    statuses: ObjectStatuses | None = None
    reconcile_interval: float = 10 * 3600.0
    results: ResultCache = field(default_factory=ResultCache, repr=False)
    _status: StatusStore | None = field(default=None, init=False, repr=False)

    def status(self) -> ObjectStatuses | None:
        """The object status store, once the workers have made it."""
        if self.statuses is not None:
            return self.statuses
        if self._status is None and self.status_path is not None and self.status_path.exists():
            self._status = StatusStore(self.status_path)
        return self._status


def create_app(config: WebConfig) -> Flask:
    """A Flask app; gitbot refuses to start without a webhook secret."""
    if not config.webhook_secret:
        raise ValueError("a webhook secret is required (GITBOT_WEBHOOK_SECRET)")
    app = Flask(__name__)  # templates in gitbot/web/templates, static files in gitbot/web/static
    app.config["GITBOT"] = config
    app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(console.blueprint)
    app.register_blueprint(runs.blueprint)
    app.register_blueprint(setup.blueprint)
    app.register_blueprint(deliveries.blueprint)
    return app
