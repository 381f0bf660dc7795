"""The contract between a session and a transport, as typed protocols.

:class:`Transport` (and :class:`AsyncTransport`) are the operations every session needs, in
domain terms. Optional capabilities are sub-protocols a session checks with ``isinstance``
and then calls directly: :class:`StreamingTransport` (follow a run as events, one request per
question), :class:`RunFinder` (find the run an ask started, so a start whose answer was lost
is looked up instead of repeated), :class:`FileStore` (file names and contents),
:class:`RunStepReader` and :class:`AssistantReader`, each with an async twin. A transport
raises only errors from :mod:`assistant_bridge.exceptions`.

These signatures are the only place an operation's signature is written: :class:`Operation`
makes a transport's method from a protocol method, and :class:`TransportMethods` (or
:class:`StreamingMethods`) gives a class that writes one ``_perform`` all of them.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import (
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Protocol,
    TypeVar,
    overload,
    runtime_checkable,
)

import attrs

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import Assistant, MessagePage, Run, RunStep, Thread, ToolOutput
from assistant_bridge._values.spec import AssistantSpec, ResponseFormat, assistants_format

P = ParamSpec("P")
T = TypeVar("T")


ASK_KEY = "assistant_bridge_ask"
"""Run metadata key marking which ask started a run, so a repeated start can look first
(``find_run``) instead of starting the run twice."""


REQUEST_BUDGET: ContextVar[float | None] = ContextVar(
    "assistant_bridge_request_budget", default=None
)
"""Seconds the current request may take (connect, read, and the whole of a stream), set by
the sessions from what is left of the ask's deadline; None when unbounded. A transport should
not let a request outlive it."""


STALL = "stall_timeout"
"""The argument of a streaming operation that says how long the stream may stay silent:
how to wait, not what to ask, so it is not sent to the wire."""


class Performer(Protocol):
    """What an :class:`Operation` is bound to: a transport that performs it (sends it)."""

    def _perform(self, operation: Operation[..., Any], /, *args: Any, **kwargs: Any) -> object: ...


class AsyncPerformer(Protocol):
    """What an :class:`Operation` is bound to on an async transport (which awaits it)."""

    async def _perform(
        self, operation: Operation[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any: ...


class Operation(Generic[P, T]):
    """A transport method made from a protocol method: the same name, signature and docs,
    performed by the transport's ``_perform`` (called on a sync transport, awaited on an async
    one). So a transport states none of the protocol's signatures again, and mypy checks each
    method against the protocol's.

    On the class it is a plain function (``async def`` where ``_perform`` is), on an instance
    a bound method, so ``help()``, ``inspect`` and ``unittest.mock`` see a method; the function
    keeps this object as ``operation``.
    """

    def __init__(self, method: Callable[Concatenate[Any, P], T]) -> None:
        self.name = method.__name__
        self.signature = inspect.signature(method)
        self.streams = STALL in self.signature.parameters
        self.__doc__ = method.__doc__
        operation = self

        def sends(transport: Any, /, *args: Any, **kwargs: Any) -> Any:
            return transport._perform(operation, *args, **kwargs)

        async def awaits(transport: Any, /, *args: Any, **kwargs: Any) -> Any:
            return await transport._perform(operation, *args, **kwargs)

        for function in (sends, awaits):
            function.__name__ = function.__qualname__ = self.name
            function.__doc__ = self.__doc__
            function.__signature__ = self.signature  # type: ignore[union-attr]
            function.operation = self  # type: ignore[union-attr]
        self._sends, self._awaits = sends, awaits

    def __set_name__(self, owner: type, name: str) -> None:
        for function in (self._sends, self._awaits):
            function.__qualname__ = f"{owner.__qualname__}.{name}"
            function.__module__ = owner.__module__

    def arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Every argument of a call by its parameter name, defaults filled in; a
        ``TypeError`` naming the method for arguments it does not take."""
        unknown = [k for k in kwargs if k not in self.signature.parameters or k == "self"]
        if unknown:
            msg = f"{self.name}() got an unexpected keyword argument {unknown[0]!r}"
            raise TypeError(msg)
        try:
            bound = self.signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None
        bound.apply_defaults()
        return dict(list(bound.arguments.items())[1:])  # without self

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], Any]: ...
    @overload
    def __get__(
        self: Operation[P, Iterator[RunEvent]], obj: AsyncPerformer, owner: type
    ) -> Callable[P, Coroutine[Any, Any, AsyncIterator[RunEvent]]]: ...
    @overload
    def __get__(self, obj: AsyncPerformer, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: Performer, owner: type) -> Callable[P, T]: ...
    def __get__(self, obj: object, owner: type) -> Any:
        awaited = inspect.iscoroutinefunction(getattr(owner, "_perform", None))
        function = self._awaits if awaited else self._sends
        return function if obj is None else types.MethodType(function, obj)


