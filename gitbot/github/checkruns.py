"""Check runs on the source commit: one per Promise, one for the source's YAML problems."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import github
from github.CheckRun import CheckRun
from github.Repository import Repository

from gitbot.errors import Problem
from gitbot.github.client import GitHubError
from gitbot.state.outcomes import ObjectOutcome

MAX_TEXT = 65_535  # GitHub's limit for each of title, summary and text
ANNOTATIONS_PER_REQUEST = 50  # GitHub's limit per create or update
SOURCE_CHECK = "gitbot: source"
_SIGNATURE_RE = re.compile(r"<!-- gitbot:check [0-9a-f]+ -->")
T = TypeVar("T")
Conclusion = Literal["success", "failure", "neutral"]


def promise_check_name(promise: str) -> str:
    return f"gitbot: {promise}"


@dataclass(frozen=True)
class CheckReport:
    """A finished check run's content."""

    name: str
    conclusion: Conclusion
    title: str
    summary: str
    text: str = ""
    annotations: tuple[Mapping[str, Any], ...] = ()


def promise_report(
    promise: str,
    outcomes: Sequence[ObjectOutcome],
    pr_url: str | None,
    files: str = "",
    not_proposed: str = "",
) -> CheckReport:
    """Success, failure (with the failing container's log tail) or neutral (nothing ran, or
    `not_proposed`: why the change did not reach its branch, in markdown)."""
    failed = [o for o in outcomes if o.failed]
    unscheduled = [u for o in outcomes for u in o.unscheduled]
    ran = [o for o in outcomes if o.action in ("configure", "delete")]
    conclusion: Conclusion = "success"
    title = f"{len(ran)} workflow(s) ran"
    held = [o for o in outcomes if o.held]
    if failed:
        conclusion, title = "failure", f"{len(failed)} workflow(s) failed"
    elif held:
        # The Promise is Unavailable (requirements, or its workflow did not complete): the
        # table's notes say why, in Kratix's words.
        conclusion = "neutral"
        title = f"Promise {promise} is Unavailable: {len(held)} request(s) held"
    elif not ran or unscheduled:
        conclusion = "neutral"
        title = "nothing ran" if not ran else f"{len(unscheduled)} group(s) matched no Destination"
    if not_proposed and conclusion == "success":
        conclusion, title = "neutral", "not proposed: someone else committed to the branch"
    stable = _table(outcomes, timings=False)
    lines = _table(outcomes, timings=True)
    if not_proposed:
        stable, lines = [not_proposed, "", *stable], [not_proposed, "", *lines]
    if files:
        lines += ["", files]
    if pr_url:
        lines += ["", f"Pull request: {pr_url}"]
    text = []
    for o in failed:
        text += [f"### {o.key}", "", "```", o.failure_text, "```", ""]
    for u in unscheduled:
        text.append(f"- not scheduled: {u}")
    for m in (m for o in outcomes for m in o.misplaced):
        text.append(f"- misplaced: {m}")
    text_out = _cut("\n".join(text))
    # Durations differ on every run; the signature leaves them out, so a rerun with the same
    # result writes nothing to GitHub.
    signature = _signature(conclusion, title, "\n".join([*stable, files, pr_url or ""]), text_out)
    summary = _cut("\n".join(lines), reserve=len(signature) + 2) + "\n\n" + signature
    return CheckReport(promise_check_name(promise), conclusion, title, summary, text_out)


def _table(outcomes: Sequence[ObjectOutcome], timings: bool) -> list[str]:
    lines = ["| Object | Workflow | Result | Pipelines |", "|---|---|---|---|"]
    for o in outcomes:
        result = "failed" if o.failed else (o.run.outcome if o.run else (o.note or o.action))
        if o.run is not None and o.note:
            result += f" — {o.note}"  # e.g. a Promise that is Unavailable: which requirement
        pipelines = ""
        if o.run is not None:
            pipelines = ", ".join(
                f"{p.name} {p.seconds:.1f}s" if timings else p.name for p in o.run.pipelines
            )
        lines.append(f"| {o.tree_label()} | {o.action} | {result} | {pipelines} |")
    return lines


