"""`gitbot serve` never goes backwards and never misses a push for long, end to end: real
processes, the in-tree GitHub server, real git, real containers, GitHub's example payloads."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitfixtures import commit_all, git, init_source, write
from serveworld import ROOT, ZERO, Bot, examples, push_payload, wait_for

from ghserver import GitHubServer
from gitbot.github.prbody import parse_marker

STATE = ("acme", "platform-state")
ORDERS = "default/resources/shop/postgres/orders/render/5058f/postgres.yaml"
BILLING = "default/resources/shop/postgres/billing/render/5058f/postgres.yaml"


@contextmanager
def serving(
    tmp_path: Path, env: dict[str, str], *, state_branch: str = "main", state_readme: bool = False
) -> Iterator[tuple[GitHubServer, Bot, Path]]:
    """The in-tree GitHub with a source and a state repository, and `gitbot serve` for them."""
    server = GitHubServer(tmp_path / "github")
    server.start()
    app = server.create_app()
    server.create_repo("acme", "platform-source")
    server.create_repo(*STATE, default_branch=state_branch, auto_init=state_readme)
    installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
    work = init_source(tmp_path / "source", with_examples=False)
    bot = Bot(tmp_path, server, installation, app.private_key_path, app.id)
    bot.env.update(env)
    bot.start()
    try:
        yield server, bot, work
    finally:
        bot.stop()
        server.stop()
        if any(p.returncode not in (0, None) for p in bot.processes):
            print(bot.log.read_text())


def commit(work: Path, files: dict[str, str | None], message: str) -> str:
    write(work, files)
    return commit_all(work, message)


def push_to_github(server: GitHubServer, work: Path) -> None:
    git(work, "push", "-q", "-f", str(server.repo_path("acme", "platform-source")), "main")


def deliver(server: GitHubServer, bot: Bot, before: str, after: str, guid: str) -> None:
    payload = push_payload(server, bot.installation, before, after)
    assert bot.deliver("push", payload, guid) == 202


def open_pull(server: GitHubServer) -> dict[str, Any] | None:
    pulls = [p for p in server.pulls(*STATE) if p["state"] == "open"]
    return pulls[0] if pulls else None


def proposed_commit(server: GitHubServer) -> str | None:
    """The source commit the open pull request proposes, from its hidden marker."""
    pull = open_pull(server)
    marker = parse_marker(pull["body"]) if pull else None
    return marker.commit if marker else None


def state_file(server: GitHubServer, ref: str, path: str) -> str:
    return git(server.repo_path(*STATE), "show", f"{ref}:{path}")


def completed_run(server: GitHubServer, sha: str, name: str) -> dict[str, Any] | None:
    for run in server.check_runs("acme", "platform-source"):
        if run["head_sha"] == sha and run["name"] == name and run["status"] == "completed":
            return run
    return None


def request_text(size: str) -> str:
    return (ROOT / "promises/postgres/resource-request.yaml").read_text().replace("large", size)


def test_an_older_delivery_arriving_last_does_not_take_the_pull_request_back(
    example_images: list[str], tmp_path: Path
) -> None:
    with serving(tmp_path, {"GITBOT_POLL_INTERVAL": "0"}) as (server, bot, work):
        first = commit(work, examples(), "examples")
        push_to_github(server, work)
        deliver(server, bot, ZERO, first, "push-1")
        wait_for(lambda: proposed_commit(server) == first, what="the first pull request")

        # X then Y reach GitHub; Y's delivery arrives first, X's last.
        x = commit(work, {"postgres/resource-request.yaml": request_text("small")}, "X")
        billing = request_text("small").replace("orders", "billing")
        y = commit(work, {"postgres/second-request.yaml": billing}, "Y")
        push_to_github(server, work)
        deliver(server, bot, x, y, "push-y")
        wait_for(lambda: proposed_commit(server) == y, what="the pull request at Y")
        deliver(server, bot, first, x, "push-x")
        run = wait_for(lambda: completed_run(server, x, "gitbot: postgres"), what="X's check run")

        assert run["conclusion"] == "neutral"
        assert run["output"]["title"] == f"Superseded by {y[:12]}"
        assert f"/acme/platform-source/commit/{y}" in run["output"]["summary"]
        assert run["details_url"].endswith(f"/acme/platform-source/commit/{y}")
        # The pull request still proposes Y: both changes, never X's older state.
        assert proposed_commit(server) == y
        assert "numberOfInstances: 1" in state_file(server, "gitbot/postgres", ORDERS)
        assert "numberOfInstances: 1" in state_file(server, "gitbot/postgres", BILLING)
        message = git(server.repo_path(*STATE), "log", "-1", "--format=%B", "gitbot/postgres")
        assert f"Gitbot-Source-Commit: {y}" in message
        y_run = completed_run(server, y, "gitbot: postgres")
        assert y_run is not None and y_run["conclusion"] == "success"


def test_a_master_only_state_repository_gets_pull_requests_against_master(
    example_images: list[str], tmp_path: Path
) -> None:
    env = {"GITBOT_POLL_INTERVAL": "0"}
    with serving(tmp_path, env, state_branch="master", state_readme=True) as (server, bot, work):
        master = git(server.repo_path(*STATE), "rev-parse", "master")
        first = commit(work, examples(), "examples")
        push_to_github(server, work)
        deliver(server, bot, ZERO, first, "push-1")
        pull = wait_for(lambda: open_pull(server), what="the pull request")

        assert pull["base"]["ref"] == "master"
        heads = git(server.repo_path(*STATE), "for-each-ref", "--format=%(refname:short)")
        assert sorted(heads.splitlines()) == ["gitbot/postgres", "master"]  # no root `main`
        parent = git(server.repo_path(*STATE), "rev-parse", "gitbot/postgres^")
        assert parent == master
        assert "numberOfInstances" in state_file(server, "gitbot/postgres", ORDERS)


def test_a_dropped_push_delivery_is_caught_by_the_poller(
    example_images: list[str], tmp_path: Path
) -> None:
    with serving(tmp_path, {"GITBOT_POLL_INTERVAL": "2s"}) as (server, bot, work):
        first = commit(work, examples(), "examples")
        push_to_github(server, work)
        deliver(server, bot, ZERO, first, "push-1")
        wait_for(lambda: proposed_commit(server) == first, what="the first pull request")

        dropped = commit(work, {"postgres/resource-request.yaml": request_text("small")}, "X")
        push_to_github(server, work)  # GitHub's delivery of this push never arrives
        wait_for(lambda: proposed_commit(server) == dropped, what="the poller's pull request")

        assert "numberOfInstances: 1" in state_file(server, "gitbot/postgres", ORDERS)
        run = completed_run(server, dropped, "gitbot: postgres")
        assert run is not None and run["conclusion"] == "success"
        with urllib.request.urlopen(f"{bot.url}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert re.search(r"^gitbot_poller_caught_pushes_total 1\.0$", metrics, re.M), metrics

        # Polling the unchanged branch since then is free: GitHub-style 304s. (Waited for: on a
        # loaded machine the next poll may come after the pull request.)
        def polls() -> list[int]:
            path = "/repos/acme/platform-source/git/ref/heads/main"
            return [r.status for r in server.requests if r.api_path == path]

        wait_for(lambda: 304 in polls(), what="a poll of the unchanged branch answered 304")
        assert polls().count(200) <= 3
