"""Pull request bodies and check-run texts: markers read back, limits kept. Pure functions."""

from __future__ import annotations

from builders import promise

from gitbot.errors import Problem
from gitbot.github.checkruns import MAX_TEXT, promise_report, source_report
from gitbot.github.prbody import MAX_BODY, PrMarker, content_hash, parse_marker, render_body
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.runner import Failure, WorkflowRun
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.publish import BranchResult
from gitbot.state.records import ObjectKey

MARKER = PrMarker("acme/src", "a" * 40, ("Promise thing",), ("busybox",), "f" * 64)


def test_the_marker_reads_back() -> None:
    body = render_body("acme/src", "a" * 40, [], BranchResult("gitbot/x", "created"), MARKER)
    assert parse_marker(body) == MARKER
    assert parse_marker("a human's PR") is None


def test_a_huge_file_list_is_cut_with_a_note() -> None:
    added = tuple(f"clusters/dev/resources/ns/p/r{i:05d}/pipe/5058f/file.yaml" for i in range(5000))
    result = BranchResult("gitbot/x", "created", "b" * 40, added=added)
    body = render_body("acme/src", "a" * 40, [], result, MARKER)
    assert len(body) <= MAX_BODY
    assert "more file(s) not listed: the body is cut to stay within GitHub's limits" in body
    assert parse_marker(body) == MARKER


def test_content_hash_ignores_order_and_sees_deletions() -> None:
    one = content_hash({"a": b"1", "b": None})
    assert one == content_hash({"b": None, "a": b"1"})
    assert one != content_hash({"a": b"1"})


def test_check_texts_stay_within_github_limits() -> None:
    target = WorkflowTarget(promise(), "configure")
    failure = Failure("p", "exited with code 1", "c", "x" * (MAX_TEXT * 2))
    outcome = ObjectOutcome(
        ObjectKey.of_promise(target.promise), "configure", WorkflowRun(target, (), {}, failure)
    )
    report = promise_report("thing", [outcome], None)
    assert report.conclusion == "failure"
    assert len(report.text) <= MAX_TEXT
    assert report.text.endswith("cut to GitHub's limit")


def test_paused_promises_are_neutral() -> None:
    key = ObjectKey.of_promise(promise())
    report = promise_report("thing", [ObjectOutcome(key, "paused", note="paused")], None)
    assert (report.conclusion, report.title) == ("neutral", "nothing ran")


def test_an_unavailable_promise_says_which_requirement_is_missing_and_holds_its_requests() -> None:
    target = WorkflowTarget(promise(), "configure")
    why = "Unavailable: RequirementsFulfilled=False (...); db v2: Requirement not installed"
    outcomes = [
        ObjectOutcome(
            ObjectKey.of_promise(target.promise),
            "configure",
            WorkflowRun(target, (), {}),
            note=why,
        ),
        ObjectOutcome(
            ObjectKey("thing", "example.gitbot.dev", "Thing", "default", "one"),
            "skipped",
            note="held: Promise thing is Unavailable",
            held=True,
        ),
    ]
    report = promise_report("thing", outcomes, None)
    assert (report.conclusion, report.title) == (
        "neutral",
        "Promise thing is Unavailable: 1 request(s) held",
    )
    assert f"| Promise thing | configure | succeeded — {why} |" in report.summary
    assert "| thing default/one | skipped | held: Promise thing is Unavailable |" in report.summary


def test_source_problems_become_annotations() -> None:
    report = source_report([Problem("a.yaml", 3, "spec", "bad")], [])
    assert report.conclusion == "failure"
    assert report.annotations == (
        {
            "path": "a.yaml",
            "start_line": 3,
            "end_line": 3,
            "annotation_level": "failure",
            "title": "spec",
            "message": "bad",
        },
    )


def test_pull_request_body_and_check_run_show_the_compound_tree() -> None:
    parent = ObjectKey("app", "app.gitbot.dev", "App", "default", "web")
    child = ObjectKey("database", "db.gitbot.dev", "Database", "default", "web-db")
    grandchild = ObjectKey("disk", "disk.gitbot.dev", "Disk", "default", "web-db-disk")
    outcomes = [
        ObjectOutcome(parent, "configure"),
        ObjectOutcome(child, "configure", ancestors=(parent,)),
        ObjectOutcome(grandchild, "delete", error="gone wrong", ancestors=(parent, child)),
    ]
    body = render_body(
        "acme/src", "a" * 40, outcomes, BranchResult("gitbot/app", "created"), MARKER
    )
    rows = [line for line in body.splitlines() if line.startswith("| ")][1:]
    assert rows == [
        "| app default/web | configure | — | configure |",
        "| └ database default/web-db | configure | — | configure |",
        "| \u2003└ disk default/web-db-disk | delete | — | failed |",
    ]
    summary = promise_report("app", outcomes, None).summary.splitlines()
    assert "| └ database default/web-db | configure | configure |  |" in summary
    assert "| \u2003└ disk default/web-db-disk | delete | failed |  |" in summary
