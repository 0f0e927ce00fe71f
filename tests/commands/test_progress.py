"""Progress lines: a slow container's log lines show up without --verbose, a quick one's not."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import pipelines_promise_yaml

from gitbot.cli import main
from gitbot.commands import progress


def test_a_long_running_container_shows_its_lines_a_quick_one_does_not(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(progress, "LONG_CONTAINER_SECONDS", 0.5)
    promise = tmp_path / "promise.yaml"
    promise.write_text(
        pipelines_promise_yaml(
            "mixed", {"quick": "echo quick-line", "slow": "echo early; sleep 1; echo late"}
        )
    )
    assert main(["run", str(promise), "--progress", "always"]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        "Promise mixed: configure pipeline quick",
        "Promise mixed: quick/quick running",
        "Promise mixed: configure pipeline slow",
        "Promise mixed: slow/slow running",
        "  Promise mixed slow/slow | early",
        "  Promise mixed slow/slow | late",
    ]
    assert "quick-line" not in printed.err
    assert "pipeline slow: succeeded" in printed.out
