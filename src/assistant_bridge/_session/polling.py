"""How long to wait between two looks at a run: poll policy strategies.

A policy only computes delays; the session flow sleeps through the driver, whose clock and
sleep are injectable, so tests never really sleep.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from assistant_bridge._values.checks import factor_field, seconds_field
from assistant_bridge._values.value import Value

__all__ = ["AdaptivePolling", "FixedInterval", "PollPolicy"]


@runtime_checkable
class PollPolicy(Protocol):
    """Chooses the wait before the next poll."""

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        """Seconds to wait before poll number ``attempt`` (0-based); the server may hint."""
        ...


@attrs.frozen(repr=False)
class FixedInterval(Value):
    """Always the same wait (the seed's 1 s); ignores the server's hint unless told."""

    interval: float = attrs.field(default=1.0, validator=seconds_field)
    honour_server_hint: bool = False

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        if self.honour_server_hint and server_hint_ms is not None:
            return server_hint_ms / 1000
        return self.interval


@attrs.frozen(repr=False)
class AdaptivePolling(Value):
    """The default: a first look at 0.5 s, then waits growing by ``factor`` to ``cap``; the
    server's hint (``openai-poll-after-ms``) wins when sent, up to ``max_server_hint``.

    Looks fall at 0.5, 1.25, 2.05 s and then every 0.8 s. Over runs of 0.5-10 s that is fewer
    requests per question and a shorter wait after the run's end than the seed's loop (look,
    then sleep 1 s): no look is spent at 0 s, and this library needs one or two calls fewer
    around the polls, which pays for looking more often. Long runs poll 1.25 times a second;
    raise ``cap`` to trade latency for requests (``docs/performance.md`` has the figures).
    """

    initial: float = attrs.field(default=0.5, validator=seconds_field)
    factor: float = attrs.field(default=1.5, validator=factor_field)
    cap: float = attrs.field(default=0.8, validator=seconds_field)
    honour_server_hint: bool = True
    max_server_hint: float = attrs.field(default=10.0, validator=seconds_field)

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        if self.honour_server_hint and server_hint_ms is not None:
            return min(server_hint_ms / 1000, self.max_server_hint)
        return float(min(self.cap, self.initial * self.factor ** max(attempt, 0)))
