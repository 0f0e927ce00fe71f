"""Keep one pull request per gitbot branch on the state repository, as design.md describes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import github
from github.PullRequest import PullRequest
from github.Repository import Repository

from gitbot.github.client import GitHubError
from gitbot.github.prbody import parse_marker
from gitbot.source.config import PullRequestSettings

PrAction = Literal["opened", "updated", "unchanged", "closed", "commented", "declined", "none"]
T = TypeVar("T")
HUMAN_COMMIT_MARKER = "<!-- gitbot:human-commit {sha} -->"


@dataclass(frozen=True)
class PrResult:
    """What gitbot did to a branch's pull request."""

    action: PrAction
    number: int | None = None
    url: str | None = None
    comment_url: str | None = None  # the comment gitbot wrote (or had written) on it


class PullRequests:
    """The gitbot pull requests of one state repository."""

    def __init__(self, repo: Repository, base_branch: str, settings: PullRequestSettings) -> None:
        self.repo = repo
        self.base_branch = base_branch
        self.settings = settings
        self._owner: str | None = None

    def for_branch(self, branch: str) -> list[PullRequest]:
        """Every PR from this branch to base, newest first (found again after a restart)."""
        head = f"{self._repo_owner()}:{branch}"
        pulls = self._call(
            "list pull requests",
            lambda: list(self.repo.get_pulls(state="all", head=head, base=self.base_branch)),
        )
        return sorted(pulls, key=lambda pr: pr.number, reverse=True)

    def declined(self, branch: str, content_hash: str) -> PullRequest | None:
        """The newest PR, if it was closed unmerged with exactly this content."""
        pulls = self.for_branch(branch)
        if not pulls or pulls[0].state != "closed" or pulls[0].merged:
            return None
        marker = parse_marker(pulls[0].body)
        return pulls[0] if marker and marker.content_hash == content_hash else None

    def sync(self, branch: str, title: str, body: str, changed: bool) -> PrResult:
        """Open or update the branch's PR; no write at all when nothing differs."""
        pulls = self.for_branch(branch)
        current = next((pr for pr in pulls if pr.state == "open"), None)
        if current is None:
            if not changed and pulls and not pulls[0].merged:
                return PrResult("declined", pulls[0].number, pulls[0].html_url)
            return self._open(branch, title, body)
        if not changed or (current.title == title and current.body == body):
            return PrResult("unchanged", current.number, current.html_url)
        self._call("update the pull request", lambda: current.edit(title=title, body=body))
        return PrResult("updated", current.number, current.html_url)

    def close(self, branch: str, comment: str) -> PrResult:
        """Close the open PR with a comment (its content reached base some other way)."""
        current = next((pr for pr in self.for_branch(branch) if pr.state == "open"), None)
        if current is None:
            return PrResult("none")
        self._call("comment", lambda: current.create_issue_comment(comment))
        self._call("close the pull request", lambda: current.edit(state="closed"))
        return PrResult("closed", current.number, current.html_url)

    def comment_once(self, branch: str, key: str, comment: str) -> PrResult:
        """Comment on the open PR unless a comment with this hidden key is there already."""
        current = next((pr for pr in self.for_branch(branch) if pr.state == "open"), None)
        if current is None:
            return PrResult("none")
        tag = HUMAN_COMMIT_MARKER.format(sha=key)
        comments = self._call("list comments", lambda: list(current.get_issue_comments()))
        written = next((c for c in comments if tag in (c.body or "")), None)
        if written is not None:
            return PrResult("unchanged", current.number, current.html_url, written.html_url)
        new = self._call("comment", lambda: current.create_issue_comment(f"{comment}\n\n{tag}"))
        return PrResult("commented", current.number, current.html_url, new.html_url)

    def _open(self, branch: str, title: str, body: str) -> PrResult:
        try:
            pr = self.repo.create_pull(
                base=self.base_branch,
                head=branch,
                title=title,
                body=body,
                draft=self.settings.draft,
            )
        except github.GithubException as e:
            if e.status == 422 and "already exists" in str(e.data):
                return self.sync(branch, title, body, changed=True)  # opened meanwhile
            raise GitHubError(f"cannot open a pull request for {branch}: {_reason(e)}") from e
        if self.settings.labels:
            self._call("label the pull request", lambda: pr.add_to_labels(*self.settings.labels))
        if self.settings.reviewers:
            reviewers = list(self.settings.reviewers)
            self._call("request reviewers", lambda: pr.create_review_request(reviewers=reviewers))
        return PrResult("opened", pr.number, pr.html_url)

    def _repo_owner(self) -> str:
        if self._owner is None:
            self._owner = self.repo.full_name.split("/", 1)[0]
        return self._owner

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except github.GithubException as e:
            raise GitHubError(f"GitHub refused to {what}: {_reason(e)}") from e


def _reason(e: github.GithubException) -> str:
    data = e.data if isinstance(e.data, dict) else {}
    message = data.get("message") or str(e)
    errors: Sequence[object] = data.get("errors") or ()
    details = "; ".join(
        str(err.get("message", err)) if isinstance(err, dict) else str(err) for err in errors
    )
    return f"{e.status} {message}" + (f" ({details})" if details else "")
