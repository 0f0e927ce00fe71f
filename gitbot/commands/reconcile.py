"""`gitbot reconcile`: a whole source repository into reviewable branches of a state repository.

Local paths and git URLs work with plain git; `owner/name` repositories go through the GitHub
App (pull requests on the state repository, check runs on the source commit).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gitbot.commands import jsonout
from gitbot.commands.progress import ConsoleProgress, wants_progress
from gitbot.errors import EXIT_OK, EXIT_USER_ERROR, UserError
from gitbot.gitrepo import CachedRepo, GitError, RepoCache, UnknownRef
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import PLATFORM_API_OFF, ContainerRun, WorkflowRunner
from gitbot.pipeline.setup import RunnerConfig, make_runner, runner_config
from gitbot.reconcile.repositories import (
    Feedback,
    LocalFeedback,
    ReconcileReport,
    ReconcileRequest,
    RepoOpener,
    reconcile,
)
from gitbot.reconcile.workflows import RunnerFactory
from gitbot.secrets import Redactor
from gitbot.settings import load_settings
from gitbot.state.branchplan import BranchPlan, Changes
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.publish import BranchResult
from gitbot.statusdb import STATUS_FILE, StatusStore


def reconcile_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run everything, publish the branches, print a summary; exit 1 if anything failed."""
    as_json = args.output == "json"
    text = io.StringIO() if as_json else out  # JSON keeps stdout for its one document
    report = _reconcile(args, text)
    if as_json:
        print(json.dumps(_document(report), indent=2), file=out)
    return EXIT_USER_ERROR if report.failed else EXIT_OK


def _reconcile(args: argparse.Namespace, out: TextIO) -> ReconcileReport:
    settings = load_settings()
    redactor = Redactor()
    github = None
    if _is_github(args.source) or (args.state and _is_github(args.state)):
        from gitbot.github.feedback import GitHubFeedback
        from gitbot.github.settings import github_app

        github = github_app(settings, redactor)
    cache = RepoCache(
        settings.data_dir / "repos",
        timeout=settings.git_timeout,
        auth_header=github.git_auth_header if github else None,
        redactor=redactor,
    )
    opener: RepoOpener = cache
    if github is not None:
        from gitbot.github.client import AppRepoOpener

        opener = AppRepoOpener(cache, github)
    source = source_identity(args.source)
    opener = LocalRepoCheck(
        opener, {args.source: "--source", source: "--source", args.state: "--state"}
    )
    request = ReconcileRequest(
        source=source,
        source_url=source,
        state=args.state,
        source_ref=args.source_ref,
        direct=args.direct,
        only=tuple(args.only),
        only_known=True,
        resume=args.resume,
    )
    feedback: Feedback = _Console(out, LocalFeedback())
    if github is not None:
        feedback = _Console(out, GitHubFeedback(github, args.source, args.state, redactor))
    lock = threading.Lock()
    progress = None
    if wants_progress(args.progress, args.verbose, sys.stderr):
        progress = ConsoleProgress(sys.stderr, verbose=args.verbose)
    config = runner_config(settings, args.secrets_dir)
    if config.options.policy.network == "none":
        print(PLATFORM_API_OFF, file=out)
    runners = _runner_factory(config, out, lock, redactor, progress)
    with StatusStore(settings.data_dir / STATUS_FILE) as status:
        try:
            return reconcile(request, opener, status, runners, feedback, workers=settings.workers)
        except UnknownRef as e:
            # A ref the user typed is their input error; any other unknown ref stays external.
            if args.source_ref is None or e.ref != args.source_ref:
                raise
            raise UserError(
                f"--source-ref {args.source_ref}: not a branch, tag or commit of {source}"
            ) from e


