"""The knowledge base: a named vector store kept equal to a folder of runbooks and notes.

``KnowledgeBase(transport, "runbooks").sync("runbooks/")`` uploads what is new or changed,
skips what is unchanged, removes what was deleted, waits for indexing and returns the store
id for ``FileSearch([...])``. :func:`sample_runbooks` gives the bundled sample runbooks.
"""

from assistant_bridge.knowledge._errors import (
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBaseError,
)
from assistant_bridge.knowledge._plan import LocalFile, RemoteFile, SyncProgress, SyncResult
from assistant_bridge.knowledge._samples import sample_runbooks
from assistant_bridge.knowledge._sync import KnowledgeBase

__all__ = [
    "IndexingFailedError",
    "IndexingTimeoutError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LocalFile",
    "RemoteFile",
    "SyncProgress",
    "SyncResult",
    "sample_runbooks",
]
