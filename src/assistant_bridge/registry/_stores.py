"""The stores a registry runs its plans on: how each executes a statement, sync or awaited.

Nothing here decides anything: a store opens its transaction (SQLite ``BEGIN IMMEDIATE``, a
PostgreSQL transaction; a Redis script is atomic by itself), hands each statement of a plan to
its database and gives the rows back (:mod:`._plans` decides).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assistant_bridge.registry._plans import Plan, Row, SqlPlans, Statement

T = TypeVar("T")

SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
POSTGRES_NOW = "extract(epoch from clock_timestamp())::double precision"


def drive(plan: Plan[T], execute: Callable[[Statement], Sequence[Row]]) -> T:
    """Run ``plan``, executing each statement it yields."""
    try:
        statement = next(plan)
        while True:
            statement = plan.send(execute(statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def adrive(plan: Plan[T], execute: Callable[[Statement], Awaitable[Sequence[Row]]]) -> T:
    """Run ``plan``, awaiting each statement it yields."""
    try:
        statement = next(plan)
        while True:
            statement = plan.send(await execute(statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class Store(Protocol):
    """Runs a plan in one transaction (or one atomic script)."""

    def run(self, plan: Plan[T]) -> T: ...

    def close(self) -> None: ...


class AsyncStore(Protocol):
    """The awaited twin of :class:`Store`."""

    async def run(self, plan: Plan[T]) -> T: ...

    async def aclose(self) -> None: ...


# -- SQLite ------------------------------------------------------------------------------------
class SqliteStore:
    """A SQLite file shared by the processes of ONE host: WAL, a busy timeout, and every
    operation in ``BEGIN IMMEDIATE`` (the write lock first, so two claims never interleave).
    SQLite's locks do not hold across hosts or on network file systems."""

    def __init__(self, path: str | Path, plans: SqlPlans, busy_timeout: float = 30.0) -> None:
        self._plans = plans
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._use_wal(busy_timeout)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self.run(self._schema())

    def _use_wal(self, busy_timeout: float) -> None:
        """Switch the file to WAL once. The switch wants the file to itself and SQLite does not
        wait for it (no busy handler), so workers opening a new file at once try again until
        the busy timeout; a file already in WAL needs nothing."""
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                (mode,) = self._conn.execute("PRAGMA journal_mode").fetchone()
                if str(mode).lower() != "wal":
                    self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def _schema(self) -> Plan[None]:
        for text in self._plans.schema():
            yield Statement(text)

    def _execute(self, statement: Statement) -> Sequence[Row]:
        cursor = self._conn.execute(statement.text.replace("%s", "?"), statement.params)
        if cursor.description is None:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def run(self, plan: Plan[T]) -> T:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = drive(plan, self._execute)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class AsyncSqliteStore:
    """:class:`SqliteStore` for async code: each plan runs in a worker thread."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    async def run(self, plan: Plan[T]) -> T:
        return await asyncio.to_thread(self._store.run, plan)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._store.close)


# -- PostgreSQL --------------------------------------------------------------------------------
def _postgres_schema(plans: SqlPlans) -> Plan[None]:
    # Several workers may start at once: a lock for this transaction only keeps their
    # CREATE TABLE IF NOT EXISTS from racing in the catalog (nothing is held across a run).
    yield Statement("SELECT pg_advisory_xact_lock(hashtext(%s))", (plans.prefix,))
    for text in plans.schema():
        yield Statement(text)


def _pg_rows(cursor: Any) -> Sequence[Row]:
    return list(cursor.fetchall()) if cursor.description is not None else []


class PostgresStore:
    """A PostgreSQL database (psycopg 3): one short transaction per operation, judged by the
    database's clock; no lock outlives the statement that took it."""

    def __init__(self, url: str, plans: SqlPlans) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self._lock = threading.Lock()
        self._conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        self.run(_postgres_schema(plans))

    def _execute(self, statement: Statement) -> Sequence[Row]:
        return _pg_rows(self._conn.execute(statement.text, statement.params))

    def run(self, plan: Plan[T]) -> T:
        with self._lock, self._conn.transaction():
            return drive(plan, self._execute)

    def close(self) -> None:
        self._conn.close()


class AsyncPostgresStore:
    """The async twin of :class:`PostgresStore` (psycopg's AsyncConnection)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, url: str, plans: SqlPlans) -> AsyncPostgresStore:
        import psycopg
        from psycopg.rows import dict_row

        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
        store = cls(conn)
        try:
            await store.run(_postgres_schema(plans))
        except BaseException:
            await conn.close()
            raise
        return store

    async def _execute(self, statement: Statement) -> Sequence[Row]:
        cursor = await self._conn.execute(statement.text, statement.params)
        return list(await cursor.fetchall()) if cursor.description is not None else []

    async def run(self, plan: Plan[T]) -> T:
        async with self._lock, self._conn.transaction():
            return await adrive(plan, self._execute)

    async def aclose(self) -> None:
        await self._conn.close()
