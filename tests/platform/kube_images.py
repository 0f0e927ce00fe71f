"""Pipeline images with real Kubernetes clients, built offline (shared by tests and bench/).

The base is a Debian root filesystem made from Debian's own packages with `mmdebstrap` (installed
with apt-get when missing; it uses this machine's apt sources) and imported into the engine under
a name that hashes its package list, so it is built once per machine and reused. The Kratix SDK
image adds the `kratix-sdk` wheel, downloaded from PyPI on the host with pip.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import docker.errors

DATA = Path(__file__).resolve().parent.parent / "data" / "platform"
PACKAGES = ("python3", "python3-kubernetes", "python3-yaml", "python3-pip", "kubernetes-client")
BASE_REPO = "localhost/gitbot-test/debian-kube"
KRATIX_SDK = "kratix-sdk==0.4.3"
SDK_IMAGE = "localhost/gitbot-test/kratix-sdk-pipeline:v1"


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


def kube_image(engine_url: str) -> str:
    """Debian bookworm with kubectl (kubernetes-client) and the official Python client; also
    tagged `<BASE_REPO>:base`, the name the SDK image's Dockerfile starts FROM."""
    tag = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    image = f"{BASE_REPO}:{tag}"
    client = _client(engine_url)
    try:
        if not _has(client, image):
            with tempfile.TemporaryDirectory(prefix="gitbot-rootfs-") as folder:
                rootfs = Path(folder) / "rootfs.tar"
                command = [_mmdebstrap(), "--variant=minbase", f"--include={','.join(PACKAGES)}"]
                subprocess.run([*command, "-q", "bookworm", str(rootfs)], check=True, timeout=900)
                with rootfs.open("rb") as data:
                    client.api.import_image_from_data(data, repository=BASE_REPO, tag=tag)
        client.images.get(image).tag(BASE_REPO, "base")
    finally:
        client.close()
    return image


def sdk_image(engine_url: str) -> str:
    """An image whose pipeline is written with the Kratix Python SDK from PyPI."""
    kube_image(engine_url)
    with tempfile.TemporaryDirectory(prefix="gitbot-kratix-sdk-") as folder:
        shutil.copytree(DATA / "kratix-sdk", folder, dirs_exist_ok=True)
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        download += ["--only-binary=:all:", KRATIX_SDK, "-d", folder]
        subprocess.run(download, check=True, timeout=300)
        client = _client(engine_url)
        try:
            client.images.build(path=folder, tag=SDK_IMAGE, rm=True)
        finally:
            client.close()
    return SDK_IMAGE
