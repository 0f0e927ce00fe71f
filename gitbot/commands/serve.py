"""`gitbot serve` (web, worker and scheduler in one process), `gitbot web`, `gitbot worker`."""

from __future__ import annotations

import argparse
import logging
import threading
from typing import TextIO

from prometheus_client import start_http_server
from werkzeug.serving import make_server

from gitbot import logs
from gitbot.errors import EXIT_OK, GitbotError
from gitbot.pipeline.engine import DockerEngine
from gitbot.processes import StopSignals
from gitbot.runtime import build, web_app
from gitbot.secrets import Redactor
from gitbot.settings import load_settings

log = logging.getLogger("gitbot")


def serve_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run the parts the command names until SIGINT or SIGTERM."""
    stop = StopSignals()  # first, so that a signal during start-up still stops in order
    settings = load_settings()
    redactor = Redactor()
    logs.configure(redactor)
    with_worker = args.command in ("serve", "worker")
    if with_worker:
        _remove_orphans(settings.engine_url)  # before the scheduler's first run falls due
    parts = build(settings, redactor, worker=with_worker, lease=args.lease)
    server = None
    metrics = None
    if args.command in ("serve", "web"):
        server = make_server(args.host, args.port, web_app(settings, parts), threaded=True)
        threading.Thread(target=server.serve_forever, name="gitbot-web", daemon=True).start()
        log.info("listening on http://%s:%d", args.host, server.server_port)
    if parts.pool is not None and parts.scheduler is not None:
        parts.pool.start()
        parts.scheduler.start()
        log.info("worker started with %d thread(s)", parts.pool.threads)
    if getattr(args, "metrics_port", None) is not None:
        # The web process cannot see the worker's counters: `gitbot worker` exports its own.
        metrics, _ = start_http_server(args.metrics_port, args.metrics_host)
        log.info("worker metrics on http://%s:%d/metrics", args.metrics_host, metrics.server_port)
    stop.wait()
    log.info("stopping")
    if server is not None:
        server.shutdown()
    if metrics is not None:
        metrics.shutdown()
    if parts.scheduler is not None:
        parts.scheduler.stop()
    if parts.pool is not None:
        parts.pool.stop()
    parts.store.close()
    return EXIT_OK


def _remove_orphans(engine_url: str | None) -> None:
    engine = DockerEngine(engine_url)
    try:
        removed = engine.remove_orphans()
        if removed:
            log.info("removed %d container(s) left by stopped gitbot processes", removed)
    except GitbotError:
        log.exception("cannot look for containers left by stopped gitbot processes")
    finally:
        engine.close()
