"""A store's own failures (unreachable, refused, locked too long) as one typed error.

A registry runs plans on SQLite, Redis or PostgreSQL; each driver has its own exceptions
(``sqlite3.OperationalError``, ``redis.ConnectionError``, ``psycopg.OperationalError``). A
worker catches one: :class:`~assistant_bridge.registry.RegistryStoreError`, which names the
store (password masked) and the operation, and holds no link to the driver's exception (its
message is kept, redacted; its chain, which may hold a connection string, is not).
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeVar

from assistant_bridge._redact import raise_detached, redact
from assistant_bridge.exceptions import AssistantBridgeError
from assistant_bridge.registry._errors import RegistryStoreError

if TYPE_CHECKING:
    from assistant_bridge.registry._plans import Plan
    from assistant_bridge.registry._stores import AsyncStore, Store

__all__ = ["AsyncGuardedStore", "GuardedStore", "store_errors"]

T = TypeVar("T")


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The base exceptions of the store drivers loaded in this process (a registry never
    imports a driver it does not use)."""
    errors: list[type[BaseException]] = [sqlite3.Error, OSError]
    redis = sys.modules.get("redis.exceptions")
    if redis is not None:
        errors.append(redis.RedisError)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


@contextlib.contextmanager
def store_errors(url: str, operation: str, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Turn a driver's exception raised inside into :class:`RegistryStoreError`; ours (a lost
    lease, a bad argument) and cancellations pass through."""
    try:
        yield
    except AssistantBridgeError:
        raise
    except _driver_errors() as exc:
        detail = redact(str(exc), secrets) or "no message"
        msg = f"The registry store {url} failed during {operation}: {type(exc).__name__}: {detail}"
        raise_detached(
            RegistryStoreError(msg, store=url, operation=operation, reason=type(exc).__name__)
        )


def _operation(plan: object) -> str:
    """A plan's name (the generator function's: ``claim``, ``commit``, ...)."""
    return str(getattr(plan, "__name__", "an operation"))


class GuardedStore:
    """A :class:`~._stores.Store` whose driver errors are :class:`RegistryStoreError`."""

    def __init__(self, store: Store, url: str, secrets: tuple[str, ...] = ()) -> None:
        self._store = store
        self._url = url
        self._secrets = secrets

    def run(self, plan: Plan[T]) -> T:
        with store_errors(self._url, _operation(plan), self._secrets):
            return self._store.run(plan)

    def close(self) -> None:
        with store_errors(self._url, "close", self._secrets):
            self._store.close()


class AsyncGuardedStore:
    """The awaited twin of :class:`GuardedStore`."""

    def __init__(self, store: AsyncStore, url: str, secrets: tuple[str, ...] = ()) -> None:
        self._store = store
        self._url = url
        self._secrets = secrets

    async def run(self, plan: Plan[T]) -> T:
        with store_errors(self._url, _operation(plan), self._secrets):
            return await self._store.run(plan)

    async def aclose(self) -> None:
        with store_errors(self._url, "close", self._secrets):
            await self._store.aclose()
