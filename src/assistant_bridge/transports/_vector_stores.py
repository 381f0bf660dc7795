"""Files and vector stores over an ``openai`` client, for the knowledge base.

Each call the knowledge base makes is an operation value on the transports' shape
(:class:`~assistant_bridge.transports.ops.Op`: ``ListStores()`` is an ``Op[list[JSON]]``),
performed by :meth:`VectorStoreAPI.perform` or awaited from
:meth:`AsyncVectorStoreAPI.perform`. What each value sends is a table from operation type to
request builder (``@handles``), as on the wires, and how its answer is read is written once;
only sending (or awaiting) is doubled. The operations are the same on both wires, so they are
performed on the wire's ``openai`` client rather than by the wire.

Vector stores are the same API under both wires, but ``openai`` 1.x keeps them under
``client.beta`` and later releases at the top level, so the calls go through the client's
generic ``get``/``post``/``delete`` (JSON in, JSON out) and ``client.files.create`` for the
upload, which streams the file from disk. Every ``openai`` error is translated by
:func:`map_openai_errors`; an answer that is not the JSON object the API sends (an HTML page
from a proxy, a body cut short) is a :class:`TransportError`, never read as an empty list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, TypeAlias, TypeVar, cast

import attrs

from assistant_bridge._redact import raise_detached, redact
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    MalformedResponseError,
    TransportError,
)
from assistant_bridge.transports._openai import map_openai_errors
from assistant_bridge.transports._wire import ASSISTANTS_BETA
from assistant_bridge.transports.ops import Op, handler_table, handles

__all__ = [
    "AsyncVectorStoreAPI",
    "AttachFile",
    "CreateStore",
    "DeleteFile",
    "DeleteStore",
    "DetachFile",
    "GetStore",
    "ListFiles",
    "ListStoreFiles",
    "ListStores",
    "StoreOperation",
    "UploadFile",
    "VectorStoreAPI",
]

_PAGE = 100
T = TypeVar("T")


# -- the operations, as values ----------------------------------------------------------------
JSON: TypeAlias = dict[str, Any]


@attrs.frozen
class ListStores(Op[list[JSON]]):
    """Every vector store of the account, oldest first (a list of JSON objects)."""


@attrs.frozen
class GetStore(Op[JSON]):
    """One vector store (raises NotFoundError when it is gone)."""

    store_id: str


@attrs.frozen
class CreateStore(Op[JSON]):
    """A new, empty vector store named ``store_name`` (its JSON object)."""

    store_name: str
    metadata: Mapping[str, str]

    idempotent = False


@attrs.frozen
class DeleteStore(Op[JSON]):
    """Delete a vector store (its files stay in the account)."""

    store_id: str


@attrs.frozen
class ListStoreFiles(Op[list[JSON]]):
    """The files of a store: id, status, last_error, usage_bytes and attributes of each."""

    store_id: str


@attrs.frozen
class ListFiles(Op[list[JSON]]):
    """The account's uploaded files of one purpose: id, filename, bytes, created_at."""

    purpose: str = "assistants"


@attrs.frozen
class UploadFile(Op[str]):
    """Upload a file for assistants, streamed from what ``open`` returns; answers its id."""

    filename: str
    size: int
    open: Callable[[], IO[bytes]] = attrs.field(eq=False, repr=False)

    idempotent = False


@attrs.frozen
class AttachFile(Op[JSON]):
    """Add an uploaded file to a store, with attributes to recognise it by."""

    store_id: str
    file_id: str
    attributes: Mapping[str, str]

    idempotent = False


@attrs.frozen
class DetachFile(Op[JSON]):
    """Remove a file from a store (the file itself stays in the account)."""

    store_id: str
    file_id: str


@attrs.frozen
class DeleteFile(Op[JSON]):
    """Delete an uploaded file from the account."""

    file_id: str


