"""A small asyncio HTTP/1.1 server: keep-alive, chunked streaming, and connection faults.

The standard library's ``ThreadingHTTPServer`` spends a thread per connection; a thousand
polling clients need an event loop. This one reads requests with ``Content-Length`` bodies
(what HTTP clients send to JSON APIs), answers with a fixed body or a stream of chunks, and can
reset a connection on purpose, before or after the application has handled the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import attrs

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


@attrs.frozen
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class Response:
    """A complete answer, or a stream of body chunks sent with chunked encoding."""

    status: int = 200
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


@attrs.frozen
class Reset:
    """Drop the connection with a TCP reset instead of answering."""


App = Callable[[Request], Awaitable[Response | Reset]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP request we can read."""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("truncated request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise BadRequest(f"bad request line {lines[0]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _head(status: int, headers: dict[str, str]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class HttpServer:
    """Serves ``app`` on ``host:port`` inside the running event loop."""

    def __init__(
        self,
        app: App,
        host: str = "127.0.0.1",
        port: int = 0,
        on_bad_request: Callable[[str], None] | None = None,
    ) -> None:
        self._app = app
        self._on_bad_request = on_bad_request
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_HEADER_BYTES, backlog=2048
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except BadRequest as exc:
                    if self._on_bad_request is not None:
                        self._on_bad_request(str(exc))
                    error = {"message": str(exc), "type": "invalid_request_error"}
                    body = json.dumps({"error": {**error, "param": None, "code": None}})
                    headers = {"content-type": "application/json"}
                    await self._write(writer, Response(400, headers, body.encode()), close=True)
                    return
                if request is None:
                    return
                answer = await self._app(request)
                if isinstance(answer, Reset):
                    _abort(writer)
                    return
                close = request.headers.get("connection", "").lower() == "close"
                if not await self._write(writer, answer, close=close) or close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # a client went away, or the server is shutting down
        finally:
            self._connections.discard(writer)
            if not writer.transport.is_closing():
                writer.close()

    async def _write(
        self, writer: asyncio.StreamWriter, response: Response, *, close: bool
    ) -> bool:
        """Send ``response``; False when the connection must end (a stream was cut)."""
        headers = dict(response.headers)
        if close:
            headers["connection"] = "close"
        if response.stream is None:
            headers["content-length"] = str(len(response.body))
            writer.write(_head(response.status, headers) + response.body)
            await writer.drain()
            return True
        headers["transfer-encoding"] = "chunked"
        writer.write(_head(response.status, headers))
        try:
            async for chunk in response.stream:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
        except StreamCut:
            _abort(writer)
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


class StreamCut(Exception):
    """Raised inside a response stream to drop the connection mid-body."""
