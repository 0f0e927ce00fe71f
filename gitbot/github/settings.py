"""The GitHub App from gitbot's settings."""

from __future__ import annotations

from gitbot.errors import UserError
from gitbot.github.client import GitHubApp, GitHubSettings
from gitbot.secrets import Redactor, Secret
from gitbot.settings import Settings


def github_app(settings: Settings, redactor: Redactor) -> GitHubApp:
    """A GitHubApp for GITBOT_GITHUB_*; UserError naming what is missing."""
    key = None
    if settings.github_private_key_file is not None:
        try:
            key = Secret(settings.github_private_key_file.read_text(encoding="utf-8"))
        except OSError as e:
            raise UserError(f"cannot read GITBOT_GITHUB_PRIVATE_KEY_FILE: {e}") from e
        redactor.add(key)
    return GitHubApp(
        GitHubSettings(
            api_url=settings.github_api_url,
            app_id=settings.github_app_id,
            private_key=key,
            token=settings.github_token,
            timeout=settings.github_timeout,
            write_interval=settings.github_write_interval,
            request_interval=min(0.25, settings.github_write_interval),
        ),
        redactor,
    )
