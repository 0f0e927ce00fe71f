"""Every process writes JSON log lines, gunicorn's own included, with no warning at start-up."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from processes_fixture import environment, free_port, procfile, started

from gitbot import logs
from gitbot.secrets import Redactor


def json_lines(output: str) -> list[dict[str, object]]:
    """Every line parsed as a JSON object (a line that is not one fails the test)."""
    entries = []
    for line in output.splitlines():
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def test_the_procfile_web_process_logs_json_gunicorn_lines_included(tmp_path: Path) -> None:
    env = environment(tmp_path)
    with started(procfile("web"), tmp_path, free_port(), env) as web:
        web.get("/healthz")
    entries = json_lines(web.output)
    by_logger = {e["logger"] for e in entries}
    assert {"gunicorn.error", "gunicorn.access"} <= by_logger
    messages = [str(e["message"]) for e in entries]
    assert any(m.startswith("Starting gunicorn") for m in messages)
    assert any('"GET /healthz HTTP/1.1" 200' in m for m in messages)
    assert [e for e in entries if e["level"] not in ("info", "debug")] == []


def test_the_worker_and_serve_log_json_with_no_warning_at_start(
    engine_url: str, tmp_path: Path
) -> None:
    env = {**environment(tmp_path), "GITBOT_ENGINE_URL": engine_url}
    port = free_port()
    worker = f"{procfile('worker')} --metrics-port {port}"
    with started(worker, tmp_path, port, env) as running:
        pass
    entries = json_lines(running.output)
    assert "worker started with 2 thread(s)" in [e["message"] for e in entries]
    assert [e for e in entries if e["level"] != "info"] == []
    port = free_port()
    with started(f"gitbot serve --port {port}", tmp_path, port, env) as running:
        running.get("/healthz")
    entries = json_lines(running.output)
    assert f"listening on http://127.0.0.1:{port}" in [e["message"] for e in entries]
    assert [e for e in entries if e["level"] != "info"] == []


def test_gunicorn_lines_are_redacted_once_gitbot_configured_logging() -> None:
    """gunicorn's handlers get the JSON formatter with the process's redactor."""
    logger = logging.getLogger("gunicorn.error")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        redactor = Redactor()
        redactor.add("s3cr3t-value-123")
        logs.configure(redactor)
        logger.error("token is s3cr3t-value-123")
        assert json.loads(stream.getvalue()) == {
            "time": json.loads(stream.getvalue())["time"],
            "level": "error",
            "logger": "gunicorn.error",
            "message": "token is ****",
        }
    finally:
        logger.removeHandler(handler)
        root.handlers[:], level = saved
        root.setLevel(level)
