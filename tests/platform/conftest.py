"""Pipeline images with real Kubernetes clients, built offline by the test set-up (once per
machine for the Debian base: see kube_images.py)."""

from __future__ import annotations

import kube_images
import pytest


@pytest.fixture(scope="session")
def kube_image(engine_url: str) -> str:
    """Debian bookworm with kubectl (kubernetes-client) and the official Python client."""
    return kube_images.kube_image(engine_url)


@pytest.fixture(scope="session")
def sdk_image(engine_url: str) -> str:
    """An image whose pipeline is written with the Kratix Python SDK from PyPI."""
    return kube_images.sdk_image(engine_url)