def _signature(*parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return f"<!-- gitbot:check {digest} -->"


def source_report(problems: Sequence[Problem], warnings: Sequence[Problem]) -> CheckReport:
    """YAML problems as annotations at file and line."""
    annotations = tuple(_annotation(p) for p in [*problems, *warnings])
    if problems:
        title = f"{len(problems)} problem(s) in the source"
        summary = "\n".join(f"- `{p}`" for p in problems)
        return CheckReport(SOURCE_CHECK, "failure", title, _cut(summary), annotations=annotations)
    return CheckReport(
        SOURCE_CHECK,
        "success",
        "objects are valid",
        "Every object loaded.",
        annotations=annotations,
    )


def _annotation(problem: Problem) -> Mapping[str, Any]:
    line = max(problem.line, 1)
    return {
        "path": problem.file,
        "start_line": line,
        "end_line": line,
        "annotation_level": "warning" if problem.warning else "failure",
        "title": problem.path or "gitbot",
        "message": problem.message,
    }


def _cut(text: str, reserve: int = 0) -> str:
    limit = MAX_TEXT - reserve
    if len(text) <= limit:
        return text
    note = "\n\n… cut to GitHub's limit"
    return text[: limit - len(note)] + note


class CheckRuns:
    """gitbot's check runs on one commit; writes only when something differs."""

    def __init__(
        self, repo: Repository, head_sha: str, details_url: str | None = None, new: bool = False
    ) -> None:
        """`new`: start new check runs even where the commit has some (a Re-run click)."""
        self.repo = repo
        self.head_sha = head_sha
        self.details_url = details_url
        runs = []
        if not new:
            runs = self._call(
                "list check runs", lambda: list(repo.get_commit(head_sha).get_check_runs())
            )
        self._runs: dict[str, CheckRun] = {run.name: run for run in runs}

    def start(self, name: str) -> None:
        """Mark a check in progress; a commit checked before keeps its result until finish."""
        if name in self._runs:
            return
        details = self.details_url or github.GithubObject.NotSet
        self._runs[name] = self._call(
            "create a check run",
            lambda: self.repo.create_check_run(
                name=name,
                head_sha=self.head_sha,
                status="in_progress",
                started_at=datetime.now(UTC),
                details_url=details,
            ),
        )

    def finish(self, report: CheckReport) -> None:
        """Complete the check with the report, in as few writes as GitHub allows."""
        run = self._runs.get(report.name)
        if run is not None and _same(run, report):
            return
        first, rest = (
            report.annotations[:ANNOTATIONS_PER_REQUEST],
            report.annotations[ANNOTATIONS_PER_REQUEST:],
        )
        output = _output(report, first)
        if run is None:
            run = self._call(
                "create a check run",
                lambda: self.repo.create_check_run(
                    name=report.name,
                    head_sha=self.head_sha,
                    status="completed",
                    conclusion=report.conclusion,
                    completed_at=datetime.now(UTC),
                    output=output,
                    details_url=self.details_url or github.GithubObject.NotSet,
                ),
            )
        else:
            existing = run
            self._call(
                "update a check run",
                lambda: existing.edit(
                    status="completed",
                    conclusion=report.conclusion,
                    completed_at=datetime.now(UTC),
                    output=output,
                ),
            )
        for start in range(0, len(rest), ANNOTATIONS_PER_REQUEST):
            self._add_annotations(run, report, rest[start : start + ANNOTATIONS_PER_REQUEST])
        self._runs[report.name] = run

    def _add_annotations(
        self, run: CheckRun, report: CheckReport, chunk: Sequence[Mapping[str, Any]]
    ) -> None:
        # GitHub appends the annotations of each update to the check run's list.
        self._call("add annotations", lambda: run.edit(output=_output(report, chunk)))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except github.GithubException as e:
            raise GitHubError(f"GitHub refused to {what}: {e.status} {e.data}") from e


def _output(report: CheckReport, annotations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    output: dict[str, Any] = {"title": report.title, "summary": report.summary}
    if report.text:
        output["text"] = report.text
    if annotations:
        output["annotations"] = [dict(a) for a in annotations]
    return output


def _same(run: CheckRun, report: CheckReport) -> bool:
    output = run.output
    if run.status != "completed" or run.conclusion != report.conclusion or output is None:
        return False
    signature = _SIGNATURE_RE.search(report.summary)
    if signature is not None:
        return signature.group(0) in (output.summary or "")
    return (
        output.title == report.title
        and output.summary == report.summary
        and (output.text or "") == report.text
    )


def superseded_report(promise: str, branch: str, newer: str, newer_url: str) -> CheckReport:
    """Neutral: a newer commit of the source branch was rendered instead of this one.

    GitHub does not promise delivery order; gitbot renders the newest commit it knows of and
    says so on the older one, linking the commit whose check runs hold the result.
    """
    return CheckReport(
        promise_check_name(promise),
        "neutral",
        f"Superseded by {newer[:12]}",
        (
            f"`{branch}` has moved on to [{newer[:12]}]({newer_url}), which contains this commit; "
            "gitbot rendered that newer commit instead (it never proposes an older state). "
            "Its check runs show the result."
        ),
    )
