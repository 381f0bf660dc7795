"""A rate-limiting front for the emulator, as the service limits: until the emulator limits by
itself (issue 27, part 3), the storm benchmark and its test put this in front of it.

:class:`Limiting` wraps the emulator's HTTP app: every ``/v1`` request takes from a bucket of
``rpm`` requests a minute with ``burst`` extra at once (GCRA, so no one-second window holds more
than ``ceil(rpm / 60) + burst`` accepted requests); one that finds it empty is answered 429 with
the service's error body, ``retry-after-ms`` and ``retry-after``, and every answer carries
``x-ratelimit-limit-requests``, ``-remaining-requests`` and ``-reset-requests``. It logs when
each request arrived and how it was answered, for the storm's figures.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import attrs

from assistant_bridge.testing._emulator.http import Request, Reset, Response

__all__ = ["Limiting", "install"]


class Limiting:
    """The emulator's app behind a requests-per-minute limit (see the module's docstring)."""

    def __init__(self, app: Any, rpm: int, burst: int = 0) -> None:
        self._app = app
        self.rpm = rpm
        self.burst = burst
        self._interval = 60.0 / rpm
        self._tat = 0.0
        self._lock = threading.Lock()
        #: (arrival on time.monotonic, status answered) for every /v1 request.
        self.log: list[tuple[float, int]] = []

    def _take(self, now: float) -> tuple[bool, float, int]:
        """Accepted or not, seconds until the next slot, and the requests left now."""
        with self._lock:
            window = self._interval * (self.burst + 1)
            tat = max(self._tat, now)
            if tat + self._interval - now > window + 1e-9:
                return False, tat + self._interval - window - now, 0
            self._tat = tat + self._interval
            left = int((window - (self._tat - now)) // self._interval)
            return True, 0.0, max(0, left)

    async def __call__(self, request: Request) -> Response | Reset:
        now = time.monotonic()
        if not request.path.startswith("/v1/"):
            return await self._app(request)  # type: ignore[no-any-return]
        accepted, wait, left = self._take(now)
        headers = {
            "x-ratelimit-limit-requests": str(self.rpm),
            "x-ratelimit-remaining-requests": str(left),
            "x-ratelimit-reset-requests": f"{int((self.rpm - left) * self._interval * 1000)}ms",
        }
        if accepted:
            answer = await self._app(request)
            if isinstance(answer, Response):
                answer = attrs.evolve(answer, headers={**answer.headers, **headers})
        else:
            body = {
                "error": {
                    "message": f"Rate limit reached for requests per min (RPM): Limit "
                    f"{self.rpm}, Used {self.rpm}, Requested 1. Please try again in "
                    f"{math.ceil(wait * 1000)}ms.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
            headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            headers["retry-after"] = str(math.ceil(wait))
            headers["content-type"] = "application/json"
            answer = Response(429, headers, json.dumps(body).encode())
        with self._lock:
            self.log.append((now, answer.status if isinstance(answer, Response) else 0))
        return answer


def install(emulator: Any, rpm: int, burst: int = 0) -> Limiting:
    """Put a :class:`Limiting` front on a not yet started ``Emulator`` and return it."""
    front = Limiting(emulator.app, rpm, burst)
    emulator._server._app = front
    return front
