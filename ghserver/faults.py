"""Faults that tests inject: rate limits, server errors and slow answers for the next requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal[
    "rate_limit", "too_many_requests", "primary_rate_limit", "server_error", "delay"
]
KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "too_many_requests",
    "primary_rate_limit",
    "server_error",
    "delay",
)


@dataclass
class Fault:
    """Answer the next `count` matching requests with `kind` instead of the real answer.

    - rate_limit: 403 "You have exceeded a secondary rate limit" with `retry-after`,
      `x-ratelimit-remaining: 0` and `x-ratelimit-reset` `retry_after` seconds ahead;
    - too_many_requests: the same with 429;
    - primary_rate_limit: 403 "API rate limit exceeded", `x-ratelimit-remaining: 0` and
      `x-ratelimit-reset` `retry_after` seconds ahead, no `retry-after`;
    - server_error: `status` (a 5xx) with GitHub's "Server Error" body;
    - delay: wait `seconds`, then answer normally.
    A request matches when its method is `method` (any if None) and its path starts with `path`
    (`/api/v3/repos/...` or just `/repos/...`, or `/<owner>/<repo>.git/...`; any if None).
    """

    kind: FaultKind
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int = 502
    retry_after: int = 1
    seconds: float = 0.0
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None:
            return True
        return path.startswith(self.path) or path.removeprefix("/api/v3").startswith(self.path)


class Faults:
    """The pending faults, first added first used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Queue a fault and return it (its `hits` counts the requests it answered)."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {', '.join(KINDS)}")
        if fault.kind == "server_error" and not 500 <= fault.status <= 599:
            raise ValueError(f"a server error needs a 5xx status, not {fault.status}")
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first pending fault for this request, used up once it has answered `count`."""
        with self._lock:
            for fault in self._pending:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.hits >= fault.count:
                        self._pending.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    @property
    def pending(self) -> list[Fault]:
        """The faults not used up yet."""
        with self._lock:
            return list(self._pending)
