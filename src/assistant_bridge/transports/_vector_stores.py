"""Files and vector stores over an ``openai`` client, for the knowledge base.

Vector stores are the same API under both wires, but ``openai`` 1.x keeps them under
``client.beta`` and later releases at the top level, so the calls go through the client's
generic ``get``/``post``/``delete`` (JSON in, JSON out) and ``client.files.create`` for the
upload. Every error is translated by :func:`map_openai_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from assistant_bridge._redact import redact
from assistant_bridge.transports._decoding import json_object
from assistant_bridge.transports._openai import map_openai_errors

__all__ = ["VectorStoreAPI"]

# Servers that still speak Assistants v2 want this header on vector store calls; the current
# API ignores it.
_BETA = {"OpenAI-Beta": "assistants=v2"}
# What these calls answer; anything else (an HTML page, a thread) is a MalformedResponseError.
_OBJECTS = (
    "list",
    "vector_store",
    "vector_store.deleted",
    "vector_store.file",
    "vector_store.file.deleted",
    "file",
)


class VectorStoreAPI:
    """The vector store and file calls the knowledge base needs, answered as plain JSON."""

    def __init__(self, client: Any, secrets: Sequence[str | None] = ()) -> None:
        self._client = client
        self._secrets = (*secrets, getattr(client, "api_key", None))

    def __repr__(self) -> str:
        base_url = redact(str(self._client.base_url), self._secrets)
        return f"<VectorStoreAPI(base_url={base_url!r})>"

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        extra: dict[str, Any] = {"headers": _BETA}
        if "params" in options:
            extra["params"] = options.pop("params")
        with map_openai_errors(self._secrets):
            answer = getattr(self._client, method)(path, cast_to=object, options=extra, **options)
        return dict(json_object(answer, *_OBJECTS))

    def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {"limit": 100, "order": "asc", **(params or {})}
        while True:
            page = self._call("get", path, params=query)
            rows = [dict(r) for r in page.get("data") or [] if isinstance(r, Mapping)]
            yield from rows
            if not page.get("has_more") or not rows:
                return
            query["after"] = rows[-1]["id"]

    # -- stores ------------------------------------------------------------------------------
    def list_stores(self) -> Iterator[dict[str, Any]]:
        """Every vector store of the account, oldest first."""
        return self._pages("/vector_stores")

    def get_store(self, store_id: str) -> dict[str, Any]:
        """One vector store (raises NotFoundError when it is gone)."""
        return self._call("get", f"/vector_stores/{store_id}")

    def create_store(self, name: str, metadata: Mapping[str, str]) -> dict[str, Any]:
        """A new, empty vector store."""
        return self._call("post", "/vector_stores", body={"name": name, "metadata": dict(metadata)})

    def delete_store(self, store_id: str) -> None:
        """Delete a vector store (its files stay in the account)."""
        self._call("delete", f"/vector_stores/{store_id}")

    # -- the files of a store ----------------------------------------------------------------
    def list_store_files(self, store_id: str) -> Iterator[dict[str, Any]]:
        """The files of a store: id, status, last_error and attributes of each."""
        return self._pages(f"/vector_stores/{store_id}/files")

    def attach_file(
        self, store_id: str, file_id: str, attributes: Mapping[str, str]
    ) -> dict[str, Any]:
        """Add an uploaded file to a store, with attributes to recognise it by."""
        return self._call(
            "post",
            f"/vector_stores/{store_id}/files",
            body={"file_id": file_id, "attributes": dict(attributes)},
        )

    def detach_file(self, store_id: str, file_id: str) -> None:
        """Remove a file from a store (the file itself stays)."""
        self._call("delete", f"/vector_stores/{store_id}/files/{file_id}")

    # -- files -------------------------------------------------------------------------------
    def upload(self, filename: str, data: bytes) -> str:
        """Upload a file for assistants; its id."""
        with map_openai_errors(self._secrets):
            created = self._client.files.create(file=(filename, data), purpose="assistants")
        return str(created.id)

    def delete_file(self, file_id: str) -> None:
        """Delete an uploaded file from the account."""
        self._call("delete", f"/files/{file_id}")
