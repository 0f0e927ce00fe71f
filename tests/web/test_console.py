"""The console's pages and actions through Flask's test client, over a real SQLite store.

Run results here have the shape the worker stores (gitbot.work.handlers._result); the browser
tests (test_console_browser.py) make them with real runs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from gitbot.secrets import Secret
from gitbot.statusdb import ObjectStatus, StatusStore
from gitbot.web.app import WebConfig, create_app
from gitbot.web.runs import EVENTS_MAX_STREAMS
from gitbot.work.store import Store

CONSOLE = "console-token-for-tests"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def container(name: str, exit_code: int, log: str, image: str = "busybox:1.36") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "seconds": 0.4,
        "exit_code": exit_code,
        "timed_out": False,
        "log": log,
    }


def obj(
    promise: str,
    name: str,
    result: str = "succeeded",
    pipelines: list[dict[str, Any]] | None = None,
    kind: str = "Promise",
    failure: str = "",
) -> dict[str, Any]:
    is_promise = kind == "Promise"
    return {
        "key": f"Promise {name}" if is_promise else f"{promise} default/{name}",
        "promise": promise,
        "group": "platform.kratix.io" if is_promise else "example.org",
        "kind": kind,
        "namespace": "" if is_promise else "default",
        "name": name,
        "action": "configure",
        "result": result,
        "failure": failure,
        "note": "",
        "files": {"added": [f"dependencies/{name}/a.yaml"], "changed": [], "removed": []},
        "status": {"message": "Resource requested"},
        "pipelines": pipelines
        or [
            {
                "name": "render",
                "seconds": 0.5,
                "outcome": result,
                "containers": [container("render", 0, f"rendered {name}\n")],
            }
        ],
    }


def run_result(repo: str, commit: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    promises = sorted({o["promise"] for o in objects})
    return {
        "source": repo,
        "commit": commit,
        "failed": any(o["result"] == "failed" for o in objects),
        "problems": [],
        "branches": [
            {
                "branch": f"gitbot/{p}",
                "action": "opened",
                "commit": "c" * 40,
                "added": [f"dependencies/{p}/a.yaml"],
                "changed": [],
                "removed": [],
                "detail": "",
                "pull_request": f"https://github.example/acme/state/pull/{i + 1}",
            }
            for i, p in enumerate(promises)
        ],
        "objects": objects,
        "check_runs": f"https://github.example/{repo}/commit/{commit}/checks",
    }


def finish(store: Store, repo: str, promise: str | None, result: dict[str, Any]) -> int:
    """Queue, claim and complete one reconcile job with this result; its id."""
    job = store.enqueue("reconcile", repo, promise, result["commit"], {"reason": "push"})
    claimed = store.claim("w1", 60)
    assert claimed is not None and claimed.id == job.id
    assert store.complete(job.id, "w1", result)
    return job.id


FAILING = obj(
    "postgres",
    "postgres",
    "failed",
    [
        {
            "name": "install",
            "seconds": 1.0,
            "outcome": "failed",
            "containers": [
                container("install", 3, "installing the operator\nerror: quota exceeded\n")
            ],
        }
    ],
    failure="pipeline 'install' container 'install' failed: exited with code 3",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'gitbot.db'}") as opened:
        yield opened


@pytest.fixture
def status(tmp_path: Path) -> Iterator[StatusStore]:
    with StatusStore(tmp_path / "status.sqlite") as opened:
        yield opened


@pytest.fixture
def client(store: Store, tmp_path: Path, status: StatusStore) -> FlaskClient:
    config = WebConfig(
        Secret("s"),
        store,
        console_token=Secret(CONSOLE),
        status_path=tmp_path / "status.sqlite",
    )
    return create_app(config).test_client()


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path, environ_base=LOCAL)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def sections(html: str) -> list[str]:
    """The repositories the overview shows."""
    return re.findall(r'<h2 id="repo-\d+">([^<]+)</h2>', html)


def csrf(client: FlaskClient, path: str = "/console") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page(client, path))
    assert found, "the page has no form token"
    return found.group(1)


def test_the_overview_shows_each_promise_with_its_result_pr_check_run_and_status(
    client: FlaskClient, store: Store, status: StatusStore
) -> None:
    store.register_repository("acme/source", 1)
    sha = "a" * 40
    finish(
        store, "acme/source", None, run_result("acme/source", sha, [FAILING, obj("redis", "redis")])
    )
    status.put(
        "acme/source",
        "platform.kratix.io/Promise//redis",
        ObjectStatus(
            status={
                "message": "Available",
                "conditions": [{"type": "Reconciled", "status": "True", "reason": "Done"}],
                "kratix": {
                    "workflows": {
                        "pipelines": [{"name": "render", "phase": "Succeeded", "attempts": 2}]
                    }
                },
            },
            outcome="succeeded",
            spec_hash="h",
            source_commit=sha,
            pipelines={"render": "Succeeded"},
            updated_at=datetime.now(UTC),
        ),
    )
    html = page(client, "/console")
    rows = dict(re.findall(r'<tr class="([\w-]+)" data-promise="([\w-]+)"', html))
    assert {v: k for k, v in rows.items()} == {"postgres": "row-bad", "redis": "row-good"}
    postgres = html[html.index('data-promise="postgres"') :].split("</tr>")[0]
    assert '<span class="badge bad">failed</span>' in postgres
    assert "Promise postgres" in postgres  # the failing object
    assert (
        f'<a href="https://github.example/acme/source/commit/{sha}"><code>{sha[:12]}</code></a>'
        in postgres
    )
    assert 'href="https://github.example/acme/state/pull/1">#1</a>' in postgres
    assert f'href="https://github.example/acme/source/commit/{sha}/checks"' in postgres
    assert '<li><strong>Promise postgres</strong> <span class="failed">failed</span>' in postgres
    # A healthy Promise shows a summary, and its objects' statuses one click away.
    redis = html[html.index('data-promise="redis"') :].split("</tr>")[0]
    link = '<a href="/console/promise?repository=acme/source&amp;promise=redis">1 object</a>'
    assert link in redis and "pipeline phases: 1 Succeeded" in redis
    details = page(client, "/console/promise?repository=acme/source&promise=redis")
    assert "Available" in details  # the status store's message wins over the run's
    assert 'render <span class="succeeded">Succeeded</span> (2 attempts)' in details
    assert "Reconciled=True (Done)" in details
    assert (
        client.get(
            "/console/promise?repository=acme/source&promise=nope", environ_base=LOCAL
        ).status_code
        == 404
    )
    assert "next scheduled at the scheduler's next check" in html
    assert '<meta http-equiv="refresh" content="15">' in html
    assert '<span class="badge bad">1 failed</span>' in html


def test_the_overview_filters_by_repository_promise_and_result(
    client: FlaskClient, store: Store
) -> None:
    finish(store, "acme/one", None, run_result("acme/one", "1" * 40, [FAILING]))
    finish(store, "acme/two", "redis", run_result("acme/two", "2" * 40, [obj("redis", "redis")]))
    assert sections(page(client, "/console")) == ["acme/one", "acme/two"]
    assert sections(page(client, "/console?result=failed")) == ["acme/one"]
    assert sections(page(client, "/console?promise=redis")) == ["acme/two"]
    assert sections(page(client, "/console?repository=acme/two")) == ["acme/two"]
    assert "refresh" not in page(client, "/console?refresh=0").split("<body>")[0]


def test_the_overview_pages_through_many_repositories(client: FlaskClient, store: Store) -> None:
    for i in range(45):
        store.register_repository(f"acme/repo-{i:02d}", 1)
    first = page(client, "/console")
    assert sections(first) == [f"acme/repo-{i:02d}" for i in range(10)]
    assert "page 1 of 5" in first and 'href="/console?page=2"' in first
    assert sections(page(client, "/console?page=5")) == [f"acme/repo-{i}" for i in range(40, 45)]


def test_a_failed_job_fails_only_the_promises_whose_objects_failed(
    client: FlaskClient, store: Store
) -> None:
    job = store.enqueue("reconcile", "acme/source", None, "1" * 40, {"reason": "push"})
    assert store.claim("w1", 60) is not None
    result = run_result("acme/source", "1" * 40, [FAILING, obj("redis", "redis")])
    assert store.complete(job.id, "w1", result, error="pipeline failed: postgres")
    html = page(client, "/console")
    assert '<tr class="row-bad" data-promise="postgres">' in html
    assert '<tr class="row-good" data-promise="redis">' in html
    crashed = store.enqueue("reconcile", "acme/other", None, None, {"reason": "push"})
    assert store.claim("w1", 60) is not None
    assert store.fail(crashed.id, "w1", "cannot fetch acme/other: timed out")
    store.enqueue("reconcile", "acme/other", "pg", None, {"reason": "push"})
    other = page(client, "/console?repository=acme/other")
    assert 'data-promise="pg"' not in other  # no reconcile has found pg yet
    assert (
        f'<p class="failed" role="alert">The last whole reconcile (<a href="/runs/{crashed.id}">'
        in other
    )
    assert "failed before any object ran: cannot fetch acme/other: timed out" in other


def test_a_promise_job_newer_than_the_whole_reconcile_wins(
    client: FlaskClient, store: Store
) -> None:
    finish(store, "acme/source", None, run_result("acme/source", "1" * 40, [FAILING]))
    fixed = obj("postgres", "postgres")
    finish(store, "acme/source", "postgres", run_result("acme/source", "2" * 40, [fixed]))
    html = page(client, "/console")
    assert 'data-promise="postgres"' in html
    assert '<tr class="row-good" data-promise="postgres">' in html
    assert "2" * 12 in html


def test_reconcile_now_needs_the_console_token_and_a_same_site_form(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.register_repository("acme/source", 1)
    finish(store, "acme/source", None, run_result("acme/source", "a" * 40, [FAILING]))
    token = csrf(client)
    form = {"csrf": token, "repository": "acme/source", "promise": "postgres"}
    refused = client.post("/console/reconcile", data=form, environ_base=LOCAL)
    assert refused.status_code == 403
    assert "console token" in refused.get_data(as_text=True)
    assert store.queue_depth() == 0

    wrong = client.post(
        "/console/reconcile",
        data={**form, "console_token": "nope", "actor": "mallory"},
        environ_base=LOCAL,
    )
    assert wrong.status_code == 403 and store.queue_depth() == 0

    signed = {"csrf": token, "actor": "Ada Lovelace", "console_token": CONSOLE}
    assert client.post("/console/sign-in", data=signed, environ_base=LOCAL).status_code == 302
    no_csrf = client.post(
        "/console/reconcile", data={"repository": "acme/source"}, environ_base=LOCAL
    )
    assert no_csrf.status_code == 403 and "form token" in no_csrf.get_data(as_text=True)
    cross = client.post(
        "/console/reconcile",
        data=form,
        headers={"Origin": "https://evil.example"},
        environ_base=LOCAL,
    )
    assert cross.status_code == 403 and store.queue_depth() == 0

    with caplog.at_level(logging.INFO, logger="gitbot.console"):
        queued = client.post("/console/reconcile", data=form, environ_base=LOCAL)
    assert queued.status_code == 303
    job_id = int(queued.headers["Location"].rsplit("/", 1)[-1])
    job = store.job(job_id)
    assert job is not None and job.status == "queued"
    assert (job.kind, job.repository, job.promise) == ("reconcile", "acme/source", "postgres")
    assert job.payload == {"reason": "console", "actor": "Ada Lovelace"}
    record = next(r for r in caplog.records if "reconcile" in r.getMessage())
    assert record.getMessage() == (
        f"console: Ada Lovelace asked to reconcile acme/source postgres now; job {job_id} queued"
    )
    assert getattr(record, "actor") == "Ada Lovelace"  # noqa: B009
    assert getattr(record, "remote") == "127.0.0.1"  # noqa: B009
    assert "by Ada Lovelace" in page(client, f"/runs/{job_id}")


def test_without_a_console_token_setting_nobody_may_act(store: Store) -> None:
    store.register_repository("acme/source", 1)
    client = create_app(WebConfig(Secret("s"), store)).test_client()
    html = page(client, "/console")
    assert "read only (no GITBOT_CONSOLE_TOKEN)" in html
    assert "Reconcile now" not in html and "Sign in to act" not in html  # no dead buttons
    token = "a-form-token"  # as a page with a form would have handed out
    client.set_cookie("gitbot_csrf", token)
    form = {"csrf": token, "repository": "acme/source", "console_token": "", "actor": "x"}
    refused = client.post("/console/reconcile", data=form, environ_base=LOCAL)
    assert refused.status_code == 403
    assert "set GITBOT_CONSOLE_TOKEN" in refused.get_data(as_text=True)
    assert store.queue_depth() == 0


def test_a_failed_run_shows_its_containers_exit_codes_and_whole_logs(
    client: FlaskClient, store: Store
) -> None:
    long_log = "".join(f"line {i}\n" for i in range(5000)) + "error: quota exceeded\n"
    failing = json.loads(json.dumps(FAILING))
    failing["pipelines"][0]["containers"][0]["log"] = long_log
    job_id = finish(store, "acme/source", None, run_result("acme/source", "a" * 40, [failing]))
    html = page(client, f"/runs/{job_id}")
    assert '<span class="badge failed" id="verdict">failed</span>' in html
    assert 'container <b>install</b> busybox:1.36: <span class="failed">exit 3</span>' in html
    assert "line 0\nline 1\n" in html and "error: quota exceeded" in html
    download = client.get(f"/runs/{job_id}/logs/0/0/0.log", environ_base=LOCAL)
    assert download.status_code == 200
    assert download.get_data(as_text=True) == long_log
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="{job_id}-Promise_postgres-install-install.log"'
    )
    assert client.get(f"/runs/{job_id}/logs/0/0/9.log", environ_base=LOCAL).status_code == 404


def test_the_run_page_nests_requests_under_their_promise(client: FlaskClient, store: Store) -> None:
    objects = [obj("pg", "pg"), obj("pg", "orders", kind="Postgres")]
    job_id = finish(store, "acme/source", None, run_result("acme/source", "a" * 40, objects))
    html = page(client, f"/runs/{job_id}")
    promise = html.index('id="object-0"')
    nested = html.index("<ul>", promise)
    assert nested < html.index('id="object-1"')


def test_the_run_page_nests_compound_children_under_their_parent(
    client: FlaskClient, store: Store
) -> None:
    child = {**obj("db", "web-db", kind="Database"), "parent": "app default/web"}
    objects = [obj("app", "app"), obj("app", "web", kind="App"), child, obj("db", "db")]
    job_id = finish(store, "acme/source", None, run_result("acme/source", "a" * 40, objects))
    html = page(client, f"/runs/{job_id}")
    request = html.index('id="object-1"')
    after = html[html.index("</article>", request) + len("</article>") :].replace("\n", "")
    # The request's node holds a list of its own, and the child is in it.
    assert after.startswith("<ul><li>")
    assert after.index('id="object-2"') < after.index("</article></li></ul></li>")


def test_a_running_jobs_log_streams_as_server_sent_events(
    client: FlaskClient, store: Store
) -> None:
    job = store.enqueue("reconcile", "acme/source", "pg", None, {"reason": "push"})
    assert store.claim("w1", 60) is not None
    entry = {
        "object": "Promise pg",
        "promise": "pg",
        "pipeline": "install",
        "container": "install",
        "image": "busybox",
        "state": "running",
        "exit_code": None,
        "log": "first line\n",
    }
    store.set_progress(job.id, "w1", {"live": True, "containers": [entry]})
    html = page(client, f"/runs/{job.id}")
    assert '<pre id="live-log-0">first line\n</pre>' in html
    assert "new EventSource" in html
    response = client.get(f"/runs/{job.id}/events", environ_base=LOCAL, buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = (bytes(chunk).decode() for chunk in response.response)
    assert next(chunks) == "retry: 1000\n\n"
    first = next(chunks)
    assert first.startswith("event: log\n")
    assert json.loads(first.split("data: ", 1)[1])["replace"] == "first line\n"
    store.set_progress(
        job.id, "w1", {"live": True, "containers": [{**entry, "log": "first line\nsecond\n"}]}
    )
    second = next(chunks)
    message = json.loads(second.split("data: ", 1)[1])
    assert message["append"] == "second\n" and message["container"] == "install"
    assert store.complete(job.id, "w1", run_result("acme/source", "a" * 40, [obj("pg", "pg")]))
    done = next(chunks)
    assert done == 'event: done\ndata: {"status": "succeeded"}\n\n'
    response.close()
    # Streams hold server threads: a few at once per process, then 503 (the page reloads).
    held = [
        client.get(f"/runs/{job.id}/events", environ_base=LOCAL, buffered=False)
        for _ in range(EVENTS_MAX_STREAMS)
    ]
    assert all(r.status_code == 200 for r in held)
    over = client.get(f"/runs/{job.id}/events", environ_base=LOCAL, buffered=False)
    assert over.status_code == 503
    for r in held:
        r.close()
    again = client.get(f"/runs/{job.id}/events", environ_base=LOCAL, buffered=False)
    assert again.status_code == 200
    again.close()


def test_runs_page_pages_beyond_the_last_hundred_and_filters(
    client: FlaskClient, store: Store
) -> None:
    for i in range(130):
        store.enqueue(
            "reconcile", f"acme/r{i % 2}", None, None, {"reason": "push"}, supersede=False
        )
    first = page(client, "/runs")
    ids = [int(i) for i in re.findall(r'<a href="/runs/(\d+)">', first)]
    assert ids == list(range(130, 30, -1))
    older = re.search(r'href="(/runs\?before=\d+)"', first)
    assert older is not None
    rest = [int(i) for i in re.findall(r'<a href="/runs/(\d+)">', page(client, older.group(1)))]
    assert rest == list(range(30, 0, -1))
    only = page(client, "/runs?repository=acme/r1")
    assert "acme/r0" not in only.split('id="jobs"')[1].split("</table>")[0]


def test_deliveries_show_their_jobs_and_a_failed_one_runs_again(
    client: FlaskClient, store: Store
) -> None:
    store.record_delivery(
        "d-ok", "push", None, b"{}", "succeeded", "queued postgres", "acme/source"
    )
    store.record_delivery("d-bad", "push", None, b'{"x":1}', "failed", "git failed", "acme/source")
    job = store.enqueue("reconcile", "acme/source", "postgres", None, {"reason": "push"}, "d-ok")
    html = page(client, "/deliveries")
    ok_row = html[html.index('id="d-d-ok"') :].split("</tr>")[0]
    assert f'<a href="/runs/{job.id}">reconcile {job.id}</a> (postgres)' in ok_row
    assert "queued postgres" in ok_row and "Run again" not in ok_row
    bad_row = html[html.index('id="d-d-bad"') :].split("</tr>")[0]
    assert "git failed" in bad_row and "Run again" in bad_row
    token = csrf(client, "/deliveries")
    assert (
        client.post(
            "/deliveries/d-bad/run-again", data={"csrf": token}, environ_base=LOCAL
        ).status_code
        == 403
    )
    again = client.post(
        "/deliveries/d-bad/run-again",
        data={"csrf": token, "console_token": CONSOLE, "actor": "ops"},
        environ_base=LOCAL,
    )
    assert again.status_code == 303
    stored = store.delivery("d-bad")
    assert stored is not None and stored.status == "queued" and stored.payload == b'{"x":1}'
    assert [j.kind for j in store.jobs_for_delivery("d-bad")] == ["route"]


def test_the_next_scheduled_run_follows_the_repositorys_interval(
    client: FlaskClient, store: Store
) -> None:
    store.register_repository("acme/source", 1)
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store.set_last_reconcile(
        "acme/source", at, json.dumps({"outcome": "succeeded", "interval": 3600})
    )
    html = page(client, "/console")
    due = re.search(r"next scheduled (\S+ \S+) UTC", html)
    assert due is not None
    when = datetime.fromisoformat(due.group(1)).replace(tzinfo=UTC)
    assert at + timedelta(hours=1) <= when <= at + timedelta(hours=1, minutes=6)


def test_a_failure_on_a_later_page_sorts_onto_page_one_and_counts_in_the_summary(
    client: FlaskClient, store: Store, status: StatusStore
) -> None:
    for i in range(25):
        repo = f"acme/repo-{i:02d}"
        store.register_repository(repo, 1)
        finish(store, repo, None, run_result(repo, f"{i:040d}", [obj("redis", "redis")]))
    late = "acme/repo-24"  # page 3 by name
    # A Promise known only from the status store (on page 3) counts too.
    stored = ObjectStatus(
        status={"message": "Available"},
        outcome="succeeded",
        spec_hash="h",
        source_commit="e" * 40,
        pipelines={},
        updated_at=datetime.now(UTC),
    )
    status.put("acme/repo-23", "platform.kratix.io/Promise//cache", stored)
    finish(store, late, "postgres", run_result(late, "f" * 40, [FAILING]))
    first = page(client, "/console")
    assert sections(first)[0] == late
    assert sections(first)[1:] == [f"acme/repo-{i:02d}" for i in range(9)]
    # The summary counts every repository's Promises, not only this page's.
    assert '<span class="badge bad">1 failed</span>' in first
    assert '<span class="badge good">25 succeeded</span>' in first
    assert '<span class="badge idle">1 never run</span>' in first
    assert "25 repositories, 1 with a failure (listed first), page 1 of 3" in first
    second = page(client, "/console?page=2")
    assert late not in sections(second)
    assert '<span class="badge bad">1 failed</span>' in second


def test_an_empty_filter_result_says_so_and_pages_beyond_the_last_are_clamped(
    client: FlaskClient, store: Store
) -> None:
    for i in range(15):
        store.register_repository(f"acme/repo-{i:02d}", 1)
    beyond = page(client, "/console?page=9")
    assert "page 2 of 2" in beyond and "page 9" not in beyond
    assert sections(beyond) == [f"acme/repo-{i:02d}" for i in range(10, 15)]
    nothing = page(client, "/console?promise=nope")
    assert "Nothing matches these filters" in nothing
    assert "No source repository yet" not in nothing


def test_reconcile_now_refuses_a_promise_no_reconcile_has_found(
    client: FlaskClient, store: Store
) -> None:
    finish(store, "acme/source", None, run_result("acme/source", "a" * 40, [obj("redis", "redis")]))
    token = csrf(client)
    signed = {"csrf": token, "actor": "ops", "console_token": CONSOLE}
    assert client.post("/console/sign-in", data=signed, environ_base=LOCAL).status_code == 302
    form = {"csrf": token, "repository": "acme/source", "promise": "typo"}
    refused = client.post("/console/reconcile", data=form, environ_base=LOCAL)
    assert refused.status_code == 404
    assert "acme/source has no Promise 'typo' that gitbot knows of" in unescape(
        refused.get_data(as_text=True)
    )
    assert store.queue_depth() == 0
    # Even a job that ran for a name the source lacks (e.g. queued before the Promise was
    # removed) leaves no row: only Promises a reconcile found are listed.
    finish(store, "acme/source", "gone", run_result("acme/source", "b" * 40, []))
    html = page(client, "/console")
    assert 'data-promise="gone"' not in html and 'data-promise="redis"' in html
    gone = client.post("/console/reconcile", data={**form, "promise": "gone"}, environ_base=LOCAL)
    assert gone.status_code == 404
    known = client.post("/console/reconcile", data={**form, "promise": "redis"}, environ_base=LOCAL)
    assert known.status_code == 303


def test_the_sign_in_form_has_its_own_page_that_does_not_refresh(
    client: FlaskClient, store: Store
) -> None:
    store.register_repository("acme/source", 1)
    overview = page(client, "/console")
    assert '<meta http-equiv="refresh"' in overview
    assert 'name="console_token"' not in overview  # a refresh would wipe a half-filled form
    assert 'href="/console/signin?next=/console">Sign in to act</a>' in overview
    signin = page(client, "/console/signin?next=/console?refresh%3D0")
    assert "http-equiv" not in signin
    form = signin.split('<form class="signin"')[1].split("</form>")[0]
    assert 'action="/console/sign-in"' in form and 'name="console_token"' in form
    assert '<input type="hidden" name="next" value="/console?refresh=0">' in form
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    signed = client.post(
        "/console/sign-in",
        data={"csrf": token.group(1), "actor": "Ada", "console_token": CONSOLE, "next": "/x"},
        environ_base=LOCAL,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/x"
    assert "Signed in as <strong>Ada</strong>" in page(client, "/console")
    # Only paths on this site: never off to another one after signing in.
    away = page(client, "/console/signin?next=//evil.example/")
    assert 'name="next" value="/console"' in away


def test_refused_actions_render_in_the_console_with_a_way_to_sign_in(
    client: FlaskClient, store: Store
) -> None:
    finish(store, "acme/source", None, run_result("acme/source", "a" * 40, [FAILING]))
    token = csrf(client)
    refused = client.post(
        "/console/reconcile",
        data={"csrf": token, "repository": "acme/source", "promise": "postgres"},
        headers={"Referer": "http://localhost/console?refresh=0"},
        environ_base=LOCAL,
    )
    assert refused.status_code == 403
    body = refused.get_data(as_text=True)
    assert '<nav aria-label="console">' in body and "<title>gitbot — 403 Forbidden</title>" in body
    assert "this action needs the console token" in body
    assert 'href="/console/signin?next=/console?refresh%3D0">Sign in to act</a>' in body
    missing = client.get("/runs/999", environ_base=LOCAL)
    assert missing.status_code == 404 and "there is no run 999" in missing.get_data(as_text=True)
    assert '<nav aria-label="console">' in missing.get_data(as_text=True)


def test_without_the_read_token_the_console_asks_for_it_in_a_form(
    store: Store, tmp_path: Path
) -> None:
    config = WebConfig(Secret("s"), store, runs_token=Secret("read-token"))
    client = create_app(config).test_client()
    refused = client.get("/console?refresh=0", environ_base=LOCAL)
    assert refused.status_code == 401
    body = refused.get_data(as_text=True)
    assert '<nav aria-label="console">' in body
    form = body.split('<form class="signin"')[1].split("</form>")[0]
    assert 'action="/console/read-token"' in form and 'type="password"' in form
    assert '<input type="hidden" name="next" value="/console?refresh=0">' in form
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    wrong = client.post(
        "/console/read-token",
        data={"csrf": token.group(1), "token": "nope", "next": "/console"},
        environ_base=LOCAL,
    )
    assert wrong.status_code == 401 and "wrong token" in wrong.get_data(as_text=True)
    assert client.get("/console", environ_base=LOCAL).status_code == 401
    right = client.post(
        "/console/read-token",
        data={"csrf": token.group(1), "token": "read-token", "next": "/console?refresh=0"},
        environ_base=LOCAL,
    )
    assert right.status_code == 303 and right.headers["Location"] == "/console?refresh=0"
    assert client.get("/console?refresh=0", environ_base=LOCAL).status_code == 200
    assert client.get("/runs", environ_base=LOCAL).status_code == 200


def test_long_hashes_and_urls_do_not_widen_the_run_and_promise_pages(
    client: FlaskClient, store: Store
) -> None:
    sha = "d" * 40
    job_id = finish(store, "acme/source", None, run_result("acme/source", sha, [obj("pg", "pg")]))
    short = f'<code title="{sha}">{sha[:12]}</code>'
    for path in (f"/runs/{job_id}", "/console/promise?repository=acme/source&promise=pg"):
        html = page(client, path)
        assert short in html, path
        assert f">{sha}<" not in html, path  # the full hash only in the title
    response = client.get("/static/console.css", environ_base=LOCAL)
    css = response.get_data(as_text=True)
    response.close()
    assert "td,th,dd,li,p,h2,h3,h4,summary,code{overflow-wrap:anywhere}" in css
    assert "grid-template-columns:max-content minmax(0,1fr)" in css  # dd may shrink