def _freeze_tools(
    value: Sequence[Mapping[str, Any]] | None,
) -> tuple[Mapping[str, Any], ...] | None:
    return None if value is None else tuple(dict(t) for t in value)


def _freeze_metadata(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else dict(value)


@attrs.frozen
class RunRequest:
    """What to start a run with: the assistant and the per-ask overrides (None = not sent).

    ``assistant_id`` names an assistant object (Assistants API); ``assistant`` carries the
    definition itself, which the Responses API sends with every response.
    """

    assistant_id: str | None = None
    instructions: str | None = None
    additional_instructions: str | None = None
    model: str | None = None
    tools: tuple[Mapping[str, Any], ...] | None = attrs.field(default=None, converter=_freeze_tools)
    metadata: Mapping[str, str] | None = attrs.field(default=None, converter=_freeze_metadata)
    assistant: AssistantSpec | None = None
    response_format: ResponseFormat | None = None
    max_output_tokens: int | None = None

    def body(self) -> dict[str, Any]:
        """The Assistants API fields to send, without those left unset."""
        fields = {
            "assistant_id": self.assistant_id,
            "instructions": self.instructions,
            "additional_instructions": self.additional_instructions,
            "model": self.model,
            "tools": None if self.tools is None else [dict(t) for t in self.tools],
            "metadata": None if self.metadata is None else dict(self.metadata),
            "response_format": (
                None if self.response_format is None else assistants_format(self.response_format)
            ),
            "max_completion_tokens": self.max_output_tokens,
        }
        return {k: v for k, v in fields.items() if v is not None}


@runtime_checkable
class Transport(Protocol):
    """The operations a :class:`~assistant_bridge.ThreadSession` needs, in domain terms."""

    def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        """Create an empty thread."""
        ...

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a run on a thread, adding ``content`` as the user's message in the same
        request (so the message exists only if the run does)."""
        ...

    def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        """Create a thread holding one user message and start a run on it."""
        ...

    def get_run(self, thread_id: str, run_id: str) -> Run:
        """Fetch a run's current state."""
        ...

    def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """Ask the server to cancel a run; it answers with the run, usually "cancelling"."""
        ...

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        """Answer a run's required action with one output per tool call; the run goes on.
        ``request`` is the run's request, for APIs that continue with a new response."""
        ...

    def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        """One page of the messages a run wrote, oldest first, starting after ``after``."""
        ...

    def resolve_assistant(self, spec: AssistantSpec) -> str | None:
        """Make ``spec`` usable: the id of its assistant object (created, or found and updated),
        or None where the API takes the definition with every run."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    """A transport that can follow a run as a stream of events."""

    def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Start a run (with the user's message) and stream its events."""
        ...

    def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Create a thread with the user's message, start a run and stream its events."""
        ...

    def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
        stall_timeout: float = 30.0,
    ) -> Iterator[RunEvent]:
        """Submit tool outputs and stream the rest of the run."""
        ...


@runtime_checkable
class RunFinder(Protocol):
    """A transport that can find the run an ask started, by the mark in its metadata."""

    def find_run(self, thread_id: str, key: str) -> Run | None:
        """The run of ``thread_id`` whose metadata has ``ASK_KEY`` = ``key``, if any."""
        ...


@runtime_checkable
class FileStore(Protocol):
    """A transport that reaches the Files API: names for citations, content for outputs."""

    def file_name(self, file_id: str) -> str:
        """A file's name."""
        ...

    def download_file(self, file_id: str) -> bytes:
        """A file's content."""
        ...


@runtime_checkable
class RunStepReader(Protocol):
    """A transport that reads a run's steps (tool calls, code and logs) on demand."""

    def run_steps(self, thread_id: str, run_id: str) -> tuple[RunStep, ...]:
        """The run's steps, oldest first."""
        ...


