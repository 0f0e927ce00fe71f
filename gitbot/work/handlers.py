"""What the worker does with each job: route a delivery into reconcile jobs, or reconcile.

Routing reads the source repository at the pushed commits and enqueues one job per affected
Promise (or one for the whole repository), so a newer push supersedes queued older work for the
same Promise and independent Promises run in parallel. A poll job (the poller found a head no
delivery brought) is routed the same way.

Never backwards: GitHub does not promise delivery order, so a reconcile renders the newest commit
of the followed source branch, fetched when the job starts, not the commit its delivery named
when that commit is an ancestor of the branch's head (or no longer on the branch after a
force-push); the older commit gets a neutral check run naming the newer one. Previews render the
pull request's head as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitbot.errors import ExternalError, GitbotError, UserError
from gitbot.github.checkruns import (
    SOURCE_CHECK,
    CheckRuns,
    promise_check_name,
    superseded_report,
)
from gitbot.github.client import AppRepoOpener, GitHubApp, collaborator_permission, web_url
from gitbot.github.events import (
    ChecksRerequested,
    Event,
    InstallationChanged,
    InstallationRepositoriesChanged,
    IssueCommentCreated,
    Ping,
    PullRequestChanged,
    Push,
    parse_command,
    parse_event,
)
from gitbot.github.feedback import GitHubFeedback
from gitbot.gitrepo import CachedRepo, RepoCache
from gitbot.metrics import (
    GITHUB_RATE_LIMIT,
    GITHUB_RATE_REMAINING,
    LAST_SUCCESSFUL_RECONCILE,
    PULL_REQUESTS,
    RUNS,
)
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import ContainerRun, LiveObserver, WorkflowRunner
from gitbot.pipeline.setup import RunnerConfig, make_runner
from gitbot.reconcile.repositories import (
    NotASourceRepository,
    ReconcileReport,
    ReconcileRequest,
    reconcile,
)
from gitbot.reconcile.workflows import RunnerFactory
from gitbot.secrets import Redactor
from gitbot.source.changes import affected_promises
from gitbot.source.snapshot import SourceSnapshot, read_config, read_snapshot
from gitbot.state.outcomes import ObjectOutcome
from gitbot.statusdb import ObjectStatuses
from gitbot.work.live import LiveProgress
from gitbot.work.pool import JobFailed
from gitbot.work.store import Job, Store

log = logging.getLogger("gitbot.worker")
ROUTE, RECONCILE, PREVIEW, POLL = "route", "reconcile", "preview", "poll"
ZERO_SHA = "0" * 40
WRITE_PERMISSIONS = ("admin", "maintain", "write")
TRUSTED_AUTHORS = ("OWNER", "MEMBER", "COLLABORATOR")  # GitHub's author_association values
RETRY_REASON = "retryAfter"  # a job the scheduler queued because a workflow asked to retry
RERUN_REASON = "rerequested"  # a Re-run click on GitHub: new check runs, not updated ones
# Keys of a repository's summary (Store.merge_summary) that the poller reads.
BRANCH, RENDERED, SEEN, ETAG = "branch", "rendered", "seen", "etag"


@dataclass(frozen=True)
class Target:
    """The commit a reconcile job renders, and the job's own commit when a newer one wins."""

    branch: str | None
    commit: str | None
    superseded: str | None = None


