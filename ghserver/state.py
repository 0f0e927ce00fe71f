"""The server's registry of accounts, Apps, repositories, installations and tokens (in memory)."""

from __future__ import annotations

import itertools
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghserver import bare
from ghserver.errors import ApiError, not_found, validation_failed
from ghserver.model import (
    DEFAULT_PERMISSIONS,
    ROLE_ALIASES,
    ROLES,
    Account,
    AccountType,
    App,
    CheckRun,
    Comment,
    Installation,
    PullRequest,
    Repo,
    Token,
)

# Distinct id ranges per kind make a mixed-up id show at a glance in a failing test.
_ID_BASES = {
    "account": 1000,
    "app": 1,
    "repo": 100_000,
    "installation": 10_000_000,
    "pull": 2_000_000_000,
    "comment": 3_000_000_000,
    "check_run": 4_000_000_000,
    "check_suite": 5_000_000_000,
    "label": 6_000_000_000,
    "reaction": 7_000_000_000,
}


class State:
    """Everything the server knows besides git objects; guard changes with `lock`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lock = threading.RLock()
        self.token_lifetime = timedelta(hours=1)
        self.accounts: dict[str, Account] = {}
        self.apps: dict[int, App] = {}
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.pulls: dict[int, dict[int, PullRequest]] = {}
        self.comments: dict[int, Comment] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.check_suites: dict[tuple[int, int, str], int] = {}
        self._issue_numbers: dict[int, Iterator[int]] = {}
        self._ids = {kind: itertools.count(base) for kind, base in _ID_BASES.items()}

    def new_id(self, kind: str) -> int:
        """A fresh id for a record of this kind."""
        with self.lock:
            return next(self._ids[kind])

    def next_number(self, repo: Repo) -> int:
        """The next issue/pull number in a repository (they share one sequence, as on GitHub)."""
        with self.lock:
            numbers = self._issue_numbers.setdefault(repo.id, itertools.count(1))
            return next(numbers)

    # Accounts -------------------------------------------------------------------------------

    def account(self, login: str, type: AccountType = "User") -> Account:
        """The account with this login, created when new."""
        with self.lock:
            found = self.accounts.get(login.lower())
            if found is None:
                found = Account(self.new_id("account"), login, type)
                self.accounts[login.lower()] = found
            elif found.type != type:
                raise ValueError(f"{login} is a {found.type}, not a {type}")
            return found

    def find_account(self, login: str) -> Account | None:
        """The account with this login, if any."""
        return self.accounts.get(login.lower())

    # Apps -----------------------------------------------------------------------------------

    def create_app(self, slug: str, owner: str) -> App:
        """Register an App with a fresh RSA key, written to `<data_dir>/app-<id>.pem`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with self.lock:
            if any(app.slug == slug for app in self.apps.values()):
                raise ValueError(f"an App named {slug} exists")
            app_id = self.new_id("app")
            path = self.data_dir / f"app-{app_id}.pem"
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(private_pem)
            app = App(
                id=app_id,
                slug=slug,
                name=slug,
                owner=self.account(owner, "Organization"),
                bot=self.account(f"{slug}[bot]", "Bot"),
                private_key_pem=private_pem,
                public_key_pem=public_pem,
                private_key_path=path,
            )
            self.apps[app_id] = app
            return app

    # Repositories ---------------------------------------------------------------------------

    def create_repo(
        self, owner: str, name: str, default_branch: str, owner_type: AccountType, auto_init: bool
    ) -> Repo:
        """Create a bare repository under `<data_dir>/<owner>/<name>.git`."""
        with self.lock:
            key = f"{owner}/{name}".lower()
            if key in self.repos:
                raise ValueError(f"repository {owner}/{name} exists")
            account = self.account(owner, owner_type)
            path = self.data_dir / owner / f"{name}.git"
            if not (path / "HEAD").exists():  # a folder kept from an earlier run is reused
                bare.init(path, default_branch, f"# {name}\n" if auto_init else None)
            repo = Repo(self.new_id("repo"), account, name, path, default_branch)
            self.repos[key] = repo
            self.pulls[repo.id] = {}
            return repo

    def repo(self, owner: str, name: str) -> Repo:
        """The repository, or 404."""
        found = self.repos.get(f"{owner}/{name}".lower())
        if found is None:
            raise not_found()
        return found

    def add_collaborator(self, repo: Repo, login: str, role: str) -> Account:
        """Give a user a role on a repository (admin, maintain, write/push, triage, read/pull)."""
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise ValueError(f"unknown role {role}; use one of {', '.join(ROLES)}")
        with self.lock:
            user = self.account(login)
            repo.collaborators[user.login.lower()] = role
            return user

    def role(self, repo: Repo, login: str) -> str | None:
        """A user's role on a repository; the owning user is its admin."""
        if repo.owner.type == "User" and repo.owner.login.lower() == login.lower():
            return "admin"
        return repo.collaborators.get(login.lower())

    # Installations and tokens ---------------------------------------------------------------

    def install(
        self,
        app: App,
        account: Account,
        repos: Iterable[Repo] | None,
        permissions: dict[str, str] | None,
    ) -> Installation:
        """Install an App on an account, for some repositories or (None) all of them."""
        with self.lock:
            if any(i.app is app and i.account is account for i in self.installations.values()):
                raise ValueError(f"{app.slug} is already installed on {account.login}")
            installation = Installation(
                id=self.new_id("installation"),
                app=app,
                account=account,
                repo_ids={repo.id for repo in repos or ()},
                permissions=dict(permissions or DEFAULT_PERMISSIONS),
                repository_selection="all" if repos is None else "selected",
            )
            self.installations[installation.id] = installation
            return installation

    def installation_repos(self, installation: Installation) -> list[Repo]:
        """The repositories an installation covers, by id."""
        return sorted(
            (r for r in self.repos.values() if covers(installation, r)), key=lambda r: r.id
        )

    def issue_token(
        self,
        installation: Installation,
        repo_names: list[str] | None,
        repo_ids: list[int] | None,
        permissions: dict[str, str] | None,
    ) -> Token:
        """A new installation token, maybe narrowed to some repositories and permissions."""
        allowed = self.installation_repos(installation)
        chosen: set[int] | None = None
        if repo_names is not None or repo_ids is not None:
            by_name = {r.name.lower(): r.id for r in allowed}
            wanted_names = [n.lower() for n in repo_names or []]
            unknown = [n for n in wanted_names if n not in by_name]
            unknown += [str(i) for i in repo_ids or [] if i not in by_name.values()]
            if unknown:
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible"
                    " to the parent installation.",
                )
            chosen = {by_name[n] for n in wanted_names} | set(repo_ids or [])
        granted = dict(installation.permissions)
        for name, level in (permissions or {}).items():
            if not _permits(granted.get(name), level):
                raise validation_failed(
                    "Installation",
                    "custom",
                    "permissions",
                    message=f"The permissions requested are not granted to "
                    f"this installation: {name}",
                )
        if permissions:
            granted = dict(permissions)
        token = Token(
            value="ghs_" + secrets.token_urlsafe(27)[:36],
            installation=installation,
            expires_at=datetime.now(UTC) + self.token_lifetime,  # shown to the second
            repo_ids=chosen,
            permissions=granted,
        )
        with self.lock:
            self.tokens[token.value] = token
        return token


def covers(installation: Installation, repo: Repo) -> bool:
    """Whether an installation includes a repository."""
    if installation.repository_selection == "all":
        return repo.owner is installation.account
    return repo.id in installation.repo_ids


def token_covers(token: Token, repo: Repo) -> bool:
    """Whether a token may see a repository."""
    if not covers(token.installation, repo):
        return False
    return token.repo_ids is None or repo.id in token.repo_ids


def _permits(granted: str | None, wanted: str) -> bool:
    order = {None: 0, "read": 1, "write": 2, "admin": 3}
    return order.get(granted, 0) >= order.get(wanted, 3)
