"""What a wire builds: HTTP requests as values, each with what to do with its answer.

A wire (:mod:`._assistants`, :mod:`._responses`) writes every transport operation once, as a
:class:`Request` whose ``then`` turns the answer into the result, or into the next request
when an operation takes several (a lookup, then a create). Streams are a
:class:`StreamRequest`, possibly reached through requests first. Wires do no I/O: the client
transports (:mod:`._client`) send what they build, sync or async.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeAlias, TypeVar, Union

import attrs

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.models import (
    MessagePage,
    Run,
    RunStep,
    Thread,
    ToolOutput,
)
from assistant_bridge._values.spec import AssistantSpec

if TYPE_CHECKING:
    from assistant_bridge.transports._protocol import RunRequest

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

Metadata: TypeAlias = Mapping[str, str] | None
"""Metadata for an object (at most 16 pairs), or None to send none."""

ToolOutputs: TypeAlias = Sequence[ToolOutput]
"""The outputs that answer a run's tool calls, one per call."""

ASSISTANTS_BETA = {"OpenAI-Beta": "assistants=v2"}
"""The header the Assistants API asks for."""


@attrs.frozen
class Answer:
    """What the server answered: the JSON body (or, for a ``binary`` request, the bytes) and
    the response headers (lower-case names)."""

    json: Any
    headers: Mapping[str, str]
    content: bytes = b""


@attrs.frozen
class Request(Generic[T_co]):
    """One request, and ``then``: the result from its answer, or the next request."""

    method: Literal["GET", "POST", "DELETE"]
    path: str
    then: Callable[[Answer], T_co | Request[T_co]]
    body: Mapping[str, Any] | None = None
    query: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: The thread an earlier request of the same operation created: if this one fails, the
    #: error carries it, so the session keeps the thread instead of leaving it behind.
    made_thread: str | None = None
    #: The answer is a file's bytes, not JSON.
    binary: bool = False


EventConverter = Callable[[str, str], RunEvent | None]
"""Turns one server-sent (event, data) pair into a domain event, or None to skip it."""


@attrs.frozen
class StreamRequest:
    """A POST whose answer is an event stream; ``converter`` is built fresh per stream, since
    it may keep state (the Responses API names the response only in its first events)."""

    path: str
    body: Mapping[str, Any]
    converter: Callable[[], EventConverter]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    made_thread: str | None = None


Stream = StreamRequest | Request[StreamRequest]
"""A stream, opened at once or after the requests that prepare it."""


Step: TypeAlias = Union[T, "Request[T]"]
"""An operation's result at once (known without asking the server), or the request for it."""


class Wire(Protocol):
    """What a wire provides: each transport operation as the requests that perform it.

    To add a third wire, write a class with these methods and bind the client transports to
    it (see ``docs/architecture.md``).
    """

    def create_thread(self, metadata: Metadata) -> Step[Thread]: ...

    def start_run(
        self, thread_id: str, request: RunRequest, content: str | None, message_metadata: Metadata
    ) -> Step[Run]: ...

    def create_thread_and_run(
        self, content: str, request: RunRequest, thread_metadata: Metadata
    ) -> Step[Run]: ...

    def get_run(self, thread_id: str, run_id: str) -> Step[Run]: ...

    def cancel_run(self, thread_id: str, run_id: str) -> Step[Run]: ...

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: ToolOutputs, request: RunRequest | None
    ) -> Step[Run]: ...

    def list_run_messages(
        self, thread_id: str, run_id: str, after: str | None, limit: int
    ) -> Step[MessagePage]: ...

    def run_steps(self, thread_id: str, run_id: str) -> Step[tuple[RunStep, ...]]: ...

    def resolve_assistant(self, spec: AssistantSpec) -> Step[str | None]: ...

    def stream_run(
        self, thread_id: str, request: RunRequest, content: str | None, message_metadata: Metadata
    ) -> Stream: ...

    def stream_thread_and_run(
        self, content: str, request: RunRequest, thread_metadata: Metadata
    ) -> Stream: ...

    def stream_tool_outputs(
        self, thread_id: str, run_id: str, outputs: ToolOutputs, request: RunRequest | None
    ) -> Stream: ...

    def file_name(self, file_id: str) -> Step[str]: ...

    def download_file(self, file_id: str) -> Step[bytes]: ...


class FileRequests:
    """The Files API, the same on both wires: a file's name (looked up once, then
    remembered) and its content."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def file_name(self, file_id: str) -> Step[str]:
        known = self._names.get(file_id)
        if known is not None:
            return known

        def remember(answer: Answer) -> str:
            self._names[file_id] = str(answer.json.get("filename") or file_id)
            return self._names[file_id]

        return Request("GET", f"/files/{file_id}", remember)

    def download_file(self, file_id: str) -> Request[bytes]:
        return Request("GET", f"/files/{file_id}/content", lambda a: a.content, binary=True)


def given(**fields: Any) -> dict[str, Any]:
    """The fields that are not None."""
    return {k: v for k, v in fields.items() if v is not None}
