"""GitHub's JSON representations of the server's records (shaped to GitHub's OpenAPI schemas)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ghserver.bare import CommitInfo
from ghserver.model import (
    DEFAULT_EVENTS,
    DEFAULT_PERMISSIONS,
    Account,
    App,
    CheckRun,
    Comment,
    Installation,
    Label,
    PullRequest,
    Reaction,
    Repo,
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Urls:
    """Where the server is reached: `web` for html and clone URLs, `api` for REST URLs."""

    web: str

    @property
    def api(self) -> str:
        return f"{self.web}/api/v3"

    def repo_api(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.full_name}"

    def repo_web(self, repo: Repo) -> str:
        return f"{self.web}/{repo.full_name}"


def iso(moment: datetime | None) -> str | None:
    """GitHub's timestamp format: UTC, seconds, `Z`."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, number: int) -> str:
    """An opaque GraphQL-style node id."""
    return prefix + "_" + base64.b64encode(f"{prefix}{number}".encode()).decode().rstrip("=")


def user(account: Account, urls: Urls) -> Json:
    """A simple-user."""
    api = f"{urls.api}/users/{account.login}"
    html = f"{urls.web}/apps/{account.login.removesuffix('[bot]')}"
    return {
        "login": account.login,
        "id": account.id,
        "node_id": node_id("U" if account.type != "Organization" else "O", account.id),
        "avatar_url": f"{urls.web}/avatars/u/{account.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": html if account.type == "Bot" else f"{urls.web}/{account.login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": account.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def _repo_urls(repo: Repo, urls: Urls) -> Json:
    api = urls.repo_api(repo)
    templated = {
        "archive_url": "{archive_format}{/ref}",
        "assignees_url": "assignees{/user}",
        "blobs_url": "git/blobs{/sha}",
        "branches_url": "branches{/branch}",
        "collaborators_url": "collaborators{/collaborator}",
        "comments_url": "comments{/number}",
        "commits_url": "commits{/sha}",
        "compare_url": "compare/{base}...{head}",
        "contents_url": "contents/{+path}",
        "git_commits_url": "git/commits{/sha}",
        "git_refs_url": "git/refs{/sha}",
        "git_tags_url": "git/tags{/sha}",
        "issue_comment_url": "issues/comments{/number}",
        "issue_events_url": "issues/events{/number}",
        "issues_url": "issues{/number}",
        "keys_url": "keys{/key_id}",
        "labels_url": "labels{/name}",
        "milestones_url": "milestones{/number}",
        "notifications_url": "notifications{?since,all,participating}",
        "pulls_url": "pulls{/number}",
        "releases_url": "releases{/id}",
        "statuses_url": "statuses/{sha}",
        "trees_url": "git/trees{/sha}",
    }
    plain = (
        "contributors",
        "deployments",
        "downloads",
        "events",
        "forks",
        "hooks",
        "languages",
        "merges",
        "stargazers",
        "subscribers",
        "subscription",
        "tags",
        "teams",
    )
    out = {key: f"{api}/{suffix}" for key, suffix in templated.items()}
    out.update({f"{name}_url": f"{api}/{name}" for name in plain})
    return out


def repository(repo: Repo, urls: Urls, full: bool = False) -> Json:
    """A repository, or with `full` a full-repository (repos/get)."""
    web = urls.repo_web(repo)
    host = urls.web.split("://", 1)[-1]
    out: Json = {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "private": True,
        "owner": user(repo.owner, urls),
        "html_url": web,
        "description": None,
        "fork": False,
        "url": urls.repo_api(repo),
        **_repo_urls(repo, urls),
        "git_url": f"git://{host}/{repo.full_name}.git",
        "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
        "clone_url": f"{web}.git",
        "svn_url": web,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "forks_count": 0,
        "forks": 0,
        "open_issues_count": 0,
        "open_issues": 0,
        "has_issues": True,
        "has_projects": True,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "is_template": False,
        "topics": [],
        "visibility": "private",
        "default_branch": repo.default_branch,
        "license": None,
        "allow_forking": False,
        "web_commit_signoff_required": False,
        "pushed_at": iso(repo.created_at),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.created_at),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
    }
    if full:
        out.update(
            network_count=0,
            subscribers_count=0,
            allow_merge_commit=True,
            allow_squash_merge=True,
            allow_rebase_merge=True,
            allow_auto_merge=False,
            delete_branch_on_merge=False,
            temp_clone_token=None,
        )
        if repo.owner.type == "Organization":
            out["organization"] = user(repo.owner, urls)
    return out


