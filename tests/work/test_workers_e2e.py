"""Two machines' workers on one PostgreSQL, end to end: one `gitbot web` and two `gitbot worker`
processes, each worker with its own data directory and its own container engine (a Podman
service with storage of its own), the in-tree GitHub server, real containers.

Every job runs exactly once; `kill -9` of the worker running a job hands the job to the other
worker once its lease runs out, with exactly one pull request; the Kratix status the killed
worker wrote is what the other one reads; the scheduler runs in exactly one worker, and the
survivor holds it after the kill.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serveworld as e2e
from workdbs import fresh_postgres_database

from gitbot.pipeline.engine import DockerEngine, EngineError
from gitbot.work.store import Job, SharedStatusStore, Store

ROOT = Path(__file__).resolve().parent.parent.parent
LEASE = "3"  # seconds: jobs' and the scheduler's lease
RECONCILING = ("reconcile", "running")
PROMISE_STATUS = "platform.kratix.io/Promise//postgres"  # group/kind/namespace/name


@pytest.fixture
def database(postgres_server: str) -> Iterator[str]:
    with fresh_postgres_database(postgres_server) as url:
        Store(url).close()  # tables first, so that three processes do not race to make them
        yield url


def commands(tmp_path: Path, engines: dict[str, str]) -> Any:
    """`gitbot web`, and one `gitbot worker` per machine with its data directory and engine."""

    def make(bot: Any) -> list[list[str]]:
        python = [sys.executable, "-m", "gitbot"]
        web = [*python, "web", "--port", str(bot.port)]
        workers = [
            [
                "env",
                f"GITBOT_DATA_DIR={tmp_path / machine}",
                f"GITBOT_ENGINE_URL={engine}",
                *python,
                "worker",
                "--lease",
                LEASE,
            ]
            for machine, engine in engines.items()
        ]
        return [web, *workers]

    return make


def worker_pid(job: Job) -> int:
    """The process id in a job's worker name (`HOST-PID-THREAD`)."""
    assert job.worker is not None
    host, pid, _thread = job.worker.rsplit("-", 2)
    assert host == socket.gethostname()
    return int(pid)


def all_finished(store: Store) -> list[Job] | None:
    jobs = store.recent_jobs()
    return None if any(j.status in ("queued", "running") for j in jobs) else jobs


def slow(files: dict[str, str]) -> dict[str, str]:
    """The example Promise with a resource pipeline slow enough to be killed while it runs, and
    a Promise workflow that says in its status message when the Promise last succeeded, as the
    status it reads in `object.yaml` says ("last success never" on a first run)."""
    files = dict(files)
    image = "                image: localhost/gitbot-examples/postgres-pipeline:v0.1.0\n"
    last = (
        "sh /pipeline.sh && echo message: last success"
        " $(yget status.lastSuccessfulConfigureWorkflowTime || echo never)"
        " > /kratix/metadata/status.yaml"
    )
    files["postgres/promise.yaml"] = (
        files["postgres/promise.yaml"]
        .replace(
            f"              - name: render\n{image}",
            f"              - name: render\n{image}"
            "                command: [sh, -c, 'sleep 3; sh /pipeline.sh']\n",
        )
        .replace(
            f"              - name: install\n{image}",
            f"              - name: install\n{image}                command: [sh, -c, '{last}']\n",
        )
    )
    return files


def promise_status(statuses: SharedStatusStore) -> tuple[str, str] | None:
    """The Promise's stored status message and last success time, once its workflow has
    succeeded."""
    sources = [s for s, keys in statuses.promise_keys().items() if PROMISE_STATUS in keys]
    if not sources:
        return None
    [source] = sources
    stored = statuses.get(source, PROMISE_STATUS)
    assert stored is not None
    last = stored.status.get("lastSuccessfulConfigureWorkflowTime")
    return None if last is None else (str(stored.status["message"]), str(last))


def test_two_workers_on_one_postgresql_share_the_queue_and_survive_kill_9(
    tmp_path: Path, database: str, engine_url: str, second_engine_url: str
) -> None:
    env = {"GITBOT_DATABASE_URL": database, "GITBOT_WORKERS": "2"}
    engines = {"machine-a": engine_url, "machine-b": second_engine_url}
    with (
        e2e.running_world(tmp_path, env=env, commands=commands(tmp_path, engines)) as parts,
        Store(database) as store,
    ):
        server, bot, work = parts
        statuses = SharedStatusStore(store)
        web, *workers = bot.processes
        worker_pids = {process.pid for process in workers}
        engine_of = dict(zip((p.pid for p in workers), engines.values(), strict=True))

        # The scheduler runs in exactly one of the two workers.
        holder = e2e.wait_for(lambda: store.lease_holder("scheduler"), what="a scheduler")
        assert int(holder[0].rsplit("-", 1)[1]) in worker_pids

        e2e.push(server, bot, work, slow(e2e.examples()), "push-1")
        running = e2e.wait_for(
            lambda: [j for j in store.recent_jobs() if (j.kind, j.status) == RECONCILING],
            what="the reconcile to start",
        )
        assert len(running) == 1
        victim = worker_pid(running[0])
        assert victim in worker_pids
        # The Promise workflow runs first; its status is in the shared database before the
        # slow resource pipeline ends.
        message, first_success = e2e.wait_for(
            lambda: promise_status(statuses), what="the Promise's status"
        )
        assert message == "last success never"
        assert store.job(running[0].id).status == "running"  # type: ignore[union-attr]
        os.kill(victim, signal.SIGKILL)
        survivor = (worker_pids - {victim}).pop()

        pr = e2e.wait_for(lambda: e2e.open_pr(server), timeout=120, what="the pull request")
        assert pr["head"]["ref"] == "gitbot/postgres"
        finished = e2e.wait_for(lambda: all_finished(store), what="every job to finish")
        assert len(server.pulls("acme", "platform-state")) == 1
        # Every job ran once, except the one whose worker was killed: it ran again, elsewhere.
        reconcile = store.job(running[0].id)
        assert reconcile is not None
        assert (reconcile.status, reconcile.attempts) == ("succeeded", 2)
        assert worker_pid(reconcile) == survivor
        assert reconcile.error is None
        others = [j for j in finished if j.id != reconcile.id]
        assert others and all((j.status, j.attempts) == ("succeeded", 1) for j in others)
        # The survivor, on the other machine, read the status the killed worker wrote: the
        # Promise workflow's second run saw the first run's success.
        message, second_success = promise_status(statuses) or ("", "")
        assert message == f"last success {first_success}"
        assert second_success > first_success
        for machine in ("machine-a", "machine-b"):
            assert not (tmp_path / machine / "status.sqlite").exists()
        # The survivor runs the scheduler now (it may have all along).
        e2e.wait_for(
            lambda: (h := store.lease_holder("scheduler")) and h[0].endswith(f"-{survivor}"),
            what="the survivor to run the scheduler",
        )
        assert web.poll() is None
    remove_orphans(engine_of[victim])


def remove_orphans(engine_url: str) -> None:
    """Remove the killed worker's containers. Listing races with containers other tests remove
    meanwhile (the engine is shared), so a listing that fails that way is tried again."""
    engine = DockerEngine(engine_url)
    try:
        for _ in range(5):
            try:
                engine.remove_orphans()
                return
            except EngineError:
                continue
    finally:
        engine.close()
