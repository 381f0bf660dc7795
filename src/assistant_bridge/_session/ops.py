"""The operations a session asks its driver to perform, as values.

Session logic (:mod:`._flow`) is a generator that yields these and receives their results; it
never does I/O itself. A driver (sync today, async later) performs each one: transport
operations on a transport, sleeps on a sleep function, tool calls on the user's handler. This
is how one piece of logic serves every driver, as h11 serves every socket library: an
operation names a transport method and its arguments, which the sync driver calls and the
async driver awaits.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

import attrs

from assistant_bridge._values.models import MessagePage, Run, Thread, ToolCall, ToolOutput
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.transports._protocol import AsyncTransport, RunRequest, Transport

T = TypeVar("T")

ToolHandler = Callable[[Sequence[ToolCall]], Sequence[ToolOutput]]
"""Answers a run's tool calls with one output each."""


class Op(Generic[T]):
    """An operation whose result has type ``T``."""


class TransportOp(Op[T]):
    """An operation a transport performs: its method name and arguments.

    The sync driver calls the method; the async driver awaits it. One description serves both.
    """

    method: ClassVar[str]
    #: False for writes, which are never repeated blindly after an ambiguous failure.
    idempotent: ClassVar[bool] = True

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Positional and keyword arguments of the transport call."""
        raise NotImplementedError

    def apply(self, transport: Transport) -> T:
        """Perform the operation on a sync transport."""
        args, kwargs = self.arguments()
        return cast(T, getattr(transport, self.method)(*args, **kwargs))

    async def aapply(self, transport: AsyncTransport) -> T:
        """Perform the operation on an async transport."""
        args, kwargs = self.arguments()
        return cast(T, await getattr(transport, self.method)(*args, **kwargs))


@attrs.frozen
class OpenStream(Op[Any]):
    """Call a transport's streaming method; the result is its event iterator."""

    method: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


@attrs.frozen
class NextEvent(Op[Any]):
    """The stream's next event, or None when it has ended."""

    stream: Any


@attrs.frozen
class CloseStream(Op[None]):
    """Stop reading a stream and release its connection."""

    stream: Any


@attrs.frozen
class Emit(Op[None]):
    """Hand an event to whoever is watching the ask (``stream()``); ignored by ``ask()``."""

    event: Any


class Abandoned(BaseException):
    """Thrown into a flow whose watcher stopped listening (a stream closed early)."""


@attrs.frozen
class Sleep(Op[None]):
    """Wait ``seconds`` before the next operation."""

    seconds: float


@attrs.frozen
class CallTools(Op[Sequence[ToolOutput]]):
    """Run the user's tool handler on a run's tool calls."""

    handler: ToolHandler
    calls: tuple[ToolCall, ...]


@attrs.frozen
class CreateThread(TransportOp[Thread]):
    """Create an empty thread."""

    metadata: Mapping[str, str] | None = None
    method: ClassVar[str] = "create_thread"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (), {"metadata": self.metadata}


@attrs.frozen
class StartRun(TransportOp[Run]):
    """Add the user's message to a thread and start a run, in one request."""

    thread_id: str
    request: RunRequest
    content: str | None = None
    message_metadata: Mapping[str, str] | None = None
    method: ClassVar[str] = "start_run"
    idempotent: ClassVar[bool] = False

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        kwargs = {"content": self.content, "message_metadata": self.message_metadata}
        return (self.thread_id, self.request), kwargs


@attrs.frozen
class ResolveAssistant(TransportOp[str | None]):
    """Turn an AssistantSpec into what the transport runs (an assistant id, or nothing)."""

    spec: AssistantSpec
    method: ClassVar[str] = "resolve_assistant"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.spec,), {}


@attrs.frozen
class CreateThreadAndRun(TransportOp[Run]):
    """Create a thread with the user's message and start a run, in one request."""

    content: str
    request: RunRequest
    thread_metadata: Mapping[str, str] | None = None
    method: ClassVar[str] = "create_thread_and_run"
    idempotent: ClassVar[bool] = False

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.content, self.request), {"thread_metadata": self.thread_metadata}


@attrs.frozen
class FindRun(TransportOp[Run | None]):
    """The run of a thread whose metadata carries ``key`` (an ask's mark), if there is one."""

    thread_id: str
    key: str
    method: ClassVar[str] = "find_run"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.thread_id, self.key), {}


@attrs.frozen
class GetRun(TransportOp[Run]):
    """Fetch a run."""

    thread_id: str
    run_id: str
    method: ClassVar[str] = "get_run"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.thread_id, self.run_id), {}


@attrs.frozen
class CancelRun(TransportOp[Run]):
    """Ask the server to cancel a run."""

    thread_id: str
    run_id: str
    method: ClassVar[str] = "cancel_run"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.thread_id, self.run_id), {}


@attrs.frozen
class SubmitToolOutputs(TransportOp[Run]):
    """Send tool outputs to a run waiting for them."""

    thread_id: str
    run_id: str
    outputs: tuple[ToolOutput, ...]
    request: RunRequest | None = None
    method: ClassVar[str] = "submit_tool_outputs"
    idempotent: ClassVar[bool] = False

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.thread_id, self.run_id, self.outputs), {"request": self.request}


