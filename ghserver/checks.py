"""Check runs: GitHub's validation of create/update bodies and the runs of a commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ghserver import bare
from ghserver.errors import ApiError, not_found, unprocessable
from ghserver.model import App, CheckRun, Repo, now
from ghserver.state import State

MAX_TEXT = 65535
MAX_ANNOTATIONS = 50
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
LEVELS = ("notice", "warning", "failure")
_ANNOTATION_FIELDS = {
    "path": str,
    "start_line": int,
    "end_line": int,
    "annotation_level": str,
    "message": str,
}


def invalid(detail: str) -> ApiError:
    """422 as GitHub words a body that fails its JSON schema."""
    return ApiError(422, f"Invalid request.\n\n{detail}")


@dataclass(frozen=True)
class CheckInput:
    """The fields of a check-run create/update body that were given (None when absent)."""

    name: str | None = None
    head_sha: str | None = None
    status: str | None = None
    conclusion: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, str | None] | None = None
    annotations: tuple[dict[str, Any], ...] = ()


def _string(payload: dict[str, Any], key: str, choices: tuple[str, ...] = ()) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f"For 'properties/{key}', {value!r} is not a string.")
    if choices and value not in choices:
        raise invalid(f"For 'properties/{key}', {value!r} is not a member of enum.")
    return value


def _time(payload: dict[str, Any], key: str) -> datetime | None:
    value = _string(payload, key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(microsecond=0)
    except ValueError:
        raise invalid(f"For 'properties/{key}', {value!r} is not a date-time.") from None


def _output(raw: Any) -> tuple[dict[str, str | None] | None, tuple[dict[str, Any], ...]]:
    if raw is None:
        return None, ()
    if not isinstance(raw, dict):
        raise invalid(f"For 'properties/output', {raw!r} is not an object.")
    for key in ("title", "summary"):
        if not isinstance(raw.get(key), str):
            raise invalid(f'"{key}" wasn\'t supplied.')
    for key in ("summary", "text"):
        text = raw.get(key)
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise invalid(f"Only {MAX_TEXT} characters are allowed; {len(text)} were supplied.")
    annotations = raw.get("annotations") or []
    if not isinstance(annotations, list):
        raise invalid("For 'properties/annotations', it is not an array.")
    if len(annotations) > MAX_ANNOTATIONS:
        raise invalid(
            f"Only {MAX_ANNOTATIONS} annotations are allowed per request; "
            f"{len(annotations)} were supplied."
        )
    for item in annotations:
        _check_annotation(item)
    output = {"title": raw["title"], "summary": raw["summary"], "text": raw.get("text")}
    return output, tuple(annotations)


def _check_annotation(item: Any) -> None:
    if not isinstance(item, dict):
        raise invalid("For 'items', it is not an object.")
    for key, kind in _ANNOTATION_FIELDS.items():
        if not isinstance(item.get(key), kind):
            raise invalid(f'"{key}" wasn\'t supplied.')
    if item["annotation_level"] not in LEVELS:
        raise invalid(
            f"For 'properties/annotation_level', {item['annotation_level']!r} is not a "
            "member of enum."
        )


def parse(payload: Any, creating: bool) -> CheckInput:
    """Validate a check-run body as GitHub does; `name` and `head_sha` are needed to create."""
    if not isinstance(payload, dict):
        raise invalid("Body should be a JSON object")
    if creating:
        for key in ("name", "head_sha"):
            if not isinstance(payload.get(key), str):
                raise invalid(f'"{key}" wasn\'t supplied.')
    output, annotations = _output(payload.get("output"))
    status = _string(payload, "status", STATUSES)
    conclusion = _string(payload, "conclusion", CONCLUSIONS)
    if status == "completed" and conclusion is None and creating:
        raise invalid('"conclusion" wasn\'t supplied.')
    return CheckInput(
        name=_string(payload, "name"),
        head_sha=_string(payload, "head_sha"),
        status=status,
        conclusion=conclusion,
        started_at=_time(payload, "started_at"),
        completed_at=_time(payload, "completed_at"),
        details_url=_string(payload, "details_url"),
        external_id=_string(payload, "external_id"),
        output=output,
        annotations=annotations,
    )


def _apply(run: CheckRun, change: CheckInput) -> None:
    for key in ("name", "details_url", "external_id", "started_at"):
        value = getattr(change, key)
        if value is not None:
            setattr(run, key, value)
    if change.status is not None:
        run.status = change.status
    if change.conclusion is not None:
        run.status, run.conclusion = "completed", change.conclusion
    if run.status == "completed":
        if run.conclusion is None:
            raise invalid('"conclusion" wasn\'t supplied.')
        run.completed_at = change.completed_at or run.completed_at or now()
    if change.output is not None:
        run.output = dict(change.output)
    run.annotations.extend(change.annotations)


def create(state: State, repo: Repo, app: App, change: CheckInput) -> CheckRun:
    """checks/create on a commit that exists (422 "No commit found for SHA" otherwise)."""
    assert change.name is not None and change.head_sha is not None
    sha = bare.resolve(repo.path, change.head_sha)
    if sha is None or sha != change.head_sha:
        raise unprocessable(f"No commit found for SHA: {change.head_sha}")
    with state.lock:
        suite_key = (repo.id, app.id, sha)
        suite = state.check_suites.setdefault(suite_key, state.new_id("check_suite"))
        run = CheckRun(
            state.new_id("check_run"),
            repo,
            app,
            change.name,
            sha,
            started_at=now(),
            check_suite_id=suite,
        )
        _apply(run, change)
        state.check_runs[run.id] = run
        return run


def update(state: State, repo: Repo, app: App, run_id: int, change: CheckInput) -> CheckRun:
    """checks/update; another App's run is not found."""
    with state.lock:
        run = state.check_runs.get(run_id)
        if run is None or run.repo is not repo:
            raise not_found()
        if run.app is not app:
            raise ApiError(
                403,
                f"Invalid app_id `{app.id}` - check run can only be modified by the "
                "GitHub App that created it.",
            )
        _apply(run, change)
        return run


def for_ref(
    state: State,
    repo: Repo,
    ref: str,
    check_name: str | None = None,
    status: str | None = None,
    app_id: int | None = None,
    latest: bool = True,
) -> list[CheckRun]:
    """checks/list-for-ref: the runs on the commit a sha, branch or tag names, newest first."""
    sha = bare.resolve(repo.path, ref)
    if sha is None:
        raise unprocessable(f"No commit found for SHA: {ref}")
    runs = [r for r in state.check_runs.values() if r.repo is repo and r.head_sha == sha]
    if check_name is not None:
        runs = [r for r in runs if r.name == check_name]
    if status is not None:
        runs = [r for r in runs if r.status == status]
    if app_id is not None:
        runs = [r for r in runs if r.app.id == app_id]
    runs.sort(key=lambda r: r.id, reverse=True)
    if latest:  # GitHub's default filter: the newest run of each name per App
        newest: dict[tuple[int, str], CheckRun] = {}
        for run in runs:
            newest.setdefault((run.app.id, run.name), run)
        runs = list(newest.values())
    return runs
