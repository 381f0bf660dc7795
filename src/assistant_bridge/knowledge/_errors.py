"""The knowledge base's errors, under the library's AssistantBridgeError."""

from __future__ import annotations

from collections.abc import Sequence

from assistant_bridge.exceptions import AssistantBridgeError

__all__ = ["IndexingFailedError", "IndexingTimeoutError", "KnowledgeBaseError"]


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
