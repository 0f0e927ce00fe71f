"""Where the platform API listens: only where the engine's containers reach the host.

On most hosts the engine's bridge gateway (Docker's `docker0`, Podman's `podman0`; the address
`host.containers.internal` and Docker's `host-gateway` name) is a host address: the API listens
there and nowhere else. Where the bridge lives in another network namespace (rootless or
sandboxed engines), the gateway is not a host address; containers then reach the host through
its address on the route towards that gateway, so the API listens on that one address.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from gitbot.platform.server import PlatformServer

_SHARED: dict[tuple[Path, str], PlatformServer] = {}
_LOCK = threading.Lock()


def listen_address(gateway: str | None, network: str | None) -> str | None:
    """The address to listen on for containers on `network`; None when they have no network."""
    if network == "none":
        return None
    if network == "host" or gateway is None:
        return "127.0.0.1"
    if _bindable(gateway):
        return gateway
    return _route_source(gateway)


def _bindable(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _route_source(address: str) -> str:
    # A UDP connect sends nothing; it only asks the kernel which local address routes there.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((address, 9))
        return str(probe.getsockname()[0])


def shared_server(ca_folder: Path, host: str) -> PlatformServer:
    """One server per (CA folder, address) for the whole process, started on first use."""
    key = (ca_folder.resolve(), host)
    with _LOCK:
        server = _SHARED.get(key)
        if server is None:
            server = _SHARED[key] = PlatformServer(ca_folder, host)
        return server
