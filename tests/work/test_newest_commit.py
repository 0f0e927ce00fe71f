"""Never backwards: which commit a reconcile job renders, over real git repositories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gitfixtures import commit_all, git, init_source, write

from gitbot.errors import ExternalError
from gitbot.github.client import GitHubApp, GitHubSettings
from gitbot.gitrepo import RepoCache
from gitbot.pipeline.setup import runner_config
from gitbot.secrets import Redactor, Secret
from gitbot.settings import Settings
from gitbot.statusdb import StatusStore
from gitbot.work.handlers import RECONCILE, Service, Target
from gitbot.work.store import Job, Store


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    redactor = Redactor()
    github = GitHubApp(GitHubSettings(token=Secret("unused")), redactor)  # no call is made
    store = Store(f"sqlite:///{tmp_path / 'gitbot.db'}")
    made = Service(
        store,
        github,
        RepoCache(tmp_path / "cache"),
        StatusStore(tmp_path / "status.sqlite"),
        runner_config(Settings()),
        redactor,
    )
    yield made
    store.close()


@pytest.fixture
def remote(tmp_path: Path) -> tuple[Path, Path]:
    """A working repository and the bare remote gitbot fetches from."""
    work = init_source(tmp_path / "work", with_examples=False)
    bare = tmp_path / "source.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return work, bare


def commit(work: Path, name: str) -> str:
    write(work, {f"{name}.txt": name})
    return commit_all(work, name)


def publish(work: Path, bare: Path, *refs: str) -> None:
    git(work, "push", "-q", "-f", str(bare), *refs)


def job(bare: Path, commit: str | None, kind: str = RECONCILE) -> Job:
    now = datetime.now(UTC)
    return Job(
        1, kind, str(bare), "postgres", commit, {}, None, "queued", 1, None, None, now, None,
        None, None, None,
    )  # fmt: skip


def test_the_head_is_rendered_for_a_job_without_a_commit(
    service: Service, remote: tuple[Path, Path]
) -> None:
    work, bare = remote
    head = commit(work, "a")
    publish(work, bare, "main")
    assert service._newest(job(bare, None)) == Target("main", head)


def test_the_branch_head_wins_over_an_older_commit(
    service: Service, remote: tuple[Path, Path]
) -> None:
    work, bare = remote
    x = commit(work, "x")
    y = commit(work, "y")
    publish(work, bare, "main")
    assert service._newest(job(bare, y)) == Target("main", y)
    assert service._newest(job(bare, x)) == Target("main", y, superseded=x)


def test_a_force_push_renders_the_new_head(service: Service, remote: tuple[Path, Path]) -> None:
    work, bare = remote
    base = commit(work, "base")
    old = commit(work, "old")
    publish(work, bare, "main")
    service._newest(job(bare, old))  # fetched while it was on the branch
    git(work, "reset", "-q", "--hard", base)
    new = commit(work, "new")  # not a descendant of `old`
    publish(work, bare, "main")
    assert service._newest(job(bare, old)) == Target("main", new, superseded=old)
    assert service._newest(job(bare, new)) == Target("main", new)


def test_a_commit_newer_than_the_fetched_head_is_rendered(
    service: Service, remote: tuple[Path, Path]
) -> None:
    work, bare = remote
    head = commit(work, "head")
    newer = commit(work, "newer")
    publish(work, bare, f"{head}:refs/heads/main", f"{newer}:refs/heads/elsewhere")
    assert service._newest(job(bare, newer)) == Target("main", newer)


def test_the_source_branch_of_gitbot_yaml_is_followed(
    service: Service, remote: tuple[Path, Path]
) -> None:
    work, bare = remote
    write(work, {".gitbot.yaml": "stateRepository: ../state.git\nsourceBranch: release\n"})
    on_main = commit_all(work, "config")
    git(work, "checkout", "-q", "-b", "release")
    release = commit(work, "release")
    publish(work, bare, "main", "release")
    assert service._newest(job(bare, None)) == Target("release", release)
    assert service._newest(job(bare, on_main)) == Target("release", release, superseded=on_main)


def test_a_commit_not_fetchable_yet_is_retried(service: Service, remote: tuple[Path, Path]) -> None:
    work, bare = remote
    commit(work, "a")
    publish(work, bare, "main")
    missing = commit(work, "b")  # not pushed
    with pytest.raises(ExternalError, match=f"commit {missing[:12]} of .* is not fetchable"):
        service._newest(job(bare, missing))
