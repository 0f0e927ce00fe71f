"""The runner's live output: a running container's whole lines, redacted, as they come."""

from __future__ import annotations

from pathlib import Path

from builders import pipeline, promise, request, sh

from gitbot.kratix.objects import Workflows
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import LiveOutput, WorkflowRunner
from gitbot.secrets import Redactor, config_map_store, secret_store


def test_live_output_reports_start_whole_redacted_lines_and_exit(
    engine: DockerEngine, tmp_path: Path
) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password").write_text("s3cr3t-value")
    redactor = Redactor()
    seen: list[LiveOutput] = []
    runner = WorkflowRunner(
        engine,
        secret_store(tmp_path, redactor),
        config_map_store(None, redactor),
        redactor,
        on_output=seen.append,
    )
    script = (
        "echo first; printf 'half'; sleep 0.3; echo ' line'; "
        "echo \"pw=$PW\"; printf 'no newline at the end'; exit 4"
    )
    env = ({"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},)
    target = WorkflowTarget(
        promise(workflows=Workflows(resource_configure=(pipeline("p", sh("c", script, env=env)),))),
        "configure",
        request(),
    )
    run = runner.run(target)
    assert run.failure is not None and run.failure.containers[0].exit_code == 4
    assert (seen[0].pipeline, seen[0].container, seen[0].state) == ("p", "c", "running")
    assert seen[0].text == "" and seen[0].target == target
    lines = "".join(o.text for o in seen if o.state == "running")
    # Whole lines only (a half line waits for its end); the last unterminated line comes with
    # the exit, which carries the whole log.
    assert lines == "first\nhalf line\npw=****\n"
    assert all(o.text.endswith("\n") for o in seen[1:-1])
    last = seen[-1]
    assert (last.state, last.exit_code) == ("exited", 4)
    assert last.text == "first\nhalf line\npw=****\nno newline at the end"
    assert "s3cr3t" not in "".join(o.text for o in seen)
