"""GitHub's primary rate limit: a budget per caller per hour, reported in `x-ratelimit-*`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WINDOW = 3600
LIMITS = {"installation": 5000, "app": 5000, "ip": 60}


@dataclass
class Window:
    """One caller's budget for the current hour."""

    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        """The `x-ratelimit-*` headers GitHub sends with every answer."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": "core",
        }


class RateLimits:
    """Windows by caller (`installation:<id>`, `app:<id>`, `ip:<address>`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, Window] = {}
        self.limits = dict(LIMITS)

    def window(self, caller: str) -> Window:
        """The caller's current window, a fresh one after the reset time."""
        now = int(time.time())
        with self._lock:
            found = self._windows.get(caller)
            if found is None or found.reset <= now:
                limit = self.limits.get(caller.split(":", 1)[0], LIMITS["ip"])
                found = Window(limit, 0, now + WINDOW)
                self._windows[caller] = found
            return found

    def spend(self, caller: str) -> Window:
        """Count one request against the caller."""
        found = self.window(caller)
        with self._lock:
            found.used += 1
        return found
