"""The knowledge base: a named vector store kept equal to a folder of runbooks and notes.

``KnowledgeBase(transport, "runbooks").sync("runbooks/")`` uploads what is new or changed,
skips unchanged files, removes what was deleted, waits for indexing and returns the store id
for ``FileSearch([...])``; ``plan()`` says what it would do first. ``AsyncKnowledgeBase`` is
its twin for event loops. :func:`sample_runbooks` gives the bundled sample runbooks.
"""

from assistant_bridge.knowledge._async import AsyncKnowledgeBase
from assistant_bridge.knowledge._errors import (
    FileRefusedError,
    IndexingFailedError,
    IndexingTimeoutError,
    KnowledgeBaseError,
    RemovalRefusedError,
    SyncBusyError,
)
from assistant_bridge.knowledge._plan import (
    FILE_SEARCH_EXTENSIONS,
    MAX_FILE_BYTES,
    LocalFile,
    RemoteFile,
    Replacement,
    Skipped,
    SyncPlan,
    SyncProgress,
    SyncResult,
)
from assistant_bridge.knowledge._samples import sample_runbooks
from assistant_bridge.knowledge._sync import KnowledgeBase

__all__ = [
    "FILE_SEARCH_EXTENSIONS",
    "MAX_FILE_BYTES",
    "AsyncKnowledgeBase",
    "FileRefusedError",
    "IndexingFailedError",
    "IndexingTimeoutError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LocalFile",
    "RemoteFile",
    "RemovalRefusedError",
    "Replacement",
    "Skipped",
    "SyncBusyError",
    "SyncPlan",
    "SyncProgress",
    "SyncResult",
    "sample_runbooks",
]