class LocalRepoCheck:
    """Opens repositories through another opener, but first checks a local path the user gave:
    a missing folder or one that is not a git repository is the user's input error, told in
    one line naming the path, not git's output behind an external-error exit code."""

    def __init__(self, inner: RepoOpener, labels: dict[str | None, str]) -> None:
        self.inner = inner
        self.labels = labels

    def open(self, url: str) -> CachedRepo:
        local = _local_path(url)
        if local is None:
            return self.inner.open(url)
        label = self.labels.get(url, "stateRepository")
        problem = _repository_problem(Path(local))
        if problem is not None:
            raise UserError(f"{label} {url}: {problem}")
        try:
            return self.inner.open(url)
        except GitError as e:
            reason = e.output.splitlines()[0].removeprefix("fatal: ") if e.output else str(e)
            raise UserError(f"{label} {url}: cannot read it as a git repository: {reason}") from e


def source_identity(value: str) -> str:
    """One name for a local source however it is typed: `demo/source`, `$PWD/demo/source`,
    `.` and `file:///.../demo/source` all become the resolved absolute path, so the `source:` of
    the object records and the `Gitbot-Source:` trailer (and so an unchanged rerun) do not
    depend on the spelling. Remote URLs and owner/name stay as given; a path that does not
    exist stays as typed, for the error that names it."""
    local = _local_path(value)
    if local is None or not Path(local).exists():
        return value
    return str(Path(local).resolve())


def _local_path(url: str) -> str | None:
    if url.startswith("file://"):
        return url.removeprefix("file://")
    if "://" in url or _is_github(url):
        return None
    return os.path.expanduser(url)


def _repository_problem(path: Path) -> str | None:
    """Why git cannot read path as a repository (None: it looks like one)."""
    expected = "expected a git repository: a local path, a file:// or http(s):// URL, or owner/name"
    if not path.exists():
        return f"no such file or directory; {expected}"
    if not path.is_dir():
        return f"not a directory; {expected}"
    if not os.access(path, os.R_OK | os.X_OK):
        return "permission denied: gitbot cannot read it"
    if not ((path / ".git").exists() or (path / "HEAD").is_file()):
        return "not a git repository (no .git in it, and not a bare repository)"
    return None


def _document(report: ReconcileReport) -> dict[str, object]:
    snapshot = report.snapshot
    outcomes = {p.branch: p.outcomes for p in report.plans}
    return jsonout.document(
        "ReconcileResult",
        succeeded=not report.failed,
        source={"repository": snapshot.source, "ref": report.ref, "commit": snapshot.commit},
        state={
            "repository": report.state,
            "baseBranch": report.base.branch,
            "baseCommit": report.base.sha,
        },
        implicitDestination=snapshot.implicit_destination,
        objects=jsonout.objects(snapshot.objects),
        problems=jsonout.problems(snapshot.objects),
        runs=[
            jsonout.outcome(o) for name in sorted(report.outcomes) for o in report.outcomes[name]
        ],
        branches=[jsonout.branch(r, outcomes.get(r.branch, ())) for r in report.results],
    )


def _is_github(value: str) -> bool:
    from gitbot.github.client import is_full_name

    return is_full_name(value) and not Path(value).exists()


def _runner_factory(
    config: RunnerConfig,
    out: TextIO,
    lock: threading.Lock,
    redactor: Redactor,
    progress: ConsoleProgress | None,
) -> RunnerFactory:
    @contextmanager
    def runner() -> Iterator[WorkflowRunner]:
        engine = DockerEngine(config.engine_url)

        def show(pipeline: str, container: ContainerRun) -> None:
            state = "ok" if container.exit_code == 0 else "FAILED"
            with lock:
                print(
                    f"  ran {pipeline}/{container.name}: {state} in {container.seconds:.2f}s",
                    file=out,
                    flush=True,
                )

        try:
            yield make_runner(config, engine, redactor, show, on_output=progress)
        finally:
            engine.close()

    return runner


