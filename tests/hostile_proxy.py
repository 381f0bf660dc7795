"""A hostile proxy for tests: it forwards to an upstream (the emulator), lets the run start,
then misbehaves on the request it is told to.

Every misbehaviour but ``locked`` forwards the request first, so the write happens upstream
(a run is created, a cancel or tool outputs arrive) and only the answer goes wrong:

* ``trickle``: the whole answer, one byte every ``interval`` seconds (a body or a stream);
* ``silent``: a stream's headers, then only ``: ping`` comments (``pings=True``) or nothing,
  after passing on ``after_events`` events;
* ``html``: a 200 whose body is an HTML page (``text/html``), as a gateway would answer;
* ``cut``: a 200 whose JSON body stops half way (with a content length that says so);
* ``mid_event``: a stream that ends cleanly in the middle of event ``after_events + 1``;
* ``wrong_object``: a redirect to another host, which answers a thread object;
* ``locked``: Responses' ``400 conversation_locked``, without forwarding.

``Misbehave(kind, method, path, nth)`` picks the ``nth`` request (1-based) whose method
matches and whose path matches the regular expression. Loopback only; the proxy and every
thread it starts stop when :meth:`HostileProxy.close` is called (or the ``with`` block ends).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

Kind = Literal["trickle", "silent", "html", "cut", "mid_event", "wrong_object", "locked"]

HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n" * 3
LOCKED = {
    "error": {
        "message": "Another process is currently operating on this conversation. "
        "Please try again later.",
        "type": "invalid_request_error",
        "param": None,
        "code": "conversation_locked",
    }
}
THREAD_OBJECT = {"id": "thread_evil", "object": "thread", "created_at": 0, "metadata": {}}


@attrs.frozen
class Misbehave:
    """What goes wrong, on which request."""

    kind: Kind
    method: str
    path: str
    nth: int = 1
    interval: float = 0.3
    after_events: int = 0
    pings: bool = True

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.fullmatch(self.path, path.split("?")[0]) is not None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up on a spoiled answer is the point, not an error."""


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    return server, thread


