"""Prometheus metrics shared by gunicorn's web workers.

Each gunicorn worker is a process with its own counters, and a scrape reaches only one of them.
prometheus_client's multiprocess mode keeps every worker's values in files of one folder and adds
them up at scrape time. The folder is named after the gunicorn master, so a restart starts from
fresh files; folders of masters that are gone are removed. It must be chosen before
prometheus_client is first imported.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gitbot.processes import alive

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PREFIX = "metrics-"


def share_metrics_between_workers(data_dir: Path) -> None:
    """Point prometheus_client at this gunicorn master's folder (unless the operator did)."""
    if ENV in os.environ:
        return
    master = os.getppid()
    root = data_dir / "web-metrics"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob(f"{_PREFIX}*"):
        pid = old.name.removeprefix(_PREFIX)
        if pid.isdigit() and int(pid) != master and not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    folder = root / f"{_PREFIX}{master}"
    folder.mkdir(exist_ok=True)
    os.environ[ENV] = str(folder)
