"""GitHub clients as an App (JWT -> installation tokens) or with a plain token.

The only module, with the other `gitbot.github` modules, that imports PyGithub. Every client has
a timeout, retries 5xx and rate limits with backoff (honouring `retry-after` and
`x-ratelimit-reset`, via PyGithub's GithubRetry), and paces requests per installation.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import github
import github.Auth
from github import Github, GithubIntegration, GithubRetry
from github.Repository import Repository

from gitbot.errors import ExternalError, UserError
from gitbot.github.calls import count_github_calls
from gitbot.gitrepo import CachedRepo, RepoCache
from gitbot.secrets import Redactor, Secret

# Refresh installation tokens this long before GitHub expires them (they live one hour), so a
# token handed to a long git push or pipeline run does not lapse midway.
TOKEN_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class GitHubSettings:
    """How gitbot reaches GitHub (GITBOT_GITHUB_* settings)."""

    api_url: str = "https://api.github.com"
    app_id: int | None = None
    private_key: Secret | None = None
    token: Secret | None = None
    timeout: float = 30.0
    retries: int = 5
    request_interval: float = 0.25  # PyGithub's own default pacing
    write_interval: float = 1.0  # GitHub asks for a second between content-creating calls


class GitHubError(ExternalError):
    """A GitHub call failed after its retries."""


@dataclass(frozen=True)
class BranchHead:
    """A branch's head as a conditional read saw it.

    `sha` is None when the branch does not exist; `modified` is False when GitHub answered 304
    (the head is the one `etag` was given for, and the call cost no rate-limit point).
    """

    sha: str | None
    etag: str | None
    modified: bool


class InstallationTokens:
    """Installation tokens minted with the App's JWT, cached per installation."""

    def __init__(self, integration: GithubIntegration, redactor: Redactor) -> None:
        self._integration = integration
        self._redactor = redactor
        self._tokens: dict[int, tuple[Secret, datetime]] = {}
        self._lock = threading.Lock()

    def token(self, installation_id: int) -> Secret:
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached[1] - TOKEN_MARGIN > datetime.now(UTC):
                return cached[0]
            grant = self._integration.get_access_token(installation_id)
            token = Secret(grant.token)
            self._redactor.add(token)
            expires = grant.expires_at or datetime.now(UTC) + timedelta(hours=1)
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            self._tokens[installation_id] = (token, expires)
            return token


class _InstallationAuth(github.Auth.Auth):
    """PyGithub auth that asks the token cache on every request, so refreshes are seamless."""

    def __init__(self, tokens: InstallationTokens, installation_id: int) -> None:
        self._tokens = tokens
        self._installation_id = installation_id

    @property
    def token_type(self) -> str:
        return "token"

    @property
    def token(self) -> str:
        return self._tokens.token(self._installation_id)


