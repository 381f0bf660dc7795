"""A small asyncio HTTP/1.1 server: keep-alive, chunked streaming, and connection faults.

The standard library's ``ThreadingHTTPServer`` spends a thread per connection; a thousand
polling clients need an event loop. This one reads request bodies framed by
``Content-Length`` or chunked, answers with a fixed body or a stream of chunks, and can reset a
connection on purpose, before or after the application has handled the request.

As a server facing any client: a body over its cap is answered 413 however it is framed (a
chunked one is counted as it is read and never held past the cap), bad framing
(``Content-Length: abc`` or ``-5``, a bad chunk size) is answered 400, and the connection is
then closed; never a traceback or a silent close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import attrs

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 2.0


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
class FormFile:
    """A file field of a multipart/form-data body."""

    filename: str
    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")


class BadForm(ValueError):
    """A multipart body we cannot read (the app answers it in the service's error shape)."""


@attrs.frozen
class Reset:
    """Drop the connection with a TCP reset instead of answering."""


App = Callable[[Request], Awaitable[Response | Reset]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP request we can read (answered ``status``)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def _too_large(cap: int) -> BadRequest:
    return BadRequest(f"Request body too large: the limit is {cap} bytes.", 413)


async def _read_request(reader: asyncio.StreamReader, cap: int) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("truncated request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request head too large", 431) from None
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
    encoding = headers.get("transfer-encoding", "").lower()
    if encoding:
        if encoding != "chunked":
            raise BadRequest(f"unsupported Transfer-Encoding {encoding!r}", 501)
        if "content-length" in headers:
            raise BadRequest("both Content-Length and Transfer-Encoding: chunked were sent")
        body = await _read_chunked(reader, cap)
    else:
        length = _content_length(headers.get("content-length"))
        if length > cap:
            raise _too_large(cap)
        body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return Request(
        method=method.upper(),
        path=parts.path,
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=body,
    )


def _content_length(value: str | None) -> int:
    """A ``Content-Length``: digits only (``abc``, ``-5`` and ``+5`` are bad framing)."""
    if value is None:
        return 0
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"bad Content-Length {value!r}")
    return int(value)


async def _read_chunked(reader: asyncio.StreamReader, cap: int) -> bytes:
    """A chunked body, counted as it is read: past ``cap`` it stops reading (413)."""
    body = bytearray()
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise BadRequest("chunk size line too long") from None
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
            raise BadRequest(f"bad chunk size {size_text[:32]!r}")
        size = int(size_text, 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, if any
                pass
            return bytes(body)
        if len(body) + size > cap:
            raise _too_large(cap)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest("chunk not followed by CRLF")


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing on an answered bad request, read and drop what the client is still
    sending for a moment (64 KiB at a time, so memory stays flat): closing with unread bytes
    would reset the connection and the client might lose the answer."""
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()
    deadline = asyncio.get_running_loop().time() + LINGER_SECONDS
    with contextlib.suppress(OSError, asyncio.TimeoutError, ConnectionError):
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if not await asyncio.wait_for(reader.read(64 * 1024), left):
                return


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
        on_bad_request: Callable[[str, int], None] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._app = app
        self._cap = max_body_bytes
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
                    request = await _read_request(reader, self._cap)
                except BadRequest as exc:
                    if self._on_bad_request is not None:
                        self._on_bad_request(str(exc), exc.status)
                    # The service's error shape; these words are ours (its front end's are
                    # not in our recordings).
                    error = {"message": str(exc), "type": "invalid_request_error"}
                    body = json.dumps({"error": {**error, "param": None, "code": None}})
                    headers = {"content-type": "application/json"}
                    refusal = Response(exc.status, headers, body.encode())
                    await self._write(writer, refusal, close=True)
                    await _linger(reader, writer)
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


def form_fields(request: Request) -> dict[str, str | FormFile]:
    """The fields of a multipart/form-data body: text, or a :class:`FormFile` for a file."""
    content_type = request.headers.get("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise BadForm("Expected a multipart/form-data body with a boundary.")
    boundary = b"--" + match.group(1).encode()
    fields: dict[str, str | FormFile] = {}
    for part in request.body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", errors="replace")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if name:
            data = data[:-2] if data.endswith(b"\r\n") else data
            fields[name.group(1)] = (
                FormFile(filename.group(1), data)
                if filename
                else data.decode("utf-8", errors="replace")
            )
    return fields
