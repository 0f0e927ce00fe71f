"""Pipeline images with real Kubernetes clients, built offline.

The base is a Debian root filesystem made from Debian's own packages with `mmdebstrap` (installed
with apt-get when missing; it uses this machine's apt sources) and imported into the engine
under a name that hashes its package list, so it is built once per machine and reused. The
Kratix SDK image adds the `kratix-sdk` wheel, downloaded from PyPI on the host with pip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import docker.errors
import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "platform"
PACKAGES = ("python3", "python3-kubernetes", "python3-yaml", "python3-pip", "kubernetes-client")
BASE_REPO = "localhost/gitbot-test/debian-kube"
KRATIX_SDK = "kratix-sdk==0.4.3"


def _client(engine_url: str) -> docker.DockerClient:
    return docker.DockerClient(base_url=engine_url, timeout=600)


def _has(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _mmdebstrap() -> str:
    found = shutil.which("mmdebstrap")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "mmdebstrap"], check=True, timeout=600)
    return "mmdebstrap"


@pytest.fixture(scope="session")
def kube_image(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Debian bookworm with kubectl (kubernetes-client) and the official Python client."""
    tag = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    image = f"{BASE_REPO}:{tag}"
    client = _client(engine_url)
    try:
        if not _has(client, image):
            rootfs = tmp_path_factory.mktemp("rootfs") / "rootfs.tar"
            subprocess.run(
                [
                    _mmdebstrap(),
                    "--variant=minbase",
                    f"--include={','.join(PACKAGES)}",
                    "-q",
                    "bookworm",
                    str(rootfs),
                ],
                check=True,
                timeout=900,
            )
            with rootfs.open("rb") as data:
                client.api.import_image_from_data(data, repository=BASE_REPO, tag=tag)
        client.images.get(image).tag(BASE_REPO, "base")
    finally:
        client.close()
    return image


@pytest.fixture(scope="session")
def sdk_image(engine_url: str, kube_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image whose pipeline is written with the Kratix Python SDK from PyPI."""
    context = tmp_path_factory.mktemp("kratix-sdk")
    shutil.copytree(DATA / "kratix-sdk", context, dirs_exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            KRATIX_SDK,
            "-d",
            str(context),
        ],
        check=True,
        timeout=300,
    )
    client = _client(engine_url)
    try:
        client.images.build(
            path=str(context), tag="localhost/gitbot-test/kratix-sdk-pipeline:v1", rm=True
        )
    finally:
        client.close()
    return "localhost/gitbot-test/kratix-sdk-pipeline:v1"
