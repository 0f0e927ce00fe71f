"""The poller, against baselines measured in the same run.

    eval "$(scripts/engine-up)" && .venv/bin/python bench/bench_poller.py [--repos 100]
        [--interval 5] [--rounds 3]

- Rate limit: one poll round over N unchanged source repositories (default 100) on the in-tree
  GitHub server, which answers conditional requests as GitHub does (304, no rate-limit point),
  against the same round made without ETags (target: 0 points, whatever N).
- Latency: with `gitbot serve` polling every `--interval` seconds, a push whose delivery is
  dropped reaches its pull request within the poll interval plus the time a delivered push takes
  (the same one-container pipeline, measured in this run, is the baseline).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "web"))

from bench_webhook import PROMISE  # noqa: E402
from gitfixtures import commit_all, git, init_source, write  # noqa: E402
from test_serve_e2e import Bot, push_payload  # noqa: E402

from ghserver import GitHubServer  # noqa: E402
from gitbot.github.client import GitHubApp, GitHubSettings  # noqa: E402
from gitbot.secrets import Redactor, Secret  # noqa: E402
from gitbot.work.poller import Poller  # noqa: E402
from gitbot.work.store import Store  # noqa: E402


def rate_limit(tmp: Path, count: int) -> tuple[int, int, int, float, float]:
    """(conditional points, unconditional points, 304s, seconds per round each way)."""
    server = GitHubServer(tmp / "github-rate")
    server.start()
    try:
        app = server.create_app()
        names = [f"source-{i:03d}" for i in range(count)]
        for name in names:
            server.create_repo("acme", name, auto_init=True)
        installation = server.install(app.id, "acme", names)
        github = GitHubApp(
            GitHubSettings(
                api_url=server.api_url,
                app_id=app.id,
                private_key=Secret(app.private_key_pem.decode()),
                request_interval=0,
                write_interval=0,
            ),
            Redactor(),
        )
        store = Store(f"sqlite:///{tmp / 'rate.db'}")
        for name in names:
            full = f"acme/{name}"
            head = git(server.repo_path("acme", name), "rev-parse", "main")
            store.register_repository(full, installation)
            store.merge_summary(full, {"branch": "main", "rendered": head})
        poller = Poller(store, github)
        poller.poll()  # the first round learns each branch's ETag (and the installations)

        def round_cost(poll: object) -> tuple[int, float]:
            used = server.rate_limit_used(installation)
            started = time.perf_counter()
            assert callable(poll)
            caught = poll()
            assert caught == 0, "nothing changed, nothing may be queued"
            return server.rate_limit_used(installation) - used, time.perf_counter() - started

        start = len(server.requests)
        conditional, conditional_s = round_cost(poller.poll)
        not_modified = sum(1 for r in server.requests[start:] if r.status == 304)

        def without_etags() -> int:
            for name in names:
                store.merge_summary(f"acme/{name}", {"etag": None})
            return poller.poll()

        unconditional, unconditional_s = round_cost(without_etags)
        store.close()
        return conditional, unconditional, not_modified, conditional_s, unconditional_s
    finally:
        server.stop()


def wait_for_commit(server: GitHubServer, commit: str, since: float, limit: float) -> float:
    state = server.repo_path("acme", "platform-state")
    while True:
        if any(p["state"] == "open" for p in server.pulls("acme", "platform-state")):
            message = git(state, "log", "-1", "--format=%B", "gitbot/tiny")
            if f"Gitbot-Source-Commit: {commit}" in message:
                return time.perf_counter() - since
        if time.perf_counter() - since > limit:
            raise SystemExit(f"no pull request at {commit[:12]} within {limit:.0f} s")
        time.sleep(0.02)


def latency(tmp: Path, interval: float, rounds: int) -> tuple[float, list[float]]:
    """(median delivered push-to-PR seconds, dropped push-to-PR seconds per round)."""
    server = GitHubServer(tmp / "github-latency")
    server.start()
    app = server.create_app()
    server.create_repo("acme", "platform-source")
    server.create_repo("acme", "platform-state")
    installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
    bot = Bot(tmp, server, installation, app.private_key_path, app.id)
    bot.env["GITBOT_POLL_INTERVAL"] = f"{interval:g}"
    bot.start()
    try:
        work = init_source(tmp / "source", with_examples=False)
        config = "stateRepository: acme/platform-state\n"
        write(work, {".gitbot.yaml": config, "tiny.yaml": PROMISE})
        remote = str(server.repo_path("acme", "platform-source"))
        before = "0" * 40
        delivered, dropped = [], []
        for i in range(2 * rounds + 1):
            request = "apiVersion: example.com/v1\nkind: Tiny\nmetadata: {name: t}\n"
            write(work, {"request.yaml": request + f"spec: {{round: {i}}}\n"})
            after = commit_all(work, f"round {i}")
            git(work, "push", "-q", remote, "main")
            sent = time.perf_counter()
            deliver = i % 2 == 0  # odd rounds: the delivery is dropped
            if deliver:
                payload = push_payload(server, installation, before, after)
                assert bot.deliver("push", payload, f"p{i}") == 202
            took = wait_for_commit(server, after, sent, interval * 3 + 120)
            if i > 0:  # the first one starts the repository
                (delivered if deliver else dropped).append(took)
            before = after
        return statistics.median(delivered), dropped
    finally:
        bot.stop()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval, seconds")
    parser.add_argument("--rounds", type=int, default=3, help="dropped pushes to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        points, baseline, not_modified, cond_s, uncond_s = rate_limit(tmp, args.repos)
        delivered, dropped = latency(tmp, args.interval, args.rounds)
    print(
        f"poll round over {args.repos} unchanged repositories: {points} rate-limit point(s) "
        f"({not_modified} answered 304) in {cond_s:.2f} s; without ETags {baseline} point(s) "
        f"in {uncond_s:.2f} s; ratio {points / max(baseline, 1):.2f}   (target: 0 points)"
    )
    worst = max(dropped)
    print(
        f"dropped push to PR: {', '.join(f'{d:.2f}' for d in dropped)} s (worst {worst:.2f} s); "
        f"a delivered push takes {delivered:.2f} s (median); poll interval {args.interval:g} s; "
        f"worst minus delivered {worst - delivered:.2f} s   "
        f"(target: <= the poll interval, {args.interval:g} s)"
    )


if __name__ == "__main__":
    main()
