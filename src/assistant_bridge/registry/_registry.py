"""The thread registry: from a key (an incident id, an alert fingerprint) to one conversation,
with leases fenced by an epoch. :class:`Registry` for sync code, :class:`AsyncRegistry` for
async code; both run the same plans (:mod:`._plans`, :mod:`._redis`) on a store."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from typing_extensions import Unpack

from assistant_bridge._redact import redact, redact_url, url_secrets
from assistant_bridge._values.checks import check_number, check_seconds, wrong_type
from assistant_bridge.exceptions import AssistantBridgeError, InvalidArgumentError
from assistant_bridge.registry._errors import RegistryURLError
from assistant_bridge.registry._guard import AsyncGuardedStore, GuardedStore, store_errors
from assistant_bridge.registry._plans import Plan, SqlPlans
from assistant_bridge.registry._record import (
    DEFAULT_RETENTION,
    DEFAULT_TTL,
    Answer,
    Lease,
    RecordChanges,
    ThreadRecord,
)
from assistant_bridge.registry._stores import (
    POSTGRES_NOW,
    SQLITE_NOW,
    AsyncPostgresStore,
    AsyncSqliteStore,
    AsyncStore,
    PostgresStore,
    SqliteStore,
    Store,
)

__all__ = ["AsyncRegistry", "Registry", "open_async_registry", "open_registry"]

T = TypeVar("T")
MAX_KEY_LENGTH = 1024


class _Plans(Protocol):
    """What a backend's plans offer (SQL and Redis alike)."""

    @property
    def wakes(self) -> bool: ...
    def get(self, key: str) -> Plan[ThreadRecord | None]: ...
    def open(self, key: str, wire: str | None) -> Plan[ThreadRecord]: ...
    def claim(
        self, key: str, owner: str, ttl: float, wire: str | None, queue_ttl: float | None
    ) -> Plan[Lease | None]: ...  # fmt: skip
    def leave(self, key: str, owner: str) -> Plan[bool]: ...
    def wait_turn(self, key: str, owner: str, timeout: float) -> Plan[bool]: ...
    def renew(self, lease: Lease, ttl: float) -> Plan[Lease]: ...
    def commit(
        self, lease: Lease, fields: Any, answer: Answer | None
    ) -> Plan[Lease]: ...  # fmt: skip
    def release(self, lease: Lease) -> Plan[bool]: ...
    def orphans(self) -> Plan[list[ThreadRecord]]: ...
    def answer(self, key: str, idempotency_key: str) -> Plan[Answer | None]: ...
    def expire(self, retention: float) -> Plan[int]: ...
    def clock(self) -> Plan[float]: ...


def check_key(key: object, name: str = "key") -> str:
    """A registry key: a non-empty str of at most 1024 characters that every store keeps as it
    is (no NUL, which PostgreSQL refuses, and no lone surrogate, which UTF-8 cannot encode)."""
    if not isinstance(key, str):
        raise wrong_type(name, "a str", key)
    if not key or len(key) > MAX_KEY_LENGTH:
        msg = f"{name} must be a non-empty string of at most {MAX_KEY_LENGTH} characters."
        raise InvalidArgumentError(msg, argument=name)
    if "\x00" in key or not _encodable(key):
        msg = f"{name} holds a NUL character or a lone surrogate, which a store cannot keep."
        raise InvalidArgumentError(msg, argument=name)
    return key


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_ttl(ttl: object, name: str = "ttl") -> float:
    """A lease's (or a queue ticket's) time to live: a finite, positive number of seconds."""
    return check_seconds(ttl, name)


MAX_RETENTION = 10 * 365 * 86400.0
"""The longest ``retention`` a registry takes: ten years."""


def check_retention(retention: object) -> float:
    """How long records and answers are kept: a finite, positive number of seconds."""
    return check_number(
        retention, "retention", low=0.0, high=MAX_RETENTION, low_open=True, unit=" of seconds"
    )


def _check_queue_ttl(queue_ttl: object) -> float | None:
    return None if queue_ttl is None else check_ttl(queue_ttl, "queue_ttl")


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        msg = f"timeout must be a number of seconds >= 0, not {timeout!r}."
        raise InvalidArgumentError(msg, argument="timeout")
    return float(timeout)


