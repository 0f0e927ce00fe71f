"""Two workers against one on PostgreSQL, with the engine's own ceiling measured in the same run.

    eval "$(scripts/engine-up)" && .venv/bin/python bench/bench_workers.py [--promises 40]
        [--threads 1] [--rounds 1] [--ceiling-rounds 3]

A source repository holds P independent Promises (default 40), each a promise workflow of one
busybox container. `gitbot web` and `gitbot worker`s share a fresh PostgreSQL database
(`scripts/postgres-up`, or GITBOT_TEST_POSTGRES_URL), the in-tree GitHub server and, per worker,
a data directory and a container engine of its own, as on two machines: the second engine is a
Podman service with its own storage (`scripts/engine-up --own-storage` in `.engine-b/`). A first
push makes the P pull requests; the measured push changes every Promise's spec, which queues P
jobs, one per Promise. Its time runs from the delivery's arrival to the last job's end (the
database's clock), for one worker and then for two (each with `--threads` jobs at once).

Two machines would double the throughput at best; this one has 2 cores that both workers and
both engines share. So the run also measures the engines' own ceiling: P containers like the
pipelines' (same mounts, limits and no network), run by the engine CLI one at a time on one
engine, and two at a time, one on each engine (alternating, the fastest of each kept). The
workers' ratio is reported beside that one, with each job's mean time and how busy the
workers' job slots were (near 100%: the workers never waited for each other or the queue).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench_runner import BUSYBOX, cli_once  # noqa: E402
from serveworld import push, running_world, wait_for  # noqa: E402
from workdbs import fresh_postgres_database  # noqa: E402

from gitbot.work.store import Job, Store  # noqa: E402

SCRIPT = 'echo "round: {round}" > /kratix/output/promise.yaml'


def promise_yaml(index: int, round_: int) -> str:
    """Promise `p-NNN` whose promise workflow writes one file; `round_` is in its spec."""
    script = SCRIPT.format(round=round_)
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {{name: p-{index:03d}}}
spec:
  workflows:
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {{name: install}}
          spec:
            containers:
              - name: install
                image: {BUSYBOX}
                imagePullPolicy: IfNotPresent
                command: [sh, -c, '{script}']
"""


def source_files(promises: int, round_: int) -> dict[str, str | None]:
    files: dict[str, str | None] = {".gitbot.yaml": "stateRepository: acme/platform-state\n"}
    for i in range(promises):
        files[f"promises/p-{i:03d}.yaml"] = promise_yaml(i, round_)
    return files


# --- engines ---------------------------------------------------------------------------------


