"""Output piped into a reader that leaves early (`| head -1`): no traceback, the work finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gitfixtures import branches, files_on, init_source, init_state

from gitbot.commands.pipes import EXIT_BROKEN_PIPE

ROOT = Path(__file__).resolve().parent.parent.parent


def _head(args: list[str], env: dict[str, str], lines: int) -> tuple[str, int, str]:
    """`gitbot ARGS | head -LINES`: what head read, gitbot's exit code and its stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gitbot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    first = "".join(process.stdout.readline() for _ in range(lines))
    process.stdout.close()  # the reader leaves, as head does
    err = process.stderr.read()
    process.stderr.close()
    return first, process.wait(timeout=600), err


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "GITBOT_DATA_DIR": str(tmp_path / "data")}


def test_reconcile_into_a_closed_pipe_finishes_its_writes_without_a_traceback(
    example_images: list[str], tmp_path: Path
) -> None:
    source = init_source(tmp_path / "source")
    state = init_state(tmp_path / "state.git")
    args = ["reconcile", "--source", str(source), "--state", str(state)]
    first, code, err = _head(args, _env(tmp_path), 1)
    assert first.startswith(f"source {source} at ")
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == EXIT_BROKEN_PIPE
    # Every branch was written whole: a rerun finds nothing to push.
    assert branches(state) == ["gitbot/app-namespace", "gitbot/postgres", "main"]
    assert ".gitbot/objects/postgres/shop.orders.yaml" in files_on(state, "gitbot/postgres")
    again = subprocess.run(
        [sys.executable, "-m", "gitbot", *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        cwd=ROOT,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.rstrip().endswith("nothing changed: nothing pushed")


def test_run_into_a_closed_pipe_exits_without_a_traceback(
    example_images: list[str], tmp_path: Path
) -> None:
    promise = str(ROOT / "promises" / "postgres" / "promise.yaml")
    request = str(ROOT / "promises" / "postgres" / "resource-request.yaml")
    # The reader leaves before anything comes: `run` prints at its end, so its last write (the
    # interpreter's flush at exit before the fix) meets the closed pipe.
    _, code, err = _head(["run", promise, "--resource", request], _env(tmp_path), 0)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == EXIT_BROKEN_PIPE