class _RegistryBase:
    """What both flavours share: the plans, the retention, and the argument checks."""

    def __init__(self, plans: _Plans, retention: float, url: str) -> None:
        self._plans = plans
        self.retention = check_retention(retention)
        self._url = url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._url}>"

    @property
    def wakes(self) -> bool:
        """Whether a release wakes the key's next waiter (Redis): :meth:`Registry.wait_turn`
        blocks until then. On SQLite and PostgreSQL it only sleeps, so waiters poll briefly."""
        return self._plans.wakes

    def _claim(
        self, key: str, owner: str, ttl: float, wire: str | None, queue_ttl: float | None
    ) -> Plan[Lease | None]:
        return self._plans.claim(
            check_key(key), check_key(owner, "owner"), check_ttl(ttl), wire,
            _check_queue_ttl(queue_ttl),
        )  # fmt: skip

    def _commit(
        self, lease: Lease, answer: Answer | None, fields: RecordChanges
    ) -> Plan[Lease]:  # fmt: skip
        if answer is not None and answer.key != lease.key:
            msg = f"An answer under key {answer.key!r} cannot be committed on key {lease.key!r}."
            raise InvalidArgumentError(msg, argument="answer")
        return self._plans.commit(lease, dict(fields), answer)


class Registry(_RegistryBase):
    """A thread registry for sync code (open one with :func:`open_registry`).

    - :meth:`claim` takes the key's lease (creating the record) and bumps its epoch, first
      come, first served: a refused claim may queue (``queue_ttl``), :meth:`wait_turn` waits
      to be woken (or sleeps) and :meth:`leave` gives the place up;
    - :meth:`renew`, :meth:`commit` (compare-and-set on the epoch) and :meth:`release` are for
      the holder; a stale holder's renewal or commit raises
      :class:`~assistant_bridge.registry.LeaseLostError`;
    - :meth:`orphans` lists records whose lease expired with an ask pending;
    - :meth:`answer` reads an ask's idempotency entry, written with a commit;
    - records and answers are forgotten ``retention`` seconds (7 days) after their last update
      (:meth:`expire` on SQL stores; Redis expires keys itself).
    """

    def __init__(
        self, store: Store, plans: _Plans, *, retention: float = DEFAULT_RETENTION, url: str = ""
    ) -> None:
        super().__init__(plans, retention, url)
        self._store: Store = GuardedStore(store, url)

    def get(self, key: str) -> ThreadRecord | None:
        """The key's record, or None if there is none."""
        return self._store.run(self._plans.get(check_key(key)))

    def open(self, key: str, *, wire: str | None = None) -> ThreadRecord:
        """The key's record, created (empty, unleased) if there is none."""
        return self._store.run(self._plans.open(check_key(key), wire))

    def claim(
        self,
        key: str,
        owner: str,
        ttl: float = DEFAULT_TTL,
        *,
        wire: str | None = None,
        queue_ttl: float | None = None,
    ) -> Lease | None:
        """Take the key's lease for ``ttl`` seconds if nobody holds it and no one queues ahead
        (atomic; the epoch goes up by one); None otherwise.

        Waiters are served first come, first served: with ``queue_ttl``, a refused claim takes
        ``owner``'s ticket in the key's queue (or keeps it alive for ``queue_ttl`` seconds
        more), and while live tickets wait, only the oldest one's owner can claim. Claim again
        before the ticket expires (a dead waiter's ticket lapses and stops blocking the queue);
        :meth:`leave` gives it up; winning the lease removes it."""
        return self._store.run(self._claim(key, owner, ttl, wire, queue_ttl))

    def leave(self, key: str, owner: str) -> bool:
        """Give up ``owner``'s ticket in the key's queue (a waiter past its deadline); False
        when it had none."""
        return self._store.run(self._plans.leave(check_key(key), check_key(owner, "owner")))

    def wait_turn(self, key: str, owner: str, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the key's lease to be handed to ``owner``'s
        ticket (then claim again); True when woken. Where the store cannot wake a waiter
        (:attr:`wakes` is False) this sleeps ``timeout`` and returns False."""
        seconds = _check_timeout(timeout)
        if not self.wakes:
            time.sleep(seconds)
            return False
        plan = self._plans.wait_turn(check_key(key), check_key(owner, "owner"), seconds)
        return self._store.run(plan)

    def renew(self, lease: Lease, ttl: float = DEFAULT_TTL) -> Lease:
        """Extend a live lease to ``ttl`` seconds from now; LeaseLostError if it is not live."""
        return self._store.run(self._plans.renew(lease, check_ttl(ttl)))

    def commit(
        self, lease: Lease, *, answer: Answer | None = None, **fields: Unpack[RecordChanges]
    ) -> Lease:
        """Write ``fields`` (and an ask's ``answer`` entry) if ``lease`` still holds the key's
        current epoch, in one atomic step; LeaseLostError (nothing written) if not."""
        return self._store.run(self._commit(lease, answer, fields))

    def release(self, lease: Lease) -> bool:
        """Give the key up; False when the lease had already been lost."""
        return self._store.run(self._plans.release(lease))

    def orphans(self) -> list[ThreadRecord]:
        """Records with an ask pending (a mark) and no live lease: a holder died mid-ask."""
        return self._store.run(self._plans.orphans())

    def answer(self, key: str, idempotency_key: str) -> Answer | None:
        """The idempotency entry of the ask ``idempotency_key`` under ``key``, if any."""
        plan = self._plans.answer(check_key(key), check_key(idempotency_key, "idempotency_key"))
        return self._store.run(plan)

    def expire(self) -> int:
        """Forget records and answers not updated for ``retention`` seconds; how many went."""
        return self._store.run(self._plans.expire(self.retention))

    def clock(self) -> float:
        """The store's time (seconds since 1970), the clock leases are judged by."""
        return self._store.run(self._plans.clock())

    def close(self) -> None:
        """Close the connection to the store."""
        self._store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRegistry(_RegistryBase):
    """The async twin of :class:`Registry` (open one with :func:`open_async_registry`)."""

    def __init__(
        self,
        store: AsyncStore,
        plans: _Plans,
        *,
        retention: float = DEFAULT_RETENTION,
        url: str = "",
    ) -> None:
        super().__init__(plans, retention, url)
        self._store: AsyncStore = AsyncGuardedStore(store, url)

    async def get(self, key: str) -> ThreadRecord | None:
        """See :meth:`Registry.get`."""
        return await self._store.run(self._plans.get(check_key(key)))

    async def open(self, key: str, *, wire: str | None = None) -> ThreadRecord:
        """See :meth:`Registry.open`."""
        return await self._store.run(self._plans.open(check_key(key), wire))

    async def claim(
        self,
        key: str,
        owner: str,
        ttl: float = DEFAULT_TTL,
        *,
        wire: str | None = None,
        queue_ttl: float | None = None,
    ) -> Lease | None:
        """See :meth:`Registry.claim`."""
        return await self._store.run(self._claim(key, owner, ttl, wire, queue_ttl))

    async def leave(self, key: str, owner: str) -> bool:
        """See :meth:`Registry.leave`."""
        return await self._store.run(self._plans.leave(check_key(key), check_key(owner, "owner")))

    async def wait_turn(self, key: str, owner: str, timeout: float) -> bool:
        """See :meth:`Registry.wait_turn`."""
        seconds = _check_timeout(timeout)
        if not self.wakes:
            await asyncio.sleep(seconds)
            return False
        plan = self._plans.wait_turn(check_key(key), check_key(owner, "owner"), seconds)
        return await self._store.run(plan)

    async def renew(self, lease: Lease, ttl: float = DEFAULT_TTL) -> Lease:
        """See :meth:`Registry.renew`."""
        return await self._store.run(self._plans.renew(lease, check_ttl(ttl)))

    async def commit(
        self, lease: Lease, *, answer: Answer | None = None, **fields: Unpack[RecordChanges]
    ) -> Lease:
        """See :meth:`Registry.commit`."""
        return await self._store.run(self._commit(lease, answer, fields))

    async def release(self, lease: Lease) -> bool:
        """See :meth:`Registry.release`."""
        return await self._store.run(self._plans.release(lease))

    async def orphans(self) -> list[ThreadRecord]:
        """See :meth:`Registry.orphans`."""
        return await self._store.run(self._plans.orphans())

    async def answer(self, key: str, idempotency_key: str) -> Answer | None:
        """See :meth:`Registry.answer`."""
        plan = self._plans.answer(check_key(key), check_key(idempotency_key, "idempotency_key"))
        return await self._store.run(plan)

    async def expire(self) -> int:
        """See :meth:`Registry.expire`."""
        return await self._store.run(self._plans.expire(self.retention))

    async def clock(self) -> float:
        """See :meth:`Registry.clock`."""
        return await self._store.run(self._plans.clock())

    async def aclose(self) -> None:
        """Close the connection to the store."""
        await self._store.aclose()

    async def __aenter__(self) -> AsyncRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# -- opening one by URL ------------------------------------------------------------------------
def _scheme(url: object) -> str:
    if not isinstance(url, str):
        msg = f"A registry URL is a string, not {type(url).__name__}."
        raise RegistryURLError(msg)
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:  # an unclosed IPv6 bracket, say; the URL is not echoed
        msg = f"The registry URL cannot be read ({exc}); nothing was opened."
        raise RegistryURLError(msg) from None
    if scheme in ("sqlite", "redis", "rediss", "postgresql", "postgres"):
        return scheme
    msg = (
        f"Unknown registry URL scheme {scheme!r}: use sqlite:///path/to/file.db (one host), "
        "redis://host:6379/0 or postgresql://user@host/db."
    )
    raise RegistryURLError(msg)


def _sqlite_path(url: str) -> str:
    # sqlite:///relative.db, sqlite:////absolute/path.db, sqlite:///:memory: (one process)
    path = unquote(url[len("sqlite://") :])
    if not path.startswith("/") or path == "/":
        msg = f"A SQLite registry URL is sqlite:///path/to/file.db, not {url!r}."
        raise RegistryURLError(msg)
    return path[1:]


@contextlib.contextmanager
def _readable(shown: str, url: str) -> Iterator[None]:
    """A URL its store's client cannot read (``redis://host:notaport/0``) is a
    :class:`RegistryURLError`, not the client's bare ``ValueError``."""
    try:
        yield
    except AssistantBridgeError:
        raise
    except ValueError as exc:
        msg = f"The registry URL {shown} cannot be used: {redact(str(exc), url_secrets(url))}."
        raise RegistryURLError(msg) from None


def _missing(extra: str, module: str) -> RegistryURLError:
    msg = f"This registry needs {module}: pip install 'assistant-bridge[{extra}]'."
    return RegistryURLError(msg)


def _redis_module(asynchronous: bool) -> Any:
    try:
        return importlib.import_module("redis.asyncio" if asynchronous else "redis")
    except ImportError:
        raise _missing("redis", "redis-py") from None


def open_registry(
    url: str, *, retention: float = DEFAULT_RETENTION, prefix: str = "assistant_bridge"
) -> Registry:
    """Open a registry from a URL: ``sqlite:///path.db`` (the default store; one host only),
    ``redis://host:6379/0`` (``assistant-bridge[redis]``) or ``postgresql://user@host/db``
    (``assistant-bridge[postgres]``). ``prefix`` names the tables or Redis keys."""
    scheme, shown = _scheme(url), redact_url(url)
    retention = check_retention(retention)
    with store_errors(shown, "open", url_secrets(url)), _readable(shown, url):
        return _open(url, scheme, shown, retention, prefix)


def _open(url: str, scheme: str, shown: str, retention: float, prefix: str) -> Registry:
    if scheme == "sqlite":
        plans = SqlPlans(SQLITE_NOW, prefix + "_")
        return Registry(
            SqliteStore(_sqlite_path(url), plans), plans, retention=retention, url=shown
        )
    if scheme.startswith("redis"):
        from assistant_bridge.registry._redis import RedisPlans, RedisStore

        client = _redis_module(False).Redis.from_url(url, decode_responses=True)
        redis_plans = RedisPlans(prefix, retention)
        return Registry(
            RedisStore(client, redis_plans), redis_plans, retention=retention, url=shown
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise _missing("postgres", "psycopg 3") from None
    plans = SqlPlans(POSTGRES_NOW, prefix + "_")
    return Registry(PostgresStore(url, plans), plans, retention=retention, url=shown)


async def open_async_registry(
    url: str, *, retention: float = DEFAULT_RETENTION, prefix: str = "assistant_bridge"
) -> AsyncRegistry:
    """The async twin of :func:`open_registry`: same URLs, same stores."""
    scheme, shown = _scheme(url), redact_url(url)
    retention = check_retention(retention)
    with store_errors(shown, "open", url_secrets(url)), _readable(shown, url):
        return await _aopen(url, scheme, shown, retention, prefix)


async def _aopen(url: str, scheme: str, shown: str, retention: float, prefix: str) -> AsyncRegistry:
    if scheme == "sqlite":
        plans = SqlPlans(SQLITE_NOW, prefix + "_")
        store = AsyncSqliteStore(SqliteStore(_sqlite_path(url), plans))
        return AsyncRegistry(store, plans, retention=retention, url=shown)
    if scheme.startswith("redis"):
        from assistant_bridge.registry._redis import AsyncRedisStore, RedisPlans

        client = _redis_module(True).Redis.from_url(url, decode_responses=True)
        redis_plans = RedisPlans(prefix, retention)
        return AsyncRegistry(
            AsyncRedisStore(client, redis_plans), redis_plans, retention=retention, url=shown
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise _missing("postgres", "psycopg 3") from None
    plans = SqlPlans(POSTGRES_NOW, prefix + "_")
    store_pg = await AsyncPostgresStore.connect(url, plans)
    return AsyncRegistry(store_pg, plans, retention=retention, url=shown)
