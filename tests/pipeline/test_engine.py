"""The engine adapter's own duties, against the real engine."""

from __future__ import annotations

import socket

from builders import BUSYBOX

from gitbot.pipeline.engine import MANAGED_LABEL, OWNER, OWNER_LABEL, DockerEngine


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
        names = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in names
        assert alive.id in names
    finally:
        alive.remove(force=True)
