"""What the service says of its limit, read from an answer's ``x-ratelimit-*`` headers."""

from __future__ import annotations

from collections.abc import Mapping

from assistant_bridge.ratelimit._store import Observe
from assistant_bridge.transports._openai import _duration

__all__ = ["service_view"]


def _count(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return None if value is None else int(float(value.strip()))
    except ValueError:
        return None


def service_view(headers: Mapping[str, str]) -> Observe | None:
    """The :class:`Observe` command for an answer's headers, or None when they say nothing.

    ``x-ratelimit-remaining-requests`` / ``-tokens`` say how much is left now. When nothing
    is left, ``x-ratelimit-reset-requests`` (the time until the limit is whole again) over
    ``x-ratelimit-limit-requests`` is how soon the service frees the next request.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    requests_left = _count(lower, "x-ratelimit-remaining-requests")
    tokens_left = _count(lower, "x-ratelimit-remaining-tokens")
    if requests_left is None and tokens_left is None:
        return None
    cool = 0.0
    limit = _count(lower, "x-ratelimit-limit-requests")
    reset = _duration(lower.get("x-ratelimit-reset-requests", ""))
    if requests_left == 0 and limit and reset is not None:
        cool = reset / limit
    return Observe(requests_left, tokens_left, cool)
