"""The emulator's resources as data: each row (collection, id prefix, parent, not-found text)
gives the lookup every handler uses and generates the retrieve, list, delete and metadata
routes the service has for it. A route is a value holding its handler, not a name."""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any, Generic, TypeVar

import attrs

from .errors import ApiError
from .http import Request
from .pages import page
from .store import new_id

__all__ = ["Handler", "Resource", "Route"]

#: A handler: called with the app, ``request=``, ``body=`` and the path's ids as keywords.
Handler = Callable[..., Any]
T = TypeVar("T")
Render = Callable[[Any, Any, Request], Any]
GENERATED = frozenset({"retrieve", "list", "delete", "metadata"})


@attrs.frozen
class Route:
    """One endpoint: method, path (``{name}`` segments are ids), the name faults and counts
    use, and its handler."""

    method: str
    path: str
    name: str
    handler: Handler
    pattern: re.Pattern[str] = attrs.field(init=False)

    @pattern.default
    def _compile(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        return re.compile(f"^/v1{regex}$")

    @property
    def ids(self) -> tuple[str, ...]:
        """The path's id parameters, in order."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))


@attrs.frozen
class Resource(Generic[T]):
    """A kind of record the API serves under ``path``/{``key``}."""

    name: str
    path: str
    key: str
    prefix: str
    parent: Resource[Any] | None
    not_found: str  # ``{id}`` is the id asked for, ``{parent}`` its parent's
    collection: Callable[[Any, Any], MutableMapping[str, T]]  # (app, parent or None) -> by id
    render: Render  # (app, record, request) -> the JSON answered
    operations: frozenset[str] = frozenset()  # which of GENERATED routes it has
    deleted: str = ""  # ``object`` of the delete answer
    refresh: Callable[[Any, Any], None] | None = None  # bring a record up to date when read
    not_found_param: str | None = None
    id_length: int = 24

    def __attrs_post_init__(self) -> None:
        unknown = self.operations - GENERATED
        if unknown:
            msg = f"{self.name}: unknown generated operations {sorted(unknown)}"
            raise ValueError(msg)

    def new_id(self) -> str:
        """A fresh id shaped like the service's for this resource."""
        return new_id(self.prefix, self.id_length)

    def get(self, app: Any, **ids: str) -> T:
        """The record named by ``ids`` (its parents' too), or the service's 404."""
        parent = self.parent.get(app, **ids) if self.parent is not None else None
        key = ids[self.key]
        found = self.collection(app, parent).get(key)
        if found is None:
            parent_id = ids.get(self.parent.key, "") if self.parent is not None else ""
            raise ApiError(
                404,
                self.not_found.format(id=key, parent=parent_id),
                param=self.not_found_param,
            )
        if self.refresh is not None:
            self.refresh(app, found)
        return found

    def records(self, app: Any, **ids: str) -> MutableMapping[str, T]:
        """Every record under the parent named by ``ids``."""
        parent = self.parent.get(app, **ids) if self.parent is not None else None
        return self.collection(app, parent)

    def routes(self) -> list[Route]:
        """The generated routes this resource has."""
        one = f"{self.path}/{{{self.key}}}"
        made = {
            "retrieve": Route("GET", one, f"{self.name}.retrieve", self._retrieve),
            "list": Route("GET", self.path, f"{self.name}.list", self._list),
            "delete": Route("DELETE", one, f"{self.name}.delete", self._delete),
            "metadata": Route("POST", one, f"{self.name}.update", self._update_metadata),
        }
        return [
            made[op] for op in ("retrieve", "list", "delete", "metadata") if op in self.operations
        ]

    # -- the generated handlers -----------------------------------------------------------
    def _retrieve(self, app: Any, request: Request, **ids: Any) -> Any:
        ids.pop("body", None)
        return self.render(app, self.get(app, **ids), request)

    def _list(self, app: Any, request: Request, **ids: Any) -> Any:
        ids.pop("body", None)
        found = list(self.records(app, **ids).values())
        if self.refresh is not None:
            for record in found:
                self.refresh(app, record)
        return page([self.render(app, r, request) for r in found], request.query)

    def _delete(self, app: Any, request: Request, **ids: Any) -> Any:
        ids.pop("body", None)
        self.get(app, **ids)
        del self.records(app, **ids)[ids[self.key]]
        return {"id": ids[self.key], "object": self.deleted, "deleted": True}

    def _update_metadata(self, app: Any, request: Request, body: dict[str, Any], **ids: Any) -> Any:
        record: Any = self.get(app, **ids)  # a record with ``metadata`` (see ``operations``)
        if "metadata" in body:
            record.metadata = dict(body.get("metadata") or {})
        return self.render(app, record, request)
