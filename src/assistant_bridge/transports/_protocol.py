"""The contract between a session and a transport: ``perform(op)`` and ``supports(op_type)``.

A transport performs operations (:mod:`.ops`): ``transport.perform(GetRun(thread_id, run_id))``
answers with a ``Run`` (awaited on an :class:`AsyncTransport`). What it can do beyond the
basics is asked with ``supports(op_type)``: streams, finding the run an ask started, files,
run steps, assistant objects. A transport raises only errors from
:mod:`assistant_bridge.exceptions`; an operation it cannot perform is an
:class:`~assistant_bridge.exceptions.UnsupportedOperationError`.

The transports also offer each operation as a named method (``get_run(thread_id, run_id)``),
made from the operation's class by :class:`NamedOp`: one line per method, none of them
restating a signature. The capability names (``StreamingTransport``, ``RunFinder``, ...) are
kept for ``isinstance`` checks, which ask ``supports`` for their operations; to mypy they are
the :class:`Transport` (or :class:`AsyncTransport`) protocol.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextvars import ContextVar
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Never,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

from assistant_bridge._values.events import RunEvent
from assistant_bridge.exceptions import UnsupportedOperationError
from assistant_bridge.transports import ops
from assistant_bridge.transports.ops import Op, StreamOp

P = ParamSpec("P")
T = TypeVar("T")


@runtime_checkable
class Transport(Protocol):
    """What a :class:`~assistant_bridge.ThreadSession` needs: operations performed."""

    @overload
    def perform(self, op: StreamOp, /) -> Iterator[RunEvent]: ...
    @overload
    def perform(self, op: Op[T], /) -> T: ...
    def perform(self, op: Op[Any], /) -> Any:
        """Send ``op`` and answer with its result (a stream's events for a
        :class:`~.ops.StreamOp`)."""
        ...

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """True when :meth:`perform` can perform operations of ``op_type``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The async twin of :class:`Transport`: ``await transport.perform(op)``; a stream
    operation answers with an async iterator of events."""

    @overload
    async def perform(self, op: StreamOp, /) -> AsyncIterator[RunEvent]: ...
    @overload
    async def perform(self, op: Op[T], /) -> T: ...
    async def perform(self, op: Op[Any], /) -> Any:
        """See :meth:`Transport.perform`."""
        ...

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """See :meth:`Transport.supports`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


ON_ANSWER: ContextVar[Callable[[Mapping[str, str]], None] | None] = ContextVar(
    "assistant_bridge_on_answer", default=None
)
"""Called with the headers of every answer a transport receives in this context (a stream's
when it opens); a wrapper that reads them sets it (the rate limiter reads ``x-ratelimit-*``)."""


def heard(headers: Mapping[str, str]) -> None:
    """Hand an answer's headers to whoever listens in this context (see :data:`ON_ANSWER`)."""
    listener = ON_ANSWER.get()
    if listener is not None:
        listener(headers)


def unsupported(transport: object, op: Op[Any]) -> UnsupportedOperationError:
    """The error for an operation ``transport`` cannot perform."""
    msg = f"{type(transport).__name__} cannot perform {type(op).__name__}."
    return UnsupportedOperationError(msg, operation=type(op).__name__)


class _Closes(Protocol):
    """A sync transport (it closes, where an async one acloses)."""

    def close(self) -> None: ...


class _AsyncCloses(Protocol):
    """An async transport."""

    async def aclose(self) -> None: ...


