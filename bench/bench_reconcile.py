"""Reconcile of a large source repository against the engine CLI running the same containers.

    .venv/bin/python bench/bench_reconcile.py [--promises 50] [--requests-per-promise 4]

Builds a source repository with P Promises, each with a promise pipeline and R requests whose
resource pipeline is a trivial busybox container, and an empty bare state repository. Measures,
in the same run: the sum of running the same P*(1+R) containers one by one with `podman run
--rm` (or `docker run --rm`); a first `gitbot reconcile` with one worker (gitbot's own overhead
is its time beyond that sum; target under 25%) and with GITBOT_WORKERS=2; and a second, unchanged
reconcile. Peak memory is the gitbot process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_runner import BUSYBOX, cli_once, engine_cli  # noqa: E402

SCRIPT = 'echo "name: $KRATIX_OBJECT_NAME" > /kratix/output/object.yaml'
TIMEOUT_SECONDS = 3600  # one reconcile, at most
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def promise_yaml(index: int, requests: int) -> str:
    name = f"p{index:03d}"
    container = (
        "            containers:\n"
        "              - name: c\n"
        f"                image: {BUSYBOX}\n"
        "                imagePullPolicy: IfNotPresent\n"
        f"                command: [sh, -c, '{SCRIPT}']\n"
    )
    docs = [
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\n"
        f"metadata: {{name: {name}}}\nspec:\n  api:\n"
        "    apiVersion: apiextensions.k8s.io/v1\n    kind: CustomResourceDefinition\n"
        f"    metadata: {{name: things.{name}.example.com}}\n"
        f"    spec:\n      group: {name}.example.com\n"
        "      names: {kind: Thing, plural: things}\n      scope: Namespaced\n"
        "      versions: [{name: v1, served: true, storage: true}]\n"
        "  workflows:\n"
        + "".join(
            f"    {kind}:\n      configure:\n"
            "        - apiVersion: platform.kratix.io/v1alpha1\n          kind: Pipeline\n"
            f"          metadata: {{name: {kind}-pipe}}\n          spec:\n" + container
            for kind in ("promise", "resource")
        )
    ]
    for r in range(requests):
        docs.append(
            f"apiVersion: {name}.example.com/v1\nkind: Thing\n"
            f"metadata: {{name: r{r}}}\nspec: {{n: {r}}}\n"
        )
    return "---\n".join(docs)


def make_repos(folder: Path, promises: int, requests: int) -> tuple[Path, Path]:
    source, state = folder / "source", folder / "state.git"
    source.mkdir()
    for i in range(promises):
        (source / f"p{i:03d}.yaml").write_text(promise_yaml(i, requests))
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-C", str(source), *args], check=True, env=env, timeout=120)
    subprocess.run(
        ["git", "init", "-q", "--bare", "-b", "main", str(state)], check=True, timeout=60
    )
    return source, state


def cli_sum(cli: list[str], count: int) -> float:
    return sum(cli_once(cli, SCRIPT, ("KRATIX_OBJECT_NAME=x",)) for _ in range(count))


def reconcile(source: Path, state: Path, data: Path, workers: int) -> tuple[float, int]:
    """One `gitbot reconcile` in its own process: seconds, and that process's peak RSS (KiB)."""
    env = {
        **os.environ,
        "GITBOT_DATA_DIR": str(data),
        "GITBOT_WORKERS": str(workers),
        "GITBOT_CONTAINER_NETWORK": "none",
    }
    command = [str(ROOT / ".venv/bin/gitbot"), "reconcile", "--source", str(source)]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--state", str(state)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        killer = threading.Timer(TIMEOUT_SECONDS, process.kill)
        killer.start()
        try:
            # wait4: this child's own rusage, not the maximum over every child so far.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            out.seek(0)
            raise SystemExit(f"reconcile failed:\n{out.read()}")
    return seconds, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--promises", type=int, default=50)
    parser.add_argument("--requests-per-promise", type=int, default=4)
    args = parser.parse_args()
    containers = args.promises * (1 + args.requests_per_promise)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cli = engine_cli()
        baseline = cli_sum(cli, containers)
        runs = {}
        for workers in (1, 2):
            case = folder / f"w{workers}"
            case.mkdir()
            source, state = make_repos(case, args.promises, args.requests_per_promise)
            first, peak = reconcile(source, state, case / "data", workers)
            second, _ = reconcile(source, state, case / "data", workers)
            runs[workers] = (first, second, peak)
    print(
        f"{args.promises} Promises, {args.promises * args.requests_per_promise} requests, "
        f"{containers} containers"
    )
    print(f"{cli[0]} run --rm, one by one, sum: {baseline:.1f} s")
    for workers, (first, second, _) in runs.items():
        overhead = 100 * (first - baseline) / baseline
        print(
            f"gitbot reconcile, {workers} worker(s): first {first:.1f} s "
            f"(ratio {first / baseline:.2f}, overhead {overhead:+.0f}%), "
            f"unchanged rerun {second:.1f} s (ratio {second / baseline:.2f})"
        )
    print(f"peak memory of gitbot reconcile: {max(r[2] for r in runs.values()) / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
