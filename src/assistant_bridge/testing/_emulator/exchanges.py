"""What the emulator keeps of each request: the log line, and (when asked) the bytes answered;
and the server-sent event framing both APIs' streams use."""

from __future__ import annotations

import json
from typing import Any

import attrs

__all__ = ["Exchange", "LoggedRequest", "sse", "sse_events"]


@attrs.frozen
class LoggedRequest:
    """One request the emulator answered (or dropped)."""

    method: str
    path: str
    route: str
    status: int
    at: float
    seconds: float


@attrs.define
class Exchange:
    """One request and the bytes answered (a stream's grow as it is sent), kept when the
    emulator records bodies."""

    method: str
    path: str
    route: str
    status: int
    request_body: bytes
    response_body: bytearray = attrs.Factory(bytearray)

    def json(self) -> Any:
        """The answer parsed: a JSON value, or a list of (event, data) for a stream."""
        text = self.response_body.decode()
        if not text.startswith("event:"):
            return json.loads(text) if text else None
        return sse_events(text)


def sse_events(text: str) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a server-sent event stream; data is JSON, or ``"[DONE]"``."""
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.strip().splitlines() if ": " in line)
        if "event" in lines:
            data = lines.get("data", "")
            events.append((lines["event"], data if data == "[DONE]" else json.loads(data)))
    return events


def sse(event: str, data: Any) -> bytes:
    """One server-sent event: ``event: name`` and its data as compact JSON (or as given)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()
