"""The client transports: any wire, sent through an ``openai`` client, sync or async.

:class:`ClientTransport` and :class:`AsyncClientTransport` implement the transport protocols for
whichever wire they hold (:class:`~._assistants.AssistantsWire` or
:class:`~._responses.ResponsesWire`): each operation is built into requests by the wire, sent,
and decoded by the wire. They differ only in how a request is sent (called or
awaited). The public transports are these two bound to a wire. Requests use the client's
generic ``get``/``post`` methods, so every openai version from 1.37.1 works the same way.

``perform(op)`` looks the operation's type up in the wire's table of builders
(:attr:`~._wire.Wire.builders`), and sends (or awaits) the requests the builder makes of the
operation; the named methods (``get_run``, ...) only build the operation and perform it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast, overload

from assistant_bridge._redact import raise_detached, redact
from assistant_bridge._values.events import RunEvent
from assistant_bridge.exceptions import ConfigurationError, StreamInterruptedError, TransportError
from assistant_bridge.transports import ops
from assistant_bridge.transports._assistants import AssistantsWire
from assistant_bridge.transports._decoding import decoded
from assistant_bridge.transports._openai import map_openai_errors
from assistant_bridge.transports._protocol import NamedOp, StreamingMethods, heard, unsupported
from assistant_bridge.transports._reading import (
    alines,
    aread_body,
    lines,
    not_a_stream,
    parse_json,
    read_body,
)
from assistant_bridge.transports._sse import SseDecoder
from assistant_bridge.transports._wire import (
    Answer,
    Built,
    EventConverter,
    Request,
    Stream,
    StreamRequest,
    Wire,
)
from assistant_bridge.transports.ops import Op, StreamOp

if TYPE_CHECKING:
    import openai

__all__ = [
    "AsyncClientTransport",
    "AsyncOpenAITransport",
    "AsyncResponsesTransport",
    "ClientTransport",
    "OpenAITransport",
    "ResponsesTransport",
    "env_settings",
]

T = TypeVar("T")
C = TypeVar("C", "openai.OpenAI", "openai.AsyncOpenAI")


class _ClientHolder(StreamingMethods, Generic[C]):
    """What both client transports do with their ``openai`` client: build it (never without a
    key), read the environment, keep the key out of reprs, and pick the wire.

    The session's RetryPolicy is the one retry layer, so the client must not retry too: a
    client you pass in is used through ``client.with_options(max_retries=0)`` (same connection
    pool), and a client built here gets ``max_retries=0`` unless you ask for more.

    ``max_connections`` bounds the connection pool (and keeps that many alive for reuse);
    ``http_client`` hands over an HTTP client of your own (``openai.DefaultHttpxClient(...)``
    with proxies or certificates, say). Neither needs an ``openai`` client built by hand.
    """

    client_class: ClassVar[str]
    """The ``openai`` client class's name: ``openai`` is imported when a transport is first
    built, not when this module is (a first import then costs what it adds, not openai's)."""
    http_client_class: ClassVar[str]
    """The name of ``openai``'s HTTP client class for this flavour (sync or async)."""
    wire_class: ClassVar[Callable[[], Wire]]

    def __init__(
        self,
        api_key: str | None = None,
        *,
        organization: str | None = None,
        project: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 0,
        client: C | None = None,
        http_client: Any = None,
        max_connections: int | None = None,
    ) -> None:
        import openai

        if http_client is None and max_connections is not None:
            http_client_class = getattr(openai, self.http_client_class)
            http_client = http_client_class(limits=_limits(max_connections))
        if client is None:
            if not api_key:
                msg = (
                    "No API key: pass api_key=... or set OPENAI_API_KEY "
                    f"(use {type(self).__name__}.from_env())."
                )
                raise ConfigurationError(msg)
            client = cast(
                C,
                getattr(openai, self.client_class)(
                    api_key=api_key,
                    organization=organization,
                    project=project,
                    base_url=base_url,
                    timeout=timeout,
                    max_retries=max_retries,
                    http_client=http_client,
                ),
            )
        else:
            client = client.with_options(max_retries=0)
        self._client: C = client
        self._secrets: tuple[str | None, ...] = (api_key, getattr(client, "api_key", None))
        self._wire: Wire = type(self).wire_class()
        self._response_class = _response_class(client)

    # The operations beyond StreamingMethods', one line each.
    run_steps = NamedOp(ops.RunSteps)
    file_name = NamedOp(ops.FileName)
    download_file = NamedOp(ops.DownloadFile)

    def supports(self, op_type: type[Op[Any]], /) -> bool:
        """True when the wire has a builder for ``op_type``."""
        return op_type in self._wire.builders

    def _build(self, op: Op[Any]) -> object:
        """What the wire's builder for ``op`` makes of it: the result, the request for it, or
        a stream request; an operation the wire has no builder for is refused."""
        builder = self._wire.builders.get(type(op))
        if builder is None:
            raise unsupported(self, op)
        return builder(self._wire, op)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Self:
        """Build from OPENAI_API_KEY, OPENAI_ORG_ID, OPENAI_PROJECT_ID and OPENAI_BASE_URL."""
        return cls(**env_settings(cls.__name__, environ), **kwargs)

    def __repr__(self) -> str:
        base_url = redact(str(self._client.base_url), self._secrets)
        return f"<{type(self).__name__}(base_url={base_url!r})>"

    @property
    def client(self) -> C:
        """The underlying ``openai`` client, for calls this library does not wrap."""
        return self._client

    def _send(self, request: Request[Any], budget: float | None) -> Any:
        """The client method call for ``request`` (not yet sent, or awaited); ``budget``
        bounds it (None: the client's timeout)."""
        options: dict[str, Any] = {"headers": dict(request.headers)}
        if budget is not None:
            options["timeout"] = budget
        if request.query:
            options["params"] = dict(request.query)
        method = getattr(self._client, request.method.lower())
        kwargs: dict[str, Any] = {"cast_to": self._response_class, "options": options}
        if request.method != "DELETE":  # openai's delete() cannot stream; its answer is small
            # Streamed, so the body is read chunk by chunk against the deadline (_reading).
            kwargs["stream"] = True
        if request.method == "POST":
            kwargs["body"] = dict(request.body or {})
        return method(request.path, **kwargs)

    def _send_stream(self, stream: StreamRequest, stall_timeout: float | None) -> Any:
        """Open the stream; ``stall_timeout`` is the longest silence between two chunks."""
        options = {"headers": dict(stream.headers), "timeout": stall_timeout}
        client: Any = self._client  # the overloads want a stream class; we read raw lines
        return client.post(
            stream.path,
            body=dict(stream.body),
            cast_to=self._response_class,
            stream=True,
            options=options,
        )


def _answer(response: Any, body: bytes, binary: bool = False) -> Answer:
    """The answer of ``response``, whose ``body`` was read."""
    heard(response.headers)
    if binary:
        return Answer(None, response.headers, body)
    return Answer(parse_json(body), response.headers)


class ClientTransport(_ClientHolder["openai.OpenAI"]):
    """A wire sent through ``openai.OpenAI``; see :class:`OpenAITransport` and
    :class:`ResponsesTransport`.

    Its operations are those of :class:`~assistant_bridge.transports.Transport` and
    :class:`~assistant_bridge.transports.StreamingTransport`, plus ``run_steps``
    (:class:`~assistant_bridge.transports.RunStepReader`), ``file_name`` and
    ``download_file`` (:class:`~assistant_bridge.transports.FileStore`). The wire remembers
    what never changes: a spec's assistant id (``resolve_assistant``, so sessions sharing the
    transport look a spec up once) and file names.
    """

    client_class = "OpenAI"
    http_client_class = "DefaultHttpxClient"

    @overload
    def perform(self, op: StreamOp, /) -> Iterator[RunEvent]: ...
    @overload
    def perform(self, op: Op[T], /) -> T: ...
    def perform(self, op: Op[Any], /) -> Any:
        """Send the requests the wire builds for ``op``, or open its stream."""
        step = self._build(op)
        if isinstance(op, StreamOp):
            return self._open(cast(Stream, step), op)
        return self._run(step, op.budget)

    def _run(self, step: Built[T], budget: float | None) -> T:
        until = _stream_end(budget)
        while isinstance(step, Request):
            with _made(step), map_openai_errors(self._secrets):
                response = self._send(step, budget)
                body = read_body(response, until, self._secrets)
                answer = _answer(response, body, step.binary)
            step = decoded(step.then, answer)
        return step

    def _open(self, stream: Stream, op: StreamOp) -> Iterator[RunEvent]:
        target = self._run(stream, op.budget)
        until = _stream_end(op.budget)
        with _made(target), map_openai_errors(self._secrets):
            response = self._send_stream(target, op.stall_timeout)
            if (wrong := not_a_stream(response)) is not None:
                response.close()
                raise wrong
        heard(response.headers)
        return _Closing(_events(response, target.converter(), self._secrets, until), response)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClientTransport(_ClientHolder["openai.AsyncOpenAI"]):
    """The async twin of :class:`ClientTransport`: the same operations, awaited."""

    client_class = "AsyncOpenAI"
    http_client_class = "DefaultAsyncHttpxClient"

    @overload
    async def perform(self, op: StreamOp, /) -> AsyncIterator[RunEvent]: ...
    @overload
    async def perform(self, op: Op[T], /) -> T: ...
    async def perform(self, op: Op[Any], /) -> Any:
        """See :meth:`ClientTransport.perform`."""
        step = self._build(op)
        if isinstance(op, StreamOp):
            return await self._open(cast(Stream, step), op)
        return await self._run(step, op.budget)

    async def _run(self, step: Built[T], budget: float | None) -> T:
        until = _stream_end(budget)
        while isinstance(step, Request):
            with _made(step), map_openai_errors(self._secrets):
                response = await self._send(step, budget)
                body = await aread_body(response, until, self._secrets)
                answer = _answer(response, body, step.binary)
            step = decoded(step.then, answer)
        return step

    async def _open(self, stream: Stream, op: StreamOp) -> AsyncIterator[RunEvent]:
        target = await self._run(stream, op.budget)
        until = _stream_end(op.budget)
        with _made(target), map_openai_errors(self._secrets):
            response = await self._send_stream(target, op.stall_timeout)
            if (wrong := not_a_stream(response)) is not None:
                await response.aclose()
                raise wrong
        heard(response.headers)
        events = _aevents(response, target.converter(), self._secrets, until)
        return _AsyncClosing(events, response)

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class OpenAITransport(ClientTransport):
    """The Assistants API through the official ``openai`` client.

    Give a key (and optionally organization, project, base_url), use :meth:`from_env`, or pass
    a ready ``openai.OpenAI`` client as ``client``. The key is never shown in a repr, a log
    line or an error message. It streams, and finds a run by its ask mark.
    """

    wire_class = AssistantsWire
    find_run = NamedOp(ops.FindRun)
    get_assistant = NamedOp(ops.GetAssistant)


class AsyncOpenAITransport(AsyncClientTransport):
    """The Assistants API through ``openai.AsyncOpenAI``; the async twin of OpenAITransport."""

    wire_class = AssistantsWire
    find_run = NamedOp(ops.FindRun)
    get_assistant = NamedOp(ops.GetAssistant)


class ResponsesTransport(ClientTransport):
    """The Responses + Conversations APIs through the ``openai`` client.

    Construct it like :class:`OpenAITransport`. A thread is a conversation (``conv_…``), a run
    a background response (``resp_…``). Sessions on it need ``assistant=AssistantSpec(...)``:
    the Responses API has no assistant objects.
    """

    wire_class = staticmethod(lambda: _responses_wire())


class AsyncResponsesTransport(AsyncClientTransport):
    """The async twin of :class:`ResponsesTransport`."""

    wire_class = staticmethod(lambda: _responses_wire())


def _limits(max_connections: int) -> Any:
    """A pool of ``max_connections``, all kept alive, in the HTTP library openai uses."""
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        msg = f"max_connections must be a whole number, got {max_connections!r}."
        raise ConfigurationError(msg)
    if not 1 <= max_connections <= 10_000:
        msg = f"max_connections must be from 1 to 10000, got {max_connections}."
        raise ConfigurationError(msg)
    import openai

    package = _http_package(openai.DefaultHttpxClient)
    limits = importlib.import_module(package).Limits
    return limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _http_package(cls: type) -> str:
    for base in cls.__mro__:
        package = base.__module__.split(".")[0]
        if package in ("httpx", "httpx2"):
            return package
    msg = f"cannot tell which HTTP library {cls.__name__} uses"
    raise TypeError(msg)


def _responses_wire() -> Wire:
    """The Responses wire, imported when a Responses transport is first built."""
    from assistant_bridge.transports._responses import ResponsesWire

    return ResponsesWire()


def _response_class(client: Any) -> Any:
    """The HTTP library's Response class the client uses (httpx, or httpx2 for openai 3.x)."""
    return importlib.import_module(_http_package(type(client._client))).Response


def _interrupted(exc: BaseException, secrets: Sequence[str | None]) -> StreamInterruptedError:
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    msg = (
        f"The event stream broke off ({detail}); the run may still be going: "
        "poll it, or resume it by thread and run id."
    )
    return StreamInterruptedError(msg)


@contextlib.contextmanager
def _made(request: Request[Any] | StreamRequest) -> Iterator[None]:
    """A failure of ``request`` carries the thread an earlier request created (``thread_id``)."""
    try:
        yield
    except TransportError as exc:
        if request.made_thread is not None and getattr(exc, "thread_id", None) is None:
            exc.thread_id = request.made_thread
        raise


def _stream_end(budget: float | None) -> float:
    """When a stream opened now must be given up: at the end of the request's budget."""
    return float("inf") if budget is None else time.monotonic() + budget


def _overrun(secrets: Sequence[str | None]) -> StreamInterruptedError:
    return _interrupted(TimeoutError("the stream went on past the ask's deadline"), secrets)


class _Closing(Iterator[RunEvent]):
    """A stream's events whose ``close()`` releases the response even if it was never read
    (a generator that never started would skip its ``finally``)."""

    def __init__(self, events: Iterator[RunEvent], response: Any) -> None:
        self._events, self._response = events, response

    def __next__(self) -> RunEvent:
        return next(self._events)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._events.close()  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            self._response.close()


class _AsyncClosing(AsyncIterator[RunEvent]):
    """The async twin of :class:`_Closing`."""

    def __init__(self, events: AsyncIterator[RunEvent], response: Any) -> None:
        self._events, self._response = events, response

    async def __anext__(self) -> RunEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._events.aclose()  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            await self._response.aclose()


class _EventReader:
    """What both stream readers decide, line by line: the domain event a line completes, and
    whether the stream has run past its deadline (however chatty the server)."""

    def __init__(
        self, convert: EventConverter, secrets: Sequence[str | None], until: float
    ) -> None:
        self._decoder = SseDecoder()
        self._convert = convert
        self._secrets = secrets
        self._until = until

    def __enter__(self) -> None:
        """Read a line: whatever the HTTP stack raises when a stream breaks becomes a
        :class:`StreamInterruptedError` (with the key masked)."""

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, StreamInterruptedError):
            raise_detached(_interrupted(exc, self._secrets))

    def read(self, line: str | None) -> RunEvent | None:
        """The event ``line`` completes. A stream that ends in the middle of an event, or
        sends one that cannot be read, is interrupted: its run is polled from there."""
        if line is None and self._decoder.pending:
            raise _interrupted(EOFError("the stream ended in the middle of an event"), ())
        found = self._decoder.feed("" if line is None else line)
        if line is not None and time.monotonic() > self._until:
            raise _overrun(self._secrets)
        if found is None:
            return None
        with self:
            return self._convert(*found)


