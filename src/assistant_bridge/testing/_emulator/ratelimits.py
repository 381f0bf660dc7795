"""Rate limits as the service applies them: requests and tokens per minute, per API key.

Each key has two buckets (requests, tokens) that refill continuously at the per-minute rate
and hold ``burst_seconds`` worth of it (60 by default: the minute's whole budget, as the
service's ``x-ratelimit-remaining-*`` headers count it; 1 to enforce per second, as the
service does for high limits). Every ``/v1`` request with a valid key takes one request;
requests that run a model (runs, responses) also take their estimated input tokens (about
four characters a token, as the service estimates before it runs). A request that does not
fit is answered 429 with the service's error body, ``retry-after-ms`` and ``retry-after``,
and takes nothing; every answer to a limited key carries the ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import attrs

from .errors import ApiError

__all__ = ["RateLimit", "RateLimiter", "TOKEN_ROUTES"]

#: Routes whose request runs a model, so its estimated tokens count against the TPM limit.
TOKEN_ROUTES = frozenset(
    {"runs.create", "threads.create_and_run", "runs.submit_tool_outputs", "responses.create"}
)


@attrs.frozen
class RateLimit:
    """Requests and tokens per minute for one API key (None: that dimension unlimited)."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    burst_seconds: float = 60.0

    def __attrs_post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                msg = f"{name} must be a positive integer or None, got {value!r}"
                raise ValueError(msg)
        if not 0 < self.burst_seconds <= 60:
            msg = f"burst_seconds must be in (0, 60], got {self.burst_seconds!r}"
            raise ValueError(msg)


@attrs.define
class _Bucket:
    limit: int  # per minute
    capacity: float
    level: float
    at: float

    @property
    def rate(self) -> float:
        return self.limit / 60.0

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` fits (0 when it does now)."""
        return max(0.0, (cost - self.level) / self.rate)

    def headers(self, kind: str) -> dict[str, str]:
        full_in = (self.capacity - self.level) / self.rate
        return {
            f"x-ratelimit-limit-{kind}": str(self.limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(self.level))),
            f"x-ratelimit-reset-{kind}": duration(full_in),
        }


def duration(seconds: float) -> str:
    """A wait as the service writes it in ``x-ratelimit-reset-*``: ``0s``, ``20ms``,
    ``1.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


class RateLimiter:
    """The buckets of every limited key, on ``clock`` (seconds)."""

    def __init__(
        self,
        limits: RateLimit | Mapping[str, RateLimit] | None,
        clock: Callable[[], float],
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    @property
    def active(self) -> bool:
        return self._limits is not None

    def _limit_for(self, key: str) -> RateLimit | None:
        if self._limits is None or isinstance(self._limits, RateLimit):
            return self._limits
        return self._limits.get(key)

    def _bucket(self, key: str, kind: str, limit: int, burst: float, now: float) -> _Bucket:
        found = self._buckets.get((key, kind))
        if found is None:
            capacity = limit * burst / 60.0
            found = self._buckets[(key, kind)] = _Bucket(limit, capacity, capacity, now)
        found.refill(now)
        return found

    def take(self, key: str, tokens: int, model: str | None) -> dict[str, str]:
        """Take one request and ``tokens`` for ``key``; the headers to answer with, or the
        service's 429 (nothing taken)."""
        limit = self._limit_for(key)
        if limit is None:
            return {}
        now = self._clock()
        buckets: list[tuple[Literal["requests", "tokens"], _Bucket, int]] = []
        if limit.requests_per_minute is not None:
            bucket = self._bucket(
                key, "requests", limit.requests_per_minute, limit.burst_seconds, now
            )
            buckets.append(("requests", bucket, 1))
        if limit.tokens_per_minute is not None:
            bucket = self._bucket(key, "tokens", limit.tokens_per_minute, limit.burst_seconds, now)
            buckets.append(("tokens", bucket, tokens))
        for kind, bucket, cost in buckets:
            if cost > bucket.level:
                raise self._refusal(kind, bucket, cost, model, buckets)
        for _, bucket, cost in buckets:
            bucket.level -= cost
        return self._headers(buckets)

    @staticmethod
    def _headers(
        buckets: list[tuple[Literal["requests", "tokens"], _Bucket, int]],
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        for kind, bucket, _ in buckets:
            headers.update(bucket.headers(kind))
        return headers

    def _refusal(
        self,
        kind: Literal["requests", "tokens"],
        bucket: _Bucket,
        cost: int,
        model: str | None,
        buckets: list[tuple[Literal["requests", "tokens"], _Bucket, int]],
    ) -> ApiError:
        wait = bucket.wait_for(cost)
        if cost > bucket.capacity:
            wait = 60.0  # never fits: the service still names a wait
        short = "RPM" if kind == "requests" else "TPM"
        used = max(0, math.ceil(bucket.capacity - bucket.level))
        # The service's words and shape for a limit reached (``type`` is the dimension).
        message = (
            f"Rate limit reached for {model or 'requests'} in organization org-emulator on "
            f"{kind} per min ({short}): Limit {bucket.limit}, Used {used}, Requested {cost}. "
            f"Please try again in {duration(wait)}. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        headers = {
            **self._headers(buckets),
            "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
            "retry-after": str(max(1, math.ceil(wait))),
        }
        return ApiError(429, message, type=kind, code="rate_limit_exceeded", headers=headers)
