"""How long to wait between two looks at a run: poll policy strategies.

A policy only computes delays; the session flow sleeps through the driver, whose clock and
sleep are injectable, so tests never really sleep.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from assistant_bridge._values.checks import factor_field, seconds_field

__all__ = ["AdaptivePolling", "FixedInterval", "PollPolicy"]


@runtime_checkable
class PollPolicy(Protocol):
    """Chooses the wait before the next poll."""

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        """Seconds to wait before poll number ``attempt`` (0-based); the server may hint."""
        ...


@attrs.frozen
class FixedInterval:
    """Always the same wait (the seed's 1 s); ignores the server's hint unless told."""

    interval: float = attrs.field(default=1.0, validator=seconds_field)
    honour_server_hint: bool = False

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        if self.honour_server_hint and server_hint_ms is not None:
            return server_hint_ms / 1000
        return self.interval


@attrs.frozen
class AdaptivePolling:
    """Short first waits growing by ``factor`` to ``cap``; the server's hint wins when sent.

    Most runs end within a few seconds, so early polls are cheap and quick; long runs settle at
    one poll per ``cap`` seconds. A server hint (``openai-poll-after-ms``) is used as is, up to
    ``max_server_hint`` seconds, so a misbehaving proxy cannot stall the ask.
    """

    initial: float = attrs.field(default=0.2, validator=seconds_field)
    factor: float = attrs.field(default=1.5, validator=factor_field)
    cap: float = attrs.field(default=2.0, validator=seconds_field)
    honour_server_hint: bool = True
    max_server_hint: float = attrs.field(default=10.0, validator=seconds_field)

    def delay(self, attempt: int, server_hint_ms: int | None) -> float:
        if self.honour_server_hint and server_hint_ms is not None:
            return min(server_hint_ms / 1000, self.max_server_hint)
        return float(min(self.cap, self.initial * self.factor ** max(attempt, 0)))
