"""`gitbot worker` on SQLite: one worker process per database, a second one is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_second_sqlite_worker_is_refused(tmp_path: Path, engine_url: str) -> None:
    env = {
        **os.environ,
        "DOCKER_HOST": engine_url,
        "GITBOT_DATA_DIR": str(tmp_path / "data"),
        "GITBOT_WEBHOOK_SECRET": "s3cret",
        "GITBOT_GITHUB_TOKEN": "t",
        "GITBOT_GITHUB_API_URL": "http://127.0.0.1:9",  # never called: no repositories
    }
    env.pop("GITBOT_DATABASE_URL", None)
    command = [sys.executable, "-m", "gitbot", "worker"]
    first = subprocess.Popen(
        command, env=env, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        assert first.stderr is not None
        for line in first.stderr:  # JSON log lines; wait until the worker runs
            if "worker started" in line:
                break
        else:
            raise AssertionError(f"the first worker stopped: exit {first.wait()}")
        second = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert (second.returncode, second.stdout) == (1, "")
        assert second.stderr.startswith("gitbot: error: another gitbot worker (process ")
        assert second.stderr.endswith(
            f"already uses the SQLite database sqlite:///{tmp_path / 'data' / 'gitbot.db'}: "
            "SQLite supports one worker process (raise GITBOT_WORKERS to run more jobs at once); "
            "for workers on several machines use PostgreSQL (GITBOT_DATABASE_URL)\n"
        )
        assert f"-{first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
        if first.stderr is not None:
            first.stderr.close()
