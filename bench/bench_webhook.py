"""The webhook server under load, against baselines measured in the same run.

    eval "$(scripts/engine-up)" && .venv/bin/python bench/bench_webhook.py

All on loopback, the load from a second process (bench/loadgen.py):
- acknowledgement latency (p50, p99) of `gitbot web` at 200 deliveries/s for 10 s
  (target: p99 under 20 ms);
- peak acknowledgement throughput of `gitbot web` against a bare Flask handler that only
  verifies the signature and inserts a row (bench/bare_flask.py), same server, same machine
  (target: at least half);
- memory (RSS) of `gitbot serve` idle and after the load (target: idle under 150 MB);
- push-to-PR latency for a one-container pipeline against that container's own run time
  through the engine CLI (target: within 2 s plus the container's own time).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "web"))

from gitfixtures import commit_all, git, init_source, write  # noqa: E402
from test_serve_e2e import Bot, push_payload  # noqa: E402

from ghserver import GitHubServer  # noqa: E402

SECRET = "webhook-secret-for-tests"  # the one test_serve_e2e's Bot signs with
BUSYBOX = "docker.io/library/busybox:latest"
PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: tiny}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: tinies.example.com}
    spec:
      group: example.com
      names: {kind: Tiny, plural: tinies}
      scope: Namespaced
      versions: [{name: v1, served: true, storage: true}]
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: render}
          spec:
            containers:
              - name: render
                image: docker.io/library/busybox:latest
                imagePullPolicy: IfNotPresent
                command: [sh, -c, 'echo "n: $KRATIX_OBJECT_NAME" > /kratix/output/n.yaml']
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as e:
            if getattr(e, "code", None):
                return  # it answered, even if with an error status
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def load(url: str, mode: str, amount: float, seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/loadgen.py"),
            url,
            SECRET,
            mode,
            str(amount),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=out)


def container_cli_seconds(runs: int = 5) -> float:
    conf = ROOT / ".engine/containers.conf"
    cli = ["podman"] if conf.exists() and shutil.which("podman") else ["docker"]
    env = {**os.environ, "CONTAINERS_CONF": str(conf)} if cli == ["podman"] else dict(os.environ)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [*cli, "run", "--rm", BUSYBOX, "sh", "-c", "echo n: x > /dev/null"],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = GitHubServer(tmp / "github")
        server.start()
        app = server.create_app()
        server.create_repo("acme", "platform-source")
        server.create_repo("acme", "platform-state")
        installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
        bot = Bot(tmp, server, installation, app.private_key_path, app.id)
        processes: list[subprocess.Popen[bytes]] = []
        try:
            # 1 and 2: the acknowledgement path alone (gitbot web) against bare Flask.
            web_port, bare_port = free_port(), free_port()
            web_env = {**bot.env, "GITBOT_DATA_DIR": str(tmp / "web-data")}
            processes.append(
                start(
                    [sys.executable, "-m", "gitbot", "web", "--port", str(web_port)],
                    web_env,
                    tmp / "web.log",
                )
            )
            processes.append(
                start(
                    [
                        sys.executable,
                        str(ROOT / "bench/bare_flask.py"),
                        str(bare_port),
                        str(tmp / "bare.db"),
                        SECRET,
                    ],
                    dict(os.environ),
                    tmp / "bare.log",
                )
            )
            web = f"http://127.0.0.1:{web_port}/webhook"
            bare = f"http://127.0.0.1:{bare_port}/webhook"
            wait_http(f"http://127.0.0.1:{web_port}/healthz")
            wait_http(f"http://127.0.0.1:{bare_port}/webhook")
            load(web, "open", 50, 2)  # warm up
            steady = load(web, "open", 200, 10)
            results["ack"] = (
                percentile(steady["latencies"], 50),
                percentile(steady["latencies"], 99),
                steady["errors"],
                len(steady["latencies"]) / steady["elapsed"],
            )
            peak_web = load(web, "closed", 8, 4)
            peak_bare = load(bare, "closed", 8, 4)
            results["peak"] = (
                len(peak_web["latencies"]) / peak_web["elapsed"],
                len(peak_bare["latencies"]) / peak_bare["elapsed"],
            )
            for p in processes:
                p.terminate()
                p.wait(30)
            processes.clear()

            # 3 and 4: gitbot serve: memory, and push to pull request.
            bot.start()
            time.sleep(3)
            assert bot.process is not None
            idle = rss_mb(bot.process.pid)
            work = init_source(tmp / "source", with_examples=False)
            write(
                work,
                {".gitbot.yaml": "stateRepository: acme/platform-state\n", "tiny.yaml": PROMISE},
            )
            before = "0" * 40
            latencies = []
            for i in range(6):
                write(
                    work,
                    {
                        "request.yaml": "apiVersion: example.com/v1\nkind: Tiny\n"
                        f"metadata: {{name: t}}\nspec: {{round: {i}}}\n"
                    },
                )
                after = commit_all(work, f"round {i}")
                git(work, "push", "-q", str(server.repo_path("acme", "platform-source")), "main")
                sent = time.perf_counter()
                bot.deliver("push", push_payload(server, installation, before, after), f"p{i}")
                state = server.repo_path("acme", "platform-state")
                while True:
                    heads = [
                        p for p in server.pulls("acme", "platform-state") if p["state"] == "open"
                    ]
                    if heads:
                        message = git(state, "log", "-1", "--format=%B", "gitbot/tiny")
                        if f"Gitbot-Source-Commit: {after}" in message:
                            break
                    if time.perf_counter() - sent > 60:
                        raise SystemExit("no pull request within 60 s")
                    time.sleep(0.02)
                latencies.append(time.perf_counter() - sent)
                before = after
            results["push_to_pr"] = (statistics.median(latencies[1:]), container_cli_seconds())
            load(f"{bot.url}/webhook", "open", 200, 5)
            results["memory"] = (idle, rss_mb(bot.process.pid))
        finally:
            for p in processes:
                p.kill()
            bot.stop()
            server.stop()
    p50, p99, errors, rate = results["ack"]
    web_peak, bare_peak = results["peak"]
    push, container = results["push_to_pr"]
    idle, loaded = results["memory"]
    print(
        f"ack latency at {rate:.0f} deliveries/s for 10 s: p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, {errors} errors   (target: p99 < 20 ms)"
    )
    print(
        f"peak ack throughput: gitbot {web_peak:.0f}/s, bare Flask + SQLite {bare_peak:.0f}/s, "
        f"ratio {web_peak / bare_peak:.2f}   (target: >= 0.5)"
    )
    print(
        f"push to PR (median of 5 updates): {push:.2f} s; the container alone via the engine "
        f"CLI: {container:.2f} s; gitbot's own part {push - container:.2f} s   (target: <= 2 s)"
    )
    print(
        f"gitbot serve memory: idle {idle[0]:.0f} MB; after load RSS {loaded[0]:.0f} MB, "
        f"peak {loaded[1]:.0f} MB   (target: idle < 150 MB)"
    )


if __name__ == "__main__":
    main()
