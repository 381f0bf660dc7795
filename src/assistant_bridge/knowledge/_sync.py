"""KnowledgeBase: make a named vector store hold exactly the given files, then wait for them
to be indexed. The decisions are in :mod:`._flow` and :mod:`._plan`; this module only sends."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.knowledge._core import KnowledgeBaseCore, Progress, check_timeout
from assistant_bridge.knowledge._flow import (
    STORE_KEY,
    Sleep,
    Step,
    delete_flow,
    drive,
    find_flow,
    plan_flow,
    sync_flow,
)
from assistant_bridge.knowledge._plan import RemoteFile, Source, SyncPlan, SyncResult, collect
from assistant_bridge.transports._vector_stores import ListStoreFiles, VectorStoreAPI

__all__ = ["STORE_KEY", "KnowledgeBase"]


def _api(target: Any) -> VectorStoreAPI:
    if isinstance(target, VectorStoreAPI):
        return target
    client = getattr(target, "client", target)
    if not hasattr(client, "files") or inspect.iscoroutinefunction(getattr(client, "get", None)):
        msg = (
            f"KnowledgeBase needs a transport or an openai.OpenAI client, got {type(target)!r}"
            " (an async one goes to AsyncKnowledgeBase)."
        )
        raise ConfigurationError(msg)
    return VectorStoreAPI(client)


class KnowledgeBase(KnowledgeBaseCore):
    """A named vector store kept equal to a folder of files, on either wire.

    ``KnowledgeBase(transport, "runbooks").sync("runbooks/")`` uploads new and changed files,
    skips unchanged ones (by SHA-256, kept in each file's attributes), removes deleted ones,
    waits up to ``timeout`` seconds for indexing, and returns a :class:`SyncResult` whose
    ``store_id`` goes into ``FileSearch([...])``. :meth:`plan` says what a sync would do and
    changes nothing. ``target`` is a transport or an ``openai`` client; ``state_dir`` is where
    the lock and upload journal live on this machine; ``clock`` and ``sleep`` are for tests.
    """

    def __init__(
        self,
        target: Any,
        name: str,
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        state_dir: str | Path | None = None,
    ) -> None:
        self._api = _api(target)
        super().__init__(
            name, self._api.base_url, poll_interval=poll_interval, clock=clock,
            state_dir=state_dir,
        )  # fmt: skip
        self._sleep = sleep

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Sleep):
            self._sleep(step.seconds)
            return None
        return self._api.perform(step)

    def find(self) -> str | None:
        """The id of the store named so, or None; prefers one this library created."""
        return drive(find_flow(self._context()), self._perform)

    def files(self, store_id: str) -> list[RemoteFile]:
        """The files the store holds now."""
        return [RemoteFile.from_json(r) for r in self._api.perform(ListStoreFiles(store_id))]

    def plan(self, source: Source) -> SyncPlan:
        """What :meth:`sync` would upload, replace, remove and skip, with names and sizes;
        changes nothing (it lists the stores and the store's files)."""
        return drive(plan_flow(self._context(), collect(source)), self._perform)

    def sync(
        self,
        source: Source,
        *,
        timeout: float = 300.0,
        progress: Progress | None = None,
        allow_removal: bool = False,
    ) -> SyncResult:
        """Make the store hold exactly ``source`` (a folder, files, or names to contents).

        A changed file's old copy leaves only once the new one is indexed. Raises
        :class:`RemovalRefusedError`, changing nothing, when the sync would remove every file
        of the store or most of a store of more than 4, unless ``allow_removal``;
        :class:`IndexingTimeoutError` when indexing outlasts ``timeout`` and
        :class:`IndexingFailedError` when the service rejects a file.
        """
        timeout = check_timeout(timeout)
        collected = collect(source)
        flow = sync_flow(
            self._context(progress), collected, timeout=timeout, allow_removal=allow_removal
        )
        return drive(flow, self._perform)

    def delete(self, *, timeout: float = 300.0) -> bool:
        """Delete the store and the files a sync uploaded to it (orphans of an interrupted
        sync included); False when there was no store."""
        flow = delete_flow(self._context(), timeout=check_timeout(timeout))
        return drive(flow, self._perform)
