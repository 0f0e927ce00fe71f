"""Shared fixtures: one per external system (the container engine), real everything."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from gitbot.pipeline.engine import DockerEngine, EngineError

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = "docker.io/library/busybox:latest"


def _engine_url() -> str:
    """The engine at DOCKER_HOST if it answers, else the one scripts/engine-up starts."""
    url = os.environ.get("DOCKER_HOST")
    if url:
        engine = DockerEngine(url, api_timeout=5)
        try:
            engine.ping()
            return url
        except EngineError:
            pass
        finally:
            engine.close()
    started = subprocess.run(
        [str(ROOT / "scripts" / "engine-up")], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        raise RuntimeError(f"scripts/engine-up failed:\n{started.stderr}")
    url = started.stdout.strip().rsplit("=", 1)[-1]
    os.environ["DOCKER_HOST"] = url
    return url


@pytest.fixture(scope="session")
def engine_url() -> str:
    return _engine_url()


@pytest.fixture(scope="session")
def second_engine_url(engine_url: str, example_images: list[str]) -> str:
    """Another machine's container engine, holding the example images: the engine at
    GITBOT_TEST_SECOND_DOCKER_HOST, else a Podman service with storage, network and socket of its
    own (`scripts/engine-up --own-storage` in `.engine-b/`), sharing no image, container or
    bridge with the engine at `engine_url`."""
    url = os.environ.get("GITBOT_TEST_SECOND_DOCKER_HOST") or _own_storage_engine()
    assert url != engine_url, url
    _copy_images(engine_url, url, example_images)
    return url


def _own_storage_engine() -> str:
    env = {**os.environ, "GITBOT_ENGINE_DIR": str(ROOT / ".engine-b")}
    started = subprocess.run(
        [str(ROOT / "scripts" / "engine-up"), "--own-storage"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if started.returncode != 0:
        raise RuntimeError(f"scripts/engine-up --own-storage failed:\n{started.stderr}")
    return started.stdout.strip().rsplit("=", 1)[-1]


def _copy_images(source_url: str, target_url: str, images: list[str]) -> None:
    """Copy images from one engine to another (save, then load), as a registry would carry them
    between machines; images the target already has with the same id are skipped."""
    source = docker.DockerClient(base_url=source_url, timeout=300)
    target = docker.DockerClient(base_url=target_url, timeout=300)
    try:
        for name in images:
            image = source.images.get(name)
            try:
                if target.images.get(name).id == image.id:
                    continue
            except docker.errors.ImageNotFound:
                pass
            target.images.load(b"".join(image.save(named=True)))
    finally:
        source.close()
        target.close()


@pytest.fixture
def engine(engine_url: str) -> Iterator[DockerEngine]:
    engine = DockerEngine(engine_url)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def example_images(engine_url: str) -> list[str]:
    """The example Promises' pipeline images, built from promises/ through the engine."""
    spec = importlib.util.spec_from_file_location(
        "build_images", ROOT / "promises" / "build_images.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: list[str] = module.build_all(quiet=True)
    return built


@pytest.fixture(scope="session")
def kube_image(engine_url: str) -> str:
    """Debian bookworm with kubectl and the official Python client (tests/platform/kube_images)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent / "platform"))
    import kube_images

    return str(kube_images.kube_image(engine_url))