class GitHubApp:
    """Clients per installation (or one for a plain token), and git credentials for clones."""

    def __init__(self, settings: GitHubSettings, redactor: Redactor) -> None:
        if settings.token is None and (settings.app_id is None or settings.private_key is None):
            raise UserError(
                "GitHub needs GITBOT_GITHUB_APP_ID and GITBOT_GITHUB_PRIVATE_KEY_FILE, "
                "or GITBOT_GITHUB_TOKEN"
            )
        count_github_calls()
        self.settings = settings
        self.redactor = redactor
        self._lock = threading.Lock()
        self._installations: dict[str, int] = {}
        self._clients: dict[int, Github] = {}
        self._tokens: InstallationTokens | None = None
        self._integration: GithubIntegration | None = None
        if settings.token is not None:
            redactor.add(settings.token)
        else:
            assert settings.app_id is not None and settings.private_key is not None
            self._integration = GithubIntegration(
                auth=github.Auth.AppAuth(settings.app_id, str(settings.private_key)),
                base_url=settings.api_url,
                timeout=int(settings.timeout),
                retry=self._retry(),
            )
            self._tokens = InstallationTokens(self._integration, redactor)

    def ping(self) -> None:
        """Raise unless GitHub answers with these credentials (for /readyz)."""
        try:
            if self._integration is not None:
                self._integration.get_app()
            else:
                Github(
                    auth=github.Auth.Token(str(self.settings.token)),
                    base_url=self.settings.api_url,
                    timeout=int(self.settings.timeout),
                ).get_rate_limit()
        except github.GithubException as e:
            raise GitHubError(f"GitHub answered {e.status}") from e

    def repo(self, full_name: str) -> Repository:
        """The repository through its installation's client (lazy: no API call here)."""
        client = self.client_for(full_name)
        return client.get_repo(full_name)

    def client_for(self, full_name: str) -> Github:
        installation = self.installation_id(full_name)
        with self._lock:
            client = self._clients.get(installation)
            if client is None:
                client = Github(
                    auth=self._auth(installation),
                    base_url=self.settings.api_url,
                    timeout=int(self.settings.timeout),
                    retry=self._retry(),
                    per_page=100,
                    lazy=True,  # objects are fetched when first read, saving calls
                    seconds_between_requests=self.settings.request_interval,
                    seconds_between_writes=self.settings.write_interval,
                )
                self._clients[installation] = client
            return client

    def branch_head(self, full_name: str, branch: str, etag: str | None = None) -> BranchHead:
        """The branch's head commit, read with `If-None-Match: etag` when given (git/get-ref).

        GitHub does not count a 304 against the rate limit, so polling unchanged branches is
        free. Raises GitHubError when GitHub refuses (other than 404: no such branch).
        """
        client = self.client_for(full_name)
        url = f"/repos/{full_name}/git/ref/heads/{quote(branch, safe='/')}"
        headers = {"If-None-Match": etag} if etag else {}
        try:
            answer, data = client.requester.requestJsonAndCheck("GET", url, headers=headers)
        except github.UnknownObjectException:
            return BranchHead(None, None, True)
        except github.GithubException as e:
            raise GitHubError(f"cannot read branch {branch} of {full_name}: {e.status}") from e
        found = {k.lower(): v for k, v in answer.items()}
        if not isinstance(data, dict):  # 304 Not Modified: no body
            return BranchHead(None, etag, False)
        sha = data.get("object", {}).get("sha")
        return BranchHead(str(sha) if sha else None, found.get("etag"), True)

    def installation_id(self, full_name: str) -> int:
        """The App's installation on this repository (0 in plain-token mode)."""
        if self._integration is None:
            return 0
        with self._lock:
            if full_name not in self._installations:
                owner, _, name = full_name.partition("/")
                try:
                    found = self._integration.get_repo_installation(owner, name)
                except github.UnknownObjectException as e:
                    raise UserError(f"the GitHub App is not installed on {full_name}") from e
                except github.GithubException as e:
                    raise GitHubError(f"cannot look up the installation on {full_name}: {e}") from e
                self._installations[full_name] = found.id
            return self._installations[full_name]

    def clone_url(self, full_name: str) -> str:
        """The repository's git URL (credentials travel in a header, never here)."""
        return f"{web_url(self.settings.api_url)}/{full_name}.git"

    def git_auth_header(self, url: str) -> Secret | None:
        """`Authorization` for git over HTTP: Basic x-access-token:<installation token>."""
        prefix = web_url(self.settings.api_url) + "/"
        if not url.startswith(prefix):
            return None
        full_name = url[len(prefix) :].removesuffix(".git")
        token = self._token_for(self.installation_id(full_name))
        encoded = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        header = Secret(f"Basic {encoded}")
        self.redactor.add(header)
        self.redactor.add(encoded)
        return header

    def _token_for(self, installation: int) -> Secret:
        if self._tokens is None:
            assert self.settings.token is not None
            return self.settings.token
        return self._tokens.token(installation)

    def _auth(self, installation: int) -> github.Auth.Auth:
        if self._tokens is None:
            assert self.settings.token is not None
            return github.Auth.Token(str(self.settings.token))
        return _InstallationAuth(self._tokens, installation)

    def _retry(self) -> GithubRetry:
        return GithubRetry(
            total=self.settings.retries,
            backoff_factor=0.5,
            status_forcelist=[*range(500, 600), 429],
            secondary_rate_wait=60,
            max_rate_limit_wait=900,
        )


def web_url(api_url: str) -> str:
    """github.com's or an Enterprise server's web address from its API address."""
    api_url = api_url.rstrip("/")
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return f"{parts.scheme}://github.com"
    return api_url.removesuffix("/api/v3")


def is_full_name(value: str) -> bool:
    """`owner/name` (a GitHub repository) rather than a path or URL."""
    owner, slash, name = value.partition("/")
    return (
        bool(slash and owner and name)
        and "/" not in name
        and not value.startswith((".", "~"))
        and ":" not in value
    )


class AppRepoOpener:
    """Opens repositories through a RepoCache, `owner/name` through the App's clone URL."""

    def __init__(self, cache: RepoCache, app: GitHubApp) -> None:
        self._cache = cache
        self._app = app

    def open(self, url: str) -> CachedRepo:
        if is_full_name(url) and not Path(url).exists():
            return self._cache.open(self._app.clone_url(url))
        return self._cache.open(url)


def collaborator_permission(repo: Repository, login: str) -> str:
    """`admin`, `write`, `read` or `none`: what `login` may do in `repo`.

    GitHub answers 404 for an account it does not know (deleted, renamed, never existed): that
    account may do nothing, which is `none`, not an error.
    """
    try:
        return str(repo.get_collaborator_permission(login))
    except github.UnknownObjectException:
        return "none"
