"""The registry's operations written once, as sans-I/O plans over a store's statements.

A plan is a generator: it yields a :class:`Statement` (SQL with parameters, or a Redis script
call), receives its rows, and decides what comes next or what the answer is; raising ends the
store's transaction without committing. Sync and async stores only execute statements, so every
decision (what a refused commit means, what an orphan is) exists once, here.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from assistant_bridge.exceptions import InvalidArgumentError
from assistant_bridge.registry._errors import LeaseLostError
from assistant_bridge.registry._record import (
    ANSWER_FIELDS,
    CHANGEABLE,
    RECORD_FIELDS,
    Answer,
    Lease,
    ThreadRecord,
    answer_from,
    lease_from,
    record_from,
)

T = TypeVar("T")
Row = Mapping[str, Any]


@attrs.frozen
class Statement:
    """One thing for the store to execute: SQL text with ``%s`` parameters, or (for Redis)
    a script's name with its keys in ``keys`` and arguments in ``params``."""

    text: str
    params: tuple[Any, ...] = ()
    keys: tuple[str, ...] = ()


Plan = Generator[Statement, Sequence[Row], T]
"""A registry operation: yields statements, receives each one's rows, returns ``T``."""


def lost(lease: Lease, current: ThreadRecord | None, what: str) -> LeaseLostError:
    """The error for a holder whose lease is gone, saying who holds the key now."""
    if current is None:
        why = "the record is gone"
    elif current.epoch != lease.epoch:
        why = f"the key was claimed again (epoch {current.epoch}, owner {current.owner!r})"
    else:
        why = "the lease expired before it was renewed"
    msg = (
        f"Lease on key {lease.key!r} (epoch {lease.epoch}, owner {lease.owner!r}) is lost: {why}. "
        f"The {what} was refused; this holder must write, start and cancel nothing more for "
        "this key (the next holder resumes its run)."
    )
    return LeaseLostError(
        msg,
        key=lease.key,
        epoch=lease.epoch,
        current_epoch=None if current is None else current.epoch,
    )


def check_changes(fields: Mapping[str, object]) -> None:
    """Refuse a commit of fields the registry owns (epoch, owner, lease) or does not know."""
    wrong = sorted(set(fields) - CHANGEABLE)
    if wrong:
        msg = f"A commit may change {sorted(CHANGEABLE)}, not {wrong}."
        raise InvalidArgumentError(msg, argument=wrong[0])