class NamedOp(Generic[P, T]):
    """A transport method that performs one operation: ``get_run = NamedOp(GetRun)`` takes the
    operation's own arguments (``transport.get_run(thread_id, run_id)``) and performs
    ``GetRun(thread_id, run_id)``, called on a sync transport and awaited on an async one.

    On the class it is a plain function (``async def`` on an async transport), on an
    instance a bound method, so ``help()``, ``inspect`` and ``unittest.mock`` see a method.
    """

    def __init__(self, op_type: Callable[P, Op[T]]) -> None:
        self.op_type = op_type
        name: str = getattr(op_type, "name", "op")
        signature = inspect.signature(op_type)
        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
        asked = [p for p in signature.parameters.values() if p.name != "budget"]
        shown = signature.replace(
            parameters=[this, *asked, signature.parameters["budget"]],
            return_annotation=inspect.Signature.empty,
        )
        constructor = f"{getattr(op_type, '__name__', name)}.__init__()"

        def build(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Op[T]:
            try:
                return op_type(*args, **kwargs)
            except TypeError as exc:  # said as the method's error, not the class's
                raise TypeError(str(exc).replace(constructor, f"{name}()")) from None

        def sends(transport: Any, /, *args: Any, **kwargs: Any) -> Any:
            return transport.perform(build(args, kwargs))

        async def awaits(transport: Any, /, *args: Any, **kwargs: Any) -> Any:
            return await transport.perform(build(args, kwargs))

        for function in (sends, awaits):
            function.__name__ = function.__qualname__ = name
            function.__doc__ = op_type.__doc__
            function.__signature__ = shown  # type: ignore[union-attr]
            function.op_type = op_type  # type: ignore[union-attr]
        self.__doc__ = op_type.__doc__
        self._sends, self._awaits = sends, awaits

    def __set_name__(self, owner: type, name: str) -> None:
        for function in (self._sends, self._awaits):
            function.__qualname__ = f"{owner.__qualname__}.{name}"
            function.__module__ = owner.__module__

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[..., Any]: ...
    @overload
    def __get__(
        self: NamedOp[P, Never], obj: _AsyncCloses, owner: type
    ) -> Callable[P, Coroutine[Any, Any, AsyncIterator[RunEvent]]]: ...
    @overload
    def __get__(
        self: NamedOp[P, Never], obj: _Closes, owner: type
    ) -> Callable[P, Iterator[RunEvent]]: ...
    @overload
    def __get__(self, obj: _AsyncCloses, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: _Closes, owner: type) -> Callable[P, T]: ...
    def __get__(self, obj: object, owner: type) -> Any:
        awaited = inspect.iscoroutinefunction(getattr(owner, "perform", None))
        function = self._awaits if awaited else self._sends
        return function if obj is None else types.MethodType(function, obj)


class TransportMethods:
    """The basic operations as named methods, for a class that writes ``perform``.

    Inherit it and write ``perform(op)`` (``async def`` for an async transport): every
    named method builds its operation and hands it there. ``supports`` answers for the
    operations the class has named methods for; override it when ``perform`` does more.
    """

    create_thread = NamedOp(ops.CreateThread)
    start_run = NamedOp(ops.StartRun)
    create_thread_and_run = NamedOp(ops.CreateThreadAndRun)
    get_run = NamedOp(ops.GetRun)
    cancel_run = NamedOp(ops.CancelRun)
    submit_tool_outputs = NamedOp(ops.SubmitToolOutputs)
    list_run_messages = NamedOp(ops.ListRunMessages)
    resolve_assistant = NamedOp(ops.ResolveAssistant)

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """True when the class has a named method for ``op_type``."""
        return op_type in named_operations(type(self))


class StreamingMethods(TransportMethods):
    """:class:`TransportMethods` and the stream operations."""

    stream_run = NamedOp(ops.StreamRun)
    stream_thread_and_run = NamedOp(ops.StreamThreadAndRun)
    stream_tool_outputs = NamedOp(ops.StreamToolOutputs)


def named_operations(cls: type) -> frozenset[type[Op[Any]]]:
    """The operation types ``cls`` has named methods for."""
    return frozenset(
        value.op_type  # type: ignore[misc]
        for base in cls.__mro__
        for value in vars(base).values()
        if isinstance(value, NamedOp)
    )


# -- capabilities, as names for isinstance checks ---------------------------------------------
class _Capability(type):
    """The metaclass of a capability name: ``isinstance(transport, StreamingTransport)`` is
    ``transport.supports(...)`` for each of the capability's operations, on a transport of
    the right kind (sync, or async)."""

    needs: tuple[type[Op[Any]], ...]
    awaited: bool

    def __instancecheck__(cls, obj: object) -> bool:
        perform, supports = getattr(obj, "perform", None), getattr(obj, "supports", None)
        if not callable(perform) or not callable(supports):
            return False
        if inspect.iscoroutinefunction(perform) != cls.awaited:
            return False
        return all(supports(op_type) for op_type in cls.needs)


def _capability(name: str, doc: str, awaited: bool, *needs: type[Op[Any]]) -> Any:
    return _Capability(name, (), {"__doc__": doc, "needs": needs, "awaited": awaited})


_STREAMS = (ops.StreamRun, ops.StreamThreadAndRun, ops.StreamToolOutputs)
_FILES = (ops.FileName, ops.DownloadFile)

if TYPE_CHECKING:
    StreamingTransport = Transport
    RunFinder = Transport
    FileStore = Transport
    RunStepReader = Transport
    AssistantReader = Transport
    AsyncStreamingTransport = AsyncTransport
    AsyncRunFinder = AsyncTransport
    AsyncFileStore = AsyncTransport
    AsyncRunStepReader = AsyncTransport
    AsyncAssistantReader = AsyncTransport
else:
    StreamingTransport = _capability(
        "StreamingTransport", "A transport that streams: supports(StreamRun), ...", False, *_STREAMS
    )
    RunFinder = _capability(
        "RunFinder", "A transport that finds an ask's run: supports(FindRun).", False, ops.FindRun
    )
    FileStore = _capability(
        "FileStore", "A transport that names and downloads files.", False, *_FILES
    )
    RunStepReader = _capability(
        "RunStepReader",
        "A transport that reads run steps: supports(RunSteps).",
        False,
        ops.RunSteps,
    )
    AssistantReader = _capability(
        "AssistantReader", "A transport that fetches assistant objects.", False, ops.GetAssistant
    )
    AsyncStreamingTransport = _capability(
        "AsyncStreamingTransport", "The async twin of StreamingTransport.", True, *_STREAMS
    )
    AsyncRunFinder = _capability(
        "AsyncRunFinder", "The async twin of RunFinder.", True, ops.FindRun
    )
    AsyncFileStore = _capability("AsyncFileStore", "The async twin of FileStore.", True, *_FILES)
    AsyncRunStepReader = _capability(
        "AsyncRunStepReader", "The async twin of RunStepReader.", True, ops.RunSteps
    )
    AsyncAssistantReader = _capability(
        "AsyncAssistantReader", "The async twin of AssistantReader.", True, ops.GetAssistant
    )