StoreOperation = (
    ListStores
    | GetStore
    | CreateStore
    | DeleteStore
    | ListStoreFiles
    | ListFiles
    | UploadFile
    | AttachFile
    | DetachFile
    | DeleteFile
)
"""The operations :class:`VectorStoreAPI` performs."""


# -- what each operation sends, and how its answer is read (written once) ---------------------
@attrs.frozen
class _Request:
    """One JSON call: method, path, body, and whether the answer is a list of pages."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    paged: bool = False

    def send(self, client: Any, query: Mapping[str, Any] | None = None) -> Any:
        """Call the client's generic method (a coroutine on an async client)."""
        # Servers that still speak Assistants v2 want the beta header; the current API ignores it.
        options: dict[str, Any] = {"headers": ASSISTANTS_BETA}
        if query is not None:
            options["params"] = dict(query)
        extra = {"body": dict(self.body)} if self.body is not None else {}
        return getattr(client, self.method)(self.path, cast_to=object, options=options, **extra)

    def first_query(self) -> dict[str, Any]:
        return {"limit": _PAGE, "order": "asc", **(self.params or {})}


class _Builders:
    """What each JSON operation sends: a table from operation type to request, as each wire
    has (:func:`handles`); :class:`UploadFile` is a multipart upload of its own."""

    @handles(ListStores)
    def list_stores(self, op: ListStores) -> _Request:
        return _Request("get", "/vector_stores", paged=True)

    @handles(GetStore)
    def get_store(self, op: GetStore) -> _Request:
        return _Request("get", f"/vector_stores/{op.store_id}")

    @handles(CreateStore)
    def create_store(self, op: CreateStore) -> _Request:
        return _Request(
            "post", "/vector_stores", {"name": op.store_name, "metadata": dict(op.metadata)}
        )

    @handles(DeleteStore)
    def delete_store(self, op: DeleteStore) -> _Request:
        return _Request("delete", f"/vector_stores/{op.store_id}")

    @handles(ListStoreFiles)
    def list_store_files(self, op: ListStoreFiles) -> _Request:
        return _Request("get", f"/vector_stores/{op.store_id}/files", paged=True)

    @handles(ListFiles)
    def list_files(self, op: ListFiles) -> _Request:
        return _Request("get", "/files", params={"purpose": op.purpose}, paged=True)

    @handles(AttachFile)
    def attach_file(self, op: AttachFile) -> _Request:
        body = {"file_id": op.file_id, "attributes": dict(op.attributes)}
        return _Request("post", f"/vector_stores/{op.store_id}/files", body)

    @handles(DetachFile)
    def detach_file(self, op: DetachFile) -> _Request:
        return _Request("delete", f"/vector_stores/{op.store_id}/files/{op.file_id}")

    @handles(DeleteFile)
    def delete_file(self, op: DeleteFile) -> _Request:
        return _Request("delete", f"/files/{op.file_id}")


_BUILDERS = handler_table(_Builders)


def _request(operation: Op[Any]) -> _Request:
    builder = _BUILDERS.get(type(operation))
    if builder is None:
        msg = f"VectorStoreAPI cannot perform {type(operation).__name__}"
        raise TypeError(msg)
    return cast(_Request, builder(_Builders(), operation))


def _unreadable(request: _Request, what: str) -> TransportError:
    return MalformedResponseError(
        f"The answer to {request.method.upper()} {request.path} is {what}, not the JSON object "
        "the API sends; a proxy or gateway may have answered instead. Nothing was changed on "
        "the strength of it."
    )


@contextmanager
def _reading(request: _Request, secrets: Sequence[str | None]) -> Iterator[None]:
    """Translate the client's errors, and a body that is not JSON, into ours."""
    try:
        with map_openai_errors(secrets):
            yield
    except AssistantBridgeError:
        raise
    except ValueError:  # json.JSONDecodeError, UnicodeDecodeError: a 2xx that is not JSON
        raise_detached(_unreadable(request, "not JSON"))  # the decoder's error holds the body


