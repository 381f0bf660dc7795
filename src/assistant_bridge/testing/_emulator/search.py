"""Vector store search as the service does it: only indexed files, narrowed by ``filters`` on
their attributes, ranked (keyword overlap stands in for embeddings) and cut at
``ranking_options.score_threshold`` and ``max_num_results``.

``rewrite_query`` is accepted and the query is answered as sent (the service rewrites it with
a model; ``search_query`` echoes what was searched).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .behaviours import relevance
from .file_records import FileRecord, VectorStoreRecord

__all__ = ["matches", "search_hits"]


def _compare(op: str, have: Any, want: Any) -> bool:
    if op in ("in", "nin"):
        found = have in (want if isinstance(want, list) else [want])
        return found if op == "in" else not found
    if op == "eq":
        return bool(have == want)
    if op == "ne":
        return bool(have != want)
    if have is None or isinstance(have, bool) != isinstance(want, bool):
        return False
    try:
        return bool(
            {
                "gt": have > want,
                "gte": have >= want,
                "lt": have < want,
                "lte": have <= want,
            }[op]
        )
    except TypeError:  # a string compared with a number: no match, as no order holds
        return False


def matches(filters: Mapping[str, Any] | None, attributes: Mapping[str, Any]) -> bool:
    """Whether a file with ``attributes`` passes ``filters`` (validated by the schemas)."""
    if not filters:
        return True
    kind = filters["type"]
    if kind == "and":
        return all(matches(f, attributes) for f in filters["filters"])
    if kind == "or":
        return any(matches(f, attributes) for f in filters["filters"])
    return _compare(kind, attributes.get(filters["key"]), filters["value"])


def search_hits(
    store: VectorStoreRecord,
    files: Mapping[str, FileRecord],
    queries: Sequence[str],
    clock: float,
    *,
    filters: Mapping[str, Any] | None = None,
    score_threshold: float = 0.0,
) -> list[dict[str, Any]]:
    """The store's hits for ``queries``, best first, in the service's result shape."""
    hits: list[dict[str, Any]] = []
    for file_id in store.searchable_ids(clock):
        record = files.get(file_id)
        attributes = store.files[file_id].attributes
        if record is None or not matches(filters, attributes):
            continue
        text = record.data.decode("utf-8", errors="replace")
        score = max(relevance(q, text + " " + record.filename) for q in queries)
        if score > 0 and score >= score_threshold:
            hits.append(
                {
                    "file_id": file_id,
                    "filename": record.filename,
                    "score": score,
                    "attributes": attributes,
                    "content": [{"type": "text", "text": text}],
                }
            )
    hits.sort(key=lambda h: -float(h["score"]))
    return hits
