"""What a keyed session reads off its arguments before it claims anything: the wire its
transport speaks, the spec's hash, its owner's name, and the checks that refuse a bad
transport, deadline or idempotency key with nothing sent."""

from __future__ import annotations

import inspect
import os
import socket

from assistant_bridge._values.checks import check_seconds
from assistant_bridge._values.spec import AssistantSpec
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.registry._registry import check_key

__all__ = [
    "check_flavour",
    "check_idempotency_key",
    "check_timeout",
    "default_owner",
    "spec_hash",
    "wire_of",
]


def wire_of(transport: object) -> str:
    """The wire a transport speaks: "responses" or "assistants" (a thread id means nothing on
    the other). Wrappers (a rate limiter, the fence) are looked through to what they wrap."""
    for _ in range(8):
        names = (
            type(transport).__name__,
            type(getattr(transport, "_wire", None)).__name__,
            getattr(getattr(transport, "wire_class", None), "__name__", ""),
        )
        if any("Responses" in name for name in names):
            return "responses"
        if any("Assistants" in name for name in names[1:]):
            return "assistants"
        inner = next(
            (
                getattr(transport, n)
                for n in ("inner", "_inner", "_transport")
                if hasattr(transport, n)
            ),
            None,
        )
        if inner is None:
            break
        transport = inner
    return "assistants"


def spec_hash(spec: object) -> str | None:
    """The content hash of the session's ``AssistantSpec`` (None with an assistant id)."""
    return spec.content_hash() if isinstance(spec, AssistantSpec) else None


def default_owner() -> str:
    """Who holds a lease, for people reading the registry: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def check_flavour(transport: object, *, awaited: bool) -> None:
    """A sync keyed session needs a sync transport, an async one an async transport (whose
    ``perform`` is awaited): refused here, not as a ``TypeError`` in the middle of an ask."""
    perform = getattr(transport, "perform", None)
    if perform is None or inspect.iscoroutinefunction(perform) == awaited:
        return
    if awaited:
        msg = (
            "AsyncKeyedSession needs an async transport (AsyncOpenAITransport, "
            "AsyncResponsesTransport); for this one use KeyedSession."
        )
    else:
        msg = (
            "KeyedSession needs a sync transport (OpenAITransport, ResponsesTransport); "
            "for this one use AsyncKeyedSession."
        )
    raise ConfigurationError(msg)


def check_timeout(value: object) -> float | None:
    """An ask's own deadline (None: the session's), checked before anything is claimed."""
    return None if value is None else check_seconds(value, "timeout")


def check_idempotency_key(value: object) -> str | None:
    return None if value is None else check_key(value, "idempotency_key")
