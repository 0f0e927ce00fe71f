"""The poller against the in-tree GitHub server: conditional reads of each followed branch,
free when nothing changed, and a poll job for a head that no delivery brought."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitfixtures import commit_all, git, init_source, write
from prometheus_client import REGISTRY

from ghserver import GitHubServer
from gitbot.github.client import GitHubApp, GitHubSettings
from gitbot.secrets import Redactor, Secret
from gitbot.work.handlers import POLL
from gitbot.work.poller import Poller
from gitbot.work.scheduler import PeriodicReconciles
from gitbot.work.store import Store

SOURCE = "acme/source"


class World:
    def __init__(self, tmp: Path, server: GitHubServer) -> None:
        self.server = server
        app = server.create_app()
        server.create_repo("acme", "source")
        server.create_repo("acme", "other")
        self.installation = server.install(app.id, "acme", ["source", "other"])
        self.work = init_source(tmp / "work", with_examples=False)
        self.github = GitHubApp(
            GitHubSettings(
                api_url=server.api_url,
                app_id=app.id,
                private_key=Secret(app.private_key_pem.decode()),
                request_interval=0,
                write_interval=0,
            ),
            Redactor(),
        )
        self.store = Store(f"sqlite:///{tmp / 'gitbot.db'}")
        self.poller = Poller(self.store, self.github)

    def push(self, text: str) -> str:
        write(self.work, {"README.md": text})
        sha = commit_all(self.work, text)
        git(self.work, "push", "-q", "-f", str(self.server.repo_path("acme", "source")), "main")
        return sha

    def points(self) -> int:
        return self.server.rate_limit_used(self.installation)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with GitHubServer(tmp_path / "github") as server:
        made = World(tmp_path, server)
        yield made
        made.store.close()


def caught() -> float:
    return REGISTRY.get_sample_value("gitbot_poller_caught_pushes_total") or 0.0


def polls_of(server: GitHubServer, start: int) -> list[int]:
    return [
        r.status
        for r in server.requests[start:]
        if r.api_path is not None and "/git/ref/heads/" in r.api_path
    ]


def test_unchanged_branches_cost_nothing_and_a_new_head_is_queued(world: World) -> None:
    first = world.push("one\n")
    world.store.register_repository(SOURCE, world.installation)
    world.store.register_repository("acme/other", world.installation)  # never reconciled
    world.store.merge_summary(SOURCE, {"branch": "main", "rendered": first})

    start = len(world.server.requests)
    assert world.poller.poll() == 0
    points = world.points()
    for _ in range(3):
        assert world.poller.poll() == 0
    assert world.points() == points  # 304 Not Modified: free, as on GitHub
    assert polls_of(world.server, start) == [200, 304, 304, 304]  # `other` is never asked

    caught_before = caught()
    second = world.push("two\n")  # its delivery never came
    assert world.poller.poll() == 1
    assert caught() == caught_before + 1  # what /metrics exports
    jobs = [j for j in world.store.recent_jobs() if j.status == "queued"]
    assert [(j.kind, j.repository, j.promise, j.commit) for j in jobs] == [
        (POLL, SOURCE, None, second)
    ]
    assert jobs[0].payload == {"reason": "poll", "branch": "main", "before": first}
    summary = world.store.summary(SOURCE)
    assert summary is not None and summary["seen"] == second

    assert world.poller.poll() == 0  # known now: not queued twice
    assert polls_of(world.server, start)[-1] == 304


def test_a_head_a_delivery_brought_is_not_caught(world: World) -> None:
    first = world.push("one\n")
    world.store.register_repository(SOURCE, world.installation)
    world.store.merge_summary(SOURCE, {"branch": "main", "rendered": first})
    second = world.push("two\n")
    world.store.merge_summary(SOURCE, {"seen": second})  # as routing a push delivery records
    assert world.poller.poll() == 0
    assert world.store.recent_jobs() == []


def test_the_poller_runs_only_when_an_interval_is_set(world: World) -> None:
    off = PeriodicReconciles(world.store, 3600, poller=world.poller, poll_interval=0)
    on = PeriodicReconciles(world.store, 3600, poller=world.poller, poll_interval=300)
    assert off.scheduler.get_job("poll") is None
    job = on.scheduler.get_job("poll")
    assert job is not None and job.trigger.interval.total_seconds() == 300
