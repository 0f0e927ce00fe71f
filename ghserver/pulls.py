"""Pull requests, issue comments, labels and reactions: GitHub's rules, without HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ghserver import bare
from ghserver.errors import not_found, validation_failed
from ghserver.model import (
    Account,
    App,
    Comment,
    Label,
    PullRequest,
    Reaction,
    Repo,
    now,
)
from ghserver.render import PullStats
from ghserver.state import State

MAX_BODY = 65536
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass(frozen=True)
class NewPull:
    """What pulls/create was asked for."""

    title: str
    head: str
    base: str
    body: str | None = None
    draft: bool = False
    maintainer_can_modify: bool = True


def refresh(repo: Repo, pulls: Iterable[PullRequest]) -> None:
    """Make open pull requests follow their branches; a deleted head branch closes its PR."""
    pulls = list(pulls)
    if not any(pr.state == "open" for pr in pulls):
        return
    heads = bare.branches(repo.path)
    for pr in pulls:
        if pr.state != "open":
            continue
        if pr.head_ref not in heads:
            pr.state, pr.closed_at = "closed", now()
            continue
        pr.head_sha = heads[pr.head_ref]
        pr.base_sha = heads.get(pr.base_ref, pr.base_sha)


def _branch_name(repo: Repo, head: str) -> str:
    owner, sep, branch = head.rpartition(":")
    if sep and owner.lower() != repo.owner.login.lower():
        raise validation_failed("PullRequest", "invalid", "head")
    return branch


def _check_body(body: str | None) -> None:
    if body is not None and len(body) > MAX_BODY:
        raise validation_failed(
            "Issue",
            "custom",
            "body",
            message=f"body is too long (maximum is {MAX_BODY} characters)",
        )


def _already_exists(state: State, repo: Repo, head: str, base: str, number: int = 0) -> None:
    for other in state.pulls[repo.id].values():
        if (other.state, other.head_ref, other.base_ref) == ("open", head, base) and (
            other.number != number
        ):
            raise validation_failed(
                "PullRequest",
                "custom",
                message=f"A pull request already exists for {repo.owner.login}:{head}.",
            )


def create(state: State, repo: Repo, author: Account, new: NewPull) -> PullRequest:
    """Open a pull request (422 for unknown branches, no commits, or a duplicate)."""
    head = _branch_name(repo, new.head)
    _check_body(new.body)
    with state.lock:
        heads = bare.branches(repo.path)
        if new.base not in heads:
            raise validation_failed("PullRequest", "invalid", "base")
        if head not in heads:
            raise validation_failed("PullRequest", "invalid", "head")
        refresh(repo, state.pulls[repo.id].values())
        _already_exists(state, repo, head, new.base)
        if bare.count_commits(repo.path, heads[new.base], heads[head]) == 0:
            raise validation_failed(
                "PullRequest", "custom", message=f"No commits between {new.base} and {head}"
            )
        pr = PullRequest(
            id=state.new_id("pull"),
            number=state.next_number(repo),
            repo=repo,
            user=author,
            title=new.title,
            body=new.body,
            head_ref=head,
            head_sha=heads[head],
            base_ref=new.base,
            base_sha=heads[new.base],
            draft=new.draft,
            maintainer_can_modify=new.maintainer_can_modify,
        )
        state.pulls[repo.id][pr.number] = pr
        return pr


def get(state: State, repo: Repo, number: int) -> PullRequest:
    """A pull request, refreshed from the repository, or 404."""
    pr = state.pulls[repo.id].get(number)
    if pr is None:
        raise not_found()
    refresh(repo, [pr])
    return pr


def search(
    state: State,
    repo: Repo,
    status: str = "open",
    head: str | None = None,
    base: str | None = None,
    sort: str = "created",
    direction: str | None = None,
) -> list[PullRequest]:
    """pulls/list: filter by state, `owner:branch` head and base, then sort."""
    pulls = list(state.pulls[repo.id].values())
    refresh(repo, pulls)
    if head is not None:
        owner, sep, branch = head.rpartition(":")
        if sep and owner.lower() != repo.owner.login.lower():
            return []
        pulls = [pr for pr in pulls if pr.head_ref == branch]
    if base is not None:
        pulls = [pr for pr in pulls if pr.base_ref == base]
    if status != "all":
        pulls = [pr for pr in pulls if pr.state == status]
    key = (lambda pr: (pr.updated_at, pr.number)) if sort == "updated" else (lambda pr: pr.number)
    return sorted(pulls, key=key, reverse=(direction or "desc") == "desc")


def update(
    state: State,
    repo: Repo,
    number: int,
    title: str | None = None,
    body: str | None = None,
    status: str | None = None,
    base: str | None = None,
    maintainer_can_modify: bool | None = None,
) -> PullRequest:
    """pulls/update: title, body, state (close or reopen), base."""
    _check_body(body)
    with state.lock:
        pr = get(state, repo, number)
        if base is not None and base != pr.base_ref:
            sha = bare.branches(repo.path).get(base)
            if sha is None:
                raise validation_failed("PullRequest", "invalid", "base")
            pr.base_ref, pr.base_sha = base, sha
        if status == "open" and pr.state == "closed":
            _reopen(state, repo, pr)
        elif status == "closed" and pr.state == "open":
            pr.state, pr.closed_at = "closed", now()
        if title is not None:
            pr.title = title
        if body is not None:
            pr.body = body
        if maintainer_can_modify is not None:
            pr.maintainer_can_modify = maintainer_can_modify
        pr.updated_at = now()
        return pr


def _reopen(state: State, repo: Repo, pr: PullRequest) -> None:
    if pr.merged:
        raise validation_failed(
            "PullRequest",
            "custom",
            "state",
            message="state cannot be changed. The pull request has been merged.",
        )
    if pr.head_ref not in bare.branches(repo.path):
        raise validation_failed(
            "PullRequest",
            "custom",
            "state",
            message="state cannot be changed. The head branch was deleted.",
        )
    _already_exists(state, repo, pr.head_ref, pr.base_ref, pr.number)
    pr.state, pr.closed_at = "open", None
    refresh(repo, [pr])


def stats(state: State, repo: Repo, pr: PullRequest) -> PullStats:
    """Commits, line and file counts between base and head, and the comment count."""
    comments = sum(1 for c in state.comments.values() if c.repo is repo and c.number == pr.number)
    try:
        commits = bare.count_commits(repo.path, pr.base_sha, pr.head_sha)
        numstat = bare.git(repo.path, "diff", "--numstat", f"{pr.base_sha}...{pr.head_sha}")
    except bare.GitError:
        return PullStats(comments=comments)
    lines = [line.split("\t") for line in numstat.splitlines()]
    return PullStats(
        commits=commits,
        additions=sum(int(a) for a, _, _ in lines if a.isdigit()),
        deletions=sum(int(d) for _, d, _ in lines if d.isdigit()),
        changed_files=len(lines),
        comments=comments,
    )


def request_reviewers(
    state: State, repo: Repo, number: int, reviewers: list[str], teams: list[str]
) -> PullRequest:
    """Request reviews from collaborators (422 for anyone else) and, for orgs, teams."""
    with state.lock:
        pr = get(state, repo, number)
        users = []
        for login in reviewers:
            account = state.find_account(login)
            if account is None or state.role(repo, login) is None:
                raise validation_failed(
                    "PullRequest",
                    "custom",
                    message="Reviews may only be requested from collaborators. One or more of "
                    f"the users or teams you specified is not a collaborator of the "
                    f"{repo.full_name} repository.",
                )
            if account is pr.user:
                raise validation_failed(
                    "PullRequest",
                    "custom",
                    message="Review cannot be requested from pull request author.",
                )
            users.append(account)
        if teams and repo.owner.type != "Organization":
            raise validation_failed("PullRequest", "custom", message="Teams need an organization")
        for account in users:
            if account not in pr.reviewers:
                pr.reviewers.append(account)
        pr.team_reviewers += [t for t in teams if t not in pr.team_reviewers]
        pr.updated_at = now()
        return pr


def merge(state: State, repo: Repo, number: int, merged_by: Account, delete_branch: bool) -> str:
    """Merge a pull request into its base branch (fast-forward when possible); the new base sha."""
    with state.lock:
        pr = get(state, repo, number)
        if pr.state != "open":
            raise ValueError(f"pull request #{number} is {pr.state}")
        new = bare.merge(
            repo.path,
            pr.base_ref,
            pr.head_sha,
            f"Merge pull request #{number} from {repo.owner.login}/{pr.head_ref}",
        )
        moment = now()
        pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, moment, moment
        pr.merged_by, pr.merge_commit_sha, pr.base_sha, pr.updated_at = merged_by, new, new, moment
        if delete_branch:
            bare.delete_branch(repo.path, pr.head_ref)
        return new


def issue(state: State, repo: Repo, number: int) -> PullRequest:
    """The pull request behind an issue number (the server has no plain issues), or 404."""
    return get(state, repo, number)


def add_comment(
    state: State, repo: Repo, number: int, author: Account, app: App | None, body: str
) -> Comment:
    """issues/create-comment."""
    if len(body) > MAX_BODY:
        raise validation_failed(
            "IssueComment",
            "custom",
            "body",
            message=f"Body is too long (maximum is {MAX_BODY} characters)",
        )
    with state.lock:
        pr = issue(state, repo, number)
        comment = Comment(state.new_id("comment"), repo, number, author, body, app)
        state.comments[comment.id] = comment
        pr.updated_at = comment.created_at
        return comment


def comments(state: State, repo: Repo, number: int, since: datetime | None) -> list[Comment]:
    """issues/list-comments, oldest first, maybe only those updated since a moment."""
    issue(state, repo, number)
    found = [c for c in state.comments.values() if c.repo is repo and c.number == number]
    if since is not None:
        found = [c for c in found if c.updated_at >= since]
    return sorted(found, key=lambda c: c.id)


def add_labels(state: State, repo: Repo, number: int, names: list[str]) -> list[Label]:
    """issues/add-labels: create missing repository labels and attach them; all labels now on."""
    with state.lock:
        pr = issue(state, repo, number)
        for name in names:
            found = repo.labels.get(name.lower())
            if found is None:
                found = Label(state.new_id("label"), name)
                repo.labels[name.lower()] = found
            if found not in pr.labels:
                pr.labels.append(found)
        pr.updated_at = now()
        return list(pr.labels)


def react(
    state: State, repo: Repo, comment_id: int, user: Account, content: str
) -> tuple[Reaction, bool]:
    """reactions/create-for-issue-comment: the reaction and whether it is new."""
    if content not in REACTIONS:
        raise validation_failed("Reaction", "invalid", "content")
    with state.lock:
        comment = state.comments.get(comment_id)
        if comment is None or comment.repo is not repo:
            raise not_found()
        for existing in comment.reactions:
            if existing.user is user and existing.content == content:
                return existing, False
        created = Reaction(state.new_id("reaction"), user, content)
        comment.reactions.append(created)
        return created, True


def pulls_for_commit(state: State, repo: Repo, sha: str) -> list[PullRequest]:
    """Open pull requests whose head is this commit (check runs list them)."""
    return [pr for pr in state.pulls[repo.id].values() if pr.state == "open" and pr.head_sha == sha]
