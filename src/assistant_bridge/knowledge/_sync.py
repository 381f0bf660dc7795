"""KnowledgeBase: make a named vector store hold exactly the given files, then wait for them
to be indexed. The decisions are in :mod:`._plan`; this module only performs them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.knowledge._errors import (
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBaseError,
)
from assistant_bridge.knowledge._plan import (
    RemoteFile,
    Source,
    SyncProgress,
    SyncResult,
    collect,
    indexing_state,
    plan_sync,
)
from assistant_bridge.transports._vector_stores import VectorStoreAPI

__all__ = ["STORE_KEY", "KnowledgeBase"]

#: Metadata key marking a vector store this library syncs; its value is the store's name.
STORE_KEY = "assistant_bridge_kb"

Progress = Callable[[SyncProgress], None]


class KnowledgeBase:
    """A named vector store kept equal to a folder of files, on either wire.

    ``KnowledgeBase(transport, "runbooks").sync("runbooks/")`` uploads new and changed files,
    skips unchanged ones (by SHA-256, kept in each file's attributes), removes deleted ones,
    waits up to ``timeout`` seconds for indexing, and returns a :class:`SyncResult` whose
    ``store_id`` goes into ``FileSearch([...])``. ``target`` is a transport or an ``openai``
    client; ``clock`` and ``sleep`` are for tests.
    """

    def __init__(
        self,
        target: Any,
        name: str,
        *,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            msg = f"A knowledge base needs a name of 1 to 256 characters, got {name!r}."
            raise ConfigurationError(msg)
        client = getattr(target, "client", target)
        if not hasattr(client, "files"):
            msg = f"KnowledgeBase needs a transport or an openai client, got {type(target)!r}."
            raise ConfigurationError(msg)
        self.name = name
        self._api = VectorStoreAPI(client)
        self._poll = poll_interval
        self._clock = clock
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<KnowledgeBase(name={self.name!r})>"

    # -- the store ---------------------------------------------------------------------------
    def find(self) -> str | None:
        """The id of the store named so, or None; prefers one this library created."""
        named = [s for s in self._api.list_stores() if s.get("name") == self.name]
        ours = [s for s in named if (s.get("metadata") or {}).get(STORE_KEY) == self.name]
        candidates = ours or named
        if len(candidates) > 1:
            ids = ", ".join(str(s["id"]) for s in candidates)
            msg = (
                f"{len(candidates)} vector stores are named {self.name!r} ({ids}); delete the "
                "extra ones or pick another name."
            )
            raise KnowledgeBaseError(msg)
        return str(candidates[0]["id"]) if candidates else None

    def files(self, store_id: str) -> list[RemoteFile]:
        """The files the store holds now."""
        return [RemoteFile.from_json(f) for f in self._api.list_store_files(store_id)]

    def delete(self) -> bool:
        """Delete the store and the files a sync uploaded to it; False when there was none."""
        store_id = self.find()
        if store_id is None:
            return False
        for found in self.files(store_id):
            if found.ours:
                self._api.delete_file(found.file_id)
        self._api.delete_store(store_id)
        return True

    # -- sync --------------------------------------------------------------------------------
    def sync(
        self, source: Source, *, timeout: float = 300.0, progress: Progress | None = None
    ) -> SyncResult:
        """Make the store hold exactly ``source`` (a folder, files, or names to contents).

        New files are uploaded before old ones are removed, so a changed file is never
        missing. Raises :class:`IndexingTimeoutError` when indexing outlasts ``timeout``
        and :class:`IndexingFailedError` when the service rejects a file.
        """
        if not timeout > 0:
            msg = f"timeout must be a positive number of seconds, got {timeout!r}."
            raise ConfigurationError(msg)
        report = progress or (lambda _p: None)
        local = collect(source)
        store_id = self.find()
        if store_id is None:
            store_id = str(self._api.create_store(self.name, {STORE_KEY: self.name})["id"])
            remote: list[RemoteFile] = []
        else:
            remote = self.files(store_id)
        plan = plan_sync(local, remote)

        uploaded: dict[str, str] = {}
        for done, file in enumerate(plan.upload, 1):
            file_id = self._api.upload(file.filename, file.data)
            self._api.attach_file(store_id, file_id, file.attributes())
            uploaded[file_id] = file.path
            report(SyncProgress("upload", done, len(plan.upload), file.path))
        for done, found in enumerate(plan.remove, 1):
            self._api.detach_file(store_id, found.file_id)
            if found.ours:
                self._api.delete_file(found.file_id)
            report(SyncProgress("remove", done, len(plan.remove), found.path or found.file_id))
        if uploaded:
            self._wait(store_id, uploaded, timeout, report)
        return SyncResult(
            store_id,
            self.name,
            tuple(f.path for f in plan.upload),
            tuple(f.path for f in plan.unchanged if f.path is not None),
            tuple(f.path or f.file_id for f in plan.remove),
        )

    def _wait(
        self, store_id: str, uploaded: dict[str, str], timeout: float, report: Progress
    ) -> None:
        deadline = self._clock() + timeout
        while True:
            pending, failed = indexing_state(uploaded, self.files(store_id))
            report(SyncProgress("index", len(uploaded) - len(pending), len(uploaded)))
            if not pending:
                if failed:
                    reasons = "; ".join(f"{path}: {why}" for path, why in sorted(failed.items()))
                    msg = f"The service could not index {len(failed)} file(s): {reasons}."
                    raise IndexingFailedError(msg, store_id=store_id, failed=failed)
                return
            left = deadline - self._clock()
            if left <= 0:
                msg = (
                    f"{len(pending)} file(s) of {self.name!r} were still being indexed after "
                    f"{timeout:g} s ({', '.join(pending[:5])}); the service goes on: sync "
                    "again later (nothing is uploaded twice), or raise the timeout."
                )
                raise IndexingTimeoutError(msg, store_id=store_id, pending=pending)
            self._sleep(min(self._poll, left))
