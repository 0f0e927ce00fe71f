"""The in-tree GitHub's records: accounts, Apps, installations, repositories, pulls, checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

AccountType = Literal["User", "Organization", "Bot"]
# What a collaborator may do, highest first; GitHub's `permission` field only knows four words.
ROLES = ("admin", "maintain", "write", "triage", "read")
ROLE_ALIASES = {"push": "write", "pull": "read"}
DEFAULT_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
}
DEFAULT_EVENTS = ("check_run", "check_suite", "issue_comment", "pull_request", "push")


def now() -> datetime:
    """The current time, timezone-aware, to the second (GitHub shows no fractions)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Account:
    """A user, organization or App bot."""

    id: int
    login: str
    type: AccountType


@dataclass
class App:
    """A registered GitHub App and its key pair."""

    id: int
    slug: str
    name: str
    owner: Account
    bot: Account
    private_key_pem: bytes
    public_key_pem: bytes
    private_key_path: Path
    created_at: datetime = field(default_factory=now)


@dataclass
class Repo:
    """A repository: its bare git folder and GitHub-side settings."""

    id: int
    owner: Account
    name: str
    path: Path
    default_branch: str
    created_at: datetime = field(default_factory=now)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role
    labels: dict[str, Label] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class Installation:
    """An App installed on an account, for some of its repositories."""

    id: int
    app: App
    account: Account
    repo_ids: set[int]
    permissions: dict[str, str]
    repository_selection: Literal["all", "selected"] = "selected"
    created_at: datetime = field(default_factory=now)


@dataclass
class Token:
    """An installation access token, maybe narrowed to fewer repositories or permissions."""

    value: str
    installation: Installation
    expires_at: datetime
    repo_ids: set[int] | None  # None: every repository of the installation
    permissions: dict[str, str]


@dataclass
class Label:
    """A repository label."""

    id: int
    name: str
    color: str = "ededed"
    description: str = ""


@dataclass
class PullRequest:
    """A pull request; its head sha is read from the bare repo while the branch exists."""

    id: int
    number: int
    repo: Repo
    user: Account
    title: str
    body: str | None
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    draft: bool
    maintainer_can_modify: bool
    state: Literal["open", "closed"] = "open"
    merged: bool = False
    merged_at: datetime | None = None
    merged_by: Account | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    labels: list[Label] = field(default_factory=list)
    reviewers: list[Account] = field(default_factory=list)
    team_reviewers: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Reaction:
    """A reaction on an issue comment."""

    id: int
    user: Account
    content: str
    created_at: datetime = field(default_factory=now)


@dataclass
class Comment:
    """An issue (or pull request conversation) comment."""

    id: int
    repo: Repo
    number: int
    user: Account
    body: str
    app: App | None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class CheckRun:
    """A check run on a commit, created by an App."""

    id: int
    repo: Repo
    app: App
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, str | None] = field(
        default_factory=lambda: {"title": None, "summary": None, "text": None}
    )
    annotations: list[dict[str, Any]] = field(default_factory=list)
    check_suite_id: int = 0
