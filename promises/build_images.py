"""Build the example pipeline images: python promises/build_images.py [--quiet].

Every `promises/<name>/pipeline/Dockerfile` becomes `localhost/gitbot-examples/<name>-pipeline`
at the version below, built with `promises/` as the context (so images share `lib/`). It talks to
the engine at DOCKER_HOST (Docker, or Podman's service started by scripts/engine-up).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import docker

VERSION = "v0.1.0"
HERE = Path(__file__).resolve().parent


def image_name(promise: str) -> str:
    return f"localhost/gitbot-examples/{promise}-pipeline:{VERSION}"


def build_all(quiet: bool = False) -> list[str]:
    client = docker.DockerClient(base_url=os.environ.get("DOCKER_HOST"), timeout=300)
    built = []
    try:
        for dockerfile in sorted(HERE.glob("*/pipeline/Dockerfile")):
            tag = image_name(dockerfile.parent.parent.name)
            client.images.build(
                path=str(HERE), dockerfile=str(dockerfile.relative_to(HERE)), tag=tag, rm=True
            )
            built.append(tag)
            if not quiet:
                print(f"built {tag}")
    finally:
        client.close()
    return built


if __name__ == "__main__":
    build_all(quiet="--quiet" in sys.argv)
