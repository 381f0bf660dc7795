"""Fault injection: make chosen requests fail the way real networks and servers fail.

A :class:`Fault` names what goes wrong; :meth:`FaultPlan.add` says for which route
(``"runs.create"``, ``"runs.retrieve"``, …, or ``"*"``) and which of its requests (the ``nth``
one, ``times`` in a row). Every fault that fires is recorded as a :class:`FaultEvent`, so
tests can assert on it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Literal

import attrs

from .exchanges import sse
from .http import Response, StreamCut

__all__ = ["Fault", "FaultEvent", "FaultPlan", "fault_answer", "with_stream_fault"]

FaultKind = Literal["status", "reset_before", "reset_after", "slow", "stream_cut", "stream_error"]


@attrs.frozen
class Fault:
    """One way for a request to go wrong.

    * ``status``: answer ``status`` (429, 500, 502, 503, …) with OpenAI's error JSON and, for
      429, a ``retry-after`` header of ``retry_after`` seconds;
    * ``reset_before``: reset the connection before the request is handled (nothing changes);
    * ``reset_after``: handle the request (the write is committed), then reset instead of
      answering;
    * ``slow``: wait ``delay`` seconds, then answer normally;
    * ``stream_cut``: on a streamed answer, reset the connection after ``after_events`` events;
    * ``stream_error``: on a streamed answer, send an ``error`` event after ``after_events``
      events and end the stream, as the service does on an internal failure.
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    after_events: int = 3

    @classmethod
    def http(cls, status: int, retry_after: float | None = None) -> Fault:
        """An error status, e.g. ``Fault.http(429, retry_after=1)``."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def reset_before(cls) -> Fault:
        """Drop the connection before handling the request."""
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        """Handle the request, then drop the connection without answering."""
        return cls("reset_after")

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """Answer after ``delay`` seconds."""
        return cls("slow", delay=delay)

    @classmethod
    def stream_cut(cls, after_events: int = 3) -> Fault:
        """Cut a stream after ``after_events`` events."""
        return cls("stream_cut", after_events=after_events)

    @classmethod
    def stream_error(cls, after_events: int = 3) -> Fault:
        """End a stream with an ``error`` event after ``after_events`` events."""
        return cls("stream_error", after_events=after_events)


@attrs.frozen
class FaultEvent:
    """A fault that fired: on which route, which request of it, and when."""

    route: str
    request_number: int
    fault: Fault
    method: str
    path: str
    at: float


@attrs.define
class _Rule:
    fault: Fault
    route: str
    nth: int | None
    times: int | None
    fired: int = 0


class FaultPlan:
    """The faults to inject, and the record of those that fired."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.fired: list[FaultEvent] = []

    def add(
        self, fault: Fault, route: str = "*", *, nth: int | None = None, times: int | None = 1
    ) -> None:
        """Inject ``fault`` on ``route``: on its ``nth`` request (1-based) or on the next ones;
        at most ``times`` times (None: every time)."""
        with self._lock:
            self._rules.append(_Rule(fault, route, nth, times))

    def clear(self) -> None:
        """Forget every rule (the record of fired faults stays)."""
        with self._lock:
            self._rules.clear()

    def match(self, route: str, method: str, path: str) -> Fault | None:
        """Count this request and return the fault to inject on it, if any."""
        with self._lock:
            number = self._counts.get(route, 0) + 1
            self._counts[route] = number
            for rule in self._rules:
                if rule.route not in ("*", route):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.nth is not None and rule.nth != number:
                    continue
                rule.fired += 1
                event = FaultEvent(route, number, rule.fault, method, path, time.time())
                self.fired.append(event)
                return rule.fault
            return None


def fault_answer(fault: Fault) -> Response:
    """The error a ``status`` fault answers, in the service's shape (429 with retry headers)."""
    headers = {"content-type": "application/json"}
    if fault.status == 429:
        message, code, kind = (
            "Rate limit reached for requests. Please try again later.",
            "rate_limit_exceeded",
            "requests",
        )
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
            headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
    else:
        message, code, kind = (
            "The server had an error while processing your request. Sorry about that!",
            None,
            "server_error",
        )
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(fault.status, headers, json.dumps(body).encode())


def with_stream_fault(response: Response, fault: Fault) -> Response:
    """A streamed answer that is cut, or ends with an ``error`` event, after some events."""
    if response.stream is None or fault.kind not in ("stream_cut", "stream_error"):
        return response
    inner = response.stream

    async def faulty() -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in inner:
            if sent >= fault.after_events:
                if fault.kind == "stream_cut":
                    raise StreamCut
                error = {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                    "param": None,
                    "code": "server_error",
                }
                yield sse("error", {"error": error})
                return
            yield chunk
            sent += chunk.count(b"\n\n")

    return attrs.evolve(response, stream=faulty())
