"""The limiter every request takes a slot from before it is sent: :class:`Limiter` and its
async twin :class:`AsyncLimiter`, over a store (in process, or Redis).

What to do is decided once, in :func:`acquiring` (a generator that yields what it needs:
a store command or a sleep); the two limiters only run its commands and sleep, called or
awaited.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Self, TypeAlias

import attrs

from assistant_bridge.ratelimit._errors import RateLimitTimeoutError
from assistant_bridge.ratelimit._gcra import observing_tightens
from assistant_bridge.ratelimit._headers import service_view
from assistant_bridge.ratelimit._limits import RateLimit
from assistant_bridge.ratelimit._redis import AsyncRedisStore, RedisStore
from assistant_bridge.ratelimit._store import (
    AsyncStore,
    Command,
    CoolDown,
    Cooling,
    Correct,
    Observe,
    Reserve,
    Store,
    Verdict,
)
from assistant_bridge.ratelimit._url import memory_store, parse_url

__all__ = ["AsyncLimiter", "Limiter", "Slot", "acquiring"]

DEFAULT_COOL_DOWN = 1.0
"""Seconds nothing starts after a 429 that did not say how long to wait."""


@attrs.frozen
class Slot:
    """A slot taken: the ``tokens`` it was charged and the seconds ``waited`` for it."""

    tokens: int
    waited: float


@attrs.frozen
class _Sleep:
    seconds: float


Need: TypeAlias = Command | _Sleep
"""What :func:`acquiring` asks its driver for: a store command's answer, or a sleep."""


def acquiring(
    tokens: int, within: float | None, clock: Callable[[], float], limit: RateLimit
) -> Generator[Need, Any, Slot]:
    """Take a slot for a request costing ``tokens``, starting within ``within`` seconds
    (None: however long it takes).

    The store reserves the slot and says how long to wait for it. If the service asked for a
    cool-down meanwhile (a 429 elsewhere), the tokens are given back and a new slot is taken
    after the cool-down. A slot that cannot start in time raises RateLimitTimeoutError and
    nothing is reserved.
    """
    start = clock()
    end = math.inf if within is None else start + within
    while True:
        verdict: Verdict = yield Reserve(tokens, max(0.0, end - clock()))
        if not verdict.granted:
            left = max(0.0, end - start)
            msg = (
                f"No slot of the rate limit ({_describe(limit)}) comes free within the "
                f"{left:.1f}s the ask has left; the next is {verdict.wait:.1f}s away. Nothing "
                "was sent: ask again later, give the ask more time, or raise the limit."
            )
            raise RateLimitTimeoutError(msg, retry_after=verdict.wait)
        if verdict.wait <= 0:
            return Slot(tokens, clock() - start)
        yield _Sleep(verdict.wait)
        cooling: float = yield Cooling()
        if cooling <= 0:
            return Slot(tokens, clock() - start)
        yield Correct(tokens=-tokens)


def _describe(limit: RateLimit) -> str:
    parts = [f"{limit.requests_per_minute} requests"] if limit.requests_per_minute else []
    parts += [f"{limit.tokens_per_minute} tokens"] if limit.tokens_per_minute else []
    return " and ".join(parts) + " a minute" if parts else "the service's cool-down only"


def _tightening(headers: Mapping[str, str], limit: RateLimit) -> Observe | None:
    """The Observe command for ``headers``, or None when it could not change the cells."""
    view = service_view(headers)
    if view is None:
        return None
    rates = limit.rates()
    if view.cool > 0 or observing_tightens(rates, view.requests_left, view.tokens_left):
        return view
    return None


def _cool_down(retry_after: float | None) -> CoolDown:
    return CoolDown(DEFAULT_COOL_DOWN if retry_after is None else max(0.0, retry_after))


class _LimiterBase:
    """What both limiters share: the store, the clock and the repr."""

    def __init__(self, store: Any, *, clock: Callable[[], float], sleep: Any) -> None:
        self._store = store
        self._clock = clock
        self._sleep = sleep

    @property
    def limit(self) -> RateLimit:
        """The limit this limiter enforces."""
        return self._store.limit  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self._store!r})>"


