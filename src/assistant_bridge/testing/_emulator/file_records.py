"""Records of files, vector stores, their files and file batches, each rendering itself as the
service's JSON; a vector store's file is ``in_progress`` until its indexing time has come."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["BatchRecord", "FileRecord", "VectorStoreFile", "VectorStoreRecord"]


@attrs.define
class FileRecord:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "object": "file",
            "id": self.id,
            "purpose": self.purpose,
            "filename": self.filename,
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": None,
            "status": "processed",
            "status_details": None,
        }


def _counts(statuses: Sequence[str]) -> dict[str, int]:
    return {
        "in_progress": statuses.count("in_progress"),
        "completed": statuses.count("completed"),
        "failed": statuses.count("failed"),
        "cancelled": statuses.count("cancelled"),
        "total": len(statuses),
    }


@attrs.define
class VectorStoreFile:
    """A file in a vector store: ``in_progress`` until ``ready_at`` on the store's clock."""

    file_id: str
    added_at: int
    ready_at: float
    size: int
    attributes: dict[str, Any] = attrs.Factory(dict)
    chunking: dict[str, Any] = attrs.Factory(
        lambda: {
            "type": "static",
            "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
        }
    )
    cancelled: bool = False
    vector_store_id: str = ""

    def status(self, clock: float) -> str:
        if self.cancelled:
            return "cancelled"
        return "completed" if clock >= self.ready_at else "in_progress"

    def to_json(self, clock: float) -> dict[str, Any]:
        return {
            "id": self.file_id,
            "object": "vector_store.file",
            "usage_bytes": self.size,
            "created_at": self.added_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status(clock),
            "last_error": None,
            "chunking_strategy": self.chunking,
            "attributes": self.attributes,
        }


@attrs.define
class VectorStoreRecord:
    id: str
    created_at: int
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)
    files: dict[str, VectorStoreFile] = attrs.Factory(dict)
    expires_after: dict[str, Any] | None = None
    last_active_at: int | None = None

    @property
    def file_ids(self) -> list[str]:
        return list(self.files)

    def searchable_ids(self, clock: float) -> list[str]:
        """The files a search finds: the indexed ones (``completed``), as the service's search
        and ``file_search`` find only those."""
        return [f.file_id for f in self.files.values() if f.status(clock) == "completed"]

    def to_json(self, clock: float) -> dict[str, Any]:
        statuses = [f.status(clock) for f in self.files.values()]
        return {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "description": self.description,
            "usage_bytes": sum(f.size for f in self.files.values()),
            "file_counts": _counts(statuses),
            "status": "in_progress" if "in_progress" in statuses else "completed",
            "expires_after": self.expires_after,
            "expires_at": None,
            "last_active_at": self.last_active_at or self.created_at,
            "metadata": self.metadata,
        }

    def file_json(self, file_id: str, clock: float) -> dict[str, Any]:
        return self.files[file_id].to_json(clock)


@attrs.define
class BatchRecord:
    id: str
    vector_store_id: str
    file_ids: list[str]
    created_at: int
    cancelled: bool = False

    def to_json(self, store: VectorStoreRecord | None, clock: float) -> dict[str, Any]:
        statuses = [
            store.files[f].status(clock) if store and f in store.files else "cancelled"
            for f in self.file_ids
        ]
        status = (
            "cancelled"
            if self.cancelled
            else "in_progress"
            if "in_progress" in statuses
            else "completed"
        )
        return {
            "id": self.id,
            "object": "vector_store.file_batch",
            "created_at": self.created_at,
            "status": status,
            "vector_store_id": self.vector_store_id,
            "file_counts": _counts(statuses),
        }
