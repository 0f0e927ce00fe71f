"""Bot-wide settings from GITBOT_* environment variables, validated with every problem at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gitbot.durations import parse_go_duration
from gitbot.errors import UserError
from gitbot.secrets import Secret

T = TypeVar("T")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DELIVERY_RETENTION = 30 * 86400.0


@dataclass(frozen=True)
class Settings:
    """Operator settings; CLI flags override them per command."""

    engine_url: str | None = None
    container_timeout: float = 600.0
    allow_privileged: bool = False
    default_pull_policy: str | None = None
    container_network: str | None = None
    max_output_files: int = 1000
    max_output_bytes: int = 64 * 1024 * 1024
    work_dir: Path | None = None
    secrets_dir: Path | None = None
    config_maps_dir: Path | None = None
    data_dir: Path = Path(".gitbot-data")
    workers: int = 2
    git_timeout: float = 120.0
    github_api_url: str = "https://api.github.com"
    github_app_id: int | None = None
    github_private_key_file: Path | None = None
    github_token: Secret | None = None
    github_timeout: float = 30.0
    github_write_interval: float = 1.0
    webhook_secret: Secret | None = None
    database_url: str = ""
    runs_token: Secret | None = None
    console_token: Secret | None = None
    reconcile_interval: float = 10 * 3600.0
    delivery_retention: float = DELIVERY_RETENTION  # seconds a delivery's payload is kept
    poll_interval: float = 300.0  # 0: no poller


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment; UserError lists every invalid variable."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    def get(name: str, parse: Callable[[str], T], default: T) -> T:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as e:
            problems.append(f"{name}={raw!r}: {e}")
            return default

    settings = Settings(
        engine_url=env.get("GITBOT_ENGINE_URL") or env.get("DOCKER_HOST") or None,
        container_timeout=get("GITBOT_CONTAINER_TIMEOUT", _positive_float, 600.0),
        allow_privileged=get("GITBOT_ALLOW_PRIVILEGED", _boolean, False),
        default_pull_policy=get("GITBOT_DEFAULT_IMAGE_PULL_POLICY", _pull_policy, None),
        container_network=env.get("GITBOT_CONTAINER_NETWORK") or None,
        max_output_files=get("GITBOT_MAX_OUTPUT_FILES", _positive_int, 1000),
        max_output_bytes=get("GITBOT_MAX_OUTPUT_BYTES", _positive_int, 64 * 1024 * 1024),
        work_dir=get("GITBOT_WORK_DIR", _directory, None),
        secrets_dir=get("GITBOT_SECRETS_DIR", _directory, None),
        config_maps_dir=get("GITBOT_CONFIG_MAPS_DIR", _directory, None),
        # Absolute: gitbot runs git in other folders, where a relative path means another place.
        data_dir=Path(env.get("GITBOT_DATA_DIR") or _default_data_dir(env)).absolute(),
        workers=get("GITBOT_WORKERS", _positive_int, 2),
        git_timeout=get("GITBOT_GIT_TIMEOUT", _positive_float, 120.0),
        github_api_url=(env.get("GITBOT_GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
        github_app_id=get("GITBOT_GITHUB_APP_ID", _positive_int, None),
        github_private_key_file=get("GITBOT_GITHUB_PRIVATE_KEY_FILE", _file, None),
        github_token=_secret(env, "GITBOT_GITHUB_TOKEN"),
        github_timeout=get("GITBOT_GITHUB_TIMEOUT", _positive_float, 30.0),
        github_write_interval=get("GITBOT_GITHUB_WRITE_INTERVAL", _non_negative_float, 1.0),
        webhook_secret=_secret(env, "GITBOT_WEBHOOK_SECRET"),
        database_url=env.get("GITBOT_DATABASE_URL", ""),
        runs_token=_secret(env, "GITBOT_RUNS_TOKEN"),
        console_token=_secret(env, "GITBOT_CONSOLE_TOKEN"),
        reconcile_interval=get("GITBOT_RECONCILE_INTERVAL", _duration_seconds, 10 * 3600.0),
        delivery_retention=get("GITBOT_DELIVERY_RETENTION", _retention_seconds, DELIVERY_RETENTION),
        poll_interval=get("GITBOT_POLL_INTERVAL", _poll_interval, 300.0),
    )
    if problems:
        raise UserError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems))
    return settings


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be a positive number")
    return value


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "")
    return Secret(value) if value else None


def _duration_seconds(raw: str) -> float:
    seconds = parse_go_duration(raw).total_seconds()
    if seconds < 60:
        raise ValueError("must be at least 1m")
    return seconds


def _retention_seconds(raw: str) -> float:
    """A Go duration (`720h`) or whole days (`30d`), at least one hour."""
    if raw.endswith("d") and raw[:-1].isdigit():
        seconds = int(raw[:-1]) * 86400.0
    else:
        seconds = parse_go_duration(raw).total_seconds()
    if seconds < 3600:
        raise ValueError("must be at least 1h (or a number of days, like 30d)")
    return seconds


def _poll_interval(raw: str) -> float:
    """A Go duration (`5m`, `30s`) or seconds; 0 turns the poller off."""
    try:
        seconds = float(raw)
    except ValueError:
        seconds = parse_go_duration(raw).total_seconds()
    if seconds < 0:
        raise ValueError("must not be negative")
    if 0 < seconds < 1:
        raise ValueError("must be 0 (off) or at least 1s")
    return seconds


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _file(raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise ValueError("is not a file")
    return path


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _pull_policy(raw: str) -> str:
    if raw not in PULL_POLICIES:
        raise ValueError(f"must be one of {', '.join(PULL_POLICIES)}")
    return raw


def _directory(raw: str) -> Path:
    path = Path(raw)
    if not path.is_dir():
        raise ValueError("is not a directory")
    return path


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or "~").expanduser() / ".local/share"
    )
    return Path(base) / "gitbot"


def database_url(settings: Settings) -> str:
    """GITBOT_DATABASE_URL, or a SQLite file in the data directory."""
    return settings.database_url or f"sqlite:///{settings.data_dir / 'gitbot.db'}"