class Limiter(_LimiterBase):
    """A shared rate limit, taken from before every request (see :meth:`acquire`).

    Build it from a URL (:meth:`from_url`: ``memory://?rpm=500`` in this process,
    ``redis://host/0?rpm=500&name=org`` across processes), or from a store. ``clock`` and
    ``sleep`` (``time.monotonic``, ``time.sleep``) may be replaced in tests.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(store, clock=clock, sleep=sleep)
        self._store: Store = store
        self._sleep: Callable[[float], None] = sleep

    @classmethod
    def from_url(cls, url: str) -> Self:
        """The limiter ``url`` describes (see :mod:`assistant_bridge.ratelimit`)."""
        parsed = parse_url(url)
        if parsed.scheme == "memory":
            return cls(memory_store(parsed.name, parsed.limit))
        return cls(RedisStore.from_url(parsed.server, parsed.limit, name=parsed.name))

    def acquire(self, tokens: int = 0, *, within: float | None = None) -> Slot:
        """Wait for a slot for one request that may use ``tokens``, at most ``within``
        seconds; RateLimitTimeoutError (nothing reserved) when none comes free in time."""
        flow = acquiring(tokens, within, self._clock, self.limit)
        answer: Any = None
        while True:
            try:
                need = flow.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(need, _Sleep):
                self._sleep(need.seconds)
                answer = None
            else:
                answer = self._store.run(need)

    def correct(self, tokens: int = 0, *, requests: int = 0) -> None:
        """Charge ``tokens`` more (fewer, when negative: an estimate was too high) and
        ``requests`` more (sent without a slot), once the reply says what was used."""
        if tokens or requests:
            self._store.run(Correct(tokens, requests))

    def cool_down(self, retry_after: float | None) -> None:
        """The service answered 429: nothing starts, in any worker, for ``retry_after``
        seconds (1s when it did not say)."""
        self._store.run(_cool_down(retry_after))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the limiter's view from an answer's ``x-ratelimit-*`` headers (the store
        is only asked when they say less is left than the limiter allows at once)."""
        view = _tightening(headers, self.limit)
        if view is not None:
            self._store.run(view)

    def close(self) -> None:
        """Release the store's connections (an in-process store has none)."""
        self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncLimiter(_LimiterBase):
    """The async twin of :class:`Limiter`: the same decisions, awaited."""

    def __init__(
        self,
        store: AsyncStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(store, clock=clock, sleep=sleep)
        self._store: AsyncStore = store
        self._sleep: Callable[[float], Awaitable[None]] = sleep

    @classmethod
    def from_url(cls, url: str) -> Self:
        """See :meth:`Limiter.from_url`."""
        parsed = parse_url(url)
        if parsed.scheme == "memory":
            return cls(memory_store(parsed.name, parsed.limit))
        return cls(AsyncRedisStore.from_url(parsed.server, parsed.limit, name=parsed.name))

    async def acquire(self, tokens: int = 0, *, within: float | None = None) -> Slot:
        """See :meth:`Limiter.acquire`."""
        flow = acquiring(tokens, within, self._clock, self.limit)
        answer: Any = None
        while True:
            try:
                need = flow.send(answer)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(need, _Sleep):
                await self._sleep(need.seconds)
                answer = None
            else:
                answer = await self._store.arun(need)

    async def correct(self, tokens: int = 0, *, requests: int = 0) -> None:
        """See :meth:`Limiter.correct`."""
        if tokens or requests:
            await self._store.arun(Correct(tokens, requests))

    async def cool_down(self, retry_after: float | None) -> None:
        """See :meth:`Limiter.cool_down`."""
        await self._store.arun(_cool_down(retry_after))

    async def observe(self, headers: Mapping[str, str]) -> None:
        """See :meth:`Limiter.observe`."""
        view = _tightening(headers, self.limit)
        if view is not None:
            await self._store.arun(view)

    async def aclose(self) -> None:
        """See :meth:`Limiter.close`."""
        await self._store.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
