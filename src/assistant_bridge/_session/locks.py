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
def hold_thread(thread_id: str | None, timeout: float) -> Iterator[bool]:
    """Hold the process-wide lock of ``thread_id`` (nothing to hold for a new thread),
    waiting at most ``timeout`` seconds; yields whether it is held."""
    if thread_id is None:
        yield True
        return
    with _guard:
        holder = _sync.get(thread_id)
        if holder is None:
            holder = _sync[thread_id] = _SyncLock()
    if not holder.lock.acquire(timeout=max(0.0, timeout)):
        yield False
        return
    try:
        yield True
    finally:
        holder.lock.release()


@contextlib.asynccontextmanager
async def ahold_thread(thread_id: str | None, timeout: float) -> AsyncIterator[bool]:
    """The async twin of :func:`hold_thread`, per event loop."""
    if thread_id is None:
        yield True
        return
    key = (id(asyncio.get_running_loop()), thread_id)
    with _guard:
        holder = _async.get(key)
        if holder is None:
            holder = _async[key] = _AsyncLock()
    try:
        async with asyncio.timeout(max(0.0, timeout)):
            await holder.lock.acquire()
    except TimeoutError:
        yield False
        return
    try:
        yield True
    finally:
        holder.lock.release()
