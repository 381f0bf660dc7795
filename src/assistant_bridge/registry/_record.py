"""What the registry keeps per key: the thread record, a lease on it, and an ask's answer entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

import attrs

__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_TTL",
    "Answer",
    "AnswerStatus",
    "Lease",
    "RecordChanges",
    "ThreadRecord",
]

DEFAULT_TTL = 30.0
"""Seconds a lease lasts unless renewed (a holder renews every third of it)."""

DEFAULT_RETENTION = 7 * 24 * 3600.0
"""Seconds a record or an answer is kept after its last update (7 days)."""

AnswerStatus = Literal["pending", "running", "done", "unstarted"]
"""Where an idempotent ask stands: its mark is written (``pending``), its run is known
(``running``), its run has ended (``done``), or it surely never started (``unstarted``, asked
again it starts afresh)."""

RECORD_FIELDS = (
    "key",
    "wire",
    "thread_id",
    "run_id",
    "run_status",
    "mark",
    "idempotency_key",
    "spec_hash",
    "epoch",
    "owner",
    "lease_expires",
    "updated",
)
"""The record's columns, in the order the SQL backends select them."""

CHANGEABLE = frozenset(
    {"wire", "thread_id", "run_id", "run_status", "mark", "idempotency_key", "spec_hash"}
)
"""What a lease holder may change with a commit (epoch, owner and lease are the registry's)."""

ANSWER_FIELDS = ("key", "idempotency_key", "status", "thread_id", "run_id", "mark", "updated")


class RecordChanges(TypedDict, total=False):
    """The fields a commit sets (None clears one)."""

    wire: str | None
    thread_id: str | None
    run_id: str | None
    run_status: str | None
    mark: str | None
    idempotency_key: str | None
    spec_hash: str | None


@attrs.frozen
class ThreadRecord:
    """One key's conversation: its thread, its last run, the pending ask's mark and the lease.

    ``epoch`` is the fencing token: every claim bumps it, and a commit is accepted only from
    the holder of the current epoch. Times are seconds since 1970 on the store's clock.
    """

    key: str
    epoch: int
    updated: float
    wire: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    run_status: str | None = None
    mark: str | None = None
    idempotency_key: str | None = None
    spec_hash: str | None = None
    owner: str | None = None
    lease_expires: float | None = None

    def leased_at(self, now: float) -> bool:
        """True when a lease on the record is live at ``now`` (store clock)."""
        return (
            self.owner is not None and self.lease_expires is not None and self.lease_expires > now
        )


@attrs.frozen
class Lease:
    """A claim on one key: ``epoch`` is its fencing token; ``record`` is the record as the last
    claim, renewal or commit of this lease left it."""

    key: str
    owner: str
    epoch: int
    expires: float
    record: ThreadRecord


@attrs.frozen
class Answer:
    """The idempotency entry of one ask (``idempotency_key``, e.g. an alert id) under a key:
    where it stands, and the run that answers it."""

    key: str
    idempotency_key: str
    status: AnswerStatus
    thread_id: str | None = None
    run_id: str | None = None
    mark: str | None = None
    updated: float = 0.0


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def record_from(row: Mapping[str, object]) -> ThreadRecord:
    """A record from a row or hash (missing or empty fields are None)."""
    expires = _text(row.get("lease_expires"))
    return ThreadRecord(
        key=_text(row["key"]) or "",
        epoch=int(_text(row.get("epoch")) or 0),
        updated=float(_text(row.get("updated")) or 0.0),
        wire=_text(row.get("wire")),
        thread_id=_text(row.get("thread_id")),
        run_id=_text(row.get("run_id")),
        run_status=_text(row.get("run_status")),
        mark=_text(row.get("mark")),
        idempotency_key=_text(row.get("idempotency_key")),
        spec_hash=_text(row.get("spec_hash")),
        owner=_text(row.get("owner")),
        lease_expires=None if expires is None else float(expires),
    )


def answer_from(row: Mapping[str, object]) -> Answer:
    """An answer entry from a row or hash."""
    status = _text(row.get("status")) or "pending"
    assert status in ("pending", "running", "done", "unstarted")
    return Answer(
        key=_text(row["key"]) or "",
        idempotency_key=_text(row["idempotency_key"]) or "",
        status=status,  # type: ignore[arg-type]
        thread_id=_text(row.get("thread_id")),
        run_id=_text(row.get("run_id")),
        mark=_text(row.get("mark")),
        updated=float(_text(row.get("updated")) or 0.0),
    )


def lease_from(record: ThreadRecord) -> Lease:
    """The lease a freshly claimed (or renewed, or committed) record shows."""
    assert record.owner is not None
    assert record.lease_expires is not None
    return Lease(record.key, record.owner, record.epoch, record.lease_expires, record)