def _events(
    response: Any, convert: EventConverter, secrets: Sequence[str | None], until: float
) -> Iterator[RunEvent]:
    """The stream's domain events, until it ends or ``until``. A stream read to its end
    leaves its connection to the pool for the next request."""
    reader, read = _EventReader(convert, secrets, until), lines(response, until)
    line: str | None = ""
    try:
        while line is not None:
            with reader:
                line = next(read, None)
            if (event := reader.read(line)) is not None:
                yield event
    finally:
        with contextlib.suppress(Exception):
            response.close()


async def _aevents(
    response: Any, convert: EventConverter, secrets: Sequence[str | None], until: float
) -> AsyncIterator[RunEvent]:
    """The async twin of :func:`_events`."""
    reader, read = _EventReader(convert, secrets, until), alines(response, until)
    line: str | None = ""
    try:
        while line is not None:
            with reader:
                line = await anext(read, None)
            if (event := reader.read(line)) is not None:
                yield event
    finally:
        with contextlib.suppress(Exception):
            await read.aclose()
        with contextlib.suppress(Exception):
            await response.aclose()


def env_settings(owner: str, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """Key, organization, project and base URL from the OPENAI_* environment variables."""
    env = os.environ if environ is None else environ
    api_key = env.get("OPENAI_API_KEY", "").strip()
    if not api_key:
        msg = f"OPENAI_API_KEY is not set: export it, or pass api_key=... to {owner}(...)."
        raise ConfigurationError(msg)
    return {
        "api_key": api_key,
        "organization": env.get("OPENAI_ORG_ID") or None,
        "project": env.get("OPENAI_PROJECT_ID") or None,
        "base_url": env.get("OPENAI_BASE_URL") or None,
    }
