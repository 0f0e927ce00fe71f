"""Pull request texts: a hidden marker gitbot reads back, and a body reviewers read. Pure."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from gitbot.state.branchplan import Changes
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.publish import BranchResult

RECORDS = ".gitbot/"  # gitbot's own bookkeeping, counted apart from the documents
MAX_BODY = 58_000  # GitHub refuses bodies over 65,536 characters; keep a safety margin
_MARKER_RE = re.compile(r"<!-- gitbot:pr (\{.*?\}) -->", re.DOTALL)


@dataclass(frozen=True)
class PrMarker:
    """What gitbot needs to recognise its own PR and its content later."""

    source: str
    commit: str
    objects: tuple[str, ...]
    images: tuple[str, ...]
    content_hash: str

    def render(self) -> str:
        data = asdict(self)
        return f"<!-- gitbot:pr {json.dumps(data, sort_keys=True, separators=(',', ':'))} -->"


def parse_marker(body: str | None) -> PrMarker | None:
    """The marker in a PR body, or None for PRs gitbot did not write."""
    match = _MARKER_RE.search(body or "")
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
        return PrMarker(
            source=str(data["source"]),
            commit=str(data["commit"]),
            objects=tuple(data["objects"]),
            images=tuple(data["images"]),
            content_hash=str(data["content_hash"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def content_hash(changes: Changes) -> str:
    """A hash of the planned changes, independent of the base commit they land on."""
    digest = hashlib.sha256()
    for path in sorted(changes):
        content = changes[path]
        digest.update(path.encode() + b"\0")
        digest.update(b"-" if content is None else hashlib.sha256(content).digest())
    return digest.hexdigest()


def images_of(outcomes: Sequence[ObjectOutcome]) -> tuple[str, ...]:
    return tuple(
        sorted(
            {
                c.image
                for o in outcomes
                if o.run is not None
                for p in o.run.pipelines
                for c in p.containers
            }
        )
    )


def render_body(
    source: str,
    commit: str,
    outcomes: Sequence[ObjectOutcome],
    result: BranchResult,
    marker: PrMarker,
    checks_url: str | None = None,
    limit: int = MAX_BODY,
) -> str:
    """The PR body: objects, pipelines, files; bounded to `limit` with a note when cut."""
    head = [
        f"gitbot rendered these files from **{source}** at `{commit[:12]}`.",
        "",
        "| Object | Workflow | Pipelines | Result |",
        "|---|---|---|---|",
    ]
    for outcome in outcomes:
        pipelines = "—"
        result_text = outcome.action if outcome.run is None else outcome.run.outcome
        if outcome.run is not None:
            pipelines = ", ".join(f"{p.name} ({p.seconds:.1f}s)" for p in outcome.run.pipelines)
        if outcome.failed:
            result_text = "failed"
        label = outcome.tree_label()  # a compound Promise's children under their parent
        head.append(f"| {label} | {outcome.action} | {pipelines or '—'} | {result_text} |")
    added, changed, removed = (
        tuple(p for p in paths if not p.startswith(RECORDS))
        for paths in (result.added, result.changed, result.removed)
    )
    records = sum(p.startswith(RECORDS) for p in (*result.added, *result.changed, *result.removed))
    note = f" (and {records} gitbot record file(s) under `{RECORDS}`)" if records else ""
    head += [
        "",
        f"**Files:** {len(added)} added, {len(changed)} changed, {len(removed)} removed{note}.",
    ]
    tail = []
    if checks_url:
        tail += ["", f"Check runs: {checks_url}"]
    tail += ["", marker.render()]
    sections = [("Added", added), ("Changed", changed), ("Removed", removed)]
    return _bounded(head, sections, tail, limit)


def _bounded(
    head: list[str], sections: list[tuple[str, tuple[str, ...]]], tail: list[str], limit: int
) -> str:
    fixed = "\n".join(head) + "\n" + "\n".join(tail)
    budget = limit - len(fixed) - 200  # room for the truncation note
    lines: list[str] = []
    left_out = 0
    for title, paths in sections:
        if not paths:
            continue
        block = ["", f"<details><summary>{title} ({len(paths)})</summary>", ""]
        for path in paths:
            line = f"- `{path}`"
            if len("\n".join(lines + block)) + len(line) > budget:
                left_out += 1
                continue
            block.append(line)
        lines += [*block, "", "</details>"]
    if left_out:
        lines += [
            "",
            f"_{left_out} more file(s) not listed: the body is cut to stay within "
            "GitHub's limits; see the diff._",
        ]
    return "\n".join([*head, *lines, *tail])
