"""Per-container overhead of gitbot's workflow runner against the engine's own CLI.

    .venv/bin/python bench/bench_runner.py [N]

Runs the same trivial busybox container N times (default 20) through gitbot's WorkflowRunner (a
one-pipeline workflow: folders, object.yaml, the container, output collection) and through
`podman run --rm` (or `docker run --rm`) with the same mounts, limits and network, interleaved so
both see the same machine load. Prints the medians and their ratio; target: at most 1.5.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from builders import BUSYBOX, pipeline, promise, request, sh  # noqa: E402

from gitbot.kratix.objects import Workflows  # noqa: E402
from gitbot.kratix.workflow import WorkflowTarget  # noqa: E402
from gitbot.pipeline.containers import ContainerPolicy  # noqa: E402
from gitbot.pipeline.engine import DockerEngine  # noqa: E402
from gitbot.pipeline.runner import RunOptions, WorkflowRunner  # noqa: E402
from gitbot.secrets import Redactor, config_map_store, secret_store  # noqa: E402

SCRIPT = "echo hi > /kratix/output/hi.yaml"


def engine_cli() -> list[str]:
    """podman with the project service's containers.conf (this checkout's, or the one beside
    DOCKER_HOST's socket, as scripts/engine-up writes it); else the docker CLI."""
    confs = [ROOT / ".engine" / "containers.conf"]
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        confs.append(Path(host.removeprefix("unix://")).parent / "containers.conf")
    conf = next((c for c in confs if c.exists()), None)
    if conf is not None and shutil.which("podman"):
        os.environ["CONTAINERS_CONF"] = str(conf)
        return ["podman"]
    return ["docker"]


def cli_once(
    cli: list[str],
    script: str = SCRIPT,
    env: tuple[str, ...] = (),
    environ: dict[str, str] | None = None,
) -> float:
    """One container through the engine CLI, mounted and limited as gitbot runs it; seconds.
    `environ` is the CLI's own environment (default: this process's)."""
    with tempfile.TemporaryDirectory() as folder:
        dirs = [Path(folder, name) for name in ("input", "output", "metadata")]
        for d in dirs:
            d.mkdir()
        started = time.perf_counter()
        subprocess.run(
            [
                *cli,
                "run",
                "--rm",
                "--network",
                "none",
                "--cpus",
                "0.2",
                "--memory",
                "256m",
                "-v",
                f"{dirs[0]}:/kratix/input:ro",
                "-v",
                f"{dirs[1]}:/kratix/output",
                "-v",
                f"{dirs[2]}:/kratix/metadata",
                *(arg for variable in env for arg in ("-e", variable)),
                BUSYBOX,
                "sh",
                "-c",
                script,
            ],
            check=True,
            capture_output=True,
            timeout=120,
            env=environ,
        )
        return time.perf_counter() - started


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    engine = DockerEngine(os.environ.get("DOCKER_HOST"))
    redactor = Redactor()
    runner = WorkflowRunner(
        engine,
        secret_store(None, redactor),
        config_map_store(None, redactor),
        redactor,
        RunOptions(policy=ContainerPolicy(network="none")),
    )
    target = WorkflowTarget(
        promise(workflows=Workflows(resource_configure=(pipeline("p", sh("c", SCRIPT)),))),
        "configure",
        request(),
    )
    cli = engine_cli()
    runner.run(target), cli_once(cli)  # warm both paths up
    gitbot_times, cli_times = [], []
    for _ in range(n):
        started = time.perf_counter()
        run = runner.run(target)
        gitbot_times.append(time.perf_counter() - started)
        assert run.failure is None and run.pipelines[0].files["hi.yaml"] == b"hi\n"
        cli_times.append(cli_once(cli))
    engine.close()
    g, c = statistics.median(gitbot_times), statistics.median(cli_times)
    print(f"containers per side: {n}")
    print(f"gitbot runner median: {g * 1000:.0f} ms per container workflow")
    print(f"{cli[0]} run --rm median: {c * 1000:.0f} ms per container")
    print(f"ratio gitbot/{cli[0]}: {g / c:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