def _object(request: _Request, answer: object) -> dict[str, Any]:
    """The answer as a JSON object (openai gives a non-JSON body back as a string)."""
    if not isinstance(answer, Mapping):
        kind = "a text page" if isinstance(answer, str) else f"a JSON {type(answer).__name__}"
        raise _unreadable(request, kind)
    return dict(answer)


def _rows(request: _Request, answer: object, query: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one page, moving ``query`` on to the next page (``after`` the last row),
    or clearing it when this was the last."""
    page = _object(request, answer)
    data = page.get("data")
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise _unreadable(request, "a list without a list of objects in 'data'")
    rows = [dict(r) for r in data]
    if page.get("has_more") and rows and "id" in rows[-1]:
        query["after"] = rows[-1]["id"]
    else:
        query.clear()
    return rows


def _file_id(request: _Request, created: object) -> str:
    found = getattr(created, "id", None)
    if not isinstance(found, str) or not found:
        raise _unreadable(request, "a file without an id")
    return found


_UPLOAD = _Request("post", "/files")


# -- sending: the one doubled part -----------------------------------------------------------
class VectorStoreAPI:
    """Performs the knowledge base's operations with an ``openai.OpenAI`` client."""

    def __init__(self, client: Any, secrets: Sequence[str | None] = ()) -> None:
        self._client = client
        self._secrets = (*secrets, getattr(client, "api_key", None))

    def __repr__(self) -> str:
        return f"<VectorStoreAPI(base_url={redact(self.base_url, self._secrets)!r})>"

    @property
    def base_url(self) -> str:
        """The API root the calls go to (keys the local journal and lock)."""
        return str(self._client.base_url)

    def perform(self, operation: Op[T]) -> T:
        """Send ``operation``: a list of JSON objects for a listing, the id for an upload,
        the JSON object otherwise."""
        if isinstance(operation, UploadFile):
            with operation.open() as stream, _reading(_UPLOAD, self._secrets):
                created = self._client.files.create(
                    file=(operation.filename, stream), purpose="assistants"
                )
            return cast(T, _file_id(_UPLOAD, created))
        request = _request(operation)
        if not request.paged:
            with _reading(request, self._secrets):
                return cast(T, _object(request, request.send(self._client)))
        rows: list[dict[str, Any]] = []
        query = request.first_query()
        while query:
            with _reading(request, self._secrets):
                answer = request.send(self._client, query)
            rows += _rows(request, answer, query)
        return cast(T, rows)

    def get_store(self, store_id: str) -> dict[str, Any]:
        """One vector store (raises NotFoundError when it is gone)."""
        return self.perform(GetStore(store_id))


class AsyncVectorStoreAPI:
    """Performs the knowledge base's operations with an ``openai.AsyncOpenAI`` client."""

    def __init__(self, client: Any, secrets: Sequence[str | None] = ()) -> None:
        self._client = client
        self._secrets = (*secrets, getattr(client, "api_key", None))

    def __repr__(self) -> str:
        return f"<AsyncVectorStoreAPI(base_url={redact(self.base_url, self._secrets)!r})>"

    @property
    def base_url(self) -> str:
        """The API root the calls go to (keys the local journal and lock)."""
        return str(self._client.base_url)

    async def perform(self, operation: Op[T]) -> T:
        """Send ``operation`` and await its answer (as :meth:`VectorStoreAPI.perform`)."""
        if isinstance(operation, UploadFile):
            with operation.open() as stream, _reading(_UPLOAD, self._secrets):
                created = await self._client.files.create(
                    file=(operation.filename, stream), purpose="assistants"
                )
            return cast(T, _file_id(_UPLOAD, created))
        request = _request(operation)
        if not request.paged:
            with _reading(request, self._secrets):
                return cast(T, _object(request, await request.send(self._client)))
        rows: list[dict[str, Any]] = []
        query = request.first_query()
        while query:
            with _reading(request, self._secrets):
                answer = await request.send(self._client, query)
            rows += _rows(request, answer, query)
        return cast(T, rows)