def integration(app: App, urls: Urls, installations_count: int | None = None) -> Json:
    """An integration (a GitHub App)."""
    out: Json = {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("A", app.id),
        "client_id": f"Iv1.{app.id:016x}",
        "owner": user(app.owner, urls),
        "name": app.name,
        "description": None,
        "external_url": urls.web,
        "html_url": f"{urls.web}/apps/{app.slug}",
        "created_at": iso(app.created_at),
        "updated_at": iso(app.created_at),
        "permissions": dict(DEFAULT_PERMISSIONS),
        "events": list(DEFAULT_EVENTS),
    }
    if installations_count is not None:
        out["installations_count"] = installations_count
    return out


def installation(inst: Installation, urls: Urls) -> Json:
    """An installation."""
    settings = (
        f"{urls.web}/organizations/{inst.account.login}/settings/installations/{inst.id}"
        if inst.account.type == "Organization"
        else f"{urls.web}/settings/installations/{inst.id}"
    )
    return {
        "id": inst.id,
        "client_id": f"Iv1.{inst.app.id:016x}",
        "account": user(inst.account, urls),
        "repository_selection": inst.repository_selection,
        "access_tokens_url": f"{urls.api}/app/installations/{inst.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": settings,
        "app_id": inst.app.id,
        "app_slug": inst.app.slug,
        "target_id": inst.account.id,
        "target_type": inst.account.type,
        "permissions": dict(inst.permissions),
        "events": list(DEFAULT_EVENTS),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }


def commit(repo: Repo, info: CommitInfo, urls: Urls) -> Json:
    """A commit as repos/get-branch shows it (no GitHub user linked to the git identities)."""
    api = urls.repo_api(repo)
    return {
        "sha": info.sha,
        "node_id": node_id("C", int(info.sha[:12], 16)),
        "url": f"{api}/commits/{info.sha}",
        "html_url": f"{urls.repo_web(repo)}/commit/{info.sha}",
        "comments_url": f"{api}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{info.sha}",
            "author": {
                "name": info.author_name,
                "email": info.author_email,
                "date": _utc(info.author_date),
            },
            "committer": {
                "name": info.committer_name,
                "email": info.committer_email,
                "date": _utc(info.committer_date),
            },
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{api}/git/trees/{info.tree}"},
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "payload": None,
                "signature": None,
                "verified_at": None,
            },
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{urls.repo_web(repo)}/commit/{p}"}
            for p in info.parents
        ],
    }


def _utc(git_date: str) -> str | None:
    return iso(datetime.fromisoformat(git_date).astimezone(UTC))


