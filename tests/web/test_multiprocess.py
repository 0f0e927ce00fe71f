"""The gunicorn workers' shared metrics folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitbot.web.multiprocess import ENV, share_metrics_between_workers


def test_workers_of_one_master_share_a_folder_and_gone_masters_folders_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, "set")  # so that the teardown restores the variable's absence
    monkeypatch.delenv(ENV)
    root = tmp_path / "web-metrics"
    gone = root / "metrics-999999999"
    gone.mkdir(parents=True)
    (gone / "counter_1.db").write_bytes(b"old")
    running = root / f"metrics-{os.getpid()}"  # a live process: not ours, but not gone either
    running.mkdir()
    share_metrics_between_workers(tmp_path)
    assert os.environ[ENV] == str(root / f"metrics-{os.getppid()}")
    assert sorted(p.name for p in root.iterdir()) == sorted(
        {f"metrics-{os.getppid()}", f"metrics-{os.getpid()}"}
    )


def test_an_operators_own_folder_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(tmp_path / "mine"))
    share_metrics_between_workers(tmp_path)
    assert os.environ[ENV] == str(tmp_path / "mine")
    assert not (tmp_path / "web-metrics").exists()
