"""Put planned changes into the state repository: one commit per branch on the latest base.

A branch is pushed only when its tree differs from what is there, and only with a lease on
where gitbot left it; a commit by anyone else on a gitbot branch stops gitbot from touching it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gitbot.errors import GitbotError, UserError
from gitbot.gitrepo import CachedRepo, CommitInfo, Identity
from gitbot.state.branchplan import BranchPlan, Changes

GITBOT = Identity("gitbot", "gitbot@users.noreply.gitbot.dev")
FIRST_BRANCH = "main"  # the base branch an empty state repository gets (README: `baseBranch`)
SOURCE_TRAILER = "Gitbot-Source-Commit"
BranchAction = Literal[
    "preview",
    "created",
    "updated",
    "unchanged",
    "no-change",
    "equal-to-base",
    "removed",
    "human-commit",
    "failed",
    "rejected",
]


@dataclass(frozen=True)
class BranchResult:
    """What happened to one branch, with the files it holds against base."""

    branch: str
    action: BranchAction
    commit: str | None = None
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class StateBase:
    """The base branch of the state repository (see `base_branch`), started in an empty one.

    Raises UserError when the branch is missing from a repository that has other branches:
    gitbot never starts an unrelated root branch beside existing history.
    """

    repo: CachedRepo
    branch: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        existing = self.repo.branch_sha(self.branch)
        if existing is None:
            others = self.repo.branches()
            if others:
                raise UserError(
                    f"the state repository {self.repo.url} has no branch {self.branch!r}; "
                    f"its branches: {', '.join(others)} (set baseBranch in .gitbot.yaml)"
                )
            root = self.repo.commit_files(None, {}, "gitbot: start the state branch\n", GITBOT)
            self.repo.push(root.sha, self.branch, expected=None)
            existing = root.sha
        self.sha = existing


def base_branch(repo: CachedRepo, configured: str | None) -> str:
    """The state branch gitbot's branches start from: `baseBranch` when set, else the state
    repository's default branch (the remote's HEAD, which on GitHub is the repository's default
    branch), else FIRST_BRANCH for an empty repository."""
    if configured is not None:
        return configured
    default = repo.default_branch()
    if default is not None and repo.branch_sha(default) is not None:
        return default
    branches = repo.branches()
    if not branches:
        return default or FIRST_BRANCH
    raise UserError(
        f"the state repository {repo.url} has no default branch to use as base "
        f"(its HEAD names {default or 'nothing'}); its branches: {', '.join(branches)} "
        "(set baseBranch in .gitbot.yaml)"
    )


def commit_message(title: str, source: str, source_commit: str, objects: Sequence[str]) -> str:
    """The commit message: what was built, from which source commit (as a trailer)."""
    lines = [title, "", f"Built from {source} at {source_commit}.", "", "Objects:"]
    lines += [f"- {o}" for o in objects] or ["- (none)"]
    lines += ["", f"Gitbot-Source: {source}", f"{SOURCE_TRAILER}: {source_commit}", ""]
    return "\n".join(lines)


def publish_branch(
    base: StateBase, plan: BranchPlan, changes: Changes, message: str
) -> BranchResult:
    """Push the plan's commit to its branch when needed; never over someone else's commit."""
    repo = base.repo
    if plan.failures:
        return BranchResult(plan.branch, "failed", detail=plan.failure_summary)
    commit = repo.commit_files(base.sha, changes, message, GITBOT)
    current = repo.branch_sha(plan.branch)
    if current is not None and not _made_by_gitbot(repo.commit_info(current)):
        return BranchResult(
            plan.branch,
            "human-commit",
            current,
            detail="the branch has a commit gitbot did not make; left alone",
        )
    if commit.tree == repo.tree_of(base.sha):
        if current is None:
            return BranchResult(plan.branch, "no-change")
        return BranchResult(plan.branch, "equal-to-base", current)
    diff = _diff(repo, base.sha, commit.sha)
    if current is not None:
        head = repo.commit_info(current)
        if head.tree == commit.tree and head.parents == (base.sha,):
            return BranchResult(plan.branch, "unchanged", current, *diff)
    try:
        repo.push(commit.sha, plan.branch, expected=current)
    except GitbotError as e:
        return BranchResult(plan.branch, "rejected", detail=str(e))
    return BranchResult(plan.branch, "created" if current is None else "updated", commit.sha, *diff)


def preview_branch(base: StateBase, plan: BranchPlan, changes: Changes) -> BranchResult:
    """What the branch would hold against base, computed locally; nothing is pushed."""
    if plan.failures:
        return BranchResult(plan.branch, "failed", detail=plan.failure_summary)
    commit = base.repo.commit_files(base.sha, changes, f"gitbot preview: {plan.title}\n", GITBOT)
    return BranchResult(plan.branch, "preview", None, *_diff(base.repo, base.sha, commit.sha))


def remove_branch(base: StateBase, result: BranchResult) -> BranchResult:
    """Delete a gitbot branch whose content is now on the base branch (with a lease)."""
    assert result.commit is not None
    base.repo.delete_branch(result.branch, expected=result.commit)
    return BranchResult(result.branch, "removed", detail="its content is now on the base branch")


def publish_direct(base: StateBase, changes: Changes, message: str) -> BranchResult:
    """Commit straight to the base branch (Kratix's own behaviour), with a lease."""
    repo = base.repo
    commit = repo.commit_files(base.sha, changes, message, GITBOT)
    if commit.tree == repo.tree_of(base.sha):
        return BranchResult(base.branch, "no-change")
    diff = _diff(repo, base.sha, commit.sha)
    repo.push(commit.sha, base.branch, expected=base.sha)
    base.sha = commit.sha
    return BranchResult(base.branch, "updated", commit.sha, *diff)


def _made_by_gitbot(info: CommitInfo) -> bool:
    return info.author == GITBOT and f"\n{SOURCE_TRAILER}: " in info.message


def _diff(
    repo: CachedRepo, old: str, new: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    found: dict[str, list[str]] = {"A": [], "M": [], "D": []}
    for status, path in repo.changed_paths(old, new):
        found.setdefault(status[0], []).append(path)
    return tuple(found["A"]), tuple(found["M"]), tuple(found["D"])
