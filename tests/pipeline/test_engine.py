"""The engine adapter's own duties, against the real engine."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
from builders import BUSYBOX

from gitbot.pipeline.engine import (
    MANAGED_LABEL,
    OWNER,
    OWNER_LABEL,
    PID_NAMESPACE,
    PID_NAMESPACE_LABEL,
    ContainerSpec,
    DockerEngine,
    ImageError,
)


def test_containers_of_dead_gitbot_processes_are_removed(engine: DockerEngine) -> None:
    dead = f"{socket.gethostname()}-999999999"
    client = engine._client
    orphan = client.containers.create(
        BUSYBOX, ["true"], labels={MANAGED_LABEL: "true", OWNER_LABEL: dead}
    )
    alive = client.containers.create(
        BUSYBOX, ["true"], labels={MANAGED_LABEL: "true", OWNER_LABEL: OWNER}
    )
    try:
        assert engine.remove_orphans() >= 1
        names = {c["Id"] for c in client.api.containers(all=True)}
        assert orphan.id not in names
        assert alive.id in names
    finally:
        alive.remove(force=True)


def test_exit_codes_are_exact_when_containers_end_concurrently(engine_url: str) -> None:
    # Under load Podman ends the output stream a moment before it records the exit; a result
    # read too early says exit code 0, and a failing pipeline would pass.
    def run_many(_: int) -> list[int | None]:
        engine = DockerEngine(engine_url)
        try:
            spec = ContainerSpec(BUSYBOX, "exit-code", cmd=["sh", "-c", "echo no >&2; exit 2"])
            return [engine.run(spec, timeout=60).exit_code for _ in range(25)]
        finally:
            engine.close()

    with ThreadPoolExecutor(6) as pool:
        codes = [code for batch in pool.map(run_many, range(6)) for code in batch]
    assert codes == [2] * 150


def test_a_container_that_closes_its_output_early_still_reports_its_exit(
    engine: DockerEngine,
) -> None:
    spec = ContainerSpec(BUSYBOX, "quiet", cmd=["sh", "-c", "echo bye; exec >&- 2>&-; exit 7"])
    result = engine.run(spec, timeout=30)
    assert (result.exit_code, result.log, result.timed_out) == (7, b"bye\n", False)


def test_sweeps_running_at_once_all_finish_when_containers_vanish_under_them(
    engine_url: str,
) -> None:
    # Two gitbot processes starting on one host sweep at once: each sees containers the other
    # removes between listing and removing them, and neither may fail for it.
    dead = f"{socket.gethostname()}-999999998"
    client = docker.DockerClient(base_url=engine_url, timeout=60)
    try:
        orphans = [
            client.containers.create(
                BUSYBOX, ["true"], labels={MANAGED_LABEL: "true", OWNER_LABEL: dead}
            ).id
            for _ in range(12)
        ]

        def sweep(_: int) -> int:
            engine = DockerEngine(engine_url)
            try:
                return engine.remove_orphans()
            finally:
                engine.close()

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(sweep, range(4)))
        left = {c["Id"] for c in client.api.containers(all=True)}
        assert not left & set(orphans)
    finally:
        client.close()


def test_a_failed_pull_reports_the_engines_own_reason(engine: DockerEngine) -> None:
    # No registry is reachable here: the engine's reason (a lookup failure) travels inside the
    # pull's progress stream, and a user must see it, not a later "No such image".
    image = "registry.invalid/nope:1"
    with pytest.raises(ImageError) as caught:
        engine.image_user(image, "IfNotPresent")
    message = str(caught.value)
    assert image in message
    assert "lookup registry.invalid" in message  # the engine's own words: the name lookup failed
    assert "no such image" not in message.lower()


def test_containers_of_another_pid_namespace_are_not_judged_by_their_pid(
    engine: DockerEngine,
) -> None:
    # A gitbot in a container on the host's network has the host's hostname but its own pids:
    # the host's gitbot processes look dead from there, and their containers must survive it.
    client = engine._client
    owner = f"{socket.gethostname()}-999999997"
    elsewhere = client.containers.create(
        BUSYBOX,
        ["true"],
        labels={MANAGED_LABEL: "true", OWNER_LABEL: owner, PID_NAMESPACE_LABEL: "4026531836x"},
    )
    here = client.containers.create(
        BUSYBOX,
        ["true"],
        labels={MANAGED_LABEL: "true", OWNER_LABEL: owner, PID_NAMESPACE_LABEL: PID_NAMESPACE},
    )
    try:
        engine.remove_orphans()
        left = {c["Id"] for c in client.api.containers(all=True)}
        assert (elsewhere.id in left, here.id in left) == (True, False)
    finally:
        elsewhere.remove(force=True)