def branch(repo: Repo, name: str, info: CommitInfo, urls: Urls) -> Json:
    """A branch-with-protection, unprotected."""
    api = f"{urls.repo_api(repo)}/branches/{name}"
    return {
        "name": name,
        "commit": commit(repo, info, urls),
        "_links": {"self": api, "html": f"{urls.repo_web(repo)}/tree/{name}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{api}/protection",
    }


def git_ref(repo: Repo, ref: str, sha: str, urls: Urls) -> Json:
    """A git-ref pointing at a commit."""
    api = urls.repo_api(repo)
    return {
        "ref": ref,
        "node_id": node_id("REF", int(sha[:12], 16)),
        "url": f"{api}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


def label(repo: Repo, item: Label, urls: Urls) -> Json:
    """A label."""
    return {
        "id": item.id,
        "node_id": node_id("LA", item.id),
        "url": f"{urls.repo_api(repo)}/labels/{item.name}",
        "name": item.name,
        "description": item.description,
        "color": item.color,
        "default": False,
    }


def team(org: Account, slug: str, urls: Urls) -> Json:
    """A team-simple for a requested team reviewer."""
    team_id = sum(slug.encode()) + org.id * 1000
    return {
        "id": team_id,
        "node_id": node_id("T", team_id),
        "url": f"{urls.api}/organizations/{org.id}/team/{team_id}",
        "members_url": f"{urls.api}/organizations/{org.id}/team/{team_id}/members{{/member}}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "html_url": f"{urls.web}/orgs/{org.login}/teams/{slug}",
        "repositories_url": f"{urls.api}/organizations/{org.id}/team/{team_id}/repos",
        "type": "organization",
        "organization_id": org.id,
    }


def _pr_side(pr: PullRequest, ref: str, sha: str, urls: Urls) -> Json:
    return {
        "label": f"{pr.repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(pr.repo.owner, urls),
        "repo": repository(pr.repo, urls),
    }


def pull_simple(pr: PullRequest, urls: Urls) -> Json:
    """A pull-request-simple (pulls/list, pulls/request-reviewers)."""
    api = urls.repo_api(pr.repo)
    issue = f"{api}/issues/{pr.number}"
    url = f"{api}/pulls/{pr.number}"
    html = f"{urls.repo_web(pr.repo)}/pull/{pr.number}"
    statuses = f"{api}/statuses/{pr.head_sha}"
    return {
        "url": url,
        "id": pr.id,
        "node_id": node_id("PR", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{issue}/comments",
        "statuses_url": statuses,
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user(pr.user, urls),
        "body": pr.body,
        "labels": [label(pr.repo, item, urls) for item in pr.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at),
        "merged_at": iso(pr.merged_at),
        "merge_commit_sha": pr.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [user(u, urls) for u in pr.reviewers],
        "requested_teams": [team(pr.repo.owner, slug, urls) for slug in pr.team_reviewers],
        "head": _pr_side(pr, pr.head_ref, pr.head_sha, urls),
        "base": _pr_side(pr, pr.base_ref, pr.base_sha, urls),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": url,
                "html": html,
                "issue": issue,
                "comments": f"{issue}/comments",
                "review_comments": f"{url}/comments",
                "review_comment": f"{api}/pulls/comments{{/number}}",
                "commits": f"{url}/commits",
                "statuses": statuses,
            }.items()
        },
        "author_association": "NONE",
        "auto_merge": None,
        "draft": pr.draft,
    }


@dataclass(frozen=True)
class PullStats:
    """What a full pull request counts: commits, lines and files, and its comments."""

    commits: int = 0
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    comments: int = 0


def pull(pr: PullRequest, stats: PullStats, urls: Urls) -> Json:
    """A pull-request (pulls/get, create, update)."""
    out = pull_simple(pr, urls)
    out.update(
        merged=pr.merged,
        mergeable=True if pr.state == "open" else None,
        rebaseable=True if pr.state == "open" else None,
        mergeable_state="clean" if pr.state == "open" else "unknown",
        merged_by=None if pr.merged_by is None else user(pr.merged_by, urls),
        comments=stats.comments,
        review_comments=0,
        maintainer_can_modify=pr.maintainer_can_modify,
        commits=stats.commits,
        additions=stats.additions,
        deletions=stats.deletions,
        changed_files=stats.changed_files,
    )
    return out


def _pr_minimal_side(repo: Repo, ref: str, sha: str, urls: Urls) -> Json:
    return {
        "ref": ref,
        "sha": sha,
        "repo": {"id": repo.id, "url": urls.repo_api(repo), "name": repo.name},
    }


def pull_minimal(pr: PullRequest, urls: Urls) -> Json:
    """A pull-request-minimal, as check runs list their pull requests."""
    return {
        "id": pr.id,
        "number": pr.number,
        "url": f"{urls.repo_api(pr.repo)}/pulls/{pr.number}",
        "head": _pr_minimal_side(pr.repo, pr.head_ref, pr.head_sha, urls),
        "base": _pr_minimal_side(pr.repo, pr.base_ref, pr.base_sha, urls),
    }


def reaction_rollup(comment: Comment, urls: Urls) -> Json:
    """The reaction counts on a comment."""
    out: Json = {
        "url": f"{urls.repo_api(comment.repo)}/issues/comments/{comment.id}/reactions",
        "total_count": len(comment.reactions),
    }
    for content in ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"):
        out[content] = sum(1 for r in comment.reactions if r.content == content)
    return out


def issue_comment(comment: Comment, urls: Urls) -> Json:
    """An issue-comment."""
    api = urls.repo_api(comment.repo)
    return {
        "id": comment.id,
        "node_id": node_id("IC", comment.id),
        "url": f"{api}/issues/comments/{comment.id}",
        "html_url": f"{urls.repo_web(comment.repo)}/pull/{comment.number}"
        f"#issuecomment-{comment.id}",
        "body": comment.body,
        "user": user(comment.user, urls),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        "issue_url": f"{api}/issues/{comment.number}",
        "author_association": "NONE",
        "performed_via_github_app": None if comment.app is None else integration(comment.app, urls),
        "reactions": reaction_rollup(comment, urls),
    }


def reaction(item: Reaction, urls: Urls) -> Json:
    """A reaction."""
    return {
        "id": item.id,
        "node_id": node_id("REA", item.id),
        "user": user(item.user, urls),
        "content": item.content,
        "created_at": iso(item.created_at),
    }


def check_run(run: CheckRun, pulls: list[PullRequest], urls: Urls) -> Json:
    """A check-run, listing the open pull requests whose head is its commit."""
    api = urls.repo_api(run.repo)
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": node_id("CR", run.id),
        "external_id": run.external_id,
        "url": f"{api}/check-runs/{run.id}",
        "html_url": f"{urls.repo_web(run.repo)}/runs/{run.id}",
        "details_url": run.details_url,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": {
            **run.output,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.check_suite_id},
        "app": integration(run.app, urls),
        "pull_requests": [pull_minimal(pr, urls) for pr in pulls],
    }
