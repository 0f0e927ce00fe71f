"""Flask app factory: the webhook, health, metrics and runs pages over one Store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from gitbot.secrets import Secret
from gitbot.web import health, runs, setup, webhook
from gitbot.work.store import Store


@dataclass
class WebConfig:
    """What the web layer needs; `ready_checks` name -> callable raising when unhealthy."""

    webhook_secret: Secret
    store: Store
    runs_token: Secret | None = None
    ready_checks: dict[str, Any] = field(default_factory=dict)


def create_app(config: WebConfig) -> Flask:
    """A Flask app; gitbot refuses to start without a webhook secret."""
    if not config.webhook_secret:
        raise ValueError("a webhook secret is required (GITBOT_WEBHOOK_SECRET)")
    app = Flask(__name__)  # templates in gitbot/web/templates
    app.config["GITBOT"] = config
    app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(runs.blueprint)
    app.register_blueprint(setup.blueprint)
    return app
