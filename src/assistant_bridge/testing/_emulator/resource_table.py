"""The table of the emulator's resources: for each, its collection, id prefix, parent and
not-found text (the service's words), and which generated routes it has (retrieve, list,
delete, metadata update). Handlers look records up through these rows; :mod:`.routes` turns
them into routes."""

from __future__ import annotations

from typing import Any

from .file_records import BatchRecord, FileRecord, VectorStoreFile, VectorStoreRecord
from .http import Request
from .resources import Resource
from .response_records import ConversationRecord, ResponseRecord
from .store import AssistantRecord, MessageRecord, RunRecord, StepRecord, ThreadRecord

__all__ = [
    "ASSISTANTS",
    "CONVERSATIONS",
    "FILES",
    "FILE_BATCHES",
    "ITEMS",
    "MESSAGES",
    "RESOURCES",
    "RESPONSES",
    "RUNS",
    "STEPS",
    "THREADS",
    "VECTOR_STORES",
    "VECTOR_STORE_FILES",
    "includes_content",
]

FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def includes_content(request: Request) -> bool:
    """Whether ``include[]`` asks for the text of file_search results."""
    asked = request.query.get("include[]", []) + request.query.get("include", [])
    return FILE_SEARCH_CONTENT in asked


def _json(app: Any, record: Any, request: Request) -> Any:
    return record.to_json()


def _at_clock(app: Any, record: Any, request: Request) -> Any:
    return record.to_json(app.store.clock())


ASSISTANTS: Resource[AssistantRecord] = Resource(
    "assistants",
    "/assistants",
    "assistant_id",
    "asst_",
    None,
    "No assistant found with id '{id}'.",
    lambda app, _: app.store.assistants,
    _json,
    frozenset({"retrieve", "list", "delete"}),
    deleted="assistant.deleted",
)
THREADS: Resource[ThreadRecord] = Resource(
    "threads",
    "/threads",
    "thread_id",
    "thread_",
    None,
    "No thread found with id '{id}'.",
    lambda app, _: app.store.threads,
    _json,
    frozenset({"retrieve", "delete"}),
    deleted="thread.deleted",
)
MESSAGES: Resource[MessageRecord] = Resource(
    "messages",
    "/threads/{thread_id}/messages",
    "message_id",
    "msg_",
    THREADS,
    "No message found with id '{id}'.",
    lambda app, thread: thread.messages,
    _json,
    frozenset({"retrieve", "delete", "metadata"}),
    deleted="thread.message.deleted",
)
RUNS: Resource[RunRecord] = Resource(
    "runs",
    "/threads/{thread_id}/runs",
    "run_id",
    "run_",
    THREADS,
    "No run found with id '{id}'.",
    lambda app, thread: {r.id: r for r in app.store.runs.values() if r.thread_id == thread.id},
    _json,
    frozenset({"retrieve", "list"}),
    refresh=lambda app, run: app.store.advance(run),
)
STEPS: Resource[StepRecord] = Resource(
    "steps",
    "/threads/{thread_id}/runs/{run_id}/steps",
    "step_id",
    "step_",
    RUNS,
    "No run step found with id '{id}'.",
    lambda app, run: {s.id: s for s in run.steps},
    lambda app, step, request: step.to_json(includes_content(request)),
    frozenset({"retrieve", "list"}),
)
FILES: Resource[FileRecord] = Resource(
    "files",
    "/files",
    "file_id",
    "file-",
    None,
    "No such File object: {id}",
    lambda app, _: app.store.files,
    _json,
    frozenset({"retrieve", "list", "delete"}),
    deleted="file",
    not_found_param="id",
    id_length=22,
)
VECTOR_STORES: Resource[VectorStoreRecord] = Resource(
    "vector_stores",
    "/vector_stores",
    "vector_store_id",
    "vs_",
    None,
    "Vector store with id '{id}' not found.",
    lambda app, _: app.store.vector_stores,
    _at_clock,
    frozenset({"retrieve", "list", "delete"}),
    deleted="vector_store.deleted",
    id_length=32,
)
VECTOR_STORE_FILES: Resource[VectorStoreFile] = Resource(
    "vector_stores.files",
    "/vector_stores/{vector_store_id}/files",
    "file_id",
    "file-",
    VECTOR_STORES,
    "No file found with id '{id}' in vector store '{parent}'.",
    lambda app, store: store.files,
    _at_clock,
    frozenset({"retrieve", "delete"}),
    deleted="vector_store.file.deleted",
)
FILE_BATCHES: Resource[BatchRecord] = Resource(
    "vector_stores.file_batches",
    "/vector_stores/{vector_store_id}/file_batches",
    "batch_id",
    "vsfb_",
    VECTOR_STORES,
    "No file batch found with id '{id}'.",
    lambda app, store: {
        b.id: b for b in app.store.batches.values() if b.vector_store_id == store.id
    },
    lambda app, batch, request: batch.to_json(
        app.store.vector_stores.get(batch.vector_store_id), app.store.clock()
    ),
    frozenset({"retrieve"}),
    id_length=32,
)
CONVERSATIONS: Resource[ConversationRecord] = Resource(
    "conversations",
    "/conversations",
    "conversation_id",
    "conv_",
    None,
    "Conversation with id '{id}' not found.",
    lambda app, _: app.conversations,
    _json,
    frozenset({"retrieve", "delete", "metadata"}),
    deleted="conversation.deleted",
    refresh=lambda app, conversation: app.advance_conversation(conversation.id),
)
ITEMS: Resource[dict[str, Any]] = Resource(
    "conversations.items",
    "/conversations/{conversation_id}/items",
    "item_id",
    "msg_",
    CONVERSATIONS,
    "Item with id '{id}' not found.",
    lambda app, conversation: {i["id"]: i for i in conversation.items},
    lambda app, item, request: item,
    frozenset({"retrieve", "list"}),
    not_found_param="item_id",
)
RESPONSES: Resource[ResponseRecord] = Resource(
    "responses",
    "/responses",
    "response_id",
    "resp_",
    None,
    "Response with id '{id}' not found.",
    lambda app, _: app.responses,
    _json,
    frozenset({"delete"}),
    deleted="response.deleted",
    refresh=lambda app, response: app.advance_response(response),
    not_found_param="response_id",
)

RESOURCES = (
    ASSISTANTS,
    THREADS,
    MESSAGES,
    RUNS,
    STEPS,
    FILES,
    VECTOR_STORES,
    VECTOR_STORE_FILES,
    FILE_BATCHES,
    CONVERSATIONS,
    ITEMS,
    RESPONSES,
)
