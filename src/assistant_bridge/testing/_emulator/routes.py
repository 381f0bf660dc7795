"""The emulator's route table: every endpoint as a :class:`~.resources.Route` holding its
handler, the resource table's generated routes included. The table is checked when this
module is imported: a missing handler, a handler that cannot take its path's ids, a repeated
name or endpoint, or a schema for no route fails the import, never a request (a 500 there
would be retried by clients)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

from .assistants_api import AssistantsRoutes
from .files_api import FilesRoutes
from .http import Request
from .resource_table import RESOURCES
from .resources import Route
from .responses_api import ResponsesRoutes
from .validation import SCHEMAS

__all__ = ["BETA_ROUTES", "POLLED_ROUTES", "ROUTES", "ROUTE_NAMES", "check_routes", "match"]


def _models_list(app: Any, **_: Any) -> Any:
    return app.models.listing()


def _models_retrieve(app: Any, model: str, **_: Any) -> Any:
    return app.models.retrieve(model)


A, F, R = AssistantsRoutes, FilesRoutes, ResponsesRoutes
_EXPLICIT = (
    Route("GET", "/models", "models.list", _models_list),
    Route("GET", "/models/{model}", "models.retrieve", _models_retrieve),
    Route("POST", "/assistants", "assistants.create", A.assistants_create),
    Route("POST", "/assistants/{assistant_id}", "assistants.update", A.assistants_update),
    Route("POST", "/threads/runs", "threads.create_and_run", A.threads_create_and_run),
    Route("POST", "/threads", "threads.create", A.threads_create),
    Route("POST", "/threads/{thread_id}", "threads.update", A.threads_update),
    Route("POST", "/threads/{thread_id}/messages", "messages.create", A.messages_create),
    Route("GET", "/threads/{thread_id}/messages", "messages.list", A.messages_list),
    Route("POST", "/threads/{thread_id}/runs", "runs.create", A.runs_create),
    Route("POST", "/threads/{thread_id}/runs/{run_id}", "runs.update", A.runs_update),
    Route("POST", "/threads/{thread_id}/runs/{run_id}/cancel", "runs.cancel", A.runs_cancel),
    Route(
        "POST",
        "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "runs.submit_tool_outputs",
        A.runs_submit_tool_outputs,
    ),
    Route("POST", "/files", "files.create", F.files_create),
    Route("GET", "/files/{file_id}/content", "files.content", F.files_content),
    Route("POST", "/vector_stores", "vector_stores.create", F.vector_stores_create),
    Route(
        "POST", "/vector_stores/{vector_store_id}", "vector_stores.update", F.vector_stores_update
    ),
    Route(
        "POST",
        "/vector_stores/{vector_store_id}/search",
        "vector_stores.search",
        F.vector_stores_search,
    ),
    Route(
        "POST",
        "/vector_stores/{vector_store_id}/files",
        "vector_stores.files.create",
        F.vector_stores_files_create,
    ),
    Route(
        "GET",
        "/vector_stores/{vector_store_id}/files",
        "vector_stores.files.list",
        F.vector_stores_files_list,
    ),
    Route(
        "POST",
        "/vector_stores/{vector_store_id}/files/{file_id}",
        "vector_stores.files.update",
        F.vector_stores_files_update,
    ),
    Route(
        "GET",
        "/vector_stores/{vector_store_id}/files/{file_id}/content",
        "vector_stores.files.content",
        F.vector_stores_files_content,
    ),
    Route(
        "POST",
        "/vector_stores/{vector_store_id}/file_batches",
        "vector_stores.file_batches.create",
        F.vector_stores_file_batches_create,
    ),
    Route(
        "POST",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
        "vector_stores.file_batches.cancel",
        F.vector_stores_file_batches_cancel,
    ),
    Route(
        "GET",
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
        "vector_stores.file_batches.files",
        F.vector_stores_file_batches_files,
    ),
    Route("POST", "/responses", "responses.create", R.responses_create),
    Route("POST", "/responses/input_tokens", "responses.input_tokens", R.responses_input_tokens),
    Route("POST", "/responses/compact", "responses.compact", R.responses_compact),
    Route("GET", "/responses/{response_id}", "responses.retrieve", R.responses_retrieve),
    Route("POST", "/responses/{response_id}/cancel", "responses.cancel", R.responses_cancel),
    Route(
        "GET",
        "/responses/{response_id}/input_items",
        "responses.input_items",
        R.responses_input_items,
    ),
    Route("POST", "/conversations", "conversations.create", R.conversations_create),
    Route(
        "POST",
        "/conversations/{conversation_id}/items",
        "conversations.items.create",
        R.conversations_items_create,
    ),
    Route(
        "DELETE",
        "/conversations/{conversation_id}/items/{item_id}",
        "conversations.items.delete",
        R.conversations_items_delete,
    ),
)


def _takes(route: Route) -> bool:
    """Whether the handler accepts ``request``, ``body`` and every id of the path."""
    if not callable(route.handler):
        return True  # reported as not callable
    parameters = inspect.signature(route.handler).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return True
    names = {p.name for p in parameters}
    return {"request", "body", *route.ids} <= names


def check_routes(routes: Sequence[Route], schemas: Iterable[str] = ()) -> None:
    """Refuse a table with a handler that is not callable or cannot take its path's ids, a
    name or endpoint given twice, or a schema naming no route."""
    problems = [f"{r.name}: handler is not callable" for r in routes if not callable(r.handler)]
    problems += [f"{r.name}: handler cannot take {r.ids}" for r in routes if not _takes(r)]
    names = [r.name for r in routes]
    problems += [f"{n}: named twice" for n in sorted({n for n in names if names.count(n) > 1})]
    ends = [(r.method, r.path) for r in routes]
    problems += [f"{e}: routed twice" for e in sorted({e for e in ends if ends.count(e) > 1})]
    problems += [f"schema {s!r}: no such route" for s in schemas if s not in names]
    if problems:
        raise RuntimeError("emulator route table: " + "; ".join(problems))


def _specific_first(route: Route) -> int:
    """Literal segments before ids: ``/threads/runs`` before ``/threads/{thread_id}``."""
    return route.path.count("{")


ROUTES: tuple[Route, ...] = tuple(
    sorted(
        [*_EXPLICIT, *(route for resource in RESOURCES for route in resource.routes())],
        key=_specific_first,
    )
)
check_routes(ROUTES, SCHEMAS)

ROUTE_NAMES = tuple(route.name for route in ROUTES)
#: Route prefixes of the Assistants API, which wants ``OpenAI-Beta: assistants=v2``.
BETA_ROUTES = frozenset({"assistants", "threads", "messages", "runs", "steps"})
#: Routes answering a run that a client then polls (``openai-poll-after-ms``).
POLLED_ROUTES = frozenset(
    {
        "runs.retrieve",
        "runs.create",
        "threads.create_and_run",
        "runs.cancel",
        "runs.submit_tool_outputs",
    }
)


def match(request: Request) -> tuple[Route | None, dict[str, str]]:
    """The route of ``request`` and its path's ids, or (None, {}) for an unknown path."""
    for route in ROUTES:
        if route.method == request.method:
            found = route.pattern.match(request.path)
            if found:
                return route, found.groupdict()
    return None, {}
