"""Assemble the long-running parts from settings: store, web app, worker pool, scheduler."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from gitbot.errors import UserError
from gitbot.github.client import GitHubApp
from gitbot.github.settings import github_app
from gitbot.gitrepo import RepoCache
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.setup import runner_config
from gitbot.secrets import Redactor
from gitbot.settings import Settings, database_url
from gitbot.statusdb import STATUS_FILE, ObjectStatuses, StatusStore
from gitbot.web.app import WebConfig, create_app
from gitbot.work.handlers import Service
from gitbot.work.poller import Poller
from gitbot.work.pool import WorkerPool
from gitbot.work.scheduler import PeriodicReconciles
from gitbot.work.store import SharedStatusStore, Store


@dataclass
class Parts:
    """What `serve`, `web` and `worker` run."""

    store: Store
    github: GitHubApp
    redactor: Redactor
    pool: WorkerPool | None = None
    scheduler: PeriodicReconciles | None = None


def build(settings: Settings, redactor: Redactor, *, worker: bool, lease: float = 60.0) -> Parts:
    """The store and GitHub client, plus the worker pool and scheduler when `worker`."""
    if settings.webhook_secret is None:
        raise UserError(
            "gitbot refuses to start without a webhook secret: set GITBOT_WEBHOOK_SECRET"
        )
    redactor.add(settings.webhook_secret)
    for token in (settings.runs_token, settings.console_token):
        if token is not None:
            redactor.add(token)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(database_url(settings))
    if worker:
        store.lock_worker()  # SQLite: one worker process; PostgreSQL: any number
    github = github_app(settings, redactor)
    parts = Parts(store, github, redactor)
    if worker:
        cache = RepoCache(
            settings.data_dir / "repos",
            timeout=settings.git_timeout,
            auth_header=github.git_auth_header,
            redactor=redactor,
        )
        service = Service(
            store,
            github,
            cache,
            object_statuses(settings, store),
            runner_config(settings),
            redactor,
            settings.workers,
        )
        parts.pool = WorkerPool(
            store, service.handle, threads=settings.workers, lease=lease, redactor=redactor
        )
        parts.scheduler = PeriodicReconciles(
            store,
            settings.reconcile_interval,
            retention=settings.delivery_retention,
            lease=lease,
            poller=Poller(store, github),
            poll_interval=settings.poll_interval,
        )
    return parts


def object_statuses(settings: Settings, store: Store) -> ObjectStatuses:
    """Where workers keep each object's status: the work database when GITBOT_DATABASE_URL names
    one (every worker, on any machine, shares it), else the status file in the data directory."""
    if settings.database_url:
        return SharedStatusStore(store)
    return StatusStore(settings.data_dir / STATUS_FILE)


def web_app(settings: Settings, parts: Parts) -> Flask:
    """The Flask app with readiness checks for everything this process depends on."""
    assert settings.webhook_secret is not None
    checks = {
        "data directory": lambda: _data_dir_usable(settings.data_dir),
        "github": parts.github.ping,
        "engine": lambda: _engine_ping(settings),
    }
    if parts.scheduler is not None:
        scheduler = parts.scheduler
        checks["scheduler"] = lambda: _require(scheduler.running, "the scheduler is not running")
    return create_app(
        WebConfig(
            settings.webhook_secret,
            parts.store,
            settings.runs_token,
            checks,
            console_token=settings.console_token,
            status_path=settings.data_dir / STATUS_FILE,
            statuses=SharedStatusStore(parts.store) if settings.database_url else None,
            reconcile_interval=settings.reconcile_interval,
        )
    )


def _engine_ping(settings: Settings) -> None:
    engine = DockerEngine(settings.engine_url, api_timeout=5)
    try:
        engine.ping()
    finally:
        engine.close()


def _data_dir_usable(data_dir: Path) -> None:
    """Raise unless the data directory (repository caches, status, SQLite) can be written."""
    _require(data_dir.is_dir(), f"{data_dir} is gone")
    _require(os.access(data_dir, os.W_OK | os.X_OK), f"{data_dir} is not writable")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RuntimeError(message)
