"""The two drivers that run a flow: the sync one calls what the flow asks for, the async one
awaits it. Both hand transport operations to ``transport.perform`` as they are; everything
else a flow asks for (sleeps, tools, stream reads) is done here. No decision is made here:
an exception is thrown back into the flow, which decides.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Sequence,
)
from typing import Any, Generic, TypeVar, cast

from assistant_bridge._session.flow import (
    Abandoned,
    CallTools,
    CloseStream,
    Emit,
    Flow,
    NextEvent,
    Sleep,
    Yielded,
)
from assistant_bridge._session.tools import ToolRegistry
from assistant_bridge._values.events import RunEvent, StreamEvent
from assistant_bridge.exceptions import APIConnectionError, ToolError
from assistant_bridge.transports._protocol import AsyncTransport, Transport
from assistant_bridge.transports.ops import Op

__all__ = ["FlowResult", "adrive", "adrive_events", "drive", "drive_events"]

SHIELD_MARGIN = 1.0
"""Seconds an async request may overrun its budget before the driver stops waiting for it."""

T = TypeVar("T")


def drive_events(
    flow: Flow[T], transport: Transport, sleep: Callable[[float], None]
) -> Generator[StreamEvent, None, T]:
    """Run a flow synchronously, yielding what it emits; returns the flow's result.

    An exception raised by an operation is thrown back into the flow, so the flow's own
    cleanup (cancel the run) sees it as if it were local. When the consumer stops early, the
    flow gets :class:`Abandoned` and still cleans up (emitting nothing more).
    """
    abandoned = False
    try:
        work = next(flow)
        while True:
            if isinstance(work, Emit):
                if not abandoned:
                    try:
                        yield work.event
                    except GeneratorExit:
                        abandoned = True
                        work = flow.throw(Abandoned())
                        continue
                work = flow.send(None)
                continue
            try:
                result = _do(work, transport, sleep)
            except BaseException as exc:  # handed to the flow, which decides
                if abandoned and not isinstance(exc, Exception):
                    raise
                work = flow.throw(exc)
            else:
                work = flow.send(result)
    except StopIteration as stop:
        if abandoned:
            raise GeneratorExit from None
        return cast(T, stop.value)
    except Abandoned:
        raise GeneratorExit from None


def drive(flow: Flow[T], transport: Transport, sleep: Callable[[float], None]) -> T:
    """Run a flow to its end synchronously, ignoring what it emits."""
    events = drive_events(flow, transport, sleep)
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return cast(T, stop.value)


def _do(work: Yielded, transport: Transport, sleep: Callable[[float], None]) -> object:
    """Perform what the flow asks: a transport operation as it is, or other work."""
    if isinstance(work, Op):
        return transport.perform(work)
    if isinstance(work, Sleep):
        sleep(work.seconds)
        return None
    if isinstance(work, CallTools):
        if isinstance(work.handler, ToolRegistry):
            return tuple(work.handler(work.calls, within=work.budget))
        return tuple(work.handler(work.calls))
    if isinstance(work, NextEvent):
        return next(cast(Iterator[RunEvent], work.stream), None)
    if isinstance(work, CloseStream):
        cast(Generator[RunEvent, None, None], work.stream).close()
        return None
    msg = f"the sync driver cannot perform {work!r}"
    raise TypeError(msg)


class FlowResult(Generic[T]):
    """Where an async driver leaves a flow's result (an async generator cannot return it)."""

    value: T


async def adrive_events(
    flow: Flow[T],
    transport: AsyncTransport,
    sleep: Callable[[float], Awaitable[None]],
    outcome: FlowResult[T],
) -> AsyncGenerator[StreamEvent, None]:
    """The async twin of :func:`drive_events`; the result lands in ``outcome.value``.

    When the task is cancelled, or the consumer stops early, the CancelledError (or
    :class:`Abandoned`) is thrown into the flow like any other exception, so the flow cancels
    its run; that cleanup is shielded from further cancellations (it is bounded by
    ``cancel_grace``) before the cancellation goes on.
    """
    cleaning = abandoned = False
    try:
        work = next(flow)
        while True:
            if isinstance(work, Emit):
                if not abandoned:
                    try:
                        yield work.event
                    except GeneratorExit:
                        cleaning = abandoned = True
                        work = flow.throw(Abandoned())
                        continue
                work = flow.send(None)
                continue
            try:
                doing = _ado(work, transport, sleep)
                result = await (_shielded(doing) if cleaning else doing)
            except BaseException as exc:  # handed to the flow, which decides
                if abandoned and not isinstance(exc, Exception):
                    raise
                cleaning = cleaning or isinstance(exc, asyncio.CancelledError)
                work = flow.throw(exc)
            else:
                work = flow.send(result)
    except StopIteration as stop:
        if abandoned:
            raise GeneratorExit from None
        outcome.value = cast(T, stop.value)
    except Abandoned:
        raise GeneratorExit from None


async def _shielded(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the task is cancelled again meanwhile."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            continue


async def adrive(
    flow: Flow[T], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> T:
    """Run a flow to its end, awaiting every operation and ignoring what it emits."""
    outcome: FlowResult[T] = FlowResult()
    async for _ in adrive_events(flow, transport, sleep, outcome):
        pass
    return outcome.value


async def _ado(
    work: Yielded, transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> object:
    """The async twin of :func:`_do`: a request that overruns its budget is abandoned."""
    if isinstance(work, Op):
        limit = None if work.budget is None else work.budget + SHIELD_MARGIN
        try:
            async with asyncio.timeout(limit):
                return await transport.perform(work)
        except TimeoutError:
            msg = (
                f"The request took longer than the {work.budget:.1f}s the ask had left; "
                "it was abandoned."
            )
            raise APIConnectionError(msg) from None
    if isinstance(work, Sleep):
        await sleep(work.seconds)
        return None
    if isinstance(work, CallTools):
        return tuple(await _acall_tools(work))
    if isinstance(work, NextEvent):
        return await anext(cast(AsyncIterator[RunEvent], work.stream), None)
    if isinstance(work, CloseStream):
        await cast(AsyncGenerator[RunEvent, None], work.stream).aclose()
        return None
    msg = f"the async driver cannot perform {work!r}"
    raise TypeError(msg)


async def _acall_tools(work: CallTools) -> Sequence[Any]:
    """Run the tool handler, awaiting it where it can be awaited, within the ask's time."""
    handler = work.handler
    if isinstance(handler, ToolRegistry):
        return await handler.acall(work.calls, within=work.budget)
    try:
        async with asyncio.timeout(work.budget):
            if inspect.iscoroutinefunction(handler):
                return cast(Sequence[Any], await handler(work.calls))
            return await asyncio.to_thread(handler, work.calls)
    except TimeoutError:
        msg = f"The tool handler did not finish within the {work.budget:.1f}s the ask had left."
        raise ToolError(msg, tool=getattr(handler, "__name__", "handler"), call_id="") from None
