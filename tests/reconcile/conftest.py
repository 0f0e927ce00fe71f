"""What reconcile tests share: an empty source repository, a bare state repository, and
`gitbot reconcile --direct` between them with a data directory of the test's own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from gitfixtures import init_source, init_state

from gitbot.cli import main

Reconcile = Callable[..., tuple[int, str]]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return init_source(tmp_path / "source", with_examples=False)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return init_state(tmp_path / "state.git")


@pytest.fixture
def reconcile(
    engine_url: str,
    source: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Reconcile:
    """Run `gitbot reconcile --direct [extra...]`; its exit code and everything it printed."""
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))

    def run(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(
            ["reconcile", "--source", str(source), "--state", str(state), "--direct", *extra]
        )
        printed = capsys.readouterr()
        return code, printed.out + printed.err

    return run
