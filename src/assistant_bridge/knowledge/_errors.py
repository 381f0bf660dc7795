"""The knowledge base's errors, under the library's AssistantBridgeError.

KnowledgeBaseError              the knowledge base could not be read or synced as asked
├── IndexingTimeoutError        indexing outlasted the deadline (the service goes on)
├── IndexingFailedError         the service could not index some files (old copies kept)
├── RemovalRefusedError         the sync would empty the store (also a ConfigurationError)
├── FileRefusedError            the service refused one file, named in ``path``
└── SyncBusyError               another sync of the store here held the lock too long
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant_bridge.exceptions import AssistantBridgeError, ConfigurationError

__all__ = [
    "FileRefusedError",
    "IndexingFailedError",
    "IndexingTimeoutError",
    "KnowledgeBaseError",
    "RemovalRefusedError",
    "SyncBusyError",
]


class KnowledgeBaseError(AssistantBridgeError):
    """The knowledge base could not be read or synced as asked."""


class IndexingTimeoutError(KnowledgeBaseError):
    """Files were still being indexed when the deadline passed; the service goes on."""

    def __init__(self, message: str, *, store_id: str, pending: Sequence[str]) -> None:
        super().__init__(message)
        self.store_id = store_id
        self.pending = tuple(pending)


class IndexingFailedError(KnowledgeBaseError):
    """The service could not index some files (``failed`` maps each path to its reason)."""

    def __init__(self, message: str, *, store_id: str, failed: dict[str, str]) -> None:
        super().__init__(message)
        self.store_id = store_id
        self.failed = dict(failed)


class RemovalRefusedError(KnowledgeBaseError, ConfigurationError):
    """The sync would remove all, or most, of a store's files; nothing was changed.

    Raised unless removal is allowed (``allow_removal=True``, ``--allow-removal``) when a
    sync would remove every file of the store, or more than half of a store of more than 4.
    """


class FileRefusedError(KnowledgeBaseError):
    """The service refused one file (its upload or adding it to the store); ``path`` names it."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class SyncBusyError(KnowledgeBaseError):
    """Another sync of the same store on this machine held the lock past the deadline."""
