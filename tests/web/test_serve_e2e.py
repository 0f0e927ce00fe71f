"""`gitbot serve` end to end: real process, in-tree GitHub server, podman, real payloads."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from builders import script_promise_yaml
from gitfixtures import commit_all, git, write
from serveworld import (
    PAYLOADS,
    ROOT,
    ZERO,
    Bot,
    delivery_outcome,
    examples,
    free_port,
    open_pr,
    push,
    push_payload,
    running_world,
    state_files,
    wait_for,
)

from ghserver import GitHubServer
from gitbot.work.scheduler import PeriodicReconciles
from gitbot.work.store import Store


@pytest.fixture
def world(example_images: list[str], tmp_path: Path) -> Iterator[tuple[GitHubServer, Bot, Path]]:
    with running_world(tmp_path) as parts:
        yield parts


def test_pushes_become_a_pull_request_kept_up_to_date(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    head = push(server, bot, work, examples(), "push-1")
    pr = wait_for(lambda: open_pr(server), what="the pull request")
    files = state_files(server, "gitbot/postgres")
    assert "default/resources/shop/postgres/orders/render/5058f/postgres.yaml" in files
    assert "default/resources/shop/postgres/billing/render/5058f/postgres.yaml" in files
    runs = wait_for(
        lambda: [
            r
            for r in server.check_runs("acme", "platform-source")
            if r["head_sha"] == head and r["status"] == "completed"
        ],
        what="the check run",
    )
    assert [(r["name"], r["conclusion"]) for r in runs] == [("gitbot: postgres", "success")]

    changed = (
        (ROOT / "promises/postgres/resource-request.yaml").read_text().replace("large", "small")
    )
    push(server, bot, work, {"postgres/resource-request.yaml": changed}, "push-2")
    orders = "default/resources/shop/postgres/orders/render/5058f/postgres.yaml"
    wait_for(
        lambda: (
            "numberOfInstances: 1"
            in git(server.repo_path("acme", "platform-state"), "show", f"gitbot/postgres:{orders}")
        ),
        what="the updated file",
    )
    assert open_pr(server)["number"] == pr["number"]

    push(server, bot, work, {"postgres/second-request.yaml": None}, "push-3")
    billing = "default/resources/shop/postgres/billing/render/5058f/postgres.yaml"
    wait_for(lambda: billing not in state_files(server, "gitbot/postgres"), what="removal")
    # The branch moves before the pull request and the check runs are updated: wait for the
    # delivery's work to finish, not for the branch, before counting writes.
    assert wait_for(lambda: delivery_outcome(bot, "push-3"), what="push-3 done")[0] == "succeeded"
    assert len(server.pulls("acme", "platform-state")) == 1

    # The same delivery again: answered, nothing runs.
    count = len(server.requests)
    payload = push_payload(server, bot.installation, ZERO, head)
    first = wait_for(lambda: delivery_outcome(bot, "push-1"), what="push-1 done")
    assert first[0] == "succeeded", (
        first,
        [(j.kind, j.status, j.error) for j in jobs_of(bot, "push-1")],
    )
    wait_for(lambda: bot.deliver("push", payload, "push-1") == 200, what="a 200 for a duplicate")
    time.sleep(1)
    assert not [r for r in server.requests[count:] if r.write]

    with urllib.request.urlopen(f"{bot.url}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'gitbot_pull_requests_total{action="opened"} 1.0' in metrics
    assert 'gitbot_webhook_deliveries_total{event="push",result="duplicate"} 1.0' in metrics
    remaining = next(
        line
        for line in metrics.splitlines()
        if line.startswith("gitbot_github_rate_limit_remaining ")
    )
    assert float(remaining.split()[1]) > 0
    assert 'gitbot_github_calls_total{method="POST",status="201"}' in metrics


def test_a_bad_signature_is_refused_and_stores_nothing(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, _ = world
    payload = push_payload(server, bot.installation, ZERO, "1" * 40)
    assert bot.deliver("push", payload, "forged", secret=b"wrong") == 401
    with urllib.request.urlopen(f"{bot.url}/runs", timeout=5) as page:
        assert "forged" not in page.read().decode()


def test_a_killed_worker_finishes_the_job_after_restart_with_one_pr(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    files = examples()
    files["postgres/promise.yaml"] = files["postgres/promise.yaml"].replace(
        "              - name: render\n"
        "                image: localhost/gitbot-examples/postgres-pipeline:v0.1.0\n",
        "              - name: render\n"
        "                image: localhost/gitbot-examples/postgres-pipeline:v0.1.0\n"
        "                command: [sh, -c, 'sleep 4; sh /pipeline.sh']\n",
    )
    push(server, bot, work, files, "slow")
    wait_for(
        lambda: "ran" in bot.log.read_text() or "started" in bot.log.read_text(),
        what="the job to start",
    )
    time.sleep(2)
    bot.stop(signal.SIGKILL)
    bot.start()
    wait_for(lambda: open_pr(server), timeout=120, what="the pull request after restart")
    time.sleep(2)
    assert len(server.pulls("acme", "platform-state")) == 1


def test_twenty_quick_pushes_end_in_one_pr_at_the_latest_commit(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    head = push(server, bot, work, examples(), "p0")
    request = (ROOT / "promises/postgres/resource-request.yaml").read_text()
    for i in range(1, 20):
        # Each push changes the request's spec (comments alone change nothing for Kratix, and
        # fields its CRD schema does not know are pruned away).
        changed = request.replace("size: large", f"size: {'small' if i % 2 else 'large'}")
        files = {"postgres/resource-request.yaml": changed}
        if i == 19:
            # The spec only alternates, so the last push also adds a request no earlier commit
            # had: its content is new, and the branch must be rebuilt from it (an unchanged
            # tree is rightly not pushed again, and would keep an older commit's trailer).
            files["postgres/last-request.yaml"] = request.replace("name: orders", "name: last")
        head = push(server, bot, work, files, f"p{i}")
    wait_for(
        lambda: any(
            r["head_sha"] == head and r["status"] == "completed"
            for r in server.check_runs("acme", "platform-source")
        ),
        timeout=120,
        what="the check run of the last commit",
    )
    pulls = server.pulls("acme", "platform-state")
    assert len(pulls) == 1
    message = git(
        server.repo_path("acme", "platform-state"), "log", "-1", "--format=%B", "gitbot/postgres"
    )
    assert f"Gitbot-Source-Commit: {head}" in message


def completed_check_runs(server: GitHubServer, sha: str, count: int) -> dict[str, Any] | None:
    """The completed check runs on a source commit by name, once there are `count` of them."""
    found = {
        r["name"]: r
        for r in server.check_runs("acme", "platform-source")
        if r["head_sha"] == sha and r["status"] == "completed"
    }
    return found if len(found) >= count else None


def test_a_malformed_yaml_file_fails_only_its_check_run(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    files = examples()
    files["broken.yaml"] = "kind: [\n"
    head = push(server, bot, work, files, "broken")
    # The pull request can open before the Promise's check run completes: wait for both runs.
    runs = wait_for(lambda: completed_check_runs(server, head, 2), what="both check runs")
    assert open_pr(server) is not None
    assert runs["gitbot: source"]["conclusion"] == "failure"
    assert runs["gitbot: postgres"]["conclusion"] == "success"


def _source_pull_request(server: GitHubServer, bot: Bot, work: Path, files: dict[str, str]) -> Any:
    """A same-repository pull request on the source: branch `feature` with `files` changed."""
    import github

    git(work, "checkout", "-q", "-b", "feature")
    write(work, files)
    commit_all(work, "feature")
    git(work, "push", "-q", str(server.repo_path("acme", "platform-source")), "feature")
    git(work, "checkout", "-q", "main")
    token = server.issue_token(bot.installation)
    client = github.Github(auth=github.Auth.Token(token), base_url=server.api_url, lazy=True)
    return client.get_repo("acme/platform-source").create_pull(
        base="main", head="feature", title="bigger orders database", body=""
    )


def completed_check_run(server: GitHubServer, sha: str, what: str) -> dict[str, Any]:
    """The first completed check run on a source commit, waited for."""
    runs: dict[str, Any] = wait_for(lambda: completed_check_runs(server, sha, 1), what=what)
    return next(iter(runs.values()))


def test_a_source_pull_request_gets_a_preview_and_no_state_change(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    push(server, bot, work, examples(), "base")
    wait_for(lambda: open_pr(server), what="the state pull request")
    state_head = git(server.repo_path("acme", "platform-state"), "rev-parse", "gitbot/postgres")
    request = (ROOT / "promises/postgres/resource-request.yaml").read_text()
    pr = _source_pull_request(
        server, bot, work, {"postgres/resource-request.yaml": request.replace("large", "small")}
    )
    payload = json.loads((PAYLOADS / "pull_request.opened.json").read_text())
    payload["number"] = payload["pull_request"]["number"] = pr.number
    payload["pull_request"]["head"].update(ref="feature", sha=pr.head.sha)
    payload["pull_request"]["base"]["ref"] = "main"
    payload["repository"].update(full_name="acme/platform-source", default_branch="main")
    payload["installation"] = {"id": bot.installation, "node_id": "x"}
    assert bot.deliver("pull_request", payload, "preview-1") == 202
    check = completed_check_run(server, pr.head.sha, "the preview check run")
    assert check["name"] == "gitbot: postgres"
    summary = check["output"]["summary"]
    # Against the state base branch (the first state PR is not merged yet).
    assert "Preview: the pull request on `gitbot/postgres` would get 9 added" in summary
    assert "- added: `default/resources/shop/postgres/orders/render/5058f/postgres.yaml`" in summary
    state = server.repo_path("acme", "platform-state")
    assert git(state, "rev-parse", "gitbot/postgres") == state_head
    assert len(server.pulls("acme", "platform-state")) == 1


def fork_pull_request_payload(
    bot: Bot, number: int, sha: str, association: str, action: str = "opened"
) -> dict[str, Any]:
    payload = json.loads((PAYLOADS / "pull_request.opened.json").read_text())
    payload.update(action=action, number=number)
    pull = payload["pull_request"]
    pull.update(number=number, author_association=association)
    pull["head"].update(ref="bigger-db", sha=sha)
    pull["head"]["repo"]["full_name"] = "outsider/platform-source"
    pull["base"]["ref"] = "main"
    payload["repository"].update(full_name="acme/platform-source", default_branch="main")
    payload["installation"] = {"id": bot.installation, "node_id": "x"}
    return payload


def test_a_fork_pull_request_is_previewed_from_its_pull_ref_for_trusted_authors_only(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    push(server, bot, work, examples(), "base")
    wait_for(lambda: open_pr(server), what="the state pull request")
    # The fork's commit is in no branch of the source: GitHub keeps it under refs/pull/7/head.
    request = (ROOT / "promises/postgres/resource-request.yaml").read_text()
    write(work, {"postgres/resource-request.yaml": request.replace("large", "small")})
    sha = commit_all(work, "from a fork")
    source = server.repo_path("acme", "platform-source")
    git(work, "push", "-q", str(source), f"{sha}:refs/pull/7/head")
    git(work, "reset", "-q", "--hard", "HEAD~1")

    stranger = fork_pull_request_payload(bot, 7, sha, "CONTRIBUTOR")
    assert bot.deliver("pull_request", stranger, "fork-1") == 202
    status, reason = wait_for(lambda: delivery_outcome(bot, "fork-1"), what="fork-1 handled")
    assert status == "ignored"
    assert "comes from a fork by" in reason and "(contributor)" in reason

    member = fork_pull_request_payload(bot, 7, sha, "MEMBER", action="synchronize")
    assert bot.deliver("pull_request", member, "fork-2") == 202
    check = completed_check_run(server, sha, "the fork's preview check run")
    assert check["conclusion"] == "success"
    assert (
        "- added: `default/resources/shop/postgres/orders/render/5058f/postgres.yaml`"
        in (check["output"]["summary"])
    )


def test_a_reconcile_comment_by_a_writer_is_acknowledged_and_runs(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    push(server, bot, work, examples(), "base")
    wait_for(lambda: open_pr(server), what="the state pull request")
    pr = _source_pull_request(server, bot, work, {"notes.txt": "x\n"})
    comment = pr.create_issue_comment("/gitbot reconcile postgres")
    server.add_collaborator("acme", "platform-source", "alice", "write")
    payload = json.loads((PAYLOADS / "issue_comment.created.json").read_text())
    payload["issue"]["number"] = pr.number
    payload["comment"].update(id=comment.id, body="/gitbot reconcile postgres")
    payload["comment"]["user"]["login"] = "alice"
    payload["repository"].update(full_name="acme/platform-source", default_branch="main")
    payload["installation"] = {"id": bot.installation, "node_id": "x"}
    before = len([r for r in server.requests if r.path.endswith("/check-runs")])
    assert bot.deliver("issue_comment", payload, "comment-1") == 202
    wait_for(
        lambda: any(
            r.path.endswith(f"/comments/{comment.id}/reactions") and r.status == 201
            for r in server.requests
        ),
        what="the reaction",
    )
    wait_for(
        lambda: len([r for r in server.requests if r.path.endswith("/check-runs")]) > before,
        what="the reconcile the comment asked for",
    )


def test_an_installation_registers_repositories_and_reconciles_the_source(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    write(work, examples())
    commit_all(work, "examples")
    git(work, "push", "-q", str(server.repo_path("acme", "platform-source")), "main")
    payload = json.loads((PAYLOADS / "installation.created.json").read_text())
    payload["installation"]["id"] = bot.installation
    payload["installation"]["account"]["login"] = "acme"
    payload["repositories"] = [
        {
            "id": 1,
            "node_id": "a",
            "name": "platform-source",
            "full_name": "acme/platform-source",
            "private": False,
        },
        {
            "id": 2,
            "node_id": "b",
            "name": "platform-state",
            "full_name": "acme/platform-state",
            "private": False,
        },
    ]
    assert bot.deliver("installation", payload, "install-1") == 202
    wait_for(lambda: open_pr(server), what="the pull request of the initial reconcile")
    with urllib.request.urlopen(f"{bot.url}/runs", timeout=5) as page:
        html = page.read().decode()
    assert "acme/platform-state" in html
    # Both initial reconciles are recorded, the state repository's too: a (re)start of the
    # scheduler finds nothing due, rather than queueing the state repository every time.
    assert wait_for(lambda: delivery_outcome(bot, "install-1"), what="both reconciles") == (
        "succeeded",
        "registered 2 repositories; initial reconcile queued",
    )
    store = Store(f"sqlite:///{bot.env['GITBOT_DATA_DIR']}/gitbot.db")
    try:
        recorded = {r.full_name: json.loads(r.last_result or "{}") for r in store.repositories()}
        assert recorded["acme/platform-state"] == {"outcome": "not a source repository"}
        assert recorded["acme/platform-source"]["outcome"] == "succeeded"
        assert PeriodicReconciles(store, 36000).enqueue_due() == 0
    finally:
        store.close()


def procfile_commands(bot: Bot, metrics_port: int) -> list[list[str]]:
    """The Procfile's processes as written: web under gunicorn, and the worker, which also
    exports its metrics (the web process cannot see the worker's counters)."""
    bot.env["PORT"] = str(bot.port)
    bot.env["WEB_CONCURRENCY"] = "2"
    processes = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert sorted(processes) == ["web", "worker"]
    worker = f"{processes['worker']} --lease 3 --metrics-port {metrics_port}"
    return [["sh", "-c", f"exec {processes['web']}"], ["sh", "-c", f"exec {worker}"]]


def test_the_procfile_split_shares_the_database_and_exports_worker_metrics(
    example_images: list[str], tmp_path: Path
) -> None:
    metrics_port = free_port()
    with running_world(tmp_path, commands=lambda bot: procfile_commands(bot, metrics_port)) as (
        server,
        bot,
        work,
    ):
        push(server, bot, work, examples(), "split-1")
        pr = wait_for(lambda: open_pr(server), what="the pull request from the worker")
        assert pr["head"]["ref"] == "gitbot/postgres"

        def worker_metrics() -> str | None:
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                text = str(r.read().decode())
            # The worker counts the pull request once its call returns: a moment after GitHub
            # shows it, so wait for the count rather than read it once.
            return text if 'gitbot_pull_requests_total{action="opened"} 1.0' in text else None

        metrics = wait_for(worker_metrics, what="the worker's pull request metric")
        assert 'gitbot_github_calls_total{method="POST",status="201"}' in metrics
        # Once the job has finished, the time of the Promise's last successful reconcile.
        finished = (
            'gitbot_last_successful_reconcile_timestamp_seconds{promise="postgres",'
            'repository="acme/platform-source"}'
        )

        def reconciled() -> bool:
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                return finished in r.read().decode()

        wait_for(reconciled, what="the worker's last successful reconcile of postgres")
        # Each scrape reaches one of gunicorn's workers: every one must count all deliveries.
        for _ in range(8):
            with urllib.request.urlopen(f"{bot.url}/metrics", timeout=5) as r:
                web_metrics = r.read().decode()
            assert 'gitbot_webhook_deliveries_total{event="push",result="queued"} 1.0' in (
                web_metrics
            )


WAITING_PROMISE = script_promise_yaml(
    "waiter", "echo 'retryAfter: 10m' > /kratix/metadata/workflow-control.yaml"
)


def retries_recorded(bot: Bot) -> dict[str, str] | None:
    store = Store(f"sqlite:///{bot.env['GITBOT_DATA_DIR']}/gitbot.db")
    try:
        for repo in store.repositories():
            retries = json.loads(repo.last_result or "{}").get("retries")
            if retries:
                return dict(retries)
    finally:
        store.close()
    return None


def test_a_workflow_that_asks_for_a_retry_is_scheduled_to_run_again(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    pushed = time.time()
    push(server, bot, work, {**examples(), "waiter/promise.yaml": WAITING_PROMISE}, "wait-1")
    retries = wait_for(lambda: retries_recorded(bot), what="the recorded retry")
    seen = time.time()
    assert list(retries) == ["waiter"]
    # retryAfter counts from when the workflow ran: after the push, before the retry was seen
    # (however long a loaded machine took in between).
    due = datetime.fromisoformat(retries["waiter"]).timestamp()
    assert pushed + 10 * 60 - 1 <= due <= seen + 10 * 60 + 1


def jobs_of(bot: Bot, guid: str) -> list[Any]:
    store = Store(f"sqlite:///{bot.env['GITBOT_DATA_DIR']}/gitbot.db")
    try:
        return store.jobs_for_delivery(guid)
    finally:
        store.close()


def get(bot: Bot, path: str) -> str:
    with urllib.request.urlopen(f"{bot.url}{path}", timeout=10) as response:
        return str(response.read().decode())


def json_log_lines(bot: Bot) -> list[dict[str, Any]]:
    lines = []
    for line in bot.log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def test_a_failing_pipeline_fails_its_job_and_delivery_everywhere_it_is_shown(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    breaker = script_promise_yaml("breaker", "echo 'no database today' >&2; exit 3")
    push(server, bot, work, {**examples(), "breaker/promise.yaml": breaker}, "fails-1")
    status, reason = wait_for(lambda: delivery_outcome(bot, "fails-1"), what="the outcome")
    assert status == "failed"
    assert "failed: promise/breaker" in reason or "breaker" in reason, reason
    failed = [j for j in jobs_of(bot, "fails-1") if j.status == "failed"]
    assert [j.kind for j in failed] == ["reconcile"]
    job = failed[0]
    assert "breaker" in (job.error or "")
    # The other Promise still got its pull request.
    assert open_pr(server) is not None

    page = get(bot, f"/runs/{job.id}")
    assert '<dd class="failed">failed</dd>' in page
    assert '<span class="badge failed" id="verdict">failed</span>' in page
    assert "no database today" in page  # the failing container's log is still shown
    assert "succeeded</dd>" not in page.split("<h2>", 1)[0]
    jobs_table, deliveries_table = get(bot, "/runs").split('<table id="deliveries"')
    row = next(r for r in jobs_table.split("<tr") if f">{job.id}</a>" in r)
    assert 'class="failed">failed<' in row
    delivery_row = next(r for r in deliveries_table.split("<tr") if "<code>fails-1</code>" in r)
    assert 'class="failed">failed<' in delivery_row

    # The worker thread counts its job just after storing it: wait for the counter.
    failed_jobs = 'gitbot_jobs_total{kind="reconcile",result="failed"} 1.0'
    metrics = wait_for(lambda: next((m for m in [get(bot, "/metrics")] if failed_jobs in m), ""))
    assert 'gitbot_delivery_outcomes_total{event="push",outcome="failed"} 1.0' in metrics
    assert 'gitbot_delivery_outcomes_total{event="push",outcome="succeeded"}' not in metrics

    errors = [e for e in json_log_lines(bot) if e["level"] == "error"]
    assert any(e.get("job") == job.id and "breaker" in e["message"] for e in errors), errors
    assert any(e.get("delivery") == "fails-1" and "failed" in e["message"] for e in errors)


def rerequested_payload(bot: Bot, event: str, sha: str, name: str | None) -> dict[str, Any]:
    """GitHub's published `rerequested` example, pointed at our repository and commit."""
    payload = json.loads((PAYLOADS / f"{event}.rerequested.json").read_text())
    checks = payload[event]
    suite = checks["check_suite"] if event == "check_run" else checks
    checks["head_sha"] = suite["head_sha"] = sha
    suite["head_branch"] = "main"
    checks["pull_requests"] = []
    if name is not None:
        checks["name"] = name
    payload["repository"].update(
        name="platform-source", full_name="acme/platform-source", default_branch="main"
    )
    payload["installation"] = {"id": bot.installation, "node_id": "x"}
    return payload


def check_runs_named(server: GitHubServer, sha: str) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for run in server.check_runs("acme", "platform-source"):
        if run["head_sha"] == sha:
            runs.setdefault(run["name"], []).append(run)
    return runs


def test_re_run_clicks_run_that_promise_or_all_again_at_that_commit(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    waiter = script_promise_yaml("waiter", "true")
    head = push(server, bot, work, {**examples(), "waiter/promise.yaml": waiter}, "rerun-base")
    wait_for(lambda: completed_check_runs(server, head, 2), what="the first check runs")
    wait_for(lambda: delivery_outcome(bot, "rerun-base"), what="the push's work to finish")
    # A newer commit on the branch: the click still answers on the commit it was made on
    # (new check runs), and renders the branch's head (never backwards).
    push(server, bot, work, {"notes.txt": "x\n"}, "rerun-later")
    wait_for(lambda: delivery_outcome(bot, "rerun-later"), what="the second push's work")

    one = rerequested_payload(bot, "check_run", head, "gitbot: postgres")
    assert bot.deliver("check_run", one, "click-1") == 202
    assert wait_for(lambda: delivery_outcome(bot, "click-1"), what="the rerun")[0] == "succeeded"
    rerun = [j for j in jobs_of(bot, "click-1") if j.kind == "reconcile"]
    assert [(j.promise, j.commit, j.status) for j in rerun] == [("postgres", head, "succeeded")]
    runs = check_runs_named(server, head)
    assert len(runs["gitbot: postgres"]) == 2  # a new check run, as GitHub expects
    assert runs["gitbot: postgres"][-1]["status"] == "completed"
    assert len(runs["gitbot: waiter"]) == 1

    suite = rerequested_payload(bot, "check_suite", head, None)
    assert bot.deliver("check_suite", suite, "click-all") == 202
    assert wait_for(lambda: delivery_outcome(bot, "click-all"), what="the suite")[0] == "succeeded"
    rerun = [j for j in jobs_of(bot, "click-all") if j.kind == "reconcile"]
    assert [(j.promise, j.commit) for j in rerun] == [(None, head)]
    runs = check_runs_named(server, head)
    assert (len(runs["gitbot: postgres"]), len(runs["gitbot: waiter"])) == (3, 2)
    assert all(r["status"] == "completed" for named in runs.values() for r in named)

    other = rerequested_payload(bot, "check_run", head, "ci: lint")
    assert bot.deliver("check_run", other, "click-other") == 202
    status, reason = wait_for(lambda: delivery_outcome(bot, "click-other"), what="ignored")
    assert (status, reason) == ("ignored", "ignored: check run 'ci: lint' is not one of gitbot's")


def test_a_branch_with_a_human_commit_is_not_proposed_and_its_check_run_says_so(
    world: tuple[GitHubServer, Bot, Path], tmp_path: Path
) -> None:
    server, bot, work = world
    push(server, bot, work, examples(), "human-base")
    pr = wait_for(lambda: open_pr(server), what="the pull request")
    clone = tmp_path / "clone"
    state = server.repo_path("acme", "platform-state")
    git(tmp_path, "clone", "-q", "-b", "gitbot/postgres", str(state), str(clone))
    write(clone, {"hand-fix.yaml": "a: b\n"})
    human = commit_all(clone, "a fix by hand")
    git(clone, "push", "-q", "origin", "gitbot/postgres")
    changed = (
        (ROOT / "promises/postgres/resource-request.yaml").read_text().replace("large", "small")
    )
    head = push(server, bot, work, {"postgres/resource-request.yaml": changed}, "human-2")
    check = completed_check_run(server, head, "the check run of the held commit")
    assert git(state, "rev-parse", "gitbot/postgres") == human
    assert check["conclusion"] == "neutral"
    comments = server.comments("acme", "platform-state", pr["number"])
    assert len(comments) == 1
    summary = check["output"]["summary"]
    assert "**Not proposed:** someone else committed to `gitbot/postgres`" in summary
    assert f"- Pull request: {pr['html_url']}" in summary
    assert f"- gitbot's comment: {comments[0]['html_url']}" in summary


def bot_ready(bot: Bot) -> bool:
    try:
        with urllib.request.urlopen(f"{bot.url}/readyz", timeout=10) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


def test_readyz_fails_when_the_data_directory_or_the_database_is_gone(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    _, bot, _ = world
    wait_for(lambda: bot_ready(bot), what="/readyz to answer 200")  # the scheduler starts last
    shutil.rmtree(bot.env["GITBOT_DATA_DIR"])
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{bot.url}/readyz", timeout=10)
    assert answer.value.code == 503
    checks = json.loads(answer.value.read())["checks"]
    data = bot.env["GITBOT_DATA_DIR"]
    assert checks["data directory"] == f"failing: {data} is gone"
    assert checks["database"].startswith("failing: database sqlite:///")
    assert checks["database"].endswith(f"the file {data}/gitbot.db is gone")
    assert checks["github"] == checks["engine"] == "ok"


LEAKY_PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: leaky
spec:
  workflows:
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: leak
          spec:
            volumes:
              - name: creds
                secret:
                  secretName: db
            containers:
              - name: leak
                image: docker.io/library/busybox:latest
                imagePullPolicy: IfNotPresent
                env:
                  - name: PW
                    valueFrom:
                      secretKeyRef: {name: db, key: password}
                volumeMounts:
                  - {name: creds, mountPath: /creds, readOnly: true}
                command:
                  - sh
                  - -c
                  - >-
                    echo "pw=$PW"; printf 'pw=%s!\\n' "$PW" | tr -d '\\n';
                    echo; cat /creds/cert; cat /creds/spaced; echo "inline=$(cat /creds/spaced)";
                    echo "pw=$PW" >&2; exit 3
"""
# Secret files as operators write them: a trailing newline, several lines, surrounding blanks.
SECRET_FILES = {
    "password": "hunter2-leaks\n",
    "cert": "-----BEGIN-----\nfirst-secret-line\nsecond-secret-line\n-----END-----\n",
    "spaced": "  \tpadded-secret-value \n",
}
SECRET_WORDS = ["hunter2-leaks", "first-secret-line", "second-secret-line", "padded-secret-value"]


def test_secrets_leak_into_no_sink_whatever_their_whitespace(
    example_images: list[str], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "db").mkdir(parents=True)
    for key, value in SECRET_FILES.items():
        (secrets / "db" / key).write_text(value)
    with running_world(tmp_path, env={"GITBOT_SECRETS_DIR": str(secrets)}) as (server, bot, work):
        head = push(server, bot, work, {**examples(), "leaky/promise.yaml": LEAKY_PROMISE}, "leak")
        wait_for(lambda: delivery_outcome(bot, "leak"), what="the push's work to finish")
        runs = completed_check_runs(server, head, 2)
        assert runs is not None and runs["gitbot: leaky"]["conclusion"] == "failure"
        job = next(j for j in jobs_of(bot, "leak") if j.status == "failed")
        page = get(bot, f"/runs/{job.id}")
        assert "pw=****" in page  # the container did print it: redacted, not absent
        sinks = {
            "runs page": page + get(bot, "/runs"),
            "JSON logs": bot.log.read_text(),
            "check runs": json.dumps(server.check_runs("acme", "platform-source")),
            "pull requests": json.dumps(server.pulls("acme", "platform-state")),
            "state repository": git(
                server.repo_path("acme", "platform-state"), "log", "--all", "-p", "--format=%B"
            ),
            "stored jobs": json.dumps([j.result for j in jobs_of(bot, "leak")])
            + json.dumps([j.error for j in jobs_of(bot, "leak")]),
        }
        assert "pw=****" in sinks["check runs"]
        for sink, text in sinks.items():
            for word in SECRET_WORDS:
                assert word not in text, f"{word!r} leaked into the {sink}"


def comment_payload(bot: Bot, number: int, comment_id: int, author: str) -> dict[str, Any]:
    payload = json.loads((PAYLOADS / "issue_comment.created.json").read_text())
    payload["issue"]["number"] = number
    payload["comment"].update(id=comment_id, body="/gitbot reconcile postgres")
    payload["comment"]["user"]["login"] = author
    payload["repository"].update(full_name="acme/platform-source", default_branch="main")
    payload["installation"] = {"id": bot.installation, "node_id": "x"}
    return payload


def test_a_reconcile_comment_without_write_access_runs_nothing(
    world: tuple[GitHubServer, Bot, Path],
) -> None:
    server, bot, work = world
    push(server, bot, work, examples(), "base")
    wait_for(lambda: delivery_outcome(bot, "base"), what="the first push's work")
    pr = _source_pull_request(server, bot, work, {"notes.txt": "x\n"})
    comment = pr.create_issue_comment("/gitbot reconcile postgres")
    server.add_collaborator("acme", "platform-source", "mallory", "read")
    cases = {
        "reader": ("mallory", "ignored: mallory has read access; gitbot needs write"),
        "stranger": ("eve", "ignored: eve has none access; gitbot needs write"),
    }
    for guid, (author, expected) in cases.items():
        payload = comment_payload(bot, pr.number, comment.id, author)
        assert bot.deliver("issue_comment", payload, guid) == 202
        assert wait_for(lambda g=guid: delivery_outcome(bot, g), what=guid) == ("ignored", expected)
        assert [j.kind for j in jobs_of(bot, guid)] == ["route"]
    # An edit of a writer's comment is not a new request.
    server.add_collaborator("acme", "platform-source", "alice", "write")
    edited = comment_payload(bot, pr.number, comment.id, "alice")
    edited["action"] = "edited"
    assert bot.deliver("issue_comment", edited, "edited") == 202
    assert wait_for(lambda: delivery_outcome(bot, "edited"), what="the edit") == (
        "ignored",
        "ignored: issue_comment edited needs no work",
    )
    assert not [r for r in server.requests if r.path.endswith("/reactions")]
