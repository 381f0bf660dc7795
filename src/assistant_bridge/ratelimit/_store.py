"""Where a limit's state lives: what a store is asked (commands, as values), and the
in-process store.

A store holds the GCRA cells of one limit and answers one command at a time, atomically:
:class:`MemoryStore` under a lock on ``time.monotonic``, :class:`~._redis.RedisStore` as a
Lua script on the Redis server's clock. Both apply the same arithmetic (:mod:`._gcra`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias

import attrs

from assistant_bridge.ratelimit import _gcra
from assistant_bridge.ratelimit._gcra import SECOND
from assistant_bridge.ratelimit._limits import RateLimit

__all__ = [
    "Command",
    "CoolDown",
    "Cooling",
    "Correct",
    "MemoryStore",
    "Observe",
    "Reserve",
    "Store",
    "AsyncStore",
    "Verdict",
]


@attrs.frozen
class Reserve:
    """Reserve a slot for one request costing ``tokens``, if it can start within
    ``max_wait`` seconds; answered with a :class:`Verdict`."""

    tokens: int
    max_wait: float


@attrs.frozen
class Verdict:
    """A reservation's answer: granted or not, and the wait until the slot (in seconds)."""

    granted: bool
    wait: float


@attrs.frozen
class Correct:
    """Charge ``tokens`` more (fewer when negative) and ``requests`` more after the fact."""

    tokens: int = 0
    requests: int = 0


@attrs.frozen
class CoolDown:
    """Let nothing start for ``seconds`` (the service answered 429)."""

    seconds: float


@attrs.frozen
class Observe:
    """What the service says is left, and ``cool`` seconds until it frees more when it
    said nothing is left (0 otherwise)."""

    requests_left: int | None
    tokens_left: int | None
    cool: float = 0.0


@attrs.frozen
class Cooling:
    """How many seconds of cool-down are left (answered with a float)."""


Command: TypeAlias = Reserve | Correct | CoolDown | Observe | Cooling
"""What a store is asked; each is answered atomically."""


class Store(Protocol):
    """Holds one limit's cells and answers commands (blocking I/O, if any)."""

    limit: RateLimit

    def run(self, command: Command) -> Any: ...

    def close(self) -> None: ...


class AsyncStore(Protocol):
    """The async twin of :class:`Store`."""

    limit: RateLimit

    async def arun(self, command: Command) -> Any: ...

    async def aclose(self) -> None: ...


def apply(
    cells: _gcra.Cells, rates: _gcra.Rates, now: float, command: Command
) -> tuple[_gcra.Cells, Any]:
    """The new cells and the answer to ``command`` at ``now`` (microseconds)."""
    if isinstance(command, Reserve):
        max_wait = min(command.max_wait, 1e9) * SECOND
        cells, granted, wait = _gcra.reserve(cells, rates, now, command.tokens, max_wait)
        return cells, Verdict(granted, max(0.0, wait) / SECOND)
    if isinstance(command, Correct):
        return _gcra.correct(cells, rates, now, command.tokens, command.requests), None
    if isinstance(command, CoolDown):
        return _gcra.cool_down(cells, now, command.seconds), None
    if isinstance(command, Observe):
        cells = _gcra.observe(cells, rates, now, command.requests_left, command.tokens_left)
        return _gcra.cool_down(cells, now, command.cool), None
    return cells, max(0.0, cells.cool - now) / SECOND


class MemoryStore:
    """One limit's cells in this process, shared by every session (sync or async) and thread
    that holds the store. The default; ``memory://`` URLs of the same name and limit get the
    same store."""

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._rates = limit.rates()
        self._clock = clock
        self._cells = _gcra.Cells()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<MemoryStore({self.limit!r})>"

    def run(self, command: Command) -> Any:
        with self._lock:
            now = self._clock() * SECOND
            self._cells, answer = apply(self._cells, self._rates, now, command)
            return answer

    async def arun(self, command: Command) -> Any:
        """As :meth:`run`: nothing to await, the lock is held for microseconds."""
        return self.run(command)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""
