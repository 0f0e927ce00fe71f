"""The server's record of every request, for tests that count writes or look for leaked secrets."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/api/v3"
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with Authorization values replaced by `<scheme> ****`."""
    out = {}
    for name, value in headers.items():
        if name.lower() in ("authorization", "proxy-authorization"):
            scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
            value = f"{scheme} ****".strip()
        out[name] = value
    return out


def is_write(method: str, path: str) -> bool:
    """REST calls that change something, and git pushes; a git fetch (upload-pack) is a read."""
    if path.endswith("/git-receive-pack"):
        return True
    if path.endswith("/git-upload-pack"):
        return False
    return method.upper() in WRITE_METHODS


@dataclass
class RecordedRequest:
    """One request and its answer. `raw_body` may still grow while a git push streams in."""

    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str]
    raw_body: bytes | bytearray
    response_body: bytes
    response_headers: dict[str, str]
    write: bool
    started: float
    fault: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    violations: tuple[str, ...] = ()  # how the request differs from GitHub's description

    @property
    def body(self) -> bytes:
        """The request body as sent."""
        return bytes(self.raw_body)

    @property
    def api_path(self) -> str | None:
        """The REST path without the `/api/v3` prefix, None for git requests."""
        if self.path == API_PREFIX or self.path.startswith(API_PREFIX + "/"):
            return self.path[len(API_PREFIX) :] or "/"
        return None

    @property
    def api(self) -> bool:
        """Whether this was a REST call (under /api/v3)."""
        return self.api_path is not None

    @property
    def git(self) -> bool:
        """Whether this was git over HTTP."""
        return not self.api and ".git/" in self.path

    @property
    def json(self) -> Any:
        """The request body as JSON (None when empty)."""
        return json.loads(self.body) if self.body.strip() else None

    @property
    def response_json(self) -> Any:
        """The response body as JSON (None when empty or not kept, as for git)."""
        return json.loads(self.response_body) if self.response_body.strip() else None


class Recorder:
    """A thread-safe list of RecordedRequest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RecordedRequest] = []

    def add(self, item: RecordedRequest) -> None:
        """Append a request."""
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget the requests so far."""
        with self._lock:
            self._items.clear()
