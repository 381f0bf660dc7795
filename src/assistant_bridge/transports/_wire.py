"""What a wire builds: HTTP requests as values, each with what to do with its answer.

A wire (:mod:`._assistants`, :mod:`._responses`) is a table from operation type
(:mod:`.ops`) to a builder, which turns the operation into a :class:`Request` whose ``then``
turns the answer into the result, or into the next request when an operation takes several
(a lookup, then a create). Streams are a
:class:`StreamRequest`, possibly reached through requests first. Wires do no I/O: the client
transports (:mod:`._client`) send what they build, sync or async.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, TypeAlias, TypeVar, Union

import attrs

from assistant_bridge._values.events import RunEvent
from assistant_bridge._values.value import Value
from assistant_bridge.transports import ops
from assistant_bridge.transports.ops import Op, handler_table, handles

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

ASSISTANTS_BETA = {"OpenAI-Beta": "assistants=v2"}
"""The header the Assistants API asks for."""


@attrs.frozen(repr=False)
class Answer(Value):
    """What the server answered: the JSON body (or, for a ``binary`` request, the bytes) and
    the response headers (lower-case names)."""

    json: Any
    headers: Mapping[str, str]
    content: bytes = b""


@attrs.frozen(repr=False)
class Request(Value, Generic[T_co]):
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


@attrs.frozen(repr=False)
class StreamRequest(Value):
    """A POST whose answer is an event stream; ``converter`` is built fresh per stream, since
    it may keep state (the Responses API names the response only in its first events)."""

    path: str
    body: Mapping[str, Any]
    converter: Callable[[], EventConverter]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    made_thread: str | None = None


Stream = StreamRequest | Request[StreamRequest]
"""A stream, opened at once or after the requests that prepare it."""


Built: TypeAlias = Union[T, "Request[T]"]
"""What a builder makes of an operation: its result at once (known without asking the
server), or the request for it."""


Builder = Callable[[Any, Any], object]
"""A wire's builder for one operation: ``(wire, op)`` to the op's result, the request for it,
or (for a stream operation) the stream request. Typed per method; the table erases it."""


class Wire:
    """A wire: for each operation it performs, a builder marked ``@handles(OpType)`` that
    turns the operation into the requests performing it. No I/O.

    ``builders`` is the table the client transports look an operation up in, collected from
    the class and its bases when the class is made. To add a third wire, write a subclass
    with a builder per operation and bind the client transports to it (see
    ``docs/architecture.md``).
    """

    builders: ClassVar[Mapping[type[Op[Any]], Builder]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.builders = handler_table(cls)


class FileRequests(Wire):
    """The Files API, the same on both wires: a file's name (looked up once, then
    remembered) and its content."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    @handles(ops.FileName)
    def file_name(self, op: ops.FileName) -> Built[str]:
        file_id = op.file_id
        known = self._names.get(file_id)
        if known is not None:
            return known

        def remember(answer: Answer) -> str:
            self._names[file_id] = str(answer.json.get("filename") or file_id)
            return self._names[file_id]

        return Request("GET", f"/files/{file_id}", remember)

    @handles(ops.DownloadFile)
    def download_file(self, op: ops.DownloadFile) -> Request[bytes]:
        path = f"/files/{op.file_id}/content"
        return Request("GET", path, lambda a: a.content, binary=True)


def without_none(**fields: Any) -> dict[str, Any]:
    """The fields that are not None."""
    return {k: v for k, v in fields.items() if v is not None}