@attrs.frozen
class ListRunMessages(TransportOp[MessagePage]):
    """Fetch one page of a run's messages."""

    thread_id: str
    run_id: str
    after: str | None = None
    method: ClassVar[str] = "list_run_messages"

    def arguments(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.thread_id, self.run_id), {"after": self.after}


Flow = Generator[Op[Any], Any, T]
"""Session logic: yields operations, receives each one's result, returns ``T``."""


def perform(op: Op[T]) -> Generator[Op[Any], Any, T]:
    """Yield ``op`` to the driver and return its result, typed: ``x = yield from perform(op)``."""
    result = yield op
    return cast(T, result)


def drive_events(
    flow: Flow[T], transport: Transport, sleep: Callable[[float], None]
) -> Generator[Any, None, T]:
    """Run a flow synchronously, yielding what it emits; returns the flow's result.

    An exception raised by an operation is thrown back into the flow, so the flow's own
    ``try``/``finally`` blocks (cancel on timeout, for one) see it as if it were local. When
    the consumer stops early, the flow gets :class:`Abandoned` and may still clean up.
    """
    try:
        op = next(flow)
        while True:
            if isinstance(op, Emit):
                try:
                    yield op.event
                except GeneratorExit:
                    _abandon(flow, transport, sleep)
                    raise
                op = flow.send(None)
                continue
            try:
                result = _perform_sync(op, transport, sleep)
            except BaseException as exc:  # handed to the flow, which decides
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        return cast(T, stop.value)


def _abandon(flow: Flow[Any], transport: Transport, sleep: Callable[[float], None]) -> None:
    """Let the flow clean up (cancel its run) after its watcher went away."""
    try:
        op = flow.throw(Abandoned())
        while True:
            result = None if isinstance(op, Emit) else _perform_sync(op, transport, sleep)
            op = flow.send(result)
    except (StopIteration, Abandoned):
        return


def drive(flow: Flow[T], transport: Transport, sleep: Callable[[float], None]) -> T:
    """Run a flow to its end synchronously, ignoring what it emits."""
    events = drive_events(flow, transport, sleep)
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return cast(T, stop.value)


def _perform_sync(op: Op[Any], transport: Transport, sleep: Callable[[float], None]) -> Any:
    if isinstance(op, TransportOp):
        return op.apply(transport)
    if isinstance(op, Sleep):
        sleep(op.seconds)
        return None
    if isinstance(op, CallTools):
        return tuple(op.handler(op.calls))
    if isinstance(op, OpenStream):
        return getattr(transport, op.method)(*op.args, **op.kwargs)
    if isinstance(op, NextEvent):
        return next(op.stream, None)
    if isinstance(op, CloseStream):
        op.stream.close()
        return None
    msg = f"the sync driver cannot perform {op!r}"
    raise TypeError(msg)


class FlowResult(Generic[T]):
    """Where an async driver leaves a flow's result (an async generator cannot return it)."""

    value: T


async def adrive_events(
    flow: Flow[T],
    transport: AsyncTransport,
    sleep: Callable[[float], Awaitable[None]],
    outcome: FlowResult[T],
) -> AsyncGenerator[Any, None]:
    """The async twin of :func:`drive_events`; the result lands in ``outcome.value``.

    When the task is cancelled, the CancelledError is thrown into the flow like any other
    exception, so the flow cancels its run before the cancellation goes on.
    """
    try:
        op = next(flow)
        while True:
            if isinstance(op, Emit):
                try:
                    yield op.event
                except GeneratorExit:
                    await _aabandon(flow, transport, sleep)
                    raise
                op = flow.send(None)
                continue
            try:
                result = await _perform_async(op, transport, sleep)
            except BaseException as exc:  # handed to the flow, which decides
                op = flow.throw(exc)
            else:
                op = flow.send(result)
    except StopIteration as stop:
        outcome.value = cast(T, stop.value)


async def _aabandon(
    flow: Flow[Any], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> None:
    try:
        op = flow.throw(Abandoned())
        while True:
            result = None if isinstance(op, Emit) else await _perform_async(op, transport, sleep)
            op = flow.send(result)
    except (StopIteration, Abandoned):
        return


async def adrive(
    flow: Flow[T], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> T:
    """Run a flow to its end, awaiting every operation and ignoring what it emits."""
    outcome: FlowResult[T] = FlowResult()
    async for _ in adrive_events(flow, transport, sleep, outcome):
        pass
    return outcome.value


async def _perform_async(
    op: Op[Any], transport: AsyncTransport, sleep: Callable[[float], Awaitable[None]]
) -> Any:
    if isinstance(op, TransportOp):
        return await op.aapply(transport)
    if isinstance(op, Sleep):
        await sleep(op.seconds)
        return None
    if isinstance(op, CallTools):
        acall = getattr(op.handler, "acall", None)
        if acall is not None:
            return tuple(await acall(op.calls))
        if inspect.iscoroutinefunction(op.handler):
            return tuple(await op.handler(op.calls))
        return tuple(await asyncio.to_thread(op.handler, op.calls))
    if isinstance(op, OpenStream):
        return await getattr(transport, op.method)(*op.args, **op.kwargs)
    if isinstance(op, NextEvent):
        return await anext(op.stream, None)
    if isinstance(op, CloseStream):
        await op.stream.aclose()
        return None
    msg = f"the async driver cannot perform {op!r}"
    raise TypeError(msg)