class HostileProxy:
    """Forwards to ``upstream`` (a base URL such as ``http://127.0.0.1:PORT/v1``) and applies
    ``rules``; ``base_url`` is the proxy's own, with the same path."""

    def __init__(self, upstream: str, *rules: Misbehave) -> None:
        parts = urlsplit(upstream)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rules = list(rules)
        self.fired: list[tuple[Misbehave, str, str]] = []
        self.stopped = threading.Event()
        self._counts: dict[Misbehave, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Evil(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                _send(self, 200, json.dumps(THREAD_OBJECT).encode())

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server, self._thread = _serve(Handler)
        self._evil, self._evil_thread = _serve(Evil)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{parts.path}"
        self.evil_url = f"http://127.0.0.1:{self._evil.server_address[1]}"

    def __enter__(self) -> HostileProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stopped.set()
        for server, thread in ((self._server, self._thread), (self._evil, self._evil_thread)):
            server.shutdown()
            server.server_close()
            thread.join()

    def _rule(self, method: str, path: str) -> Misbehave | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    self._counts[rule] = self._counts.get(rule, 0) + 1
                    if self._counts[rule] == rule.nth:
                        self.fired.append((rule, method, path))
                        return rule
        return None

    def _upstream(
        self, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
        headers["accept-encoding"] = "identity"
        conn.request(handler.command, handler.path, body=body or None, headers=headers)
        return conn, conn.getresponse()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length) if length else b""
        rule = self._rule(handler.command, handler.path)
        if rule is not None and rule.kind == "locked":
            _send(handler, 400, json.dumps(LOCKED).encode())
            return
        if rule is not None and rule.kind == "wrong_object":
            self._forward_then_drop(handler, body)
            handler.send_response(307)
            handler.send_header("location", self.evil_url + handler.path)
            handler.send_header("content-length", "0")
            handler.end_headers()
            return
        conn, answer = self._upstream(handler, body)
        try:
            streaming = "text/event-stream" in (answer.getheader("content-type") or "")
            if rule is None:
                self._relay(handler, answer, streaming)
            elif streaming:
                self._stream_fault(handler, answer, rule)
            else:
                self._body_fault(handler, answer, rule)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True
        finally:
            _drain(conn, answer)

    def _forward_then_drop(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        conn, answer = self._upstream(handler, body)
        _drain(conn, answer)

    def _relay(
        self, handler: BaseHTTPRequestHandler, answer: http.client.HTTPResponse, streaming: bool
    ) -> None:
        if not streaming:
            _send(handler, answer.status, answer.read(), answer.getheader("content-type"))
            return
        _stream_headers(handler, answer.status)
        while chunk := answer.read1(65536):
            handler.wfile.write(chunk)
            handler.wfile.flush()
        handler.close_connection = True

    def _body_fault(
        self, handler: BaseHTTPRequestHandler, answer: http.client.HTTPResponse, rule: Misbehave
    ) -> None:
        data = answer.read()
        if rule.kind == "html":
            _send(handler, 200, HTML, "text/html")
        elif rule.kind == "cut":
            _send(handler, 200, data[: max(1, len(data) // 2)])
        elif rule.kind == "trickle":
            handler.send_response(answer.status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            self._trickle(handler, data, rule.interval)
        else:  # a body fault on a stream-only kind: answer as is
            _send(handler, answer.status, data)

    def _stream_fault(
        self, handler: BaseHTTPRequestHandler, answer: http.client.HTTPResponse, rule: Misbehave
    ) -> None:
        if rule.kind == "html":
            _send(handler, 200, HTML, "text/html")
            return
        _stream_headers(handler, answer.status)
        handler.close_connection = True
        if rule.kind == "trickle":
            while not self.stopped.is_set() and (chunk := answer.read1(65536)):
                self._trickle(handler, chunk, rule.interval)
            return
        passed = b""
        for _ in range(rule.after_events):
            passed += _read_event(answer)
        handler.wfile.write(passed)
        handler.wfile.flush()
        if rule.kind == "mid_event":
            event = _read_event(answer)
            handler.wfile.write(event[: max(1, len(event) // 2)])
            handler.wfile.flush()
            return  # closing the connection ends the body cleanly, mid-event
        if rule.kind == "silent":
            threading.Thread(target=_drain_quietly, args=(answer,), daemon=True).start()
            while not self.stopped.wait(0.2):
                if rule.pings:
                    handler.wfile.write(b": ping\n\n")
                    handler.wfile.flush()
            return
        while chunk := answer.read1(65536):
            handler.wfile.write(chunk)
            handler.wfile.flush()

    def _trickle(self, handler: BaseHTTPRequestHandler, data: bytes, interval: float) -> None:
        for i in range(len(data)):
            if self.stopped.is_set():
                return
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()
            if self.stopped.wait(interval):
                return


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str | None = "application/json",
) -> None:
    handler.send_response(status)
    handler.send_header("content-type", content_type or "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


def _stream_headers(handler: BaseHTTPRequestHandler, status: int) -> None:
    """Headers of a stream whose body ends when the connection closes."""
    handler.send_response(status)
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("cache-control", "no-cache")
    handler.send_header("connection", "close")
    handler.end_headers()
    handler.wfile.flush()


def _read_event(answer: http.client.HTTPResponse) -> bytes:
    """One whole event (through its blank line) of an upstream stream, skipping nothing."""
    out = b""
    while True:
        line = answer.readline()
        out += line
        if not line or (line in (b"\n", b"\r\n") and out.strip()):
            return out


def _drain_quietly(answer: http.client.HTTPResponse) -> None:
    try:
        while answer.read1(65536):
            pass
    except Exception:  # the upstream went away: nothing left to read
        return


def _drain(conn: http.client.HTTPConnection, answer: http.client.HTTPResponse) -> None:
    """Read the upstream answer to its end in the background (so the run it belongs to goes
    on as it would), then close the upstream connection."""

    def run() -> None:
        _drain_quietly(answer)
        conn.close()

    if answer.isclosed():
        conn.close()
        return
    threading.Thread(target=run, daemon=True).start()


def wait_until(condition: Any, seconds: float) -> bool:
    """Poll ``condition()`` until it is true or ``seconds`` pass; its last value."""
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return bool(condition())
