"""The vocabulary of the sans-I/O flows (:mod:`.ask`, :mod:`.follow`, :mod:`.sending`): the
work a flow asks its driver for, and the settings and plan it decides with.

A flow is a generator: it yields transport operations (:mod:`assistant_bridge.transports.ops`,
which the drivers hand to ``transport.perform`` as they are) and other :class:`Work` (a
sleep, a tool call, the next event of a stream, an event for the watcher), receives each
one's result, and decides with the state table (:mod:`assistant_bridge._runstate.table`). It
never touches the network or sleeps: the sync and async drivers (:mod:`.drivers`) do, so
every decision (when to poll, when to give up, what a status means, how to clean up) exists
in exactly one place.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import attrs

from assistant_bridge._parsing.parsers import Parser
from assistant_bridge._runstate import table
from assistant_bridge._session.polling import PollPolicy
from assistant_bridge._session.retry import NO_RETRIES, RetryPolicy
from assistant_bridge._values.events import (
    RunEvent,
    StreamEvent,
)
from assistant_bridge._values.models import ToolCall, ToolOutput
from assistant_bridge._values.value import Value
from assistant_bridge.transports.ops import (
    DEFAULT_STALL_TIMEOUT,
    Op,
    RunSettings,
)

logger = logging.getLogger("assistant_bridge")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

ToolHandler = Callable[[Sequence[ToolCall]], Sequence[ToolOutput]]
"""Answers a run's tool calls with one output each."""


# -- what a flow asks its driver for ------------------------------------------------------------
class Work(Value, Generic[T_co]):
    """Work a flow asks its driver to do besides transport operations; the driver sends
    back a ``T_co``."""


RunStream = Iterator[RunEvent] | AsyncIterator[RunEvent]
"""A run's events as a stream operation answers them: iterated by the sync driver, awaited
by the async one; the flow only hands it back in :class:`NextEvent` and :class:`CloseStream`."""


@attrs.frozen(repr=False)
class NextEvent(Work[RunEvent | None]):
    """The stream's next event, or None when it has ended."""

    stream: RunStream


@attrs.frozen(repr=False)
class CloseStream(Work[None]):
    """Stop reading a stream and release its connection."""

    stream: RunStream


@attrs.frozen(repr=False)
class Sleep(Work[None]):
    """Wait ``seconds`` before the next operation."""

    seconds: float


@attrs.frozen(repr=False)
class CallTools(Work[Sequence[ToolOutput]]):
    """Run the user's tool handler on a run's tool calls, within ``budget`` seconds."""

    handler: ToolHandler
    calls: tuple[ToolCall, ...]
    budget: float


@attrs.frozen(repr=False)
class Emit(Work[None]):
    """Hand an event to whoever is watching the ask (``stream()``); ignored by ``ask()``."""

    event: StreamEvent


class Abandoned(BaseException):
    """Thrown into a flow whose watcher stopped listening (a stream closed early)."""


Yielded = Op[object] | Work[object]
"""What a flow yields: a transport operation (the driver performs it) or other work."""

Flow = Generator[Yielded, object, T]
"""Session logic: yields operations and work, receives each one's result, returns ``T``."""


def do(work: Op[T] | Work[T]) -> Generator[Yielded, object, T]:
    """Yield ``work`` to the driver and return its result, typed: ``x = yield from do(w)``."""
    result = yield work
    return cast(T, result)


# -- settings and plans ---------------------------------------------------------------------
@attrs.frozen(repr=False)
class WaitSettings(Value):
    """How a session waits for a run: table, poll policy, clock, deadline, tool handling,
    whether to stream (with the longest silence a stream may keep), retries and cleanup."""

    machine: table.RunStateMachine
    poll: PollPolicy
    clock: Callable[[], float]
    timeout: float
    cancel_grace: float
    tool_handler: ToolHandler | None
    max_tool_rounds: int
    streaming: bool = False
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    retry: RetryPolicy = NO_RETRIES
    on_active_run: str = "wait"
    can_find_runs: bool = False
    can_name_files: bool = False
    deadline: float = float("inf")

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - self.clock())

    def stall(self) -> float:
        """How long a stream may stay silent: the stall gap, but never past the deadline."""
        return max(0.05, min(self.stall_timeout, self.remaining() + 0.05))


@attrs.frozen(repr=False)
class AskPlan(Value):
    """One question: the prompt, where it goes, how to run it and how to read the answer."""

    prompt: str
    request: RunSettings
    thread_id: str | None
    parser: Parser[Any]
    message_metadata: Mapping[str, str] | None = None
    thread_metadata: Mapping[str, str] | None = None
    ask_key: str = "ask"
    first_ask: str = "fast"
