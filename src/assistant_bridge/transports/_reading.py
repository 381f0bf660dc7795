"""Reading an answer within the time the ask has left, however slowly it arrives.

An HTTP client's read timeout bounds each read, not the whole body: a server that sends one
byte every 0.3 s never trips it. So bodies and streams are read here chunk by chunk, and the
clock is looked at after every chunk: past ``until`` the answer is given up (the connection is
closed) with an :class:`~assistant_bridge.exceptions.APIConnectionError` (a body) or a
:class:`~assistant_bridge.exceptions.StreamInterruptedError` (a stream). A single read that
would block past ``until`` is cut too: async code awaits each chunk under a timeout, sync code
has a timer shut the connection's socket at ``until`` (:func:`_guard`). The HTTP stack's own
errors while reading become ours too. Only the I/O is doubled (sync and async); what a chunk
means is decided once, in :class:`BodyReader` and :class:`LineReader`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from typing import Any

from assistant_bridge._redact import raise_detached, redact
from assistant_bridge.exceptions import (
    APIConnectionError,
    AssistantBridgeError,
    MalformedResponseError,
    StreamInterruptedError,
)

__all__ = [
    "BodyReader",
    "LineReader",
    "alines",
    "aread_body",
    "not_a_stream",
    "lines",
    "parse_json",
    "read_body",
]

# The id an answer begins with (a run, a response): salvaged from a body that cannot be
# read whole, so the run it names can still be cancelled.
_LEADING_ID = re.compile(rb'^\s*\{\s*"id"\s*:\s*"((?:run|resp)_[A-Za-z0-9_-]{4,100})"')


def salvaged_id(body: bytes) -> str | None:
    """The run or response id at the start of a body cut short, or None."""
    found = _LEADING_ID.match(body)
    return found.group(1).decode() if found else None


def parse_json(body: bytes) -> Any:
    """The JSON of a body read whole: :class:`MalformedResponseError` when it is not JSON
    (cut short, an HTML page), carrying the run id it begins with, if any."""
    try:
        return json.loads(body)
    except ValueError as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        error = MalformedResponseError(
            f"The server's answer could not be read as JSON ({detail}); a proxy or gateway "
            "may have answered instead of the API. The request may have been carried out."
        )
        error.run_id = salvaged_id(body)
        raise_detached(error)


class BodyReader:
    """Collects a body's chunks and decides, after each, whether time is up."""

    def __init__(self, response: Any, until: float, secrets: Sequence[str | None]) -> None:
        self._response = response
        self._until = until
        self._secrets = secrets
        self._chunks: list[bytes] = []
        self._began = time.monotonic()
        length = response.headers.get("content-length")
        self._length = int(length) if length and length.isdigit() else None

    def add(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        if time.monotonic() > self._until and not self._complete():
            self.too_slow()

    def _complete(self) -> bool:
        downloaded = getattr(self._response, "num_bytes_downloaded", None)
        return self._length is not None and downloaded is not None and downloaded >= self._length

    def body(self) -> bytes:
        return b"".join(self._chunks)

    def too_slow(self) -> None:
        got = sum(len(c) for c in self._chunks)
        msg = (
            f"The server's answer was still arriving when the time for it ran out ({got} bytes "
            f"in {time.monotonic() - self._began:.1f}s); it was given up. The request may have "
            "been carried out."
        )
        error = APIConnectionError(msg)
        error.run_id = salvaged_id(self.body())
        raise_detached(error)  # it may be raised while the HTTP stack's error is handled

    def broke(self, exc: Exception) -> None:
        """The HTTP stack failed while reading: ours, typed and with the key masked."""
        if isinstance(exc, AssistantBridgeError):
            raise exc
        detail = redact(f"{type(exc).__name__}: {exc}", self._secrets)[:200]
        msg = (
            f"The server's answer broke off before its end ({detail}); the request may have "
            "been carried out."
        )
        raise_detached(APIConnectionError(msg))


def _shut(response: Any) -> None:
    """Shut the socket under ``response``, so a read blocked on it returns at once."""
    with contextlib.suppress(Exception):
        stream = response.extensions["network_stream"]
        stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _guard(response: Any, until: float) -> Iterator[None]:
    """Cut a sync read that would block past ``until``: a timer shuts the socket then (the
    connection is not reused: it broke)."""
    timer = None
    if until != float("inf"):
        timer = threading.Timer(max(0.0, until - time.monotonic()), _shut, (response,))
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def _left(until: float) -> float | None:
    """Seconds before ``until`` (never negative), or None when there is no end."""
    return None if until == float("inf") else max(0.0, until - time.monotonic())


def read_body(response: Any, until: float, secrets: Sequence[str | None] = ()) -> bytes:
    """The whole body of an open (streamed) response, read before ``until``; closes it."""
    reader = BodyReader(response, until, secrets)
    try:
        with _guard(response, until):
            for chunk in response.iter_bytes():
                reader.add(chunk)
    except Exception as exc:
        if time.monotonic() > until:
            reader.too_slow()
        reader.broke(exc)
    finally:
        response.close()
    return reader.body()


async def aread_body(response: Any, until: float, secrets: Sequence[str | None] = ()) -> bytes:
    """The async twin of :func:`read_body`."""
    reader = BodyReader(response, until, secrets)
    try:
        chunks = response.aiter_bytes()
        while True:
            async with asyncio.timeout(_left(until)):
                chunk = await anext(chunks, None)
            if chunk is None:
                break
            reader.add(chunk)
    except Exception as exc:
        if time.monotonic() > until:
            reader.too_slow()
        reader.broke(exc)
    finally:
        await response.aclose()
    return reader.body()


def not_a_stream(response: Any) -> MalformedResponseError | None:
    """The error for an answer that is not an event stream (a page from a gateway, a JSON
    object where a stream belongs), or None when it is one."""
    kind = str(response.headers.get("content-type") or "")
    if not kind or "event-stream" in kind:
        return None
    return MalformedResponseError(
        f"The server answered {kind.split(';')[0][:64]} where an event stream was expected; a "
        "proxy or gateway may have answered instead of the API. The run may have been started."
    )


class LineReader:
    """Splits a stream's chunks into lines, and gives the stream up once ``until`` passed
    (however many bytes or keep-alive comments keep coming)."""

    def __init__(self, until: float) -> None:
        self.until = until
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def overrun(self) -> StreamInterruptedError:
        msg = "the stream went on past the ask's deadline"
        return StreamInterruptedError(
            f"The event stream broke off (TimeoutError: {msg}); the run may still be going: "
            "poll it, or resume it by thread and run id."
        )

    def feed(self, chunk: bytes) -> list[str]:
        if time.monotonic() > self.until:
            raise self.overrun()
        self._buffer += self._decoder.decode(chunk)
        *done, self._buffer = self._buffer.split("\n")
        return [line.removesuffix("\r") for line in done]

    def end(self) -> list[str]:
        rest = (self._buffer + self._decoder.decode(b"", final=True)).removesuffix("\r")
        self._buffer = ""
        return [rest] if rest else []


def lines(response: Any, until: float) -> Iterator[str]:
    """The lines of an open event stream, given up past ``until``."""
    reader = LineReader(until)
    with _guard(response, until):
        try:
            for chunk in response.iter_bytes():
                yield from reader.feed(chunk)
        except Exception:
            if time.monotonic() > reader.until:  # the stream was cut for it: say so
                raise_detached(reader.overrun())
            raise
    yield from reader.end()


async def alines(response: Any, until: float) -> AsyncGenerator[str, None]:
    """The async twin of :func:`lines`."""
    reader = LineReader(until)
    chunks = response.aiter_bytes()
    while True:
        try:
            async with asyncio.timeout(_left(until)):
                chunk = await anext(chunks, None)
        except TimeoutError:
            raise_detached(reader.overrun())
        if chunk is None:
            break
        for line in reader.feed(chunk):
            yield line
    for line in reader.end():
        yield line
