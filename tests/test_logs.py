"""JSON log lines: every process writes them (gunicorn's own included, no warning at start-up),
one object per line with gitbot's ids, and no secret in any field."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes_fixture import environment, free_port, procfile, started

from gitbot import logs
from gitbot.logs import IDS, JsonFormatter
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


# --- the formatter against secrets -----------------------------------------------------------

SECRET = "hunter2-in-logs"


@pytest.fixture
def redactor() -> Redactor:
    found = Redactor()
    found.add(f"  {SECRET}\n")  # as read from a secret file
    return found


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("gitbot.worker", logging.ERROR, "f.py", 7, message, args, None)
    made.created = 1_700_000_000.25
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_line_is_one_json_object_with_time_level_logger_and_message(redactor: Redactor) -> None:
    line = JsonFormatter(redactor).format(record("job %d failed", 12))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2023-11-14T22:13:20.250+00:00",
        "level": "error",
        "logger": "gitbot.worker",
        "message": "job 12 failed",
    }


def test_secrets_are_redacted_in_the_message_and_its_arguments(redactor: Redactor) -> None:
    formatter = JsonFormatter(redactor)
    assert json.loads(formatter.format(record(f"pw={SECRET}")))["message"] == "pw=****"
    assert json.loads(formatter.format(record("pw=%s!", SECRET)))["message"] == "pw=****!"
    multi = json.loads(formatter.format(record("got %r", {"token": SECRET})))
    assert SECRET not in json.dumps(multi)


def test_secrets_are_redacted_in_the_traceback(redactor: Redactor) -> None:
    try:
        raise RuntimeError(f"cannot log in with {SECRET}")
    except RuntimeError:
        failed = record("boom")
        failed.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter(redactor).format(failed))
    assert "RuntimeError: cannot log in with ****" in entry["error"]
    assert SECRET not in json.dumps(entry)


def test_ids_that_are_not_json_are_written_as_text(redactor: Redactor) -> None:
    line = JsonFormatter(redactor).format(record("x", repository=Path("acme/src"), job=b"7"))
    assert json.loads(line)["repository"] == "acme/src"
    assert json.loads(line)["job"] == "b'7'"


def test_ids_are_kept_and_only_those_given(redactor: Redactor) -> None:
    entry = json.loads(
        JsonFormatter(redactor).format(
            record("x", job=12, delivery="d-1", repository="acme/src", other="no")
        )
    )
    assert {k: entry[k] for k in IDS if k in entry} == {
        "job": 12,
        "delivery": "d-1",
        "repository": "acme/src",
    }
    assert "other" not in entry and "promise" not in entry


NOISY = ("werkzeug", "apscheduler")


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, [logging.getLogger(n).level for n in NOISY])
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    root.handlers[:], level, noisy = saved
    root.setLevel(level)
    for name, noisy_level in zip(NOISY, noisy, strict=True):
        logging.getLogger(name).setLevel(noisy_level)


def test_configure_sends_every_logger_through_the_redacting_formatter(
    redactor: Redactor, root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(redactor)  # a handler on sys.stderr as it is now: pytest's capture
    logging.getLogger("urllib3").warning("Authorization: Bearer %s", SECRET)
    logging.getLogger("gitbot").debug("not at info level")
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert entries == [
        {
            "time": entries[0]["time"],
            "level": "warning",
            "logger": "urllib3",
            "message": "Authorization: Bearer ****",
        }
    ]
    # Each request and each scheduler tick would be a line: only their warnings.
    assert [logging.getLogger(n).level for n in NOISY] == [logging.WARNING] * 2
    assert logging.getLogger().level == logging.INFO
