"""gitbot as a GitHub App end to end: the real PyGithub and git code against the in-tree server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gitfixtures import commit_all, git, init_source, write
from openapi_check import check_response, request_violations
from prometheus_client import REGISTRY

from ghserver import GitHubServer
from gitbot.cli import main
from gitbot.github.prbody import parse_marker

SOURCE, STATE = "acme/platform-source", "acme/platform-state"
Reconcile = Callable[..., tuple[int, str]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHubServer]:
    server = GitHubServer(tmp_path / "github", request_check=request_violations)
    server.start()
    yield server
    server.stop()
    assert server.request_violations == [], "requests GitHub would refuse with 422"


@pytest.fixture
def source(tmp_path: Path, server: GitHubServer) -> Path:
    app = server.create_app(slug="gitbot")
    source_bare = server.create_repo("acme", "platform-source")
    server.create_repo("acme", "platform-state")
    installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
    server.app = app  # type: ignore[attr-defined]
    server.installation = installation  # type: ignore[attr-defined]
    work = init_source(tmp_path / "source")
    git(work, "push", "-q", str(source_bare), "main")
    return work


def push_source(
    server: GitHubServer, work: Path, files: dict[str, str | None], message: str
) -> str:
    write(work, files)
    sha = commit_all(work, message)
    git(work, "push", "-q", str(server.repo_path("acme", "platform-source")), "main")
    return sha


@pytest.fixture
def reconcile(
    example_images: list[str],
    server: GitHubServer,
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Reconcile:
    app = server.app  # type: ignore[attr-defined]
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GITBOT_GITHUB_API_URL", server.api_url)
    monkeypatch.setenv("GITBOT_GITHUB_APP_ID", str(app.id))
    monkeypatch.setenv("GITBOT_GITHUB_PRIVATE_KEY_FILE", str(app.private_key_path))
    monkeypatch.setenv("GITBOT_GITHUB_WRITE_INTERVAL", "0")

    def run(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["reconcile", "--source", SOURCE, "--state", STATE, *extra])
        printed = capsys.readouterr()
        return code, printed.out + printed.err

    return run


def writes(server: GitHubServer, since: int = 0) -> list[str]:
    # Minting an installation token is a POST but changes nothing a user sees.
    return [
        f"{r.method} {r.path}"
        for r in server.requests[since:]
        if r.write and not r.path.endswith("/access_tokens")
    ]


def open_pulls(server: GitHubServer) -> dict[str, dict]:
    return {
        p["head"]["ref"]: p for p in server.pulls("acme", "platform-state") if p["state"] == "open"
    }


def test_reconcile_opens_one_pull_request_per_promise_with_check_runs(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    code, out = reconcile()
    assert code == 0, out
    pulls = open_pulls(server)
    assert sorted(pulls) == ["gitbot/app-namespace", "gitbot/postgres"]
    pr = pulls["gitbot/postgres"]
    assert pr["title"] == "gitbot: Promise postgres"
    assert [label["name"] for label in pr["labels"]] == ["gitbot"]
    assert "| postgres shop/orders | configure |" in pr["body"]
    assert "<!-- gitbot:pr {" in pr["body"]
    head = git(source, "rev-parse", "HEAD")
    runs = {r["name"]: r for r in server.check_runs("acme", "platform-source")}
    assert runs["gitbot: postgres"]["head_sha"] == head
    assert runs["gitbot: postgres"]["conclusion"] == "success"
    assert pr["html_url"] in runs["gitbot: postgres"]["output"]["summary"]
    for record in server.requests:
        if record.api:
            check_response(record.method, record.api_path, record.status, record.response_json)


def github_calls_counted() -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for metric in REGISTRY.collect():
        if metric.name == "gitbot_github_calls":
            for sample in metric.samples:
                if sample.name == "gitbot_github_calls_total":
                    counted[(sample.labels["method"], sample.labels["status"])] = int(sample.value)
    return counted


def test_every_github_call_is_counted_for_metrics_by_method_and_status(
    reconcile: Reconcile, server: GitHubServer
) -> None:
    before = github_calls_counted()
    code, out = reconcile()
    assert code == 0, out
    made = Counter((r.method, str(r.status)) for r in server.requests if r.api)
    assert made[("POST", "201")] >= 3  # token, pull requests, check runs
    assert github_calls_counted() - before == made


def test_an_unchanged_rerun_makes_no_github_write(
    reconcile: Reconcile, server: GitHubServer
) -> None:
    reconcile()
    since = len(server.requests)
    code, out = reconcile()
    assert code == 0, out
    assert writes(server, since) == []


def test_a_change_updates_the_same_pull_request(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    reconcile()
    number = open_pulls(server)["gitbot/postgres"]["number"]
    request = source / "promises/postgres/resource-request.yaml"
    push_source(server, source, {str(request): request.read_text().replace("large", "small")}, "s")
    code, out = reconcile()
    assert code == 0, out
    pulls = open_pulls(server)
    assert pulls["gitbot/postgres"]["number"] == number, out
    assert "gitbot/postgres: updated" in out, out
    body = pulls["gitbot/postgres"]["body"]
    # The body describes the whole pull request against base, now at the new source commit.
    assert parse_marker(body).commit == git(source, "rev-parse", "HEAD")  # type: ignore[union-attr]
    assert "**Files:** 9 added, 0 changed, 0 removed (and 2 gitbot record file(s)" in body
    assert "- `clusters/dev/resources/shop/postgres/orders/render/5058f/postgres.yaml`" in body


def test_a_merged_pull_request_is_not_proposed_again(
    reconcile: Reconcile, server: GitHubServer
) -> None:
    reconcile()
    pr = open_pulls(server)["gitbot/postgres"]
    server.merge_pull("acme", "platform-state", pr["number"])
    code, out = reconcile()
    assert code == 0, out
    assert "gitbot/postgres" not in open_pulls(server)
    assert len(server.pulls("acme", "platform-state")) == 2


def test_a_closed_pull_request_is_not_reopened_for_the_same_content(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    reconcile()
    pr = open_pulls(server)["gitbot/postgres"]
    server.close_pull("acme", "platform-state", pr["number"])
    since = len(server.requests)
    code, out = reconcile()
    assert code == 0, out
    assert "gitbot/postgres" not in open_pulls(server)
    assert f"pull request #{pr['number']} was closed with this content; not reopened" in out
    # Nothing is pushed or written on the state repository; the check run may say so.
    assert [w for w in writes(server, since) if "platform-state" in w] == []
    request = source / "promises/postgres/resource-request.yaml"
    push_source(server, source, {str(request): request.read_text().replace("large", "small")}, "s")
    reconcile()
    assert open_pulls(server)["gitbot/postgres"]["number"] != pr["number"]


def test_a_failing_pipeline_fails_its_check_run_with_the_log_tail_and_opens_no_pr(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    request = source / "promises/postgres/resource-request.yaml"
    push_source(server, source, {str(request): request.read_text().replace("large", "huge")}, "h")
    code, out = reconcile()
    assert code == 1
    assert "gitbot/postgres: failed" in out
    assert "gitbot/postgres" not in open_pulls(server)
    runs = {r["name"]: r for r in server.check_runs("acme", "platform-source")}
    failed = runs["gitbot: postgres"]
    assert failed["conclusion"] == "failure"
    assert "unknown size 'huge': use small or large" in failed["output"]["text"]
    assert runs["gitbot: app-namespace"]["conclusion"] == "success"


def test_yaml_problems_are_annotated_at_file_and_line(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    push_source(server, source, {"broken.yaml": "apiVersion: v1\nkind: [\n"}, "broken")
    code, _ = reconcile()
    assert code == 1
    runs = {r["name"]: r for r in server.check_runs("acme", "platform-source")}
    annotations = server.annotations("acme", "platform-source", runs["gitbot: source"]["id"])
    assert [(a["path"], a["start_line"]) for a in annotations] == [("broken.yaml", 3)]
    assert runs["gitbot: source"]["conclusion"] == "failure"


def test_secret_values_never_reach_github(
    reconcile: Reconcile, server: GitHubServer, source: Path, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets" / "db"
    secrets.mkdir(parents=True)
    (secrets / "password").write_text("hunter2-very-secret")
    promise = source / "promises/postgres/promise.yaml"
    leaky = promise.read_text().replace(
        "              - name: plan\n"
        "                image: localhost/gitbot-examples/postgres-pipeline:v0.1.0\n",
        "              - name: plan\n"
        "                image: localhost/gitbot-examples/postgres-pipeline:v0.1.0\n"
        "                command: [sh, -c, 'echo password is $PASSWORD; exit 4']\n"
        "                env:\n"
        "                  - name: PASSWORD\n"
        "                    valueFrom: {secretKeyRef: {name: db, key: password}}\n",
    )
    push_source(server, source, {str(promise): leaky}, "leaky")
    code, out = reconcile("--secrets-dir", str(tmp_path / "secrets"))
    assert code == 1
    assert "password is ****" in out
    assert "hunter2" not in out
    for record in server.requests:
        assert b"hunter2" not in record.body
    runs = {r["name"]: r for r in server.check_runs("acme", "platform-source")}
    assert "password is ****" in runs["gitbot: postgres"]["output"]["text"]


def test_expiring_tokens_are_refreshed_mid_run(
    reconcile: Reconcile, server: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    import gitbot.github.client

    # Tokens live 2 s and are renewed when under 1.5 s are left: a reconcile (several seconds)
    # must renew them as it goes, and no call may meet an expired one.
    server.token_lifetime = timedelta(seconds=2)
    monkeypatch.setattr(gitbot.github.client, "TOKEN_MARGIN", timedelta(seconds=1.5))
    code, out = reconcile()
    assert code == 0, out
    minted = [r for r in server.requests if r.path.endswith("/access_tokens")]
    assert len(minted) >= 2
    assert all(r.status != 401 for r in server.requests)


def test_rate_limits_and_server_errors_are_retried(
    reconcile: Reconcile, server: GitHubServer
) -> None:
    server.inject(
        "server_error",
        count=2,
        status=502,
        method="POST",
        path="/api/v3/repos/acme/platform-state/pulls",
    )
    server.inject(
        "rate_limit",
        count=1,
        retry_after=1,
        method="POST",
        path="/api/v3/repos/acme/platform-source/check-runs",
    )
    code, out = reconcile()
    assert code == 0, out
    assert sorted(open_pulls(server)) == ["gitbot/app-namespace", "gitbot/postgres"]
    statuses = [
        r.status for r in server.requests if r.method == "POST" and r.path.endswith("/pulls")
    ]
    assert statuses[:3] == [502, 502, 201]


def test_a_human_commit_gets_one_comment_and_no_force_push(
    reconcile: Reconcile, server: GitHubServer, source: Path, tmp_path: Path
) -> None:
    reconcile()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(server.repo_path("acme", "platform-state")), str(clone))
    git(clone, "checkout", "-q", "gitbot/postgres")
    write(clone, {"fix.yaml": "a: b\n"})
    human = commit_all(clone, "hand fix")
    git(clone, "push", "-q", "origin", "gitbot/postgres")
    request = source / "promises/postgres/resource-request.yaml"
    head = push_source(
        server, source, {str(request): request.read_text().replace("large", "small")}, "s"
    )
    for _ in range(2):
        code, out = reconcile()
        assert code == 1
        assert "gitbot/postgres: human-commit" in out
    state = server.repo_path("acme", "platform-state")
    assert git(state, "rev-parse", "gitbot/postgres") == human
    pr = open_pulls(server)["gitbot/postgres"]
    comments = server.comments("acme", "platform-state", pr["number"])
    assert len(comments) == 1
    assert comments[0]["body"].startswith("gitbot: someone else committed to this branch")
    # The source commit's check run says the change was not proposed, why, and where.
    runs = [
        r
        for r in server.check_runs("acme", "platform-source")
        if r["head_sha"] == head and r["name"] == "gitbot: postgres"
    ]
    assert [(r["status"], r["conclusion"]) for r in runs] == [("completed", "neutral")]
    output = runs[0]["output"]
    assert output["title"] == "not proposed: someone else committed to the branch"
    assert "**Not proposed:** someone else committed to `gitbot/postgres`" in output["summary"]
    assert f"- Pull request: {pr['html_url']}" in output["summary"]
    assert f"- gitbot's comment: {comments[0]['html_url']}" in output["summary"]


def test_a_pull_request_whose_content_reached_base_is_closed_with_a_comment(
    reconcile: Reconcile, server: GitHubServer
) -> None:
    reconcile()
    number = open_pulls(server)["gitbot/postgres"]["number"]
    state = server.repo_path("acme", "platform-state")
    git(state, "update-ref", "refs/heads/main", "refs/heads/gitbot/postgres")
    code, out = reconcile()
    assert code == 0, out
    assert "gitbot/postgres: removed" in out
    closed = server.pull("acme", "platform-state", number)
    assert closed["state"] == "closed"
    assert closed["merged"] is False
    comments = server.comments("acme", "platform-state", number)
    assert [c["body"] for c in comments] == [
        "gitbot: the state this pull request proposed is already on the base branch, so it is "
        "closed. A new pull request opens when the source changes again."
    ]


def test_many_yaml_problems_are_annotated_fifty_per_request(
    reconcile: Reconcile, server: GitHubServer, source: Path
) -> None:
    broken = {f"broken/{i:02d}.yaml": "kind: [\n" for i in range(60)}
    push_source(server, source, broken, "sixty broken files")
    code, _ = reconcile("--only", "postgres")
    assert code == 1
    runs = {r["name"]: r for r in server.check_runs("acme", "platform-source")}
    annotations = server.annotations("acme", "platform-source", runs["gitbot: source"]["id"])
    assert len(annotations) == 60
    sizes = [
        len((r.json or {}).get("output", {}).get("annotations", []))
        for r in server.requests
        if r.write and "/check-runs" in r.path
    ]
    assert sorted(s for s in sizes if s) == [10, 50]


def test_a_plain_token_works_instead_of_the_app(
    reconcile: Reconcile, server: GitHubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = server.issue_token(server.installation)  # type: ignore[attr-defined]
    monkeypatch.delenv("GITBOT_GITHUB_APP_ID")
    monkeypatch.delenv("GITBOT_GITHUB_PRIVATE_KEY_FILE")
    monkeypatch.setenv("GITBOT_GITHUB_TOKEN", token)
    code, out = reconcile()
    assert code == 0, out
    assert sorted(open_pulls(server)) == ["gitbot/app-namespace", "gitbot/postgres"]
    assert token not in out
    assert not any(r.path.endswith("/access_tokens") for r in server.requests)
