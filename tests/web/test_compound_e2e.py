"""A compound Promise through GitHub, end to end: one push, one webhook-triggered run, and the
parent, its two children and their files land in one pull request whose body shows the tree."""

from __future__ import annotations

from pathlib import Path

import serveworld as e2e
from compound_source import compound_files
from gitfixtures import git

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_compound_promise_converges_in_one_webhook_run_and_one_pull_request(
    tmp_path: Path, kube_image: str
) -> None:
    files = compound_files(kube_image)
    files[".gitbot.yaml"] = "stateRepository: acme/platform-state\n" + files[".gitbot.yaml"]
    with e2e.running_world(tmp_path) as (server, bot, work):
        e2e.push(server, bot, work, files, "push-1")
        done = e2e.wait_for(lambda: e2e.delivery_outcome(bot, "push-1"), 180, "push-1 done")
        assert done[0] == "succeeded", done
        pulls = {p["head"]["ref"]: p for p in server.pulls("acme", "platform-state")}
        app = pulls["gitbot/app"]
        state = server.repo_path("acme", "platform-state")
        ready = "worker/resources/default/app/web/wait/5058f/ready.txt"
        assert git(state, "show", f"gitbot/app:{ready}") == "database Ready, cache Ready"
        files_on_branch = e2e.state_files(server, "gitbot/app")
        assert "worker/resources/default/database/web-db/main/5058f/database.txt" in files_on_branch
        assert "worker/resources/default/cache/web-cache/main/5058f/cache.txt" in files_on_branch
        rows = [line for line in app["body"].splitlines() if line.startswith("| ")]
        assert rows[2].startswith("| app default/web | configure | emit ")
        assert rows[2].endswith("| succeeded |")
        assert rows[3].startswith("| └ cache default/web-cache | configure | main ")
        assert rows[4].startswith("| └ database default/web-db | configure | main ")
        runs = e2e.wait_for(
            lambda: [
                r
                for r in server.check_runs("acme", "platform-source")
                if r["name"] == "gitbot: app" and r["status"] == "completed"
            ],
            what="the app check run",
        )
        summary = runs[0]["output"]["summary"].splitlines()
        assert runs[0]["conclusion"] == "success"
        rows = [line for line in summary if line.startswith("| └ ")]
        assert [row.rsplit(" ", 2)[0] for row in rows] == [
            "| └ cache default/web-cache | configure | succeeded | main",
            "| └ database default/web-db | configure | succeeded | main",
        ]
