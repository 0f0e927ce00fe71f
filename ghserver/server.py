"""GitHubServer: the in-tree GitHub (REST and git over HTTP) and the helpers tests drive it with."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ghserver import pulls, render
from ghserver.app import create_app
from ghserver.faults import Fault, FaultKind
from ghserver.model import AccountType, PullRequest, Repo
from ghserver.record import RecordedRequest
from ghserver.render import Json, Urls
from ghserver.state import State
from ghserver.web import RequestCheck, Services


@dataclass(frozen=True)
class App:
    """A registered App as tests see it."""

    id: int
    slug: str
    private_key_pem: bytes
    private_key_path: Path


class _QuietHandler(WSGIRequestHandler):
    """Serves requests without a log line each (tests read `GitHubServer.requests`)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        del code, size


class GitHubServer:
    """GitHub's REST API (under /api/v3) and git over HTTP, for one machine and its tests."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        git_timeout: float = 120.0,
        log_requests: bool = False,
        request_check: RequestCheck | None = None,
    ) -> None:
        """`request_check`: answer 422 (and record why) for requests GitHub would refuse."""
        self.data_dir = Path(data_dir)
        self.state = State(self.data_dir)
        self.services = Services(self.state, git_timeout=git_timeout, request_check=request_check)
        self.wsgi_app = create_app(self.services)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._handler = WSGIRequestHandler if log_requests else _QuietHandler

    # Serving --------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve in a background thread (one thread per request); the base URL."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = make_server(
            host, port, self.wsgi_app, threaded=True, request_handler=self._handler
        )
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ghserver", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> GitHubServer:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The REST base URL, GitHub Enterprise style (`<url>/api/v3`)."""
        return f"{self.url}/api/v3"

    def clone_url(self, owner: str, repo: str) -> str:
        """The repository's HTTP clone URL (without credentials)."""
        found = self.state.repo(owner, repo)
        return f"{self.url}/{found.full_name}.git"

    # Accounts, Apps, repositories -----------------------------------------------------------

    def create_app(self, slug: str = "gitbot", owner: str = "gitbot-dev") -> App:
        """Register an App; its private key is written to `<data_dir>/app-<id>.pem`."""
        app = self.state.create_app(slug, owner)
        return App(app.id, app.slug, app.private_key_pem, app.private_key_path)

    def create_repo(
        self,
        owner: str,
        name: str,
        default_branch: str = "main",
        *,
        owner_type: AccountType = "User",
        auto_init: bool = False,
    ) -> Path:
        """A bare repository, empty as GitHub creates them unless `auto_init` (a README commit).

        Owners are created on first use, as users unless `owner_type="Organization"`.
        """
        return self.state.create_repo(owner, name, default_branch, owner_type, auto_init).path

    def install(
        self,
        app_id: int,
        account: str,
        repos: list[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> int:
        """Install an App on an account for some repositories (names) or all (None); its id."""
        found = self.state.find_account(account)
        if found is None:
            raise ValueError(f"no account {account}")
        chosen = None
        if repos is not None:
            chosen = [self.state.repo(account, r.split("/")[-1]) for r in repos]
        return self.state.install(self.state.apps[app_id], found, chosen, permissions).id

    def issue_token(self, installation_id: int) -> str:
        """A fresh installation token without an HTTP call (for git-only tests)."""
        installation = self.state.installations[installation_id]
        return self.state.issue_token(installation, None, None, None).value

    def add_collaborator(
        self, owner: str, repo: str, login: str, permission: str = "write"
    ) -> None:
        """Give a user a role: admin, maintain, write (push), triage or read (pull)."""
        self.state.add_collaborator(self.state.repo(owner, repo), login, permission)

    @property
    def token_lifetime(self) -> timedelta:
        """How long new installation tokens live (GitHub: one hour)."""
        return self.state.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, value: timedelta | float) -> None:
        self.state.token_lifetime = (
            value if isinstance(value, timedelta) else timedelta(seconds=value)
        )

    # What happened (as GitHub's JSON, the way the REST API shows it) ----------------------

    def repo_path(self, owner: str, repo: str) -> Path:
        """The bare repository's folder."""
        return self.state.repo(owner, repo).path

    def pulls(self, owner: str, repo: str) -> list[Json]:
        """Every pull request of a repository (pull-request objects), by number."""
        found = self.state.repo(owner, repo)
        with self.state.lock:
            items = sorted(self.state.pulls[found.id].values(), key=lambda pr: pr.number)
            pulls.refresh(found, items)
            return [self._pull_json(found, pr) for pr in items]

    def pull(self, owner: str, repo: str, number: int) -> Json:
        """One pull request (a pull-request object)."""
        found = self.state.repo(owner, repo)
        return self._pull_json(found, pulls.get(self.state, found, number))

    def _pull_json(self, repo: Repo, pr: PullRequest) -> Json:
        return render.pull(pr, pulls.stats(self.state, repo, pr), Urls(self.url))

    def check_runs(self, owner: str, repo: str) -> list[Json]:
        """Every check run on a repository (check-run objects), oldest first."""
        found = self.state.repo(owner, repo)
        runs = sorted(
            (r for r in self.state.check_runs.values() if r.repo is found), key=lambda r: r.id
        )
        return [
            render.check_run(
                r, pulls.pulls_for_commit(self.state, found, r.head_sha), Urls(self.url)
            )
            for r in runs
        ]

    def annotations(self, owner: str, repo: str, check_run_id: int) -> list[Json]:
        """The annotations sent for a check run, across all its updates, in order."""
        run = self.state.check_runs.get(check_run_id)
        if run is None or run.repo is not self.state.repo(owner, repo):
            raise KeyError(f"no check run {check_run_id} on {owner}/{repo}")
        return [dict(a) for a in run.annotations]

    def comments(self, owner: str, repo: str, number: int) -> list[Json]:
        """The comments on a pull request (issue-comment objects), oldest first."""
        found = self.state.repo(owner, repo)
        return [
            render.issue_comment(c, Urls(self.url))
            for c in pulls.comments(self.state, found, number, None)
        ]

    def merge_pull(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        by: str | None = None,
        delete_branch: bool = False,
    ) -> str:
        """Merge a pull request as a person would (fast-forward when possible); the new base sha."""
        found = self.state.repo(owner, repo)
        merger = self.state.account(by) if by else found.owner
        return pulls.merge(self.state, found, number, merger, delete_branch)

    def close_pull(self, owner: str, repo: str, number: int) -> None:
        """Close a pull request without merging it."""
        pulls.update(self.state, self.state.repo(owner, repo), number, status="closed")

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far (Authorization redacted), oldest first."""
        return self.services.record.snapshot()

    @property
    def request_violations(self) -> list[str]:
        """Each request the request check refused, with its reasons: a test fails on these."""
        return [
            f"{r.method} {r.path}{'?' + r.query if r.query else ''}: {'; '.join(r.violations)}"
            for r in self.requests
            if r.violations
        ]

    def clear_requests(self) -> None:
        """Forget the requests so far."""
        self.services.record.clear()

    def rate_limit_used(self, installation_id: int) -> int:
        """Rate-limit points the installation spent in its current hour (304s cost none)."""
        return self.services.limits.window(f"installation:{installation_id}").used

    def inject(
        self,
        kind: FaultKind,
        *,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        status: int = 502,
        retry_after: int = 1,
        seconds: float = 0.0,
    ) -> Fault:
        """Answer the next `count` matching requests with a fault (see `Fault` for kinds)."""
        fault = Fault(kind, count, method, path, status, retry_after, seconds)
        return self.services.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop faults not used yet."""
        self.services.faults.clear()
