"""What a reconcile reports as succeeded, per Promise (the last-successful-reconcile metric)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from builders import script_promise_yaml
from gitfixtures import commit_all, init_source, init_state, write

from gitbot.gitrepo import RepoCache
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import WorkflowRunner
from gitbot.pipeline.setup import make_runner, runner_config
from gitbot.reconcile.repositories import LocalFeedback, ReconcileRequest, reconcile
from gitbot.secrets import Redactor
from gitbot.settings import Settings
from gitbot.statusdb import StatusStore


def test_only_promises_whose_workflows_and_branch_succeeded_count(
    engine_url: str, tmp_path: Path
) -> None:
    source = init_source(tmp_path / "source", with_examples=False)
    paused = script_promise_yaml("resting", "true").replace(
        "  name: resting\n", '  name: resting\n  labels: {"kratix.io/paused": "true"}\n'
    )
    write(
        source,
        {
            "good.yaml": script_promise_yaml("good", "echo ok"),
            "bad.yaml": script_promise_yaml("bad", "exit 3"),
            "resting.yaml": paused,
        },
    )
    commit_all(source, "three Promises")
    state = init_state(tmp_path / "state.git")
    config = runner_config(Settings(engine_url=engine_url))
    redactor = Redactor()

    @contextmanager
    def runners() -> Iterator[WorkflowRunner]:
        engine = DockerEngine(engine_url)
        try:
            yield make_runner(config, engine, redactor)
        finally:
            engine.close()

    cache = RepoCache(tmp_path / "repos")
    request = ReconcileRequest(str(source), str(source), str(state))
    with StatusStore(tmp_path / "status.sqlite") as status:
        report = reconcile(request, cache, status, runners, LocalFeedback())
    assert sorted(report.outcomes) == ["bad", "good", "resting"]
    assert report.succeeded_promises() == ["good"]