class Service:
    """The worker's side of gitbot: everything a job needs, built once."""

    def __init__(
        self,
        store: Store,
        github: GitHubApp,
        cache: RepoCache,
        status: ObjectStatuses,
        runner_config: RunnerConfig,
        redactor: Redactor,
        workers_per_job: int = 2,
    ) -> None:
        self.store = store
        self.github = github
        self.cache = AppRepoOpener(cache, github)
        self.status = status
        self.runner_config = runner_config
        self.redactor = redactor
        self.workers_per_job = workers_per_job

    def handle(self, job: Job) -> dict[str, Any]:
        """Run one job; the returned result is stored with it (and shown on the runs page)."""
        if job.kind == ROUTE:
            return self.route(str(job.payload["guid"]))
        if job.kind in (RECONCILE, PREVIEW):
            return self.reconcile(job)
        if job.kind == POLL:
            return self.poll(job)
        raise UserError(f"unknown job kind {job.kind!r}")

    # --- routing deliveries -----------------------------------------------------------------

    def route(self, guid: str) -> dict[str, Any]:
        delivery = self.store.delivery(guid)
        if delivery is None:
            raise UserError(f"delivery {guid} is not stored")
        event = parse_event(delivery.event, delivery.payload)
        # A failure here fails the route job; the worker pool then settles the delivery as
        # failed (WorkerPool._settle), as it settles it once the jobs queued here finish.
        outcome = self._route(guid, event)
        # "running" until every job it queued has finished: only then is its outcome known.
        status = "ignored" if outcome.startswith("ignored") else "running"
        self.store.set_delivery_status(guid, status, outcome)
        log.info("delivery %s: %s", guid, outcome, extra={"delivery": guid})
        return {"delivery": guid, "outcome": outcome}

    def _route(self, guid: str, event: Event) -> str:
        if isinstance(event, Ping):
            return "pong"
        if isinstance(event, Push):
            return self._push(guid, event)
        if isinstance(event, InstallationChanged):
            names = [r.full_name for r in event.repositories]
            if event.action == "deleted":
                for name in names:
                    self.store.forget_repository(name)
                return f"forgot {len(names)} repositories"
            if event.action != "created":
                return f"ignored: installation {event.action} needs no work"
            return self._register(guid, event.installation_id, names)
        if isinstance(event, InstallationRepositoriesChanged):
            for ref in event.removed:
                self.store.forget_repository(ref.full_name)
            return self._register(guid, event.installation_id, [r.full_name for r in event.added])
        if isinstance(event, PullRequestChanged):
            return self._pull_request(guid, event)
        if isinstance(event, IssueCommentCreated):
            return self._comment(guid, event)
        if isinstance(event, ChecksRerequested):
            return self._rerequested(guid, event)
        return "ignored: nothing to do"

    def _register(self, guid: str, installation: int, names: Sequence[str]) -> str:
        for name in names:
            self.store.register_repository(name, installation)
            self.store.enqueue(RECONCILE, name, None, None, {"reason": "installed"}, guid)
        return f"registered {len(names)} repositories; initial reconcile queued"

    def _push(self, guid: str, push: Push) -> str:
        repo = push.repository.full_name
        if push.deleted or push.branch is None:
            return f"ignored: {push.ref} was deleted or is not a branch"
        if push.installation_id is not None:
            self.store.register_repository(
                repo, push.installation_id, push.repository.default_branch
            )
        source = self.cache.open(repo)
        after = read_snapshot(source, repo, push.after)
        config = after.config
        if not config.state_repository:
            return f"ignored: {repo} has no stateRepository in .gitbot.yaml"
        wanted = config.source_branch or push.repository.default_branch
        if push.branch != wanted:
            return f"ignored: push to {push.branch}, gitbot follows {wanted}"
        # What the poller compares the branch's head with: this head is on its way.
        self.store.merge_summary(repo, {BRANCH: wanted, SEEN: push.after})
        return self._queue_changes(source, repo, push.before, after, guid, "push")

    def _queue_changes(
        self,
        source: CachedRepo,
        repo: str,
        before: str,
        after: SourceSnapshot,
        guid: str | None,
        reason: str,
    ) -> str:
        """Queue a reconcile of each Promise that changed between two commits (all: None)."""
        commit = after.commit
        affected = affected_promises(self._snapshot(source, repo, before), after)
        if affected is None:
            self.store.enqueue(RECONCILE, repo, None, commit, {"reason": reason}, guid)
            return f"reconcile of {repo} at {commit[:12]} queued"
        for promise in sorted(affected):
            self.store.enqueue(RECONCILE, repo, promise, commit, {"reason": reason}, guid)
        if not affected:
            return "no Promise changed"
        return f"queued {', '.join(sorted(affected))} at {commit[:12]}"

    def poll(self, job: Job) -> dict[str, Any]:
        """Route a head the poller found as if its push had been delivered (from `before`)."""
        repo, commit = job.repository, job.commit
        if commit is None:
            raise UserError(f"poll job {job.id} names no commit")
        source = self.cache.open(repo)
        if not source.has_commit(commit):
            raise ExternalError(f"commit {commit[:12]} of {repo} is not fetchable yet")
        after = read_snapshot(source, repo, commit)
        if not after.config.state_repository:
            return {"source": repo, "outcome": "ignored: no stateRepository in .gitbot.yaml"}
        before = str(job.payload.get("before") or ZERO_SHA)
        outcome = self._queue_changes(source, repo, before, after, None, "poll")
        log.info("poll of %s: %s", repo, outcome, extra={"repository": repo, "job": job.id})
        return {"source": repo, "commit": commit, "outcome": outcome}

    def _snapshot(self, source: CachedRepo, repo: str, commit: str) -> SourceSnapshot | None:
        if commit == ZERO_SHA or not source.has_commit(commit):
            return None
        try:
            return read_snapshot(source, repo, commit)
        except GitbotError:
            return None  # a force-push may have dropped it: rerun everything

    def _pull_request(self, guid: str, event: PullRequestChanged) -> str:
        name = event.repository.full_name
        if event.action == "closed":
            verb = "merged" if event.merged else "closed without merging"
            PULL_REQUESTS.labels(action="merged" if event.merged else "closed").inc()
            return f"pull request #{event.number} on {name} {verb}"
        if event.action not in ("opened", "synchronize", "reopened"):
            return f"ignored: pull_request {event.action} needs no work"
        if event.from_fork and event.author_association not in TRUSTED_AUTHORS:
            # A preview runs the pull request's own Promises, images included: from a stranger's
            # fork, that is anybody's code on this machine.
            return (
                f"ignored: pull request #{event.number} comes from a fork by "
                f"{event.sender} ({event.author_association.lower()}); previews of forks run "
                "only for the repository's owners, members and collaborators"
            )
        source = self.cache.open(name)
        source.ensure_pull_request_commit(event.number, event.head_sha)
        snapshot = read_snapshot(source, name, event.head_sha)
        if not snapshot.config.state_repository:
            return f"ignored: {name} is not a source repository (no stateRepository)"
        payload = {"reason": "preview", "pull_request": event.number}
        self.store.enqueue(PREVIEW, name, None, event.head_sha, payload, guid)
        return f"preview of pull request #{event.number} at {event.head_sha[:12]} queued"

    def _comment(self, guid: str, event: IssueCommentCreated) -> str:
        if event.action != "created":
            # An edit or a deletion is not a new request (and an edit may be someone else's).
            return f"ignored: issue_comment {event.action} needs no work"
        command = parse_command(event.body)
        if command is None:
            return "ignored: not a gitbot command"
        name = event.repository.full_name
        repo = self.github.repo(name)
        permission = collaborator_permission(repo, event.author)
        if permission not in WRITE_PERMISSIONS:
            return f"ignored: {event.author} has {permission} access; gitbot needs write"
        repo.get_issue(event.issue_number).get_comment(event.comment_id).create_reaction("+1")
        self.store.enqueue(RECONCILE, name, command.promise, None, {"reason": "comment"}, guid)
        what = f"{name} {command.promise}" if command.promise else name
        return f"reconcile of {what} queued by {event.author}"

    def _rerequested(self, guid: str, event: ChecksRerequested) -> str:
        """A Re-run click: that Promise (or all, for a suite or `gitbot: source`) at that commit,
        as a preview when the commit is a source pull request's head off the source branch."""
        if event.action != "rerequested":
            return f"ignored: {event.event} {event.action} needs no work"
        promise = None
        if event.name is not None and event.name != SOURCE_CHECK:
            promise = event.name.removeprefix(promise_check_name(""))
            if promise_check_name(promise) != event.name or not promise:
                return f"ignored: check run {event.name!r} is not one of gitbot's"
        name = event.repository.full_name
        source = self.cache.open(name)
        if event.pull_requests:
            # A fork's commit is only in refs/pull/N/head; fetching it is harmless otherwise.
            source.ensure_pull_request_commit(event.pull_requests[0], event.head_sha)
        config = read_snapshot(source, name, event.head_sha).config
        if not config.state_repository:
            return f"ignored: {name} is not a source repository (no stateRepository)"
        at = event.head_sha[:12]
        what = f"{name} {promise}" if promise else name
        wanted = config.source_branch or event.repository.default_branch
        if event.head_branch != wanted and event.pull_requests:
            number = event.pull_requests[0]
            payload = {"reason": RERUN_REASON, "pull_request": number}
            self.store.enqueue(PREVIEW, name, None, event.head_sha, payload, guid)
            return f"preview of pull request #{number} at {at} queued again by {event.sender}"
        if event.head_branch != wanted:
            return f"ignored: {at} is on {event.head_branch}, gitbot follows {wanted}"
        payload = {"reason": RERUN_REASON}
        self.store.enqueue(RECONCILE, name, promise, event.head_sha, payload, guid)
        return f"reconcile of {what} at {at} queued again by {event.sender}"

    # --- reconciling --------------------------------------------------------------------------

    def reconcile(self, job: Job) -> dict[str, Any]:
        started = time.monotonic()
        repo = job.repository
        target = Target(None, job.commit) if job.kind == PREVIEW else self._newest(job)
        request = ReconcileRequest(
            source=repo,
            source_url=repo,
            source_ref=target.commit,
            only=(job.promise,) if job.promise else (),
            preview=job.kind == PREVIEW,
            resume=job.payload.get("reason") == RETRY_REASON,
            pull_request=job.payload.get("pull_request") if job.kind == PREVIEW else None,
        )
        feedback = GitHubFeedback(
            self.github,
            repo,
            None,
            self.redactor,
            on_pull_request=lambda action: PULL_REQUESTS.labels(action=action).inc(),
            new_check_runs=job.payload.get("reason") == RERUN_REASON,
        )
        outcome = "failed"
        live = LiveProgress(self.store, job) if job.worker is not None else None
        try:
            try:
                report = reconcile(
                    request,
                    self.cache,
                    self.status,
                    self._runners(live),
                    feedback,
                    workers=self.workers_per_job,
                )
            except NotASourceRepository:
                # An installation covers state repositories too: nothing to run for them.
                # Recorded like a reconcile, so that the scheduler does not queue it again at
                # every start.
                outcome = "not a source repository"
                self.store.merge_summary(repo, {"outcome": outcome}, datetime.now(UTC))
                return {"source": repo, "outcome": outcome}
            outcome = "failed" if report.failed else "succeeded"
        finally:
            if live is not None:
                live.close()
            RUNS.labels(promise=job.promise or "*", result=outcome).observe(
                time.monotonic() - started
            )
        self._observe_rate_limit(repo)
        now = datetime.now(UTC)
        if job.kind == RECONCILE:
            values: dict[str, Any] = {}
            if job.promise is None:
                values = {"outcome": outcome, "interval": _interval(report.snapshot)}
            if target.branch is not None and self._newer_than_rendered(repo, report):
                values.update({BRANCH: target.branch, RENDERED: report.snapshot.commit})
            self.store.merge_summary(repo, values, now if job.promise is None else None)
        if job.kind != PREVIEW:
            self.store.add_retries(repo, _retries(report, now))
            for promise in report.succeeded_promises():
                LAST_SUCCESSFUL_RECONCILE.labels(repository=repo, promise=promise).set(
                    now.timestamp()
                )
        if target.superseded is not None:
            self._superseded(job, report, target)
        result = _result(report, feedback.pr_urls)
        if target.superseded is not None:
            result["superseded"] = target.superseded
        result["check_runs"] = (
            f"{web_url(self.github.settings.api_url)}/{repo}/commit/{report.snapshot.commit}/checks"
        )
        if report.failed:
            raise JobFailed(_failure(report), result)
        return result

    def _newest(self, job: Job) -> Target:
        """The newest commit of the followed branch, fetched now; see the module docstring."""
        source = self.cache.open(job.repository)  # opening fetches
        default = source.default_branch()
        if default is None:
            return Target(None, job.commit)  # an empty repository: reconcile says so
        tip = job.commit if job.commit is not None else source.resolve(default)
        if job.commit is not None and not source.has_commit(job.commit):
            # Pushed but not served yet (or force-pushed away): retried with backoff.
            raise ExternalError(f"commit {job.commit[:12]} of {job.repository} is not fetchable")
        branch = read_config(source, tip).source_branch or default
        head = source.branch_sha(branch)
        if head is None or job.commit == head:
            return Target(branch if head else None, job.commit or head)
        if job.commit is None:
            return Target(branch, head)
        if source.is_ancestor(head, job.commit):
            return Target(branch, job.commit)  # the fetch is behind the delivery
        # An ancestor of the head, or gone from the branch after a force-push: the head wins.
        return Target(branch, head, superseded=job.commit)

    def _newer_than_rendered(self, repo: str, report: ReconcileReport) -> bool:
        """False when a job that finished first already rendered a newer commit."""
        rendered = (self.store.summary(repo) or {}).get(RENDERED)
        commit = report.snapshot.commit
        if not isinstance(rendered, str) or rendered == commit:
            return True
        source = self.cache.open(repo)
        return not (source.has_commit(rendered) and source.is_ancestor(commit, rendered))

    def _superseded(self, job: Job, report: ReconcileReport, target: Target) -> None:
        """Neutral check runs on the job's older commit, naming and linking the newer one."""
        assert target.superseded is not None and target.branch is not None
        newer = report.snapshot.commit
        url = f"{web_url(self.github.settings.api_url)}/{job.repository}/commit/{newer}"
        promises = [job.promise] if job.promise else sorted(report.outcomes)
        # A Re-run click on an older commit gets new check runs, as GitHub expects, saying why
        # the head was rendered instead: a rerun never takes a pull request backwards.
        new = job.payload.get("reason") == RERUN_REASON
        checks = CheckRuns(self.github.repo(job.repository), target.superseded, url, new=new)
        for promise in promises:
            checks.finish(superseded_report(promise, target.branch, newer, url))
        log.info(
            "job %d: %s superseded by %s",
            job.id,
            target.superseded[:12],
            newer[:12],
            extra={"job": job.id, "repository": job.repository, "commit": newer},
        )

    def _observe_rate_limit(self, repo: str) -> None:
        # PyGithub keeps the last response's x-ratelimit-* headers: no extra call needed.
        remaining, limit = self.github.client_for(repo).rate_limiting
        if limit > 0:
            GITHUB_RATE_REMAINING.set(remaining)
            GITHUB_RATE_LIMIT.set(limit)

    def _runners(self, on_output: LiveObserver | None = None) -> RunnerFactory:
        config, redactor = self.runner_config, self.redactor

        @contextmanager
        def runner() -> Iterator[WorkflowRunner]:
            engine = DockerEngine(config.engine_url)
            try:
                yield make_runner(config, engine, redactor, on_output=on_output)
            finally:
                engine.close()

        return runner


