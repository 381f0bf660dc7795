"""A registry of conversations by key, with leases: many workers, one incident, one thread.

A key (an incident id, an alert fingerprint, any string) maps to a record: the thread, the last
run and its status, the pending ask's mark, and a lease whose epoch fences stale holders out.
Stores: SQLite (the default; processes of one host), Redis and PostgreSQL; open one with
:func:`open_registry` (sync) or :func:`open_async_registry` (async) from a URL. Keyed sessions
(:class:`KeyedSession`, :class:`AsyncKeyedSession`) ask through it. See docs/scaling.md.
"""

from __future__ import annotations

from assistant_bridge.registry._errors import (
    LeaseLostError,
    LeaseWaitTimeoutError,
    RegistryError,
    RegistryStoreError,
    RegistryURLError,
)
from assistant_bridge.registry._keyed import AsyncKeyedSession, KeyedSession
from assistant_bridge.registry._record import (
    DEFAULT_RETENTION,
    DEFAULT_TTL,
    Answer,
    AnswerStatus,
    Lease,
    RecordChanges,
    ThreadRecord,
)
from assistant_bridge.registry._registry import (
    AsyncRegistry,
    Registry,
    open_async_registry,
    open_registry,
)

__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_TTL",
    "Answer",
    "AnswerStatus",
    "AsyncKeyedSession",
    "AsyncRegistry",
    "KeyedSession",
    "Lease",
    "LeaseLostError",
    "LeaseWaitTimeoutError",
    "RecordChanges",
    "Registry",
    "RegistryError",
    "RegistryStoreError",
    "RegistryURLError",
    "ThreadRecord",
    "open_async_registry",
    "open_registry",
]
