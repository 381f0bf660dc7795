"""Client calls as values, performed by a sync or an async executor.

A wire module (``_assistants_wire``, ``_responses_wire``) builds each operation as a
generator that yields :class:`ClientCall` values and receives ``(json, headers)``; it decides
bodies, paths and parsing without I/O. The executors here perform the calls on an
``openai.OpenAI`` or ``openai.AsyncOpenAI`` client, translating errors at the one boundary.
So the sync and async transports share every decision and double only the I/O.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from assistant_bridge._redact import redact
from assistant_bridge.exceptions import StreamInterruptedError
from assistant_bridge.transports._openai import map_openai_errors
from assistant_bridge.transports._sse import SseDecoder, decode

if TYPE_CHECKING:
    from assistant_bridge._values.events import RunEvent

T = TypeVar("T")

Answer = tuple[Any, Mapping[str, str]]


@attrs.frozen
class ClientCall:
    """Call ``client.<path>(*args, **kwargs)``; ``raw`` for a ``with_raw_response`` method."""

    path: tuple[str, ...]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)
    raw: bool = True


WireFlow = Generator[ClientCall, Answer, T]
"""A wire operation: yields client calls, receives (json, headers), returns the result."""


def _method(client: Any, call: ClientCall | StreamCall) -> Any:
    target = client
    for part in call.path:
        target = getattr(target, part)
    return target


def _answer(result: Any, raw: bool) -> Answer:
    if raw:
        return result.http_response.json(), result.headers
    return result, {}


def execute(client: Any, secrets: Sequence[str | None], flow: WireFlow[T]) -> T:
    """Perform a wire operation with a sync client."""
    try:
        call = next(flow)
        while True:
            with map_openai_errors(secrets):
                answer = _answer(_method(client, call)(*call.args, **call.kwargs), call.raw)
            call = flow.send(answer)
    except StopIteration as stop:
        return cast(T, stop.value)


async def aexecute(client: Any, secrets: Sequence[str | None], flow: WireFlow[T]) -> T:
    """Perform a wire operation with an async client."""
    try:
        call = next(flow)
        while True:
            with map_openai_errors(secrets):
                result = await _method(client, call)(*call.args, **call.kwargs)
                answer = _answer(result, call.raw)
            call = flow.send(answer)
    except StopIteration as stop:
        return cast(T, stop.value)


@attrs.frozen
class StreamCall:
    """Open an event stream: a typed resource's ``with_streaming_response`` method, or (with
    ``generic``) ``client.post(path, body=...)``. ``convert`` turns (event, data) pairs into
    domain events; it may keep state, so build a fresh one per stream."""

    path: tuple[str, ...]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    convert: Callable[[str, str], RunEvent | None]
    generic: bool = False


def _response_class(client: Any) -> Any:
    """The HTTP library's Response class the client uses (httpx, or httpx2 for openai 3.x)."""
    for base in type(client._client).__mro__:
        package = base.__module__.split(".")[0]
        if package in ("httpx", "httpx2"):
            return importlib.import_module(package).Response
    msg = f"cannot tell which HTTP library {type(client).__name__} uses"
    raise TypeError(msg)


def _interrupted(exc: BaseException, secrets: Sequence[str | None]) -> StreamInterruptedError:
    detail = redact(f"{type(exc).__name__}: {exc}", secrets)
    msg = (
        f"The event stream broke off ({detail}); the run may still be going: "
        "poll it, or resume it by thread and run id."
    )
    return StreamInterruptedError(msg)


def open_stream(
    client: Any, secrets: Sequence[str | None], call: StreamCall, timeout: float
) -> Iterator[RunEvent]:
    """Open the stream (errors mapped as for any call) and return its events.

    ``timeout`` is also the longest silence tolerated between two chunks: past it the
    iterator raises StreamInterruptedError, so a stalled stream never hangs an ask.
    """
    with map_openai_errors(secrets):
        if call.generic:
            response = client.post(
                call.args[0],
                body=dict(call.kwargs["body"]),
                cast_to=_response_class(client),
                stream=True,
                options={"timeout": timeout},
            )
            return _events(response.iter_lines(), response.close, call.convert, secrets)
        manager = _method(client, call)(*call.args, **call.kwargs, timeout=timeout)
        response = manager.__enter__()
    return _events(
        response.iter_lines(), lambda: manager.__exit__(None, None, None), call.convert, secrets
    )


def _events(
    lines: Iterator[str],
    close: Callable[[], Any],
    convert: Callable[[str, str], RunEvent | None],
    secrets: Sequence[str | None],
) -> Iterator[RunEvent]:
    pairs = decode(lines)
    try:
        while True:
            try:
                name, data = next(pairs)
            except StopIteration:
                return
            except Exception as exc:  # whatever the HTTP stack raises when a stream breaks
                raise _interrupted(exc, secrets) from None
            event = convert(name, data)
            if event is not None:
                yield event
    finally:
        with contextlib.suppress(Exception):
            close()


async def aopen_stream(
    client: Any, secrets: Sequence[str | None], call: StreamCall, timeout: float
) -> AsyncIterator[RunEvent]:
    """The async twin of :func:`open_stream`."""
    with map_openai_errors(secrets):
        if call.generic:
            response = await client.post(
                call.args[0],
                body=dict(call.kwargs["body"]),
                cast_to=_response_class(client),
                stream=True,
                options={"timeout": timeout},
            )
            return _aevents(response.aiter_lines(), response.aclose, call.convert, secrets)
        manager = _method(client, call)(*call.args, **call.kwargs, timeout=timeout)
        response = await manager.__aenter__()

    async def close() -> None:
        await manager.__aexit__(None, None, None)

    return _aevents(response.iter_lines(), close, call.convert, secrets)


async def _aevents(
    lines: AsyncIterator[str],
    close: Callable[[], Awaitable[Any]],
    convert: Callable[[str, str], RunEvent | None],
    secrets: Sequence[str | None],
) -> AsyncIterator[RunEvent]:
    decoder = SseDecoder()
    try:
        while True:
            try:
                line = await anext(lines)
            except StopAsyncIteration:
                found = decoder.feed("")
                if found is not None and (event := convert(*found)) is not None:
                    yield event
                return
            except Exception as exc:  # whatever the HTTP stack raises when a stream breaks
                raise _interrupted(exc, secrets) from None
            found = decoder.feed(line)
            if found is not None and (event := convert(*found)) is not None:
                yield event
    finally:
        with contextlib.suppress(Exception):
            await close()
