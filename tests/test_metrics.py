"""The metrics gitbot exports: each in the README's table, and clean for `promtool`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from processes_fixture import environment, free_port, procfile, started

ROOT = Path(__file__).resolve().parent.parent

# Every labelled metric gets one sample, in a process of its own (the registry is global).
EXPORT = """
import gitbot.metrics as m
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase
for value in vars(m).values():
    if isinstance(value, MetricWrapperBase) and value._labelnames:
        child = value.labels(*["x"] * len(value._labelnames))
        getattr(child, "inc", None) and child.inc()
        getattr(child, "observe", None) and child.observe(1.5)
print(generate_latest().decode(), end="")
"""


def exported() -> str:
    result = subprocess.run(
        [sys.executable, "-c", EXPORT], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


def types(text: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (gitbot_\w+) (\w+)$", text, re.MULTILINE))


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )


def test_the_readme_table_lists_every_metric_with_its_type_and_labels() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `(gitbot_\w+)` \| (\w+) \|([^|]*)\|", readme, re.MULTILINE)
    text = exported()
    assert {name: kind for name, kind, _ in rows} == types(text)
    for name, _, labels in rows:
        sample = next(
            line for line in text.splitlines() if re.match(rf"{name}(_bucket)?[{{ ]", line)
        )
        found = set(re.findall(r'(\w+)="', sample.partition("{")[2])) - {"le"}
        assert found == set(re.findall(r"`(\w+)`", labels)), name


def test_build_info_names_the_version() -> None:
    from gitbot import __version__

    assert 'gitbot_build_info{python_version="' in exported()
    assert f'version="{__version__}"}} 1.0' in exported()


def test_promtool_finds_nothing_to_say_about_the_metrics() -> None:
    result = promtool(exported())
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_promtool_is_clean_on_the_web_process_metrics_too(tmp_path: Path) -> None:
    """Under gunicorn, metrics go through prometheus_client's multiprocess mode."""
    with started(procfile("web"), tmp_path, free_port(), environment(tmp_path)) as web:
        text = web.get("/metrics")
    assert "gitbot_build_info{" in text
    result = promtool(text)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