@attrs.frozen
class SqlPlans:
    """The operations for a SQL store (SQLite or PostgreSQL): ``now`` is the store's clock as
    seconds since 1970, so leases are judged by one clock whichever host asks."""

    now: str
    prefix: str = "assistant_bridge_"

    @property
    def threads(self) -> str:
        return f"{self.prefix}threads"

    @property
    def answers(self) -> str:
        return f"{self.prefix}answers"

    @property
    def waiters(self) -> str:
        return f"{self.prefix}waiters"

    wakes = False
    """A SQL store cannot wake a waiter: waiters try their claim again after a short pause."""

    def schema(self) -> tuple[str, ...]:
        t, a, w = self.threads, self.answers, self.waiters
        return (
            f"CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, wire TEXT, thread_id TEXT, "
            "run_id TEXT, run_status TEXT, mark TEXT, idempotency_key TEXT, spec_hash TEXT, "
            "epoch BIGINT NOT NULL DEFAULT 0, owner TEXT, lease_expires DOUBLE PRECISION, "
            "updated DOUBLE PRECISION NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {a} (key TEXT NOT NULL, idempotency_key TEXT NOT NULL, "
            "status TEXT NOT NULL, thread_id TEXT, run_id TEXT, mark TEXT, "
            "updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (key, idempotency_key))",
            # The queue of waiters, one ticket per (key, owner), served oldest ``taken`` first;
            # a ticket not refreshed by ``expires`` counts no more (its waiter died or left).
            f"CREATE TABLE IF NOT EXISTS {w} (key TEXT NOT NULL, owner TEXT NOT NULL, "
            "taken DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL, "
            "PRIMARY KEY (key, owner))",
            f"CREATE INDEX IF NOT EXISTS {t}_updated ON {t} (updated)",
            f"CREATE INDEX IF NOT EXISTS {a}_updated ON {a} (updated)",
        )

    @property
    def _columns(self) -> str:
        return ", ".join(RECORD_FIELDS)

    def _record(self, rows: Sequence[Row]) -> ThreadRecord | None:
        return record_from(rows[0]) if rows else None

    def get(self, key: str) -> Plan[ThreadRecord | None]:
        rows = yield Statement(f"SELECT {self._columns} FROM {self.threads} WHERE key = %s", (key,))
        return self._record(rows)

    def open(self, key: str, wire: str | None) -> Plan[ThreadRecord]:
        t, now = self.threads, self.now
        yield Statement(
            f"INSERT INTO {t} (key, wire, epoch, updated) VALUES (%s, %s, 0, {now}) "
            "ON CONFLICT (key) DO NOTHING",
            (key, wire),
        )
        record = yield from self.get(key)
        assert record is not None
        return record

    def claim(
        self, key: str, owner: str, ttl: float, wire: str | None, queue_ttl: float | None
    ) -> Plan[Lease | None]:
        t, w, now = self.threads, self.waiters, self.now
        # The lease goes to the oldest live ticket of the key (or to anyone when none waits),
        # and only when the lease is free: one upsert, whose row lock orders rival claims.
        head = (
            f"(SELECT q.owner FROM {w} q WHERE q.key = %s AND q.expires > {now} "
            "ORDER BY q.taken, q.owner LIMIT 1)"
        )
        rows = yield Statement(
            f"INSERT INTO {t} (key, wire, epoch, owner, lease_expires, updated) "
            f"SELECT %s, %s, 1, %s, {now} + %s, {now} WHERE COALESCE({head}, %s) = %s "
            f"ON CONFLICT (key) DO UPDATE SET epoch = {t}.epoch + 1, owner = excluded.owner, "
            "lease_expires = excluded.lease_expires, updated = excluded.updated, "
            f"wire = COALESCE({t}.wire, excluded.wire) "
            f"WHERE {t}.owner IS NULL OR {t}.lease_expires <= {now} "
            f"RETURNING {self._columns}",
            (key, wire, owner, float(ttl), key, owner, owner),
        )
        record = self._record(rows)
        if record is not None:
            # Served: this owner's ticket goes, and so do tickets their waiters left to expire.
            yield Statement(
                f"DELETE FROM {w} WHERE key = %s AND (owner = %s OR expires <= {now})",
                (key, owner),
            )
            return lease_from(record)
        if queue_ttl is not None:
            # Take a ticket (a fresh one if this owner's had expired), or keep it alive.
            yield Statement(
                f"INSERT INTO {w} (key, owner, taken, expires) VALUES (%s, %s, {now}, {now} + %s) "
                f"ON CONFLICT (key, owner) DO UPDATE SET taken = CASE WHEN {w}.expires <= {now} "
                f"THEN excluded.taken ELSE {w}.taken END, expires = excluded.expires",
                (key, owner, float(queue_ttl)),
            )
        return None

    def leave(self, key: str, owner: str) -> Plan[bool]:
        rows = yield Statement(
            f"DELETE FROM {self.waiters} WHERE key = %s AND owner = %s RETURNING key", (key, owner)
        )
        return bool(rows)

    def wait_turn(self, key: str, owner: str, timeout: float) -> Plan[bool]:
        # Never called: the registry sleeps instead (``wakes`` is False).
        return False
        yield Statement("")  # pragma: no cover - makes this a generator

    def _held(self) -> str:
        return f"key = %s AND epoch = %s AND owner = %s AND lease_expires > {self.now}"

    def _refused(self, lease: Lease, what: str) -> Plan[LeaseLostError]:
        current = yield from self.get(lease.key)
        return lost(lease, current, what)

    def renew(self, lease: Lease, ttl: float) -> Plan[Lease]:
        now = self.now
        rows = yield Statement(
            f"UPDATE {self.threads} SET lease_expires = {now} + %s, updated = {now} "
            f"WHERE {self._held()} RETURNING {self._columns}",
            (float(ttl), lease.key, lease.epoch, lease.owner),
        )
        record = self._record(rows)
        if record is None:
            raise (yield from self._refused(lease, "renewal"))
        return lease_from(record)

    def commit(
        self, lease: Lease, fields: Mapping[str, str | None], answer: Answer | None
    ) -> Plan[Lease]:
        check_changes(fields)
        names = sorted(fields)
        sets = "".join(f"{name} = %s, " for name in names)
        rows = yield Statement(
            f"UPDATE {self.threads} SET {sets}updated = {self.now} "
            f"WHERE {self._held()} RETURNING {self._columns}",
            (*(fields[n] for n in names), lease.key, lease.epoch, lease.owner),
        )
        record = self._record(rows)
        if record is None:
            raise (yield from self._refused(lease, "commit"))
        if answer is not None:
            yield from self._write_answer(answer)
        return lease_from(record)

    def _write_answer(self, answer: Answer) -> Plan[None]:
        yield Statement(
            f"INSERT INTO {self.answers} (key, idempotency_key, status, thread_id, run_id, mark, "
            f"updated) VALUES (%s, %s, %s, %s, %s, %s, {self.now}) "
            "ON CONFLICT (key, idempotency_key) DO UPDATE SET status = excluded.status, "
            "thread_id = excluded.thread_id, run_id = excluded.run_id, mark = excluded.mark, "
            "updated = excluded.updated",
            (
                answer.key,
                answer.idempotency_key,
                answer.status,
                answer.thread_id,
                answer.run_id,
                answer.mark,
            ),
        )

    def release(self, lease: Lease) -> Plan[bool]:
        rows = yield Statement(
            f"UPDATE {self.threads} SET owner = NULL, lease_expires = NULL, updated = {self.now} "
            "WHERE key = %s AND epoch = %s AND owner = %s RETURNING key",
            (lease.key, lease.epoch, lease.owner),
        )
        return bool(rows)

    def orphans(self) -> Plan[list[ThreadRecord]]:
        now = self.now
        rows = yield Statement(
            f"SELECT {self._columns} FROM {self.threads} WHERE mark IS NOT NULL "
            f"AND (owner IS NULL OR lease_expires <= {now}) ORDER BY updated"
        )
        return [record_from(row) for row in rows]

    def answer(self, key: str, idempotency_key: str) -> Plan[Answer | None]:
        rows = yield Statement(
            f"SELECT {', '.join(ANSWER_FIELDS)} FROM {self.answers} "
            "WHERE key = %s AND idempotency_key = %s",
            (key, idempotency_key),
        )
        return answer_from(rows[0]) if rows else None

    def expire(self, retention: float) -> Plan[int]:
        now = self.now
        gone = yield Statement(
            f"DELETE FROM {self.threads} WHERE updated < {now} - %s "
            f"AND (owner IS NULL OR lease_expires <= {now}) RETURNING key",
            (float(retention),),
        )
        answers = yield Statement(
            f"DELETE FROM {self.answers} WHERE updated < {now} - %s RETURNING key",
            (float(retention),),
        )
        yield Statement(f"DELETE FROM {self.waiters} WHERE expires <= {now}")
        return len(gone) + len(answers)

    def clock(self) -> Plan[float]:
        rows = yield Statement(f"SELECT {self.now} AS now")
        return float(rows[0]["now"])
