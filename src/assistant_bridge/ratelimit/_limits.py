"""How much may be sent: a :class:`RateLimit` (requests and tokens per minute, and a burst)."""

from __future__ import annotations

import math

import attrs

from assistant_bridge._values.checks import check_count
from assistant_bridge.ratelimit._gcra import SECOND, Rates

__all__ = ["RateLimit"]

MAX_PER_MINUTE = 1_000_000_000
"""The largest limit accepted: more than any organization has, less than a unit slip."""


def _per_minute(_i: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None:
        check_count(value, attribute.name, low=1, high=MAX_PER_MINUTE)


def _burst(_i: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_count(value, attribute.name, low=0, high=1_000_000)


@attrs.frozen
class RateLimit:
    """A limit shared by every worker: requests and tokens per minute (None: not limited),
    spread evenly; ``burst`` more requests may go at once after a quiet spell.

    So no one-second window holds more than ``ceil(requests_per_minute / 60) + burst``
    requests. Tokens are
    spread the same way, with one second's worth of slack (an ask that needs more goes alone).
    With neither set, only the service's word is shared: cool-downs after a 429, and waits
    when its headers say nothing is left.
    """

    requests_per_minute: int | None = attrs.field(default=None, validator=_per_minute)
    tokens_per_minute: int | None = attrs.field(default=None, validator=_per_minute)
    burst: int = attrs.field(default=0, validator=_burst)

    def rates(self) -> Rates:
        """The limit in the GCRA cells' units (microseconds per request and per token)."""
        rpm, tpm = self.requests_per_minute, self.tokens_per_minute
        request_interval = 60 * SECOND / rpm if rpm else 0.0
        token_interval = 60 * SECOND / tpm if tpm else 0.0
        return Rates(
            request_interval=request_interval,
            request_window=request_interval * (self.burst + 1),
            token_interval=token_interval,
            token_window=float(SECOND) if tpm else 0.0,
        )

    def per_second(self) -> int | None:
        """The most requests any one-second window holds: ``ceil(rpm / 60) + burst``."""
        rpm = self.requests_per_minute
        return None if rpm is None else math.ceil(rpm / 60) + self.burst
