"""gitbot's long-running processes as the Procfile starts them, for log and metrics tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Started:
    """A process that was started; `output` holds its stdout and stderr once it stopped."""

    url: str
    process: subprocess.Popen[str]
    output: str = field(default="")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return str(response.read().decode())


def environment(tmp: Path) -> dict[str, str]:
    """What gitbot's server processes need to start, with no GitHub call made at start-up."""
    return {
        **os.environ,
        # gunicorn and gitbot from the environment the tests run in, as the Procfile expects.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITBOT_DATA_DIR": str(tmp / "data"),
        "GITBOT_WEBHOOK_SECRET": "a-webhook-secret-for-tests",
        "GITBOT_GITHUB_TOKEN": "a-token-that-is-never-used",
        "GITBOT_GITHUB_API_URL": "http://127.0.0.1:9/api/v3",
        "HOME": str(tmp),  # gunicorn's control socket goes under $HOME
    }


def procfile(name: str) -> str:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line)[name]


@contextmanager
def started(command: str, tmp: Path, port: int, env: dict[str, str]) -> Iterator[Started]:
    """Start `command` in a shell, wait until it answers /healthz or /metrics on port, and
    stop it with SIGTERM on the way out."""
    process = subprocess.Popen(
        ["sh", "-c", f"exec {command}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PORT": str(port), "WEB_CONCURRENCY": "2"},
        cwd=tmp,
    )
    running = Started(f"http://127.0.0.1:{port}", process)
    try:
        _wait_until_answering(running)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            running.output, _ = process.communicate(timeout=60)
        finally:
            process.kill()


def _wait_until_answering(running: Started) -> None:
    deadline = time.monotonic() + 60
    while True:
        for path in ("/healthz", "/metrics"):
            try:
                running.get(path)
                return
            except (urllib.error.URLError, ConnectionError):
                pass
        if running.process.poll() is not None:
            output = running.process.stdout.read() if running.process.stdout else ""
            raise AssertionError(f"the process stopped: {output}")
        assert time.monotonic() < deadline, "the process never answered"
        time.sleep(0.2)
