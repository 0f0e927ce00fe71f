"""The in-tree GitHub server, driven by the real PyGithub and git over real HTTP.

Every REST answer a test receives is checked against GitHub's OpenAPI description afterwards.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import github
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github.GithubRetry import GithubRetry
from openapi_check import check_response, find_operation

from ghserver import App, GitHubServer

_names = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHubServer]:
    with GitHubServer(tmp_path_factory.mktemp("github")) as running:
        yield running


@pytest.fixture(scope="module")
def app(server: GitHubServer) -> App:
    return server.create_app("gitbot")


@pytest.fixture(autouse=True)
def responses_match_schema(server: GitHubServer) -> Iterator[None]:
    """After each test: every REST answer it got matches GitHub's published schema."""
    start = len(server.requests)
    yield
    for item in server.requests[start:]:
        if item.api_path is None:
            continue  # git
        if item.status == 404 and not documented(item.method, item.api_path):
            continue  # a path the server (like GitHub) does not serve
        check_response(item.method, item.api_path, item.status, item.response_json)


def documented(method: str, path: str) -> bool:
    try:
        find_operation(method, path)
    except AssertionError:
        return False
    return True


@dataclass
class World:
    """An organization with a state and a source repo, the App installed on both."""

    owner: str
    installation: int
    state_path: Path
    source_path: Path


@pytest.fixture
def world(server: GitHubServer, app: App) -> World:
    owner = f"org{next(_names)}"
    state_path = server.create_repo(owner, "state", owner_type="Organization", auto_init=True)
    source_path = server.create_repo(owner, "source", owner_type="Organization", auto_init=True)
    installation = server.install(app.id, owner, ["state", "source"])
    server.add_collaborator(owner, "state", "alice", "write")
    return World(owner, installation, state_path, source_path)


def client(server: GitHubServer, token: str, **options: Any) -> github.Github:
    """PyGithub on an installation token, without its client-side pacing (tests are fast)."""
    return github.Github(
        base_url=server.api_url,
        auth=github.Auth.Token(token),
        seconds_between_requests=0,
        seconds_between_writes=0,
        **options,
    )


