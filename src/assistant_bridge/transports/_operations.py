"""Every client-transport operation, stated once: the protocol's signature, answered with the
wire's request for it.

:class:`Operation` binds one such function to both client transports: on
:class:`~._client.ClientTransport` it is a method that sends the request, on
:class:`~._client.AsyncClientTransport` one that awaits it, each typed with the function's own
parameters. So the sync and async transports share every signature and every wire call; only
``_perform`` (the I/O) is written twice.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    ParamSpec,
    Self,
    TypeVar,
    cast,
    overload,
)

import attrs

from assistant_bridge._values import models
from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.transports._assistants import AssistantsWire
from assistant_bridge.transports._protocol import RunRequest
from assistant_bridge.transports._wire import Metadata, Step, Stream, Wire

if TYPE_CHECKING:
    from assistant_bridge.transports._client import AsyncClientTransport, ClientTransport

P = ParamSpec("P")
T = TypeVar("T")
B = TypeVar("B")


@attrs.frozen
class Opening:
    """A stream to open (through the requests that prepare it, if any), and the longest
    silence allowed between two of its chunks."""

    stream: Stream
    stall_timeout: float


class Operation(Generic[P, B]):
    """A transport method made from ``build`` (wire and arguments to the request, or to the
    stream to open): it sends the result on a sync transport and awaits it on an async one."""

    def __init__(self, build: Callable[Concatenate[Wire, P], B]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(
        self: Operation[P, Opening], obj: ClientTransport, owner: type
    ) -> Callable[P, Iterator[RunEvent]]: ...
    @overload
    def __get__(
        self: Operation[P, Step[T]], obj: ClientTransport, owner: type
    ) -> Callable[P, T]: ...
    @overload
    def __get__(
        self: Operation[P, Opening], obj: AsyncClientTransport, owner: type
    ) -> Callable[P, Coroutine[Any, Any, AsyncIterator[RunEvent]]]: ...
    @overload
    def __get__(
        self: Operation[P, Step[T]], obj: AsyncClientTransport, owner: type
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: ClientTransport | AsyncClientTransport | None, owner: type) -> Any:
        if obj is None:
            return self
        return functools.partial(obj._perform, self._build)


def create_thread(wire: Wire, *, metadata: Metadata = None) -> Step[models.Thread]:
    """Create an empty thread."""
    return wire.create_thread(metadata)


def start_run(
    wire: Wire,
    thread_id: str,
    request: RunRequest,
    *,
    content: str | None = None,
    message_metadata: Metadata = None,
) -> Step[models.Run]:
    """Start a run on a thread, with the user's message in the same request."""
    return wire.start_run(thread_id, request, content, message_metadata)


def create_thread_and_run(
    wire: Wire, content: str, request: RunRequest, *, thread_metadata: Metadata = None
) -> Step[models.Run]:
    """Create a thread holding one user message and start a run on it."""
    return wire.create_thread_and_run(content, request, thread_metadata)


def get_run(wire: Wire, thread_id: str, run_id: str) -> Step[models.Run]:
    """Fetch a run's current state."""
    return wire.get_run(thread_id, run_id)


def cancel_run(wire: Wire, thread_id: str, run_id: str) -> Step[models.Run]:
    """Ask the server to cancel a run."""
    return wire.cancel_run(thread_id, run_id)


def submit_tool_outputs(
    wire: Wire,
    thread_id: str,
    run_id: str,
    outputs: Sequence[models.ToolOutput],
    *,
    request: RunRequest | None = None,
) -> Step[models.Run]:
    """Answer a run's required action; the run goes on."""
    return wire.submit_tool_outputs(thread_id, run_id, outputs, request)


def list_run_messages(
    wire: Wire, thread_id: str, run_id: str, *, after: str | None = None, limit: int = 100
) -> Step[models.MessagePage]:
    """One page of the messages a run wrote, oldest first."""
    return wire.list_run_messages(thread_id, run_id, after, limit)


def get_assistant(wire: Wire, assistant_id: str) -> Step[models.Assistant]:
    """Fetch an assistant object (Assistants API only)."""
    return wire.get_assistant(assistant_id)


def resolve_assistant(wire: Wire, spec: AssistantSpec) -> Step[str | None]:
    """The id of ``spec``'s assistant object (created, or found and updated), or None where
    the API takes the definition with every run. Remembered, so sessions sharing the
    transport look a spec up once."""
    return wire.resolve_assistant(spec)


def run_steps(wire: Wire, thread_id: str, run_id: str) -> Step[tuple[models.RunStep, ...]]:
    """A run's steps: its messages and tool calls, with code and logs."""
    return wire.list_run_steps(thread_id, run_id)


def file_name(wire: Wire, file_id: str) -> Step[str]:
    """A file's name (looked up once per transport)."""
    return wire.file_name(file_id)


def download_file(wire: Wire, file_id: str) -> Step[bytes]:
    """A file's content, e.g. a code-interpreter image a reply lists in ``files``."""
    return wire.file_content(file_id)


def stream_run(
    wire: Wire,
    thread_id: str,
    request: RunRequest,
    *,
    content: str | None = None,
    message_metadata: Metadata = None,
    stall_timeout: float = 30.0,
) -> Opening:
    """Start a run (with the user's message) and stream its events."""
    return Opening(wire.stream_run(thread_id, request, content, message_metadata), stall_timeout)


def stream_thread_and_run(
    wire: Wire,
    content: str,
    request: RunRequest,
    *,
    thread_metadata: Metadata = None,
    stall_timeout: float = 30.0,
) -> Opening:
    """Create a thread with the user's message, start a run and stream its events."""
    return Opening(wire.stream_thread_and_run(content, request, thread_metadata), stall_timeout)


def stream_tool_outputs(
    wire: Wire,
    thread_id: str,
    run_id: str,
    outputs: Sequence[models.ToolOutput],
    *,
    request: RunRequest | None = None,
    stall_timeout: float = 30.0,
) -> Opening:
    """Submit tool outputs and stream the rest of the run."""
    return Opening(wire.stream_tool_outputs(thread_id, run_id, outputs, request), stall_timeout)


def find_run(wire: Wire, thread_id: str, key: str) -> Step[models.Run | None]:
    """The run this library marked with ``key`` on the thread, if it exists (Assistants API)."""
    return cast(AssistantsWire, wire).find_run(thread_id, key)
