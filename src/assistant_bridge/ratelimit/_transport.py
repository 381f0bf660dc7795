"""The limiter around a transport: every operation takes a slot before it is sent.

:class:`RateLimitedTransport` (and :class:`AsyncRateLimitedTransport`) wrap any transport and
handle ``perform`` once: the operation is charged a request and, when it starts or continues
a run, the tokens :func:`ask_tokens` estimates; it waits for its slot within its budget (the
ask's deadline) and then goes, with what is left of the budget. What comes back corrects the
limiter: each answer's ``x-ratelimit-*`` headers, extra requests an operation made (a lookup
before a create), the run's usage once known (its estimate is replaced by what it cost), and
a 429, which cools every worker down for its Retry-After.

What to tell the limiter is decided once (:class:`_Meter`); the two wrappers only call it or
await it.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, TypeVar, cast, overload

import attrs

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import Run
from assistant_bridge.exceptions import RateLimitError
from assistant_bridge.ratelimit._errors import RateLimitStoreError, RateLimitTimeoutError
from assistant_bridge.ratelimit._estimate import estimate_tokens
from assistant_bridge.ratelimit._limiter import AsyncLimiter, Limiter, Slot
from assistant_bridge.transports import ops
from assistant_bridge.transports._protocol import ON_ANSWER, AsyncTransport, Transport
from assistant_bridge.transports.ops import Op

__all__ = ["AsyncRateLimitedTransport", "RateLimitedTransport", "ask_tokens"]

logger = logging.getLogger("assistant_bridge")
T = TypeVar("T")

SEND_RESERVE = 1.0
"""Seconds of an operation's budget kept for sending it (at most half the budget): a slot
later than that is refused, as the request would have no time left."""

RUN_OPS = (
    ops.StartRun,
    ops.CreateThreadAndRun,
    ops.SubmitToolOutputs,
    ops.StreamRun,
    ops.StreamThreadAndRun,
    ops.StreamToolOutputs,
)
"""The operations that make the model work, so cost tokens."""

MAX_RUNS = 10_000
"""Runs whose estimate waits for their usage; beyond it the oldest keep their estimate."""


def ask_tokens(op: Op[Any]) -> int:
    """The tokens ``op`` is charged before it is sent: 0 unless it starts or continues a run;
    else :func:`~assistant_bridge.ratelimit.estimate_tokens` of the message, the instructions
    sent with it and the tool outputs."""
    if not isinstance(op, RUN_OPS):
        return 0
    texts = [getattr(op, "content", None)]
    request = getattr(op, "request", None)
    if request is not None:
        texts += [request.instructions, request.additional_instructions]
        if request.assistant is not None:
            texts.append(request.assistant.instructions)
    texts += [output.output for output in getattr(op, "outputs", ())]
    return estimate_tokens(*texts)


@attrs.define
class _Heard:
    """The answers an operation's requests got: how many, and the last one's headers."""

    count: int = 0
    headers: Mapping[str, str] | None = None

    def __call__(self, headers: Mapping[str, str]) -> None:
        self.count += 1
        self.headers = headers


@attrs.frozen
class Tell:
    """One thing to tell the limiter: its ``method`` (``correct``, ``observe``,
    ``cool_down``) called with ``kwargs``."""

    method: str
    kwargs: Mapping[str, Any]


class _Meter:
    """What the wrapper decides, sans-I/O: how long an operation may wait, and what to tell
    the limiter after it (from its answers, its error, or the runs it returns)."""

    def __init__(self) -> None:
        self._charged: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def within(op: Op[Any]) -> float | None:
        """How long ``op`` may wait for its slot: its budget less the send reserve."""
        if op.budget is None:
            return None
        return max(0.0, op.budget - min(SEND_RESERVE, op.budget / 2))

    @staticmethod
    def sent(op: Op[T], slot: Slot) -> Op[T]:
        """``op`` with the budget its wait left."""
        if op.budget is None or slot.waited <= 0:
            return op
        return attrs.evolve(op, budget=max(0.05, op.budget - slot.waited))

    @staticmethod
    def heard(heard: _Heard, error: BaseException | None) -> list[Tell]:
        """From the answers: the service's view, the requests beyond the one charged, and a
        cool-down for a 429 (not for our own RateLimitTimeoutError)."""
        tell = []
        if heard.headers is not None:
            tell.append(Tell("observe", {"headers": heard.headers}))
        if heard.count > 1:
            tell.append(Tell("correct", {"requests": heard.count - 1}))
        if isinstance(error, RateLimitError) and not isinstance(error, RateLimitTimeoutError):
            tell.append(Tell("cool_down", {"retry_after": error.retry_after}))
        return tell

    def ran(self, value: object, tokens: int) -> list[Tell]:
        """For a run an operation returned (or a stream's event showed): remember what it was
        charged; once its usage is known, correct the charge to it."""
        run = getattr(value, "run", value)
        if not isinstance(run, Run):
            return []
        with self._lock:
            if tokens:
                self._charged[run.id] = self._charged.pop(run.id, 0) + tokens
                while len(self._charged) > MAX_RUNS:
                    self._charged.popitem(last=False)
            if run.usage is None or run.id not in self._charged:
                return []
            charged = self._charged.pop(run.id)
        return [Tell("correct", {"tokens": run.usage.total_tokens - charged})]


class _StreamMeter:
    """What a stream's events tell the meter: the stream's tokens are charged to the first
    run it shows, and that run's usage (at the stream's end) corrects them."""

    def __init__(self, meter: _Meter, tokens: int) -> None:
        self._meter, self._tokens = meter, tokens

    def saw(self, event: RunEvent) -> list[Tell]:
        tell = self._meter.ran(event, self._tokens)
        if isinstance(getattr(event, "run", None), Run):
            self._tokens = 0
        return tell


def _told(error: Exception) -> None:
    logger.warning("the rate limiter could not be corrected after a request: %s", error)


class RateLimitedTransport:
    """A transport whose every operation takes a slot from ``limiter`` before it is sent.

    ``limiter`` is a :class:`~assistant_bridge.ratelimit.Limiter` or its URL
    (``"redis://redis:6379/0?rpm=500&tpm=200000&name=org"``). It can do what the wrapped
    transport can (``supports``), and closing it closes the wrapped transport.
    """

    def __init__(self, transport: Transport, limiter: Limiter | str) -> None:
        self._transport = transport
        self.limiter = Limiter.from_url(limiter) if isinstance(limiter, str) else limiter
        self._meter = _Meter()

    def __repr__(self) -> str:
        return f"<RateLimitedTransport({self._transport!r}, {self.limiter!r})>"

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """What the wrapped transport supports."""
        return self._transport.supports(op_type)

    def perform(self, op: Op[T], /) -> T:
        """Take a slot for ``op`` (RateLimitTimeoutError, nothing sent, when none comes free
        within its budget), perform it, and correct the limiter from what came back."""
        tokens = ask_tokens(op)
        slot = self.limiter.acquire(tokens, within=self._meter.within(op))
        heard = _Heard()
        listening = ON_ANSWER.set(heard)
        error: BaseException | None = None
        try:
            result = self._transport.perform(self._meter.sent(op, slot))
        except BaseException as exc:
            error = exc
            raise
        finally:
            ON_ANSWER.reset(listening)
            self._tell(self._meter.heard(heard, error))
        if op.streams:
            return cast(T, _Metered(cast(Iterator[RunEvent], result), self, tokens))
        self._tell(self._meter.ran(result, tokens))
        return result

    def _tell(self, tell: list[Tell]) -> None:
        for item in tell:
            try:
                getattr(self.limiter, item.method)(**item.kwargs)
            except RateLimitStoreError as exc:  # the request is done: keep its result
                _told(exc)

    def close(self) -> None:
        """Close the wrapped transport (the limiter is the caller's, or shared)."""
        self._transport.close()

    def __enter__(self) -> RateLimitedTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Metered(Iterator[RunEvent]):
    """A stream's events, each shown to the meter (a run's usage arrives at its end)."""

    def __init__(
        self, events: Iterator[RunEvent], owner: RateLimitedTransport, tokens: int
    ) -> None:
        self._events, self._owner = events, owner
        self._seen = _StreamMeter(owner._meter, tokens)

    def __next__(self) -> RunEvent:
        event = next(self._events)
        self._owner._tell(self._seen.saw(event))
        return event

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


class AsyncRateLimitedTransport:
    """The async twin of :class:`RateLimitedTransport`, over an
    :class:`~assistant_bridge.ratelimit.AsyncLimiter` (or its URL)."""

    def __init__(self, transport: AsyncTransport, limiter: AsyncLimiter | str) -> None:
        self._transport = transport
        self.limiter = AsyncLimiter.from_url(limiter) if isinstance(limiter, str) else limiter
        self._meter = _Meter()

    def __repr__(self) -> str:
        return f"<AsyncRateLimitedTransport({self._transport!r}, {self.limiter!r})>"

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """What the wrapped transport supports."""
        return self._transport.supports(op_type)

    @overload
    async def perform(self, op: Op[Iterator[RunEvent]], /) -> AsyncIterator[RunEvent]: ...
    @overload
    async def perform(self, op: Op[T], /) -> T: ...
    async def perform(self, op: Op[Any], /) -> Any:
        """See :meth:`RateLimitedTransport.perform`."""
        tokens = ask_tokens(op)
        slot = await self.limiter.acquire(tokens, within=self._meter.within(op))
        heard = _Heard()
        listening = ON_ANSWER.set(heard)
        error: BaseException | None = None
        try:
            result = await self._transport.perform(self._meter.sent(op, slot))
        except BaseException as exc:
            error = exc
            raise
        finally:
            ON_ANSWER.reset(listening)
            await self._tell(self._meter.heard(heard, error))
        if op.streams:
            return _AsyncMetered(result, self, tokens)
        await self._tell(self._meter.ran(result, tokens))
        return result

    async def _tell(self, tell: list[Tell]) -> None:
        for item in tell:
            try:
                await getattr(self.limiter, item.method)(**item.kwargs)
            except RateLimitStoreError as exc:
                _told(exc)

    async def aclose(self) -> None:
        """See :meth:`RateLimitedTransport.close`."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncRateLimitedTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _AsyncMetered(AsyncIterator[RunEvent]):
    """The async twin of :class:`_Metered`."""

    def __init__(
        self, events: AsyncIterator[RunEvent], owner: AsyncRateLimitedTransport, tokens: int
    ) -> None:
        self._events, self._owner = events, owner
        self._seen = _StreamMeter(owner._meter, tokens)

    async def __anext__(self) -> RunEvent:
        event = await anext(self._events)
        await self._owner._tell(self._seen.saw(event))
        return event

    async def aclose(self) -> None:
        close = getattr(self._events, "aclose", None)
        if close is not None:
            await close()