def integration(api_url: str, app_id: int, key: bytes | str) -> github.GithubIntegration:
    """PyGithub as the App (JWT), without client-side pacing."""
    pem = key.decode() if isinstance(key, bytes) else key
    return github.GithubIntegration(
        auth=github.Auth.AppAuth(app_id, pem),
        base_url=api_url,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


@pytest.fixture
def token(server: GitHubServer, app: App, world: World) -> str:
    with integration(server.api_url, app.id, app.private_key_pem) as gi:
        return gi.get_access_token(world.installation).token


@pytest.fixture
def gh(server: GitHubServer, token: str) -> Iterator[github.Github]:
    with client(server, token) as found:
        yield found


def git(
    cwd: Path, *args: str, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """git with no user or system config, never prompting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    ident = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    return subprocess.run(
        ["git", *ident, *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def add_branch(bare: Path, branch: str, files: dict[str, str], base: str = "main") -> str:
    """Commit `files` on top of `base` straight into a bare repo; the new commit's sha."""
    parent = git(bare, "rev-parse", f"refs/heads/{base}").stdout.strip()
    listing = git(bare, "ls-tree", parent).stdout
    for name, text in files.items():
        blob = git(bare, "hash-object", "-w", "--stdin", input=text).stdout.strip()
        listing += f"100644 blob {blob}\t{name}\n"
    tree = git(bare, "mktree", input=listing).stdout.strip()
    sha = git(bare, "commit-tree", tree, "-p", parent, "-m", f"change {branch}").stdout.strip()
    git(bare, "update-ref", f"refs/heads/{branch}", sha)
    return sha


def call(
    method: str, url: str, auth: str | None = None, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    """A raw HTTP call: status, headers (lower-case names) and JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, error.headers, error.read()
        error.close()
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None


# Apps, installations and tokens ---------------------------------------------------------------


def test_app_jwt_lists_installations_and_creates_tokens(
    server: GitHubServer, app: App, world: World
) -> None:
    with integration(server.api_url, app.id, app.private_key_pem) as gi:
        assert gi.get_app().slug == "gitbot"
        assert world.installation in [i.id for i in gi.get_installations()]
        assert gi.get_app_installation(world.installation).id == world.installation
        assert gi.get_repo_installation(world.owner, "state").id == world.installation
        issued = gi.get_access_token(world.installation)
    assert issued.token.startswith("ghs_")
    assert 3500 < (issued.expires_at.timestamp() - time.time()) <= 3600
    created = server.requests[-1]
    assert (created.method, created.status, created.write) == ("POST", 201, True)
    assert created.headers["Authorization"] == "Bearer ****"
    with client(server, issued.token) as gh:
        repo = gh.get_repo(f"{world.owner}/state")
        assert (repo.full_name, repo.default_branch, repo.private) == (
            f"{world.owner}/state",
            "main",
            True,
        )


def test_installation_auth_fetches_its_own_token(
    server: GitHubServer, app: App, world: World
) -> None:
    auth = github.Auth.AppAuth(app.id, app.private_key_pem.decode()).get_installation_auth(
        world.installation
    )
    with github.Github(base_url=server.api_url, auth=auth, seconds_between_requests=0) as gh:
        assert gh.get_repo(f"{world.owner}/source").name == "source"
    paths = [r.api_path for r in server.requests[-2:]]
    assert paths == [
        f"/app/installations/{world.installation}/access_tokens",
        f"/repos/{world.owner}/source",
    ]


def test_jwt_signed_by_another_key_is_refused(server: GitHubServer, app: App) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with (
        integration(server.api_url, app.id, other) as gi,
        pytest.raises(github.GithubException) as caught,
    ):
        gi.get_app()
    assert caught.value.status == 401
    assert caught.value.data["message"] == "A JSON web token could not be decoded"


def test_jwt_living_longer_than_ten_minutes_is_refused(server: GitHubServer, app: App) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 30, "exp": now + 3600, "iss": str(app.id)}, app.private_key_pem, "RS256"
    )
    status, _, body = call("GET", f"{server.api_url}/app", f"Bearer {token}")
    assert (status, body["message"]) == (
        401,
        "'Expiration time' claim ('exp') is too far in the future.",
    )
    expired = jwt.encode(
        {"iat": now - 700, "exp": now - 100, "iss": str(app.id)}, app.private_key_pem, "RS256"
    )
    status, _, body = call("GET", f"{server.api_url}/app", f"Bearer {expired}")
    assert status == 401
    assert body["message"].startswith("'Expiration time' claim ('exp') must be a numeric value")


def test_installation_token_is_not_an_app_jwt(server: GitHubServer, token: str) -> None:
    status, _, body = call("GET", f"{server.api_url}/app", f"token {token}")
    assert (status, body["message"]) == (401, "A JSON web token could not be decoded")


def test_expired_installation_token_is_bad_credentials(
    server: GitHubServer, app: App, world: World
) -> None:
    server.token_lifetime = 0.5
    try:
        with integration(server.api_url, app.id, app.private_key_pem) as gi:
            short = gi.get_access_token(world.installation).token
    finally:
        server.token_lifetime = 3600
    with client(server, short, retry=None) as gh:
        assert gh.get_repo(f"{world.owner}/state").name == "state"
        time.sleep(0.6)
        with pytest.raises(github.BadCredentialsException) as caught:
            gh.get_repo(f"{world.owner}/state")
    assert caught.value.status == 401
    assert caught.value.data == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }


def test_token_sees_only_its_installation_repos(
    server: GitHubServer, app: App, world: World, token: str
) -> None:
    other_owner = f"org{next(_names)}"
    server.create_repo(other_owner, "elsewhere", owner_type="Organization")
    jwt_header = f"Bearer {github.Auth.AppAuth(app.id, app.private_key_pem.decode()).token}"
    status, _, narrowed = call(
        "POST",
        f"{server.api_url}/app/installations/{world.installation}/access_tokens",
        jwt_header,
        {"repositories": ["state"]},
    )
    assert status == 201
    assert [r["name"] for r in narrowed["repositories"]] == ["state"]
    with client(server, narrowed["token"], retry=None) as gh:
        assert gh.get_repo(f"{world.owner}/state").name == "state"
        for hidden in (f"{world.owner}/source", f"{other_owner}/elsewhere"):
            with pytest.raises(github.UnknownObjectException):
                gh.get_repo(hidden)
    status, _, body = call("GET", f"{server.api_url}/installation/repositories", f"token {token}")
    assert status == 200
    assert body["total_count"] == 2
    assert sorted(r["name"] for r in body["repositories"]) == ["source", "state"]


# Repositories, branches, refs, collaborators, rate limit --------------------------------------


def test_branch_ref_and_collaborator_permission(
    server: GitHubServer, world: World, gh: github.Github
) -> None:
    sha = add_branch(world.state_path, "feature/deep", {"a.txt": "a\n"})
    repo = gh.get_repo(f"{world.owner}/state")
    assert repo.get_branch("feature/deep").commit.sha == sha
    assert repo.get_git_ref("heads/feature/deep").object.sha == sha
    with pytest.raises(github.GithubException) as caught:
        repo.get_branch("missing")
    assert (caught.value.status, caught.value.data["message"]) == (404, "Branch not found")
    with pytest.raises(github.UnknownObjectException):
        repo.get_git_ref("heads/missing")
    assert repo.get_collaborator_permission("alice") == "write"
    server.add_collaborator(world.owner, "state", "carol", "maintain")
    assert repo.get_collaborator_permission("carol") == "write"
    with pytest.raises(github.UnknownObjectException):
        repo.get_collaborator_permission("nobody-at-all")


def test_every_answer_carries_rate_limit_headers(
    server: GitHubServer, world: World, gh: github.Github
) -> None:
    start = len(server.requests)
    before = gh.get_rate_limit().resources.core
    gh.get_repo(f"{world.owner}/state")
    gh.get_repo(f"{world.owner}/source")
    after = gh.get_rate_limit().resources.core
    assert before.limit == 5000
    assert before.remaining - after.remaining == 2  # /rate_limit itself is free
    for item in server.requests[start:]:
        headers = {k.lower(): v for k, v in item.response_headers.items()}
        for name in ("limit", "remaining", "reset", "used", "resource"):
            assert f"x-ratelimit-{name}" in headers, (item.path, name)


# Pull requests ------------------------------------------------------------------------------


def test_pull_request_lifecycle(server: GitHubServer, world: World, gh: github.Github) -> None:
    first = add_branch(world.state_path, "gitbot/one", {"one.yaml": "a: 1\n"})
    repo = gh.get_repo(f"{world.owner}/state")
    pr = repo.create_pull(title="One", body="Body", head="gitbot/one", base="main", draft=True)
    assert (pr.number, pr.state, pr.draft, pr.head.sha, pr.head.ref) == (
        1,
        "open",
        True,
        first,
        "gitbot/one",
    )
    assert (pr.commits, pr.changed_files, pr.additions) == (1, 1, 1)
    with pytest.raises(github.GithubException) as caught:
        repo.create_pull(title="Again", body="", head=f"{world.owner}:gitbot/one", base="main")
    assert caught.value.status == 422
    assert caught.value.data["errors"] == [
        {
            "resource": "PullRequest",
            "code": "custom",
            "message": f"A pull request already exists for {world.owner}:gitbot/one.",
        }
    ]
    second = add_branch(world.state_path, "gitbot/one", {"two.yaml": "b: 2\n"}, base="gitbot/one")
    assert repo.get_pull(1).head.sha == second  # the head follows the branch
    pr.edit(title="One, renamed", body="New body")
    again = repo.get_pull(1)
    assert (again.title, again.body) == ("One, renamed", "New body")
    pr.edit(state="closed")
    assert repo.get_pull(1).state == "closed"
    pr.edit(state="open")
    assert repo.get_pull(1).state == "open"


def test_pull_request_errors(world: World, gh: github.Github) -> None:
    git(world.state_path, "branch", "same", "main")
    repo = gh.get_repo(f"{world.owner}/state")
    for head, base, expected in (
        ("missing", "main", {"resource": "PullRequest", "field": "head", "code": "invalid"}),
        ("same", "nowhere", {"resource": "PullRequest", "field": "base", "code": "invalid"}),
        (
            "same",
            "main",
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "No commits between main and same",
            },
        ),
    ):
        with pytest.raises(github.GithubException) as caught:
            repo.create_pull(title="t", body="", head=head, base=base)
        assert (caught.value.status, caught.value.data["errors"]) == (422, [expected])
    with pytest.raises(github.UnknownObjectException):
        repo.get_pull(99)


def test_list_pulls_by_state_head_and_base(
    server: GitHubServer, world: World, gh: github.Github
) -> None:
    repo = gh.get_repo(f"{world.owner}/state")
    add_branch(world.state_path, "develop", {"d": "d\n"})
    for name, base in (("a", "main"), ("b", "main"), ("c", "develop")):
        add_branch(world.state_path, name, {name: name}, base=base)
        repo.create_pull(title=name, body="", head=name, base=base)
    repo.get_pull(2).edit(state="closed")

    def titles(**filters: str) -> list[str]:
        return [p.title for p in repo.get_pulls(**filters)]  # type: ignore[arg-type]

    assert titles() == ["c", "a"]
    assert titles(state="all") == ["c", "b", "a"]
    assert titles(state="closed") == ["b"]
    assert titles(head=f"{world.owner}:a") == ["a"]
    assert titles(head="someone-else:a") == []
    assert titles(base="develop") == ["c"]
    assert titles(state="all", direction="asc", sort="created") == ["a", "b", "c"]


def test_pagination_link_headers(server: GitHubServer, world: World, token: str) -> None:
    with client(server, token) as gh:
        repo = gh.get_repo(f"{world.owner}/state")
        for n in range(5):
            add_branch(world.state_path, f"p{n}", {f"p{n}": "x"})
            repo.create_pull(title=f"p{n}", body="", head=f"p{n}", base="main")
    with client(server, token, per_page=2) as gh:
        pulls = gh.get_repo(f"{world.owner}/state").get_pulls()
        assert [p.title for p in pulls] == ["p4", "p3", "p2", "p1", "p0"]
    base = f"{server.api_url}/repos/{world.owner}/state/pulls"
    status, headers, body = call("GET", f"{base}?per_page=2&page=2", f"token {token}")
    assert (status, [p["title"] for p in body]) == (200, ["p2", "p1"])
    assert headers["link"] == (
        f'<{base}?per_page=2&page=1>; rel="prev", <{base}?per_page=2&page=3>; rel="next", '
        f'<{base}?per_page=2&page=3>; rel="last", <{base}?per_page=2&page=1>; rel="first"'
    )
    status, headers, body = call("GET", f"{base}?per_page=100", f"token {token}")
    assert "link" not in headers and len(body) == 5


def test_comments_labels_reviewers_and_reactions(
    server: GitHubServer, world: World, gh: github.Github
) -> None:
    add_branch(world.state_path, "talk", {"t": "t"})
    repo = gh.get_repo(f"{world.owner}/state")
    pr = repo.create_pull(title="Talk", body="", head="talk", base="main")
    comment = pr.create_issue_comment("first")
    pr.create_issue_comment("second")
    assert comment.user.login == "gitbot[bot]"
    assert comment.performed_via_github_app.slug == "gitbot"
    assert [c.body for c in pr.get_issue_comments()] == ["first", "second"]
    assert [c["body"] for c in server.comments(world.owner, "state", pr.number)] == [
        "first",
        "second",
    ]
    pr.add_to_labels("gitbot", "promise/redis")
    pr.add_to_labels("gitbot")
    assert [label.name for label in repo.get_pull(pr.number).labels] == ["gitbot", "promise/redis"]
    pr.create_review_request(reviewers=["alice"])
    assert [u.login for u in repo.get_pull(pr.number).requested_reviewers] == ["alice"]
    with pytest.raises(github.GithubException) as caught:
        pr.create_review_request(reviewers=["mallory"])
    assert caught.value.status == 422
    assert comment.create_reaction("eyes").content == "eyes"
    assert [r.status for r in server.requests[-1:]] == [201]
    comment.create_reaction("eyes")
    assert [r.status for r in server.requests[-1:]] == [200]
    with pytest.raises(github.GithubException) as too_long:
        pr.create_issue_comment("x" * 65537)
    assert too_long.value.status == 422


def test_merge_and_close_helpers(server: GitHubServer, world: World, gh: github.Github) -> None:
    head = add_branch(world.state_path, "m", {"m": "m"})
    add_branch(world.state_path, "c", {"c": "c"})
    repo = gh.get_repo(f"{world.owner}/state")
    merged = repo.create_pull(title="m", body="", head="m", base="main")
    closed = repo.create_pull(title="c", body="", head="c", base="main")
    assert server.merge_pull(world.owner, "state", merged.number) == head  # fast-forward
    server.close_pull(world.owner, "state", closed.number)
    seen = repo.get_pull(merged.number)
    assert (seen.state, seen.merged, seen.merge_commit_sha) == ("closed", True, head)
    assert seen.merged_at is not None
    assert repo.get_branch("main").commit.sha == head
    seen = repo.get_pull(closed.number)
    assert (seen.state, seen.merged, seen.merged_at) == ("closed", False, None)
    as_server_sees_them = server.pulls(world.owner, "state")
    assert [(p["number"], p["merged"]) for p in as_server_sees_them] == [(1, True), (2, False)]
    for shown in as_server_sees_them:
        check_response("GET", f"/repos/{world.owner}/state/pulls/1", 200, shown)
    assert [p.number for p in repo.get_pulls(state="open")] == []
    # c is no longer a fast-forward of main: merging it makes a merge commit
    reopened = repo.get_pull(closed.number)
    reopened.edit(state="open")
    merge_sha = server.merge_pull(world.owner, "state", closed.number, delete_branch=True)
    parents = git(world.state_path, "rev-list", "--parents", "-n1", merge_sha).stdout.split()
    assert parents[1:] == [head, reopened.head.sha]


def test_deleting_the_head_branch_closes_the_pull(
    server: GitHubServer, world: World, gh: github.Github
) -> None:
    add_branch(world.state_path, "gone", {"g": "g"})
    repo = gh.get_repo(f"{world.owner}/state")
    pr = repo.create_pull(title="gone", body="", head="gone", base="main")
    git(world.state_path, "update-ref", "-d", "refs/heads/gone")
    assert repo.get_pull(pr.number).state == "closed"
    assert [p["state"] for p in server.pulls(world.owner, "state")] == ["closed"]


# Check runs -----------------------------------------------------------------------------------


def test_check_runs_create_update_and_list(server: GitHubServer, world: World, token: str) -> None:
    sha = git(world.source_path, "rev-parse", "main").stdout.strip()
    with client(server, token, lazy=True) as gh:
        repo = gh.get_repo(f"{world.owner}/source")
        run = repo.create_check_run(name="promise/redis", head_sha=sha, status="in_progress")
        assert (run.status, run.conclusion, run.app.slug) == ("in_progress", None, "gitbot")
        annotations = [
            {
                "path": "promises/redis.yaml",
                "start_line": 3,
                "end_line": 3,
                "annotation_level": "failure",
                "message": "bad",
            }
        ]
        run.edit(
            conclusion="failure",
            output={"title": "Failed", "summary": "1 error", "annotations": annotations},
        )
        assert (run.status, run.conclusion, run.output.annotations_count) == (
            "completed",
            "failure",
            1,
        )
        repo.create_check_run(name="promise/redis", head_sha=sha, conclusion="success")
        repo.create_check_run(
            name="promise/pg",
            head_sha=sha,
            conclusion="neutral",
            output={"title": "Paused", "summary": "no Destination"},
        )
        latest = repo.get_commit(sha).get_check_runs()
        assert [(r.name, r.conclusion) for r in latest] == [
            ("promise/pg", "neutral"),
            ("promise/redis", "success"),
        ]
        every = repo.get_commit("main").get_check_runs(filter="all")
        assert every.totalCount == 3
        only = repo.get_commit(sha).get_check_runs(check_name="promise/pg")
        assert [r.name for r in only] == ["promise/pg"]
        with pytest.raises(github.GithubException) as caught:
            repo.create_check_run(name="x", head_sha="0" * 40)
        assert (caught.value.status, caught.value.data["message"]) == (
            422,
            f"No commit found for SHA: {'0' * 40}",
        )
        with pytest.raises(github.GithubException) as too_many:
            repo.create_check_run(
                name="x",
                head_sha=sha,
                output={"title": "t", "summary": "s", "annotations": annotations * 51},
            )
        assert too_many.value.status == 422
    runs = server.check_runs(world.owner, "source")
    assert [(r["name"], r["conclusion"]) for r in runs] == [
        ("promise/redis", "failure"),
        ("promise/redis", "success"),
        ("promise/pg", "neutral"),
    ]
    assert runs[0]["output"]["summary"] == "1 error"
    annotations = server.annotations(world.owner, "source", runs[0]["id"])
    assert [(a["path"], a["start_line"], a["message"]) for a in annotations] == [
        ("promises/redis.yaml", 3, "bad")
    ]


def test_check_runs_list_their_open_pull_requests(
    server: GitHubServer, world: World, token: str
) -> None:
    head = add_branch(world.state_path, "checked", {"c": "c"})
    with client(server, token, lazy=True) as gh:
        repo = gh.get_repo(f"{world.owner}/state")
        pr = repo.create_pull(title="checked", body="", head="checked", base="main")
        run = repo.create_check_run(name="plan", head_sha=head, status="queued")
        assert [p.number for p in run.pull_requests] == [pr.number]


# Git over HTTP --------------------------------------------------------------------------------


def basic(token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()


def test_git_clone_and_push_with_the_installation_token(
    server: GitHubServer, world: World, token: str, tmp_path: Path
) -> None:
    url = server.clone_url(world.owner, "state")
    git(tmp_path, "-c", f"http.extraHeader={basic(token)}", "clone", "-q", url, "work")
    work = tmp_path / "work"
    assert (work / "README.md").read_text() == "# state\n"
    (work / "new.yaml").write_text("kind: Thing\n")
    git(work, "checkout", "-q", "-b", "gitbot/pushed")
    git(work, "add", "new.yaml")
    git(work, "commit", "-q", "-m", "add thing")
    start = len(server.requests)
    git(work, "-c", f"http.extraHeader={basic(token)}", "push", "-q", "origin", "gitbot/pushed")
    pushed = git(work, "rev-parse", "HEAD").stdout.strip()
    records = server.requests[start:]
    assert [(r.method, r.path.rsplit("/", 1)[-1], r.status, r.write) for r in records] == [
        ("GET", "refs", 200, False),
        ("POST", "git-receive-pack", 200, True),
    ]
    assert records[1].body  # the pack as sent
    assert records[1].headers["Authorization"] == "Basic ****"
    with client(server, token) as gh:
        repo = gh.get_repo(f"{world.owner}/state")
        assert repo.get_branch("gitbot/pushed").commit.sha == pushed
        pr = repo.create_pull(title="pushed", body="", head="gitbot/pushed", base="main")
        (work / "new.yaml").write_text("kind: Other\n")
        git(work, "commit", "-q", "-am", "change thing")
        git(work, "-c", f"http.extraHeader={basic(token)}", "push", "-q", "origin", "HEAD")
        assert repo.get_pull(pr.number).head.sha == git(work, "rev-parse", "HEAD").stdout.strip()


def test_new_repositories_are_empty_until_pushed(
    server: GitHubServer, app: App, tmp_path: Path
) -> None:
    owner = f"user{next(_names)}"
    server.create_repo(owner, "fresh")
    token = server.issue_token(server.install(app.id, owner, ["fresh"]))
    url = server.clone_url(owner, "fresh")
    header = f"http.extraHeader={basic(token)}"
    git(tmp_path, "-c", header, "clone", "-q", url, "work")
    work = tmp_path / "work"
    with client(server, token, retry=None) as gh:
        repo = gh.get_repo(f"{owner}/fresh")
        assert repo.owner.type == "User"
        with pytest.raises(github.GithubException) as caught:
            repo.get_branch("main")
        assert caught.value.status == 404
        (work / "a.txt").write_text("a\n")
        git(work, "add", "a.txt")
        git(work, "commit", "-q", "-m", "first")
        git(work, "-c", header, "push", "-q", "origin", "HEAD:main")
        assert repo.get_branch("main").commit.commit.message == "first"


def test_git_credentials_in_the_url_work_too(
    server: GitHubServer, world: World, token: str, tmp_path: Path
) -> None:
    url = server.clone_url(world.owner, "source").replace("://", f"://x-access-token:{token}@")
    start = len(server.requests)
    git(tmp_path, "clone", "-q", url, "work")
    first, *rest = server.requests[start:]  # git asks without credentials first
    assert first.status == 401
    assert first.response_headers["WWW-Authenticate"] == 'Basic realm="GitHub"'
    assert [r.status for r in rest] == [200] * len(rest)
    assert (tmp_path / "work" / "README.md").exists()


def test_git_refuses_wrong_expired_and_foreign_tokens(
    server: GitHubServer, app: App, world: World, tmp_path: Path
) -> None:
    url = server.clone_url(world.owner, "state")
    refused = git(
        tmp_path, "-c", f"http.extraHeader={basic('ghs_wrong')}", "clone", url, "a", check=False
    )
    assert refused.returncode != 0
    assert server.requests[-1].status == 401
    other = f"org{next(_names)}"
    server.create_repo(other, "private", owner_type="Organization")
    foreign = server.issue_token(server.install(app.id, other, ["private"]))
    refused = git(
        tmp_path, "-c", f"http.extraHeader={basic(foreign)}", "clone", url, "b", check=False
    )
    assert refused.returncode != 0
    assert "not found" in refused.stderr.lower()
    assert server.requests[-1].status == 404


def test_git_push_needs_contents_write(
    server: GitHubServer, app: App, world: World, token: str, tmp_path: Path
) -> None:
    jwt_header = f"Bearer {github.Auth.AppAuth(app.id, app.private_key_pem.decode()).token}"
    _, _, issued = call(
        "POST",
        f"{server.api_url}/app/installations/{world.installation}/access_tokens",
        jwt_header,
        {"permissions": {"contents": "read", "metadata": "read"}},
    )
    url = server.clone_url(world.owner, "state")
    reader = f"http.extraHeader={basic(issued['token'])}"
    git(tmp_path, "-c", reader, "clone", "-q", url, "work")
    work = tmp_path / "work"
    git(work, "commit", "-q", "--allow-empty", "-m", "empty")
    refused = git(work, "-c", reader, "push", "origin", "HEAD:refs/heads/nope", check=False)
    assert refused.returncode != 0
    assert server.requests[-1].status == 403
    with (
        client(server, issued["token"], retry=None) as gh,
        pytest.raises(github.GithubException) as caught,
    ):
        gh.get_repo(f"{world.owner}/state").create_pull(title="t", body="", head="x", base="main")
    assert (caught.value.status, caught.value.data["message"]) == (
        403,
        "Resource not accessible by integration",
    )


# Faults and the record ----------------------------------------------------------------------


def test_secondary_rate_limit_and_429_are_retried_after_retry_after(
    server: GitHubServer, world: World, token: str
) -> None:
    path = f"/repos/{world.owner}/state"
    server.inject("rate_limit", method="GET", path=path, retry_after=0)
    server.inject("too_many_requests", method="GET", path=path, retry_after=1)
    start = len(server.requests)
    with client(server, token, retry=GithubRetry(total=3)) as gh:
        assert gh.get_repo(f"{world.owner}/state").name == "state"
    records = server.requests[start:]
    assert [(r.status, r.fault) for r in records] == [
        (403, "rate_limit"),
        (429, "too_many_requests"),
        (200, None),
    ]
    assert records[1].response_headers["retry-after"] == "1"
    assert records[0].response_headers["x-ratelimit-remaining"] == "0"
    assert (
        records[0].response_json["message"].startswith("You have exceeded a secondary rate limit")
    )


def test_server_errors_and_delays(server: GitHubServer, world: World, token: str) -> None:
    fault = server.inject("server_error", status=502, count=2, path="/api/v3/repos/")
    with client(server, token, retry=None) as gh:
        with pytest.raises(github.GithubException) as caught:
            gh.get_repo(f"{world.owner}/state")
        assert caught.value.status == 502
    with client(server, token, retry=GithubRetry(total=3)) as gh:
        assert gh.get_repo(f"{world.owner}/state").name == "state"
    assert fault.hits == 2
    assert [r.status for r in server.requests[-3:]] == [502, 502, 200]
    server.inject("delay", seconds=0.3)
    begun = time.monotonic()
    status, _, _ = call("GET", f"{server.api_url}/rate_limit")
    assert status == 200 and time.monotonic() - begun >= 0.3


def test_primary_rate_limit_names_the_installation(
    server: GitHubServer, world: World, token: str
) -> None:
    server.inject("primary_rate_limit", retry_after=30, path=f"/repos/{world.owner}/")
    status, headers, body = call(
        "GET", f"{server.api_url}/repos/{world.owner}/state", f"token {token}"
    )
    assert status == 403
    assert body["message"] == f"API rate limit exceeded for installation ID {world.installation}."
    assert headers["x-ratelimit-remaining"] == "0" and "retry-after" not in headers
    assert 25 <= int(headers["x-ratelimit-reset"]) - time.time() <= 31


def test_unknown_paths_and_missing_credentials(server: GitHubServer, world: World) -> None:
    status, _, body = call("GET", f"{server.api_url}/nothing/here")
    assert (status, body["message"]) == (404, "Not Found")
    status, _, body = call("GET", f"{server.api_url}/repos/{world.owner}/state")
    assert (status, body["message"]) == (401, "Requires authentication")


def test_the_record_redacts_authorization_and_flags_writes(
    server: GitHubServer, world: World, token: str
) -> None:
    add_branch(world.state_path, "rec", {"r": "r"})
    start = len(server.requests)
    with client(server, token) as gh:
        repo = gh.get_repo(f"{world.owner}/state")
        repo.create_pull(title="rec", body="secret-free body", head="rec", base="main")
    reads, write = server.requests[start:]
    assert (reads.method, reads.write, write.method, write.write) == ("GET", False, "POST", True)
    assert write.json == {
        "title": "rec",
        "body": "secret-free body",
        "head": "rec",
        "base": "main",
    }
    assert write.query == ""
    assert all(token not in json.dumps(r.headers) for r in server.requests)
    assert write.headers["Authorization"] == "token ****"


# Running on its own ---------------------------------------------------------------------------


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ghserver",
            "--port",
            "0",
            "--data",
            str(tmp_path),
            "--repo",
            "acme/state",
            "--repo",
            "acme/source",
            "--org",
            "acme",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "Serving; Ctrl-C stops.":
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line.rstrip("\n"))
        facts = dict(line.split(":", 1) for line in lines[:-1] if ": " in line)
        api = facts["GitHub API"].strip()
        key = Path(facts["Private key"].strip())
        assert key == tmp_path / "app-1.pem" and key.read_bytes().startswith(b"-----BEGIN")
        assert facts["Installation"].strip().endswith("(acme: state, source)")
        with integration(api, 1, key.read_text()) as gi:
            issued = gi.get_access_token(int(facts["Installation"].split()[0]))
        status, _, body = call("GET", f"{api}/repos/acme/source", f"token {issued.token}")
        assert (status, body["owner"]["type"]) == (200, "Organization")
        assert [ln.split()[-1] for ln in lines if ln.startswith("Clone URL")] == [
            api.removesuffix("/api/v3") + "/acme/state.git",
            api.removesuffix("/api/v3") + "/acme/source.git",
        ]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_conditional_reads_answer_304_and_cost_no_rate_limit_point(
    server: GitHubServer, world: World, token: str
) -> None:
    url = f"{server.api_url}/repos/{world.owner}/source/git/ref/heads/main"
    auth = f"token {token}"
    status, headers, _ = call("GET", url, auth)
    assert status == 200 and headers["etag"].startswith('W/"')
    etag, used = headers["etag"], server.rate_limit_used(world.installation)

    def conditional(tag: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(url, headers={"Authorization": auth, "If-None-Match": tag})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    for tag in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        status, headers, raw = conditional(tag)
        assert (status, raw, headers["ETag"]) == (304, b"", etag), tag
        assert headers["x-ratelimit-used"] == str(used)
    assert server.rate_limit_used(world.installation) == used  # 304s are free

    status, _, _ = conditional('W/"something-else"')
    assert status == 200 and server.rate_limit_used(world.installation) == used + 1
    sha = add_branch(world.source_path, "main", {"b.txt": "b\n"})
    status, headers, raw = conditional(etag)  # the branch moved: a full answer, a new tag
    assert status == 200 and json.loads(raw)["object"]["sha"] == sha
    assert headers["ETag"] != etag and server.rate_limit_used(world.installation) == used + 2