class _Console:
    """Prints what happens, around another Feedback that acts on it."""

    def __init__(self, out: TextIO, inner: Feedback) -> None:
        self.out = out
        self.inner = inner

    def started(self, report: ReconcileReport, promises: Sequence[str]) -> None:
        snapshot, objects = report.snapshot, report.snapshot.objects
        print(
            f"source {snapshot.source} at {snapshot.commit[:12]} ({report.ref}): "
            f"{len(objects.promises)} Promise(s), {len(objects.resources)} request(s), "
            f"{len(objects.destinations)} Destination(s)",
            file=self.out,
        )
        if snapshot.implicit_destination:
            print(
                "no Destination in the source: using the implicit Destination 'default'",
                file=self.out,
            )
        for problem in objects.problems:
            print(problem, file=self.out)  # file:line: key.path: message, as validate prints
        for warning in objects.warnings:
            print(str(warning), file=self.out)
        print(
            f"state {report.state}: base branch {report.base.branch} at {report.base.sha[:12]}",
            file=self.out,
        )
        self.inner.started(report, promises)

    def skip_push(self, plan: BranchPlan, changes: Changes) -> BranchResult | None:
        return self.inner.skip_push(plan, changes)

    def published(
        self, report: ReconcileReport, plan: BranchPlan, changes: Changes, result: BranchResult
    ) -> BranchResult:
        return self.inner.published(report, plan, changes, result)

    def finished(self, report: ReconcileReport) -> None:
        self.inner.finished(report)
        outcomes = {p.branch: p.outcomes for p in report.plans}
        # --direct: the base branch took every plan that did not fail.
        outcomes.setdefault(
            report.base.branch,
            tuple(o for p in report.plans if not p.failures for o in p.outcomes),
        )
        for result in report.results:
            self._print_result(report, result, outcomes.get(result.branch, ()))
        pushed = sum(r.action in ("created", "updated", "removed") for r in report.results)
        if pushed == 0 and all(r.action in ("unchanged", "no-change") for r in report.results):
            print("nothing changed: nothing pushed", file=self.out)
        else:
            print(f"{pushed} branch(es) pushed", file=self.out)

    def _print_result(
        self, report: ReconcileReport, result: BranchResult, outcomes: Sequence[ObjectOutcome]
    ) -> None:
        line = f"{result.branch}: {result.action}"
        if result.commit:
            line += f" {result.commit[:12]}"
        if result.action in ("created", "updated", "unchanged"):
            line += (
                f" ({len(result.added)} added, {len(result.changed)} changed, "
                f"{len(result.removed)} removed)"
            )
        print(line, file=self.out)
        if result.detail:
            print(f"  {result.detail}", file=self.out)
        for outcome in outcomes:
            # A compound Promise's children sit under their parent, one step per level; what
            # is said about an object sits under it.
            tree = "  " * len(outcome.ancestors) + ("└ " if outcome.ancestors else "")
            under = " " * (4 + len(tree))
            print(f"  {tree}{_describe(outcome, under)}", file=self.out)
            for unscheduled in outcome.unscheduled:
                print(f"{under}not scheduled: {unscheduled}", file=self.out)
            for misplaced in outcome.misplaced:
                print(f"{under}misplaced: {misplaced}", file=self.out)
            for pipeline in outcome.run.pipelines if outcome.run else ():
                for warning in pipeline.warnings:
                    print(f"{under}warning: pipeline {pipeline.name}: {warning}", file=self.out)
        if (
            result.action in ("created", "updated", "unchanged")
            and result.branch != report.base.branch
        ):
            print(
                f"  see: {_diff_command(report.state, report.base.branch, result.branch)}",
                file=self.out,
            )


def _describe(outcome: ObjectOutcome, under: str = "    ") -> str:
    """The object's line, and its failure on the lines below, indented by `under`."""
    text = f"{outcome.key}: {outcome.action}"
    if outcome.run is not None:
        timings = ", ".join(f"{p.name} {p.seconds:.2f}s" for p in outcome.run.pipelines)
        # Pipelines that ran through can still fail the object (a compound Promise's output
        # for the platform is invalid or a cycle): the JSON's `failed` and this line agree.
        result = "failed" if outcome.failed else outcome.run.outcome
        text += f" {result}" + (f" ({timings})" if timings else "")
    if outcome.note:
        text += f" — {outcome.note}"
    if outcome.failed:
        text += f"\n{under}" + outcome.failure_text.replace("\n", f"\n{under}")
    return text


def _diff_command(state: str, base: str, branch: str) -> str:
    if Path(state).exists():
        return f"git -C {state} diff {base}...{branch}"
    return f"git diff origin/{base}...origin/{branch}  (in a clone of {state})"
