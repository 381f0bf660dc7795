"""AsyncKnowledgeBase: :class:`KnowledgeBase`'s twin for event loops (ARQ workers, notebooks).

It runs the same flows (:mod:`._flow`), so it plans, guards, journals and converges alike;
only the sending is awaited, and reading and hashing the files runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.knowledge._core import KnowledgeBaseCore, Progress, check_timeout
from assistant_bridge.knowledge._flow import (
    Sleep,
    Step,
    delete_flow,
    drive_async,
    find_flow,
    plan_flow,
    sync_flow,
)
from assistant_bridge.knowledge._plan import RemoteFile, Source, SyncPlan, SyncResult, collect
from assistant_bridge.transports._vector_stores import AsyncVectorStoreAPI, ListStoreFiles

__all__ = ["AsyncKnowledgeBase"]


def _api(target: Any) -> AsyncVectorStoreAPI:
    if isinstance(target, AsyncVectorStoreAPI):
        return target
    client = getattr(target, "client", target)
    if not hasattr(client, "files") or not inspect.iscoroutinefunction(
        getattr(client, "get", None)
    ):
        msg = (
            "AsyncKnowledgeBase needs an async transport or an openai.AsyncOpenAI client, got "
            f"{type(target)!r} (a sync one goes to KnowledgeBase)."
        )
        raise ConfigurationError(msg)
    return AsyncVectorStoreAPI(client)


class AsyncKnowledgeBase(KnowledgeBaseCore):
    """:class:`KnowledgeBase` for ``asyncio``: the same methods, awaited, the same guarantees.

    ``await AsyncKnowledgeBase(client, "runbooks").sync("runbooks/")``; ``target`` is an async
    transport or an ``openai.AsyncOpenAI`` client.
    """

    def __init__(
        self,
        target: Any,
        name: str,
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        state_dir: str | Path | None = None,
    ) -> None:
        self._api = _api(target)
        super().__init__(
            name, self._api.base_url, poll_interval=poll_interval, clock=clock,
            state_dir=state_dir,
        )  # fmt: skip
        self._sleep = sleep

    async def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            await self._sleep(step.seconds)
            return None
        return await self._api.perform(step)

    async def find(self) -> str | None:
        """The id of the store named so, or None; prefers one this library created."""
        return await drive_async(find_flow(self._context()), self._perform)

    async def files(self, store_id: str) -> list[RemoteFile]:
        """The files the store holds now."""
        rows = await self._api.perform(ListStoreFiles(store_id))
        return [RemoteFile.from_json(r) for r in rows]

    async def plan(self, source: Source) -> SyncPlan:
        """What :meth:`sync` would do, with names and sizes; changes nothing."""
        collected = await asyncio.to_thread(collect, source)
        return await drive_async(plan_flow(self._context(), collected), self._perform)

    async def sync(
        self,
        source: Source,
        *,
        timeout: float = 300.0,
        progress: Progress | None = None,
        allow_removal: bool = False,
    ) -> SyncResult:
        """Make the store hold exactly ``source``; as :meth:`KnowledgeBase.sync`."""
        timeout = check_timeout(timeout)
        collected = await asyncio.to_thread(collect, source)
        flow = sync_flow(
            self._context(progress), collected, timeout=timeout, allow_removal=allow_removal
        )
        return await drive_async(flow, self._perform)

    async def delete(self, *, timeout: float = 300.0) -> bool:
        """Delete the store and the files syncs uploaded to it; False when there was none."""
        flow = delete_flow(self._context(), timeout=check_timeout(timeout))
        return await drive_async(flow, self._perform)
