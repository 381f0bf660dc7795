"""One lock per thread id within a process, so two sessions on the same thread queue up
instead of colliding on the service's one-active-run rule."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar


class _SyncLock:
    def __init__(self) -> None:
        self.lock = threading.Lock()


class _AsyncLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()


_guard = threading.Lock()
_sync: weakref.WeakValueDictionary[str, _SyncLock] = weakref.WeakValueDictionary()
_async: weakref.WeakValueDictionary[tuple[int, str], _AsyncLock] = weakref.WeakValueDictionary()

K = TypeVar("K")
L = TypeVar("L", _SyncLock, _AsyncLock)


def _holder(held: weakref.WeakValueDictionary[K, L], key: K, make: Callable[[], L]) -> L:
    """The lock holder of ``key``, made on first use; kept while someone holds it."""
    with _guard:
        holder = held.get(key)
        if holder is None:
            holder = held[key] = make()
        return holder


@contextlib.contextmanager
def hold_thread(thread_id: str | None, timeout: float) -> Iterator[bool]:
    """Hold the process-wide lock of ``thread_id`` (nothing to hold for a new thread),
    waiting at most ``timeout`` seconds; yields whether it is held."""
    if thread_id is None:
        yield True
        return
    holder = _holder(_sync, thread_id, _SyncLock)
    held = holder.lock.acquire(timeout=max(0.0, timeout))
    try:
        yield held
    finally:
        if held:
            holder.lock.release()


@contextlib.asynccontextmanager
async def ahold_thread(thread_id: str | None, timeout: float) -> AsyncIterator[bool]:
    """The async twin of :func:`hold_thread`, per event loop."""
    if thread_id is None:
        yield True
        return
    holder = _holder(_async, (id(asyncio.get_running_loop()), thread_id), _AsyncLock)
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