@runtime_checkable
class AssistantReader(Protocol):
    """A transport that fetches assistant objects (the Assistants API)."""

    def get_assistant(self, assistant_id: str) -> Assistant:
        """An assistant object, as the server has it."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The async twin of :class:`Transport`: the same operations, awaited."""

    async def create_thread(self, *, metadata: Mapping[str, str] | None = None) -> Thread:
        """See :meth:`Transport.create_thread`."""
        ...

    async def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
    ) -> Run:
        """See :meth:`Transport.start_run`."""
        ...

    async def create_thread_and_run(
        self, content: str, request: RunRequest, *, thread_metadata: Mapping[str, str] | None = None
    ) -> Run:
        """See :meth:`Transport.create_thread_and_run`."""
        ...

    async def get_run(self, thread_id: str, run_id: str) -> Run:
        """See :meth:`Transport.get_run`."""
        ...

    async def cancel_run(self, thread_id: str, run_id: str) -> Run:
        """See :meth:`Transport.cancel_run`."""
        ...

    async def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
    ) -> Run:
        """See :meth:`Transport.submit_tool_outputs`."""
        ...

    async def list_run_messages(
        self, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
    ) -> MessagePage:
        """See :meth:`Transport.list_run_messages`."""
        ...

    async def resolve_assistant(self, spec: AssistantSpec) -> str | None:
        """See :meth:`Transport.resolve_assistant`."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AsyncStreamingTransport(AsyncTransport, Protocol):
    """The async twin of :class:`StreamingTransport`."""

    async def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        *,
        content: str | None = None,
        message_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`StreamingTransport.stream_run`."""
        ...

    async def stream_thread_and_run(
        self,
        content: str,
        request: RunRequest,
        *,
        thread_metadata: Mapping[str, str] | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`StreamingTransport.stream_thread_and_run`."""
        ...

    async def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        *,
        request: RunRequest | None = None,
        stall_timeout: float = 30.0,
    ) -> AsyncIterator[RunEvent]:
        """See :meth:`StreamingTransport.stream_tool_outputs`."""
        ...


@runtime_checkable
class AsyncRunFinder(Protocol):
    """The async twin of :class:`RunFinder`."""

    async def find_run(self, thread_id: str, key: str) -> Run | None:
        """See :meth:`RunFinder.find_run`."""
        ...


@runtime_checkable
class AsyncFileStore(Protocol):
    """The async twin of :class:`FileStore`."""

    async def file_name(self, file_id: str) -> str:
        """See :meth:`FileStore.file_name`."""
        ...

    async def download_file(self, file_id: str) -> bytes:
        """See :meth:`FileStore.download_file`."""
        ...


@runtime_checkable
class AsyncRunStepReader(Protocol):
    """The async twin of :class:`RunStepReader`."""

    async def run_steps(self, thread_id: str, run_id: str) -> tuple[RunStep, ...]:
        """See :meth:`RunStepReader.run_steps`."""
        ...


@runtime_checkable
class AsyncAssistantReader(Protocol):
    """The async twin of :class:`AssistantReader`."""

    async def get_assistant(self, assistant_id: str) -> Assistant:
        """See :meth:`AssistantReader.get_assistant`."""
        ...


class TransportMethods:
    """The :class:`Transport` operations as methods, for a class that performs them.

    Inherit it and write ``_perform(operation, *args, **kwargs)`` (``async def`` for an async
    transport): every operation arrives there with the protocol's own signature, name and docs,
    so no signature is written again. The client transports and ``FakeTransport`` are built
    this way.
    """

    create_thread = Operation(Transport.create_thread)
    start_run = Operation(Transport.start_run)
    create_thread_and_run = Operation(Transport.create_thread_and_run)
    get_run = Operation(Transport.get_run)
    cancel_run = Operation(Transport.cancel_run)
    submit_tool_outputs = Operation(Transport.submit_tool_outputs)
    list_run_messages = Operation(Transport.list_run_messages)
    resolve_assistant = Operation(Transport.resolve_assistant)

    def _perform(self, operation: Operation[..., Any], /, *args: Any, **kwargs: Any) -> object:
        """Perform ``operation`` with the call's arguments (see :meth:`Operation.arguments`)."""
        raise NotImplementedError


class StreamingMethods(TransportMethods):
    """:class:`TransportMethods` and the :class:`StreamingTransport` operations."""

    stream_run = Operation(StreamingTransport.stream_run)
    stream_thread_and_run = Operation(StreamingTransport.stream_thread_and_run)
    stream_tool_outputs = Operation(StreamingTransport.stream_tool_outputs)
