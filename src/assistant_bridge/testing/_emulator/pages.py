"""List answers with the service's cursor pagination (``order``, ``limit``, ``after``,
``before``), for every list endpoint of both APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ApiError

__all__ = ["page"]


def page(items: list[dict[str, Any]], query: Mapping[str, list[str]]) -> dict[str, Any]:
    """A list answer with the service's cursor pagination (order, limit, after, before)."""

    def one(name: str, default: str | None = None) -> str | None:
        values = query.get(name)
        return values[0] if values else default

    order = one("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(
            400, f"Invalid 'order': expected 'asc' or 'desc', got '{order}'.", param="order"
        )
    try:
        limit = int(one("limit", "20") or 20)
    except ValueError:
        raise ApiError(400, "Invalid 'limit': expected an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(
            400, f"Invalid 'limit': must be between 1 and 100, got {limit}.", param="limit"
        )
    rows = items if order == "asc" else list(reversed(items))
    ids = [r["id"] for r in rows]
    after, before = one("after"), one("before")
    if after is not None:
        rows = rows[ids.index(after) + 1 :] if after in ids else []
        ids = [r["id"] for r in rows]
    if before is not None:
        # The page right before the cursor, in the same order (``has_more``: more before it).
        rows = rows[: ids.index(before)] if before in ids else []
        data = rows[-limit:]
        return _listing(data, len(rows) > limit)
    data = rows[:limit]
    return _listing(data, len(rows) > limit)


def _listing(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