def engine_up(*args: str, engine_dir: Path | None = None) -> str:
    """`scripts/engine-up [args]`: the engine's DOCKER_HOST URL."""
    env = dict(os.environ)
    if engine_dir is not None:
        env["GITBOT_ENGINE_DIR"] = str(engine_dir)
    done = subprocess.run(
        [str(ROOT / "scripts" / "engine-up"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"scripts/engine-up {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout.strip().rsplit("=", 1)[-1]


def engine_cli_env(url: str) -> dict[str, str]:
    """The environment that points Podman's CLI at the service behind `url`: the service's own
    containers.conf and storage.conf, which scripts/engine-up writes beside its socket."""
    folder = Path(url.removeprefix("unix://")).parent
    env = dict(os.environ)
    for variable, name in (
        ("CONTAINERS_CONF", "containers.conf"),
        ("CONTAINERS_STORAGE_CONF", "storage.conf"),
    ):
        env.pop(variable, None)
        if (folder / name).is_file():
            env[variable] = str(folder / name)
    return env


def cli_run(env: dict[str, str], round_: int) -> None:
    """One container as a worker runs a pipeline's: mounts, Kratix's default limits, no network."""
    cli_once(["podman"], SCRIPT.format(round=round_), environ=env)


def engine_ceiling(engines: list[str], containers: int) -> float:
    """Seconds to run `containers` containers split evenly over the engines, one at a time on
    each engine (one thread per engine)."""
    envs = [engine_cli_env(url) for url in engines]
    shares = [range(n, containers, len(envs)) for n in range(len(envs))]
    errors: list[BaseException] = []

    def run(env: dict[str, str], share: range) -> None:
        try:
            for i in share:
                cli_run(env, i)
        except BaseException as error:  # reported after the threads end
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(env, share))
        for env, share in zip(envs, shares, strict=True)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


# --- gitbot ----------------------------------------------------------------------------------


def postgres_server() -> str:
    url = os.environ.get("GITBOT_TEST_POSTGRES_URL")
    if url:
        return url
    done = subprocess.run(
        [str(ROOT / "scripts" / "postgres-up")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    found = re.fullmatch(r"export GITBOT_TEST_POSTGRES_URL='(.*)'", done.stdout.strip())
    if done.returncode != 0 or not found:
        sys.exit(f"scripts/postgres-up failed:\n{done.stderr}")
    return found[1]


def commands(tmp: Path, engines: list[str], threads: int) -> Callable[[Any], list[list[str]]]:
    def make(bot: Any) -> list[list[str]]:
        python = [sys.executable, "-m", "gitbot"]
        workers = [
            [
                "env",
                f"GITBOT_DATA_DIR={tmp / f'machine-{n}'}",
                f"GITBOT_ENGINE_URL={url}",
                f"GITBOT_WORKERS={threads}",
                *python,
                "worker",
            ]
            for n, url in enumerate(engines)
        ]
        return [[*python, "web", "--port", str(bot.port)], *workers]

    return make


@contextmanager
def world(
    tmp: Path, database: str, engines: list[str], threads: int
) -> Iterator[tuple[Any, Any, Path, Store]]:
    env = {"GITBOT_DATABASE_URL": database, "GITBOT_CONTAINER_NETWORK": "none"}
    with (
        running_world(tmp, env=env, commands=commands(tmp, engines, threads)) as parts,
        Store(database) as store,
    ):
        server, bot, work = parts
        yield server, bot, work, store


def settled(store: Store, guid: str) -> list[Job] | None:
    delivery = store.delivery(guid)
    if delivery is None or delivery.status not in ("succeeded", "failed"):
        return None
    return store.jobs_for_delivery(guid)


def measure(
    postgres: str, engines: list[str], promises: int, threads: int, rounds: int
) -> list[float]:
    """Seconds from the measured push's arrival to its last job's end, once per round."""
    times = []
    with (
        tempfile.TemporaryDirectory() as folder,
        fresh_postgres_database(postgres) as database,
        world(Path(folder), database, engines, threads) as (server, bot, work, store),
    ):
        push(server, bot, work, source_files(promises, 0), "setup")
        wait_for(lambda: settled(store, "setup"), 1800, "the first push's pull requests")
        for round_ in range(1, rounds + 1):
            guid = f"round-{round_}"
            push(server, bot, work, source_files(promises, round_), guid)
            jobs = wait_for(lambda g=guid: settled(store, g), 1800, "the measured push's jobs")
            reconciles = [j for j in jobs if j.promise is not None]
            bad = [j for j in reconciles if (j.status, j.attempts) != ("succeeded", 1)]
            if len(reconciles) != promises or bad:
                sys.exit(f"expected {promises} jobs succeeded once, got {len(reconciles)}: {bad}")
            delivery = store.delivery(guid)
            assert delivery is not None
            ends = [j.finished_at for j in reconciles if j.finished_at is not None]
            times.append((max(ends) - delivery.received_at).total_seconds())
            machines = {j.worker.rsplit("-", 2)[1] for j in reconciles if j.worker}
            spans = [
                (j.finished_at - j.started_at).total_seconds()
                for j in reconciles
                if j.finished_at is not None and j.started_at is not None
            ]
            # Busy: how much of the time the workers' job slots held a job (1.0: never idle).
            busy = sum(spans) / (times[-1] * len(engines) * threads)
            print(
                f"  {len(engines)} worker(s), round {round_}: {times[-1]:.1f} s, jobs ran on "
                f"{len(machines)} worker process(es), {sum(spans) / len(spans):.2f} s per job, "
                f"slots busy {busy:.0%}"
            )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--promises", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="GITBOT_WORKERS of each worker")
    parser.add_argument("--rounds", type=int, default=1, help="measured pushes per setup")
    parser.add_argument(
        "--ceiling-rounds", type=int, default=3, help="engine CLI runs of each kind (fastest kept)"
    )
    args = parser.parse_args()
    first = engine_up()
    second = engine_up("--own-storage", engine_dir=ROOT / ".engine-b")
    postgres = postgres_server()
    print(
        f"{args.promises} Promises, {args.threads} job(s) at once per worker, PostgreSQL, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )

    cli_run(engine_cli_env(first), 0)  # warm both engines' caches before timing
    cli_run(engine_cli_env(second), 0)
    # Alternating rounds, the fastest of each kept: the machine's load changes meanwhile.
    alone, side_by_side = [], []
    for _ in range(args.ceiling_rounds):
        alone.append(engine_ceiling([first], args.promises))
        side_by_side.append(engine_ceiling([first, second], args.promises))
    one_engine, two_engines = min(alone), min(side_by_side)
    one = min(measure(postgres, [first], args.promises, args.threads, args.rounds))
    two = min(measure(postgres, [first, second], args.promises, args.threads, args.rounds))

    ceiling = one_engine / two_engines
    ratio = one / two
    print(
        f"engine CLI, {args.promises} containers: one engine one at a time {one_engine:.1f} s, "
        f"two engines side by side {two_engines:.1f} s: ceiling {ceiling:.2f}x"
    )
    print(
        f"gitbot, {args.promises} Promises: one worker {one:.1f} s "
        f"({args.promises / one:.2f} Promises/s), two workers {two:.1f} s "
        f"({args.promises / two:.2f} Promises/s): {ratio:.2f}x"
    )
    print(f"two workers' gain against the engines' ceiling: {ratio / ceiling:.0%}")


if __name__ == "__main__":
    main()
