"""Handlers of ``/v1/files`` and ``/v1/vector_stores`` (their files, batches and search)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ApiError
from .file_records import BatchRecord, FileRecord, VectorStoreFile, VectorStoreRecord
from .http import FormFile, Request, Response
from .pages import page
from .resource_table import FILE_BATCHES, FILES, VECTOR_STORE_FILES, VECTOR_STORES
from .search import search_hits
from .state import AppState

__all__ = ["FilesRoutes"]

#: File purposes the service refuses to download (code-interpreter outputs, purpose
#: ``assistants_output``, download).
UNDOWNLOADABLE = frozenset({"assistants"})


class FilesRoutes(AppState):
    """Files, vector stores, their files and file batches, and search."""

    def files_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        upload: FormFile = body["file"]  # the form as its schema checked it
        name = upload.filename or "upload"
        record = FileRecord(FILES.new_id(), name, body["purpose"], upload.data, self.store.now())
        self.store.files[record.id] = record
        return record.to_json()

    def files_content(self, file_id: str, **_: Any) -> Response:
        record = FILES.get(self, file_id=file_id)
        if record.purpose in UNDOWNLOADABLE:
            # The service's words; its param and code are not known from a recording.
            raise ApiError(400, f"Not allowed to download files of purpose: {record.purpose}")
        return Response(200, {"content-type": "application/octet-stream"}, record.data)

    def _attach(self, store: VectorStoreRecord, file_id: str, body: Mapping[str, Any]) -> None:
        """Add a file; it is ``in_progress`` for one queue delay, as the service indexes it."""
        record = FILES.get(self, file_id=file_id)
        if file_id not in store.files:
            entry = VectorStoreFile(
                file_id,
                self.store.now(),
                self.store.clock() + self.store.queue_delay,
                len(record.data),
                dict(body.get("attributes") or {}),
                vector_store_id=store.id,
            )
            if body.get("chunking_strategy"):
                entry.chunking = _chunking(body["chunking_strategy"])
            store.files[file_id] = entry

    def new_vector_store(self, body: Mapping[str, Any]) -> VectorStoreRecord:
        """A vector store holding ``body["file_ids"]`` (also made by ``tool_resources``)."""
        store = VectorStoreRecord(
            VECTOR_STORES.new_id(),
            self.store.now(),
            body.get("name"),
            body.get("description"),
            self._metadata(body),
            expires_after=body.get("expires_after"),
        )
        for file_id in body.get("file_ids") or []:
            self._attach(store, file_id, body)
        self.store.vector_stores[store.id] = store
        return store

    def vector_stores_create(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return self.new_vector_store(body).to_json(self.store.clock())

    def vector_stores_update(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        if "name" in body:
            store.name = body["name"]
        if "expires_after" in body:
            store.expires_after = body["expires_after"]
        if "metadata" in body:
            store.metadata = self._metadata(body)
        return store.to_json(self.store.clock())

    def vector_stores_search(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        store.last_active_at = self.store.now()
        query = body["query"]
        queries = [query] if isinstance(query, str) else list(query)
        limit = int(body.get("max_num_results") or 10)
        hits = search_hits(
            store,
            self.store.files,
            queries,
            self.store.clock(),
            filters=body.get("filters"),
            score_threshold=float((body.get("ranking_options") or {}).get("score_threshold") or 0),
        )
        return {
            "object": "vector_store.search_results.page",
            "search_query": queries,
            "data": hits[:limit],
            "has_more": False,
            "next_page": None,
        }

    def vector_stores_files_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        file_id = str(body["file_id"])
        self._attach(store, file_id, body)
        return store.file_json(file_id, self.store.clock())

    def vector_stores_files_list(
        self, vector_store_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        rows = [store.file_json(f, self.store.clock()) for f in store.file_ids]
        wanted = request.query.get("filter")
        if wanted:
            rows = [r for r in rows if r["status"] == wanted[0]]
        return page(rows, request.query)

    def vector_stores_files_update(
        self, vector_store_id: str, file_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        entry = VECTOR_STORE_FILES.get(self, vector_store_id=vector_store_id, file_id=file_id)
        entry.attributes = dict(body["attributes"])
        return entry.to_json(self.store.clock())

    def vector_stores_files_content(
        self, vector_store_id: str, file_id: str, **_: Any
    ) -> dict[str, Any]:
        VECTOR_STORE_FILES.get(self, vector_store_id=vector_store_id, file_id=file_id)
        text = FILES.get(self, file_id=file_id).data.decode("utf-8", errors="replace")
        return {
            "object": "vector_store.file_content.page",
            "data": [{"type": "text", "text": text}],
            "has_more": False,
            "next_page": None,
        }

    def vector_stores_file_batches_create(
        self, vector_store_id: str, body: dict[str, Any], **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        entries = [{"file_id": f} for f in body.get("file_ids") or []]
        entries += [dict(f) for f in body.get("files") or []]
        for entry in entries:
            self._attach(store, str(entry["file_id"]), {**body, **entry})
        file_ids = [str(e["file_id"]) for e in entries]
        batch = BatchRecord(FILE_BATCHES.new_id(), store.id, file_ids, self.store.now())
        self.store.batches[batch.id] = batch
        return self._batch_json(batch)

    def _batch_json(self, batch: BatchRecord) -> dict[str, Any]:
        store = self.store.vector_stores.get(batch.vector_store_id)
        return batch.to_json(store, self.store.clock())

    def vector_stores_file_batches_cancel(
        self, vector_store_id: str, batch_id: str, **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        batch = FILE_BATCHES.get(self, vector_store_id=vector_store_id, batch_id=batch_id)
        clock = self.store.clock()
        if self._batch_json(batch)["status"] == "in_progress":
            batch.cancelled = True
            for file_id in batch.file_ids:
                entry = store.files.get(file_id)
                if entry is not None and entry.status(clock) == "in_progress":
                    entry.cancelled = True
        return self._batch_json(batch)

    def vector_stores_file_batches_files(
        self, vector_store_id: str, batch_id: str, request: Request, **_: Any
    ) -> dict[str, Any]:
        store = VECTOR_STORES.get(self, vector_store_id=vector_store_id)
        batch = FILE_BATCHES.get(self, vector_store_id=vector_store_id, batch_id=batch_id)
        clock = self.store.clock()
        rows = [store.file_json(f, clock) for f in batch.file_ids if f in store.files]
        wanted = request.query.get("filter")
        if wanted:
            rows = [r for r in rows if r["status"] == wanted[0]]
        return page(rows, request.query)


def _chunking(strategy: Mapping[str, Any]) -> dict[str, Any]:
    """The chunking strategy as the service reports it: ``auto`` is static 800/400."""
    if strategy.get("type") == "static":
        return {"type": "static", "static": dict(strategy["static"])}
    return {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