def _failure(report: ReconcileReport) -> str:
    """One line naming what failed, for the job's error, the logs and the delivery's reason."""
    failed = [o for outcomes in report.outcomes.values() for o in outcomes if o.failed]
    what = [f"{o.key}: {_headline(o.failure_text)}" for o in failed[:5]]
    if len(failed) > 5:
        what.append(f"and {len(failed) - 5} more")
    problems = report.snapshot.objects.problems
    if problems:
        what.append(f"{len(problems)} problem(s) in the source, first: {problems[0]}")
    bad = [r for r in report.results if r.action in ("failed", "rejected", "human-commit")]
    what += [f"branch {r.branch}: {r.action} ({_headline(r.detail)})" for r in bad]
    return "; ".join(what) or "the reconcile failed"


def _headline(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "no reason given"


def _interval(snapshot: SourceSnapshot) -> float:
    """The repository's rerun interval: its own, or a Promise's shorter one (it wins in Kratix)."""
    seconds = snapshot.config.reconcile_interval.total_seconds()
    for promise in snapshot.promises:
        if promise.reconciliation_interval is not None:
            seconds = min(seconds, promise.reconciliation_interval.total_seconds())
    return seconds


def _retries(report: ReconcileReport, now: datetime) -> dict[str, datetime]:
    """When each Promise asked to run again (workflow-control `retryAfter`), the earliest."""
    retries: dict[str, datetime] = {}
    for outcomes in report.outcomes.values():
        for outcome in outcomes:
            delay = outcome.run.retry_after if outcome.run is not None else None
            if delay is not None:
                # A compound Promise's child runs again with its parent: rerun the root's Promise.
                promise = (outcome.ancestors[0] if outcome.ancestors else outcome.key).promise
                retries[promise] = min(retries.get(promise, now + delay), now + delay)
    return retries


def _result(report: ReconcileReport, pr_urls: Mapping[str, str]) -> dict[str, Any]:
    """What the runs page shows: branches, PRs, objects, pipelines, containers, logs."""
    return {
        "source": report.snapshot.source,
        "commit": report.snapshot.commit,
        "failed": report.failed,
        "problems": [str(p) for p in report.snapshot.objects.problems],
        "branches": [
            {
                "branch": r.branch,
                "action": r.action,
                "commit": r.commit,
                "added": list(r.added),
                "changed": list(r.changed),
                "removed": list(r.removed),
                "detail": r.detail,
                "pull_request": pr_urls.get(r.branch),
            }
            for r in report.results
        ],
        "objects": [
            _object_result(o, _changed_files(report, o))
            for outcomes in report.outcomes.values()
            for o in outcomes
        ],
    }


LOG_CHARS = 256 * 1024  # a container's whole log as the engine keeps it (its last 256 KiB)


def _object_result(o: ObjectOutcome, files: Mapping[str, list[str]]) -> dict[str, Any]:
    """One object of a run: what ran, its containers' whole redacted logs, its Kratix status
    and the files it added, changed or removed."""
    status = o.run.status if o.run else {}
    return {
        "key": str(o.key),
        "parent": str(o.parent) if o.parent is not None else None,  # compound Promises
        "promise": o.key.promise,
        "group": o.key.group,
        "kind": o.key.kind,
        "namespace": o.key.namespace,
        "name": o.key.name,
        "action": o.action,
        "result": "failed" if o.failed else (o.run.outcome if o.run else o.action),
        "failure": o.failure_text,
        "note": o.note,
        "files": dict(files),
        "status": {k: status[k] for k in ("message", "conditions", "kratix") if k in status},
        "pipelines": [
            {
                "name": p.name,
                "seconds": p.seconds,
                "outcome": p.outcome,
                "containers": [_container_result(c) for c in p.containers],
            }
            for p in (o.run.pipelines if o.run else ())
        ]
        + _failed_pipeline(o),
    }


def _failed_pipeline(o: ObjectOutcome) -> list[dict[str, Any]]:
    """The pipeline that failed, with the containers that ran in it (a WorkflowRun lists only
    the pipelines that finished)."""
    failure = o.run.failure if o.run else None
    if failure is None:
        return []
    containers = [_container_result(c) for c in failure.containers]
    seconds = sum(c.seconds for c in failure.containers)
    return [
        {
            "name": failure.pipeline,
            "seconds": seconds,
            "outcome": "failed",
            "containers": containers,
        }
    ]


def _changed_files(report: ReconcileReport, o: ObjectOutcome) -> dict[str, list[str]]:
    """The files of the branches that this object owns, by added, changed and removed."""
    owned = set(o.files) | set(o.record.files if o.record else ())
    record = o.key.record_path  # gitbot's record of the object, under the state store's root

    def own(path: str) -> bool:
        return path in owned or path == record or path.endswith("/" + record)

    found: dict[str, list[str]] = {"added": [], "changed": [], "removed": []}
    for r in report.results:
        for what, paths in (("added", r.added), ("changed", r.changed), ("removed", r.removed)):
            found[what].extend(path for path in paths if own(path))
    return found


def _container_result(c: ContainerRun) -> dict[str, Any]:
    return {
        "name": c.name,
        "image": c.image,
        "seconds": c.seconds,
        "exit_code": c.exit_code,
        "timed_out": c.timed_out,
        "log": c.log[-LOG_CHARS:],
    }
