"""One lock per thread id within a process, so two sessions on the same thread queue up
instead of colliding on the service's one-active-run rule."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Iterator


class _SyncLock:
    def __init__(self) -> None:
        self.lock = threading.Lock()


class _AsyncLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()


_guard = threading.Lock()
_sync: weakref.WeakValueDictionary[str, _SyncLock] = weakref.WeakValueDictionary()
_async: weakref.WeakValueDictionary[tuple[int, str], _AsyncLock] = weakref.WeakValueDictionary()


@contextlib.contextmanager
def hold_thread(thread_id: str | None) -> Iterator[None]:
    """Hold the process-wide lock of ``thread_id`` (nothing to hold for a new thread)."""
    if thread_id is None:
        yield
        return
    with _guard:
        holder = _sync.get(thread_id)
        if holder is None:
            holder = _sync[thread_id] = _SyncLock()
    with holder.lock:
        yield


@contextlib.asynccontextmanager
async def ahold_thread(thread_id: str | None) -> AsyncIterator[None]:
    """The async twin of :func:`hold_thread`, per event loop."""
    if thread_id is None:
        yield
        return
    key = (id(asyncio.get_running_loop()), thread_id)
    with _guard:
        holder = _async.get(key)
        if holder is None:
            holder = _async[key] = _AsyncLock()
    async with holder.lock:
        yield
