"""The fence: a transport wrapper through which a keyed ask reaches the API while it holds
the key's lease. Before a run starts it commits the mark and epoch (compare-and-set: a stale
holder is refused before anything is sent); it records the run id as soon as the start
answers; it checks the lease before every operation, so a holder whose lease is gone stops,
writes nothing more and cancels nothing (the next holder owns the run now).

It wraps ``perform(op)`` like any transport wrapper (docs/architecture.md) and supports what
the wrapped transport supports, streams included: a streamed start commits its mark before it
is sent like a polled one, and its run id as soon as the first event names the run; every
event is let through only while the lease holds. What to write before and after an operation
or event is decided once (:meth:`before`, :meth:`after`, :meth:`seen`, with
:func:`._flow.mark_start` and :func:`._flow.mark_started`); the two classes only call or
await.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

import attrs

from assistant_bridge._values.events import RunEvent, RunStatusChanged
from assistant_bridge.registry._errors import LeaseLostError
from assistant_bridge.registry._flow import LOCAL_MARGIN, Holding, mark_start, mark_started
from assistant_bridge.registry._record import Answer
from assistant_bridge.transports.ops import (
    ASK_KEY,
    CancelRun,
    CreateThreadAndRun,
    FindRun,
    Op,
    StartRun,
    StreamOp,
    StreamRun,
    StreamThreadAndRun,
    StreamToolOutputs,
    SubmitToolOutputs,
)

T = TypeVar("T")

_STARTS = (StartRun, CreateThreadAndRun, StreamRun, StreamThreadAndRun)
"""The operations that start a run: the mark and epoch are committed before each is sent."""

Write = tuple[Mapping[str, Any], Answer | None]
"""A commit to make: the record's fields and the ask's answer entry (or None)."""


class _FenceBase:
    def __init__(
        self, inner: Any, registry: Any, holding: Holding, clock: Callable[[], float]
    ) -> None:
        self._inner = inner
        self._registry = registry
        self.holding = holding
        self._clock = clock
        self._marks: dict[str, str] = {}

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        return bool(self._inner.supports(op_type))

    def before(self, op: Op[Any]) -> tuple[Op[Any], Write | None]:
        """Check the lease; say what to commit before ``op`` goes out (the mark and epoch
        before a start, a compare-and-set before a cancel or a submission) and what to send."""
        self.holding.check(self._clock())
        if isinstance(op, _STARTS):
            metadata = op.request.metadata
            session_mark = (metadata or {}).get(ASK_KEY)
            fields, answer, metadata = mark_start(self.holding, metadata)
            if session_mark is not None:
                # The session looks a lost start up by its own mark; the run carries ours.
                self._marks[session_mark] = metadata[ASK_KEY]
            request = attrs.evolve(op.request, metadata=metadata)
            return self._bounded(attrs.evolve(op, request=request)), (fields, answer)
        if isinstance(op, FindRun):
            return attrs.evolve(op, key=self._marks.get(op.key, op.key)), None
        if isinstance(op, CancelRun):
            return op, ({"run_status": "cancelling"}, None)
        if isinstance(op, (SubmitToolOutputs, StreamToolOutputs)):
            return self._bounded(op), ({"run_status": "queued"}, None)
        return self._bounded(op), None

    def sending(self) -> None:
        """Check the lease once more as the operation goes out: the commit before it took a
        round trip, during which this process may have been stopped past its lease."""
        self.holding.check(self._clock())

    def _bounded(self, op: Op[T]) -> Op[T]:
        """A stream is read only while the lease is sure to hold: its silence is bounded by
        the lease's local share of the TTL. A longer silence breaks the stream off and the
        session polls the run, each poll passing :meth:`before`'s check, so a holder whose
        renewals stopped arriving stops in time even when the run says nothing."""
        if not isinstance(op, StreamOp):
            return op
        bound = self.holding.ttl * LOCAL_MARGIN
        if op.stall_timeout is not None and op.stall_timeout <= bound:
            return op
        return attrs.evolve(op, stall_timeout=bound)

    def after(self, op: Op[Any], result: Any) -> Write | None:
        """What to commit once ``op`` answered: a started run's id, at once."""
        if isinstance(op, (StartRun, CreateThreadAndRun)):
            started: Write = mark_started(self.holding, result.id, result.status, result.thread_id)
            return started
        return None

    def seen(self, event: object, starting: bool) -> tuple[Write | None, bool]:
        """An event of a stream: the lease must still hold to let it through. While the
        stream's run is ``starting`` (not yet named), the first status event names it: its id
        is committed at once. Returns the commit to make and whether the run is still unnamed."""
        self.holding.check(self._clock())
        if starting and isinstance(event, RunStatusChanged):
            run = event.run
            return mark_started(self.holding, run.id, run.status, run.thread_id), False
        return None, starting

    def _lost(self, exc: LeaseLostError) -> LeaseLostError:
        self.holding.lost = exc
        return exc


class FencedTransport(_FenceBase):
    """The fence for sync sessions (wraps a :class:`~assistant_bridge.Transport`)."""

    def _commit(self, write: Write | None) -> None:
        if write is None:
            return
        fields, answer = write
        try:
            self.holding.lease = self._registry.commit(self.holding.lease, answer=answer, **fields)
        except LeaseLostError as exc:
            raise self._lost(exc) from None

    def perform(self, op: Op[T], /) -> T:
        sent, write = self.before(op)
        self._commit(write)
        self.sending()
        result: Any = self._inner.perform(sent)
        if isinstance(sent, StreamOp):
            return cast(T, self._watch(result, isinstance(sent, _STARTS)))
        self._commit(self.after(sent, result))
        return cast(T, result)

    def _watch(self, events: Iterator[RunEvent], starting: bool) -> Iterator[RunEvent]:
        """Let the stream's events through while the lease holds, committing the run id."""
        try:
            for event in events:
                write, starting = self.seen(event, starting)
                self._commit(write)
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        """The wrapped transport belongs to the caller: nothing to close here."""


class AsyncFencedTransport(_FenceBase):
    """The fence for async sessions (wraps an :class:`~assistant_bridge.AsyncTransport`)."""

    async def _commit(self, write: Write | None) -> None:
        if write is None:
            return
        fields, answer = write
        try:
            lease = await self._registry.commit(self.holding.lease, answer=answer, **fields)
        except LeaseLostError as exc:
            raise self._lost(exc) from None
        self.holding.lease = lease

    async def perform(self, op: Op[Any], /) -> Any:
        sent, write = self.before(op)
        await self._commit(write)
        self.sending()
        result = await self._inner.perform(sent)
        if isinstance(sent, StreamOp):
            return self._watch(result, isinstance(sent, _STARTS))
        await self._commit(self.after(sent, result))
        return result

    async def _watch(
        self, events: AsyncIterator[RunEvent], starting: bool
    ) -> AsyncIterator[RunEvent]:
        """The awaited twin of :meth:`FencedTransport._watch`."""
        try:
            async for event in events:
                write, starting = self.seen(event, starting)
                await self._commit(write)
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def aclose(self) -> None:
        """The wrapped transport belongs to the caller: nothing to close here."""
