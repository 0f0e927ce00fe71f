"""What a reconcile shows on GitHub: pull requests on the state repo, check runs on the source."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gitbot.github.checkruns import (
    CheckRuns,
    promise_check_name,
    promise_report,
    source_report,
)
from gitbot.github.client import GitHubApp, is_full_name
from gitbot.github.prbody import PrMarker, content_hash, images_of, render_body
from gitbot.github.pullrequests import PrResult, PullRequests
from gitbot.reconcile.repositories import ReconcileReport
from gitbot.secrets import Redactor
from gitbot.state.branchplan import BranchPlan, Changes
from gitbot.state.publish import BranchResult, remove_branch

CLOSED_COMMENT = (
    "gitbot: the state this pull request proposed is already on the base branch, "
    "so it is closed. A new pull request opens when the source changes again."
)
HUMAN_COMMENT = (
    "gitbot: someone else committed to this branch, so gitbot no longer updates it. "
    "Delete the branch (or close this pull request) to let gitbot propose the current state."
)


class GitHubFeedback:
    """Pull requests and check runs for repositories named `owner/name`."""

    def __init__(
        self,
        app: GitHubApp,
        source: str,
        state: str | None,
        redactor: Redactor,
        on_pull_request: Callable[[str], None] | None = None,
        new_check_runs: bool = False,
    ) -> None:
        self.app = app
        self.new_check_runs = new_check_runs  # a Re-run click: GitHub expects new check runs
        self.on_pull_request = on_pull_request  # told each PR action, e.g. for metrics
        self.source = source if is_full_name(source) else None
        self.state = state if state and is_full_name(state) else None
        self.redactor = redactor
        self.checks: CheckRuns | None = None
        self.pulls: PullRequests | None = None
        self.pr_urls: dict[str, str] = {}
        self.not_proposed: dict[str, str] = {}  # branch -> why its change is not on it (markdown)

    def started(self, report: ReconcileReport, promises: Sequence[str]) -> None:
        if self.source is not None:
            self.checks = CheckRuns(
                self.app.repo(self.source), report.snapshot.commit, new=self.new_check_runs
            )
            for promise in promises:
                self.checks.start(promise_check_name(promise))
        state = self.state or (report.state if is_full_name(report.state) else None)
        if state is not None:
            self.state = state
            settings = report.snapshot.config.pull_requests
            self.pulls = PullRequests(self.app.repo(state), report.base.branch, settings)

    def skip_push(self, plan: BranchPlan, changes: Changes) -> BranchResult | None:
        if self.pulls is None or plan.failures:
            return None
        declined = self.pulls.declined(plan.branch, content_hash(changes))
        if declined is None:
            return None
        self.pr_urls[plan.branch] = declined.html_url
        detail = f"pull request #{declined.number} was closed with this content; not reopened"
        return BranchResult(plan.branch, "no-change", detail=detail)

    def published(
        self, report: ReconcileReport, plan: BranchPlan, changes: Changes, result: BranchResult
    ) -> BranchResult:
        if self.pulls is None:
            if result.action == "equal-to-base":
                return remove_branch(report.base, result)
            return result
        if result.action == "equal-to-base":
            self._count(self.pulls.close(plan.branch, CLOSED_COMMENT))
            return remove_branch(report.base, result)
        if result.action == "human-commit" and result.commit:
            pr = self.pulls.comment_once(plan.branch, result.commit, HUMAN_COMMENT)
            self._count(pr)
            if pr.url:
                self.pr_urls[plan.branch] = pr.url
            self.not_proposed[plan.branch] = _not_proposed(plan.branch, result.commit, pr)
            return result
        if result.action not in ("created", "updated", "unchanged"):
            return result
        snapshot = report.snapshot
        marker = PrMarker(
            source=snapshot.source,
            commit=snapshot.commit,
            objects=tuple(str(o.key) for o in plan.outcomes),
            images=images_of(plan.outcomes),
            content_hash=content_hash(changes),
        )
        checks_url = self._checks_url(snapshot.commit)
        body = self.redactor(
            render_body(snapshot.source, snapshot.commit, plan.outcomes, result, marker, checks_url)
        )
        pr = self.pulls.sync(plan.branch, plan.title, body, changed=result.action != "unchanged")
        if pr.url:
            self.pr_urls[plan.branch] = pr.url
        self._count(pr)
        detail = f"pull request #{pr.number} {pr.action}: {pr.url}" if pr.number else result.detail
        return BranchResult(
            result.branch,
            result.action,
            result.commit,
            result.added,
            result.changed,
            result.removed,
            detail,
        )

    def _count(self, pr: PrResult) -> None:
        if self.on_pull_request is not None and pr.action not in ("none", "unchanged"):
            self.on_pull_request(pr.action)

    def finished(self, report: ReconcileReport) -> None:
        if self.checks is None:
            return
        objects = report.snapshot.objects
        if objects.problems or objects.warnings:
            self.checks.finish(source_report(objects.problems, objects.warnings))
        results = {r.branch: r for r in report.results}
        for promise, outcomes in report.outcomes.items():
            branches = [
                p.branch for p in report.plans if any(o.key.promise == promise for o in p.outcomes)
            ]
            pr_url = next((self.pr_urls[b] for b in branches if b in self.pr_urls), None)
            files = ""
            for branch in branches:
                result = results.get(branch)
                if result is not None and result.action in ("created", "updated", "unchanged"):
                    files = (
                        f"Files on `{branch}`: {len(result.added)} added, "
                        f"{len(result.changed)} changed, {len(result.removed)} removed."
                    )
                elif result is not None and result.action == "preview":
                    files = _preview_files(branch, result)
            why = "\n\n".join(self.not_proposed[b] for b in branches if b in self.not_proposed)
            check = promise_report(promise, outcomes, pr_url, files, why)
            self.checks.finish(
                type(check)(
                    check.name,
                    check.conclusion,
                    check.title,
                    self.redactor(check.summary),
                    self.redactor(check.text),
                    check.annotations,
                )
            )

    def _checks_url(self, commit: str) -> str | None:
        if self.source is None:
            return None
        from gitbot.github.client import web_url

        return f"{web_url(self.app.settings.api_url)}/{self.source}/commit/{commit}/checks"


def _not_proposed(branch: str, commit: str, pr: PrResult) -> str:
    """Why a branch's change was not proposed, with links, for the Promise's check run."""
    lines = [
        f"**Not proposed:** someone else committed to `{branch}` (its head {commit[:12]} is "
        "not gitbot's), so gitbot left the branch alone and this commit's state is not on it.",
        "Delete the branch (or close its pull request) to let gitbot propose the current state.",
    ]
    if pr.url:
        lines.append(f"- Pull request: {pr.url}")
    if pr.comment_url:
        lines.append(f"- gitbot's comment: {pr.comment_url}")
    return "\n".join(lines)


PREVIEW_FILES = 200  # paths listed in a preview check run; the counts cover the rest


def _preview_files(branch: str, result: BranchResult) -> str:
    """What the state pull request on `branch` would get, for a source pull request's check."""
    lines = [
        f"Preview: the pull request on `{branch}` would get {len(result.added)} added, "
        f"{len(result.changed)} changed and {len(result.removed)} removed file(s).",
        "",
    ]
    entries = [("added", p) for p in result.added] + [("changed", p) for p in result.changed]
    entries += [("removed", p) for p in result.removed]
    lines += [f"- {kind}: `{path}`" for kind, path in entries[:PREVIEW_FILES]]
    if len(entries) > PREVIEW_FILES:
        lines.append(f"- … and {len(entries) - PREVIEW_FILES} more")
    return "\n".join(lines)
