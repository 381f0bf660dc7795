"""The fence: a transport wrapper through which a keyed ask reaches the API while it holds
the key's lease. Before a run starts it commits the mark and epoch (compare-and-set: a stale
holder is refused before anything is sent); it records the run id as soon as the start
answers; it checks the lease before every operation, so a holder whose lease is gone stops,
writes nothing more and cancels nothing (the next holder owns the run now).

It wraps ``perform(op)`` like any transport wrapper (docs/architecture.md) and supports what
the wrapped transport supports, except streams: a keyed ask polls, so every step of a run
passes here. What to write before and after an operation is decided once (:func:`before`,
:func:`after`, with :func:`._flow.mark_start` and :func:`._flow.mark_started`); the two
classes only call or await.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from assistant_bridge.registry._errors import LeaseLostError
from assistant_bridge.registry._flow import Holding, mark_start, mark_started
from assistant_bridge.registry._record import Answer
from assistant_bridge.transports.ops import (
    ASK_KEY,
    CancelRun,
    CreateThreadAndRun,
    FindRun,
    Op,
    StartRun,
    StreamOp,
    SubmitToolOutputs,
)

T = TypeVar("T")

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
        if issubclass(op_type, StreamOp):
            return False
        return bool(self._inner.supports(op_type))

    def before(self, op: Op[Any]) -> tuple[Op[Any], Write | None]:
        """Check the lease; say what to commit before ``op`` goes out (the mark and epoch
        before a start, a compare-and-set before a cancel or a submission) and what to send."""
        self.holding.check(self._clock())
        if isinstance(op, (StartRun, CreateThreadAndRun)):
            metadata = op.request.metadata
            session_mark = (metadata or {}).get(ASK_KEY)
            fields, answer, metadata = mark_start(self.holding, metadata)
            if session_mark is not None:
                # The session looks a lost start up by its own mark; the run carries ours.
                self._marks[session_mark] = metadata[ASK_KEY]
            request = attrs.evolve(op.request, metadata=metadata)
            return attrs.evolve(op, request=request), (fields, answer)
        if isinstance(op, FindRun):
            return attrs.evolve(op, key=self._marks.get(op.key, op.key)), None
        if isinstance(op, CancelRun):
            return op, ({"run_status": "cancelling"}, None)
        if isinstance(op, SubmitToolOutputs):
            return op, ({"run_status": "queued"}, None)
        return op, None

    def after(self, op: Op[Any], result: Any) -> Write | None:
        """What to commit once ``op`` answered: a started run's id, at once."""
        if isinstance(op, (StartRun, CreateThreadAndRun)):
            started: Write = mark_started(self.holding, result.id, result.status, result.thread_id)
            return started
        return None

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
        result: T = self._inner.perform(sent)
        self._commit(self.after(sent, result))
        return result

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
        result = await self._inner.perform(sent)
        await self._commit(self.after(sent, result))
        return result

    async def aclose(self) -> None:
        """The wrapped transport belongs to the caller: nothing to close here."""
