"""The registry on Redis: claim, renew, commit and release as Lua scripts, judged by the
server's clock (``TIME``), so no two workers' clocks have to agree.

A record is a hash ``<namespace>:thread:<key>``; an answer (idempotency entry) is a hash
``<namespace>:answer:<key, idempotency key>``. Every write sets the key's expiry to the
retention (7 days by default), so Redis forgets old records by itself.

The key's waiters queue in two sorted sets, ``<namespace>:queue:<key>`` (owner by the time its
ticket was taken) and ``<namespace>:due:<key>`` (owner by when its ticket expires). A release
pushes a token onto the oldest live waiter's own list (``<namespace>:wake:...``), on which that
waiter blocks (``BLPOP``) between claims, so the lease changes hands without a poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import attrs

from assistant_bridge.registry._plans import Plan, Row, Statement, check_changes, lost
from assistant_bridge.registry._record import (
    Answer,
    Lease,
    ThreadRecord,
    answer_from,
    lease_from,
    record_from,
)
from assistant_bridge.registry._stores import adrive, drive

T = TypeVar("T")

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.6f', x) end
local function held(k, epoch, owner)
  local v = redis.call('HMGET', k, 'epoch', 'owner', 'lease_expires')
  return v[1] == epoch and v[2] == owner and tonumber(v[3] or '0') > now
end
local function live_head(queue, expiries)
  -- The key's oldest live ticket, after dropping the tickets nobody refreshed.
  local gone = redis.call('ZRANGEBYSCORE', expiries, '-inf', now)
  if #gone > 0 then
    redis.call('ZREM', queue, unpack(gone))
    redis.call('ZREM', expiries, unpack(gone))
  end
  return redis.call('ZRANGE', queue, 0, 0)[1]
end
local function wake(k, queue, expiries, prefix, keep_ms)
  -- The lease is free: hand the oldest live waiter its turn (a token on its own list).
  local v = redis.call('HMGET', k, 'owner', 'lease_expires')
  if v[1] and tonumber(v[2] or '0') > now then return end
  local head = live_head(queue, expiries)
  if head then
    redis.call('LPUSH', prefix .. head, '1')
    redis.call('PEXPIRE', prefix .. head, keep_ms)
  end
end
local function refused(k)
  local r = redis.call('HGETALL', k)
  table.insert(r, '__lost'); table.insert(r, '1')
  return r
end
"""

SCRIPTS = {
    "get": "return redis.call('HGETALL', KEYS[1])",
    "time": _PRELUDE + "return {'now', fmt(now)}",
    # ARGV: key, wire, retention_ms
    "open": _PRELUDE
    + """
if redis.call('HSETNX', KEYS[1], 'epoch', '0') == 1 then
  redis.call('HSET', KEYS[1], 'key', ARGV[1], 'updated', fmt(now))
end
if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'wire', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('HGETALL', KEYS[1])
""",
    # KEYS: record, queue (ticket -> taken), expiries (ticket -> expires), the owner's wake list
    # ARGV: key, owner, ttl, wire, retention_ms, ticket ttl ('' to take no ticket)
    "claim": _PRELUDE
    + """
local head = live_head(KEYS[2], KEYS[3])
local v = redis.call('HMGET', KEYS[1], 'owner', 'lease_expires')
if (v[1] and tonumber(v[2] or '0') > now) or (head and head ~= ARGV[2]) then
  if ARGV[6] ~= '' then
    redis.call('ZADD', KEYS[2], 'NX', fmt(now), ARGV[2])
    redis.call('ZADD', KEYS[3], fmt(now + tonumber(ARGV[6])), ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
    redis.call('PEXPIRE', KEYS[3], ARGV[5])
  end
  return nil
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('DEL', KEYS[4])
redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'key', ARGV[1], 'owner', ARGV[2],
  'lease_expires', fmt(now + tonumber(ARGV[3])), 'updated', fmt(now))
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'wire', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('HGETALL', KEYS[1])
""",
    # KEYS: record, queue, expiries; ARGV: owner, wake lists' prefix
    "leave": _PRELUDE
    + """
local left = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', ARGV[2] .. ARGV[1])
if left == 1 then wake(KEYS[1], KEYS[2], KEYS[3], ARGV[2], 60000) end
if left == 1 then return {'left', '1'} end
return nil
""",
    # ARGV: epoch, owner, ttl, retention_ms
    "renew": _PRELUDE
    + """
if not held(KEYS[1], ARGV[1], ARGV[2]) then return refused(KEYS[1]) end
redis.call('HSET', KEYS[1], 'lease_expires', fmt(now + tonumber(ARGV[3])), 'updated', fmt(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('HGETALL', KEYS[1])
""",
    # ARGV: epoch, owner, retention_ms, n, n x (name, value) [, key, idem, status, thread,
    # run, mark when KEYS[2] names an answer]
    "commit": _PRELUDE
    + """
if not held(KEYS[1], ARGV[1], ARGV[2]) then return refused(KEYS[1]) end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', KEYS[1], 'updated', fmt(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'key', ARGV[i], 'idempotency_key', ARGV[i + 1], 'status', ARGV[i + 2],
    'thread_id', ARGV[i + 3], 'run_id', ARGV[i + 4], 'mark', ARGV[i + 5], 'updated', fmt(now))
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return redis.call('HGETALL', KEYS[1])
""",
    # KEYS: record, queue, expiries; ARGV: epoch, owner, wake lists' prefix
    "release": _PRELUDE
    + """
local v = redis.call('HMGET', KEYS[1], 'epoch', 'owner')
if v[1] ~= ARGV[1] or v[2] ~= ARGV[2] then return nil end
redis.call('HDEL', KEYS[1], 'owner', 'lease_expires')
redis.call('HSET', KEYS[1], 'updated', fmt(now))
wake(KEYS[1], KEYS[2], KEYS[3], ARGV[3], 60000)
return {'released', '1'}
""",
}
"""The scripts by name; statements name them (``scan``, every record, and ``blpop``, waiting on
a wake list, are the store's own)."""


def rows_of(reply: Any) -> Sequence[Row]:
    """A script's flat field/value list as one row; nil or an empty hash as no row."""
    if not reply:
        return []
    items = [item.decode() if isinstance(item, bytes) else item for item in reply]
    return [dict(zip(items[::2], items[1::2], strict=True))]


@attrs.frozen
class RedisPlans:
    """The registry's operations as Redis script calls, under ``namespace``."""

    namespace: str = "assistant_bridge"
    retention: float = 7 * 24 * 3600.0

    def _thread(self, key: str) -> str:
        return f"{self.namespace}:thread:{key}"

    def _answer(self, key: str, idempotency_key: str) -> str:
        return f"{self.namespace}:answer:{json.dumps([key, idempotency_key])}"

    def _queue(self, key: str) -> tuple[str, str, str]:
        """The key's record, its queue of tickets (by time taken) and their expiries."""
        return self._thread(key), f"{self.namespace}:queue:{key}", f"{self.namespace}:due:{key}"

    def _wake_prefix(self, key: str) -> str:
        """Before an owner's name, its wake list on ``key`` (the key's length in bytes first,
        so no key and owner pair reads as another)."""
        return f"{self.namespace}:wake:{len(key.encode())}:{key}:"

    wakes = True
    """A release (or a waiter leaving) wakes the key's oldest waiter: waiters block on their
    wake list instead of polling."""

    @property
    def pattern(self) -> str:
        """Matches every record's Redis key (for the ``scan`` statement)."""
        return f"{self.namespace}:thread:*"

    @property
    def _keep_ms(self) -> int:
        return max(1, int(self.retention * 1000))

    def get(self, key: str) -> Plan[ThreadRecord | None]:
        rows = yield Statement("get", keys=(self._thread(key),))
        return record_from(rows[0]) if rows else None

    def open(self, key: str, wire: str | None) -> Plan[ThreadRecord]:
        rows = yield Statement("open", (key, wire or "", self._keep_ms), (self._thread(key),))
        return record_from(rows[0])

    def claim(
        self, key: str, owner: str, ttl: float, wire: str | None, queue_ttl: float | None
    ) -> Plan[Lease | None]:
        ticket = "" if queue_ttl is None else repr(float(queue_ttl))
        rows = yield Statement(
            "claim",
            (key, owner, repr(float(ttl)), wire or "", self._keep_ms, ticket),
            (*self._queue(key), self._wake_prefix(key) + owner),
        )
        return lease_from(record_from(rows[0])) if rows else None

    def leave(self, key: str, owner: str) -> Plan[bool]:
        rows = yield Statement("leave", (owner, self._wake_prefix(key)), self._queue(key))
        return bool(rows)

    def wait_turn(self, key: str, owner: str, timeout: float) -> Plan[bool]:
        rows = yield Statement("blpop", (timeout,), (self._wake_prefix(key) + owner,))
        return bool(rows)

    def _checked(self, lease: Lease, rows: Sequence[Row], what: str) -> Lease:
        row = rows[0] if rows else {}
        if not row or row.get("__lost"):
            raise lost(lease, record_from(row) if row.get("key") else None, what)
        return lease_from(record_from(row))

    def renew(self, lease: Lease, ttl: float) -> Plan[Lease]:
        rows = yield Statement(
            "renew",
            (lease.epoch, lease.owner, repr(float(ttl)), self._keep_ms),
            (self._thread(lease.key),),
        )
        return self._checked(lease, rows, "renewal")

    def commit(
        self, lease: Lease, fields: Mapping[str, str | None], answer: Answer | None
    ) -> Plan[Lease]:
        check_changes(fields)
        pairs = [part for name in sorted(fields) for part in (name, fields[name] or "")]
        keys = [self._thread(lease.key)]
        params: list[Any] = [lease.epoch, lease.owner, self._keep_ms, len(fields), *pairs]
        if answer is not None:
            keys.append(self._answer(answer.key, answer.idempotency_key))
            params += [
                answer.key,
                answer.idempotency_key,
                answer.status,
                answer.thread_id or "",
                answer.run_id or "",
                answer.mark or "",
            ]
        rows = yield Statement("commit", tuple(params), tuple(keys))
        return self._checked(lease, rows, "commit")

    def release(self, lease: Lease) -> Plan[bool]:
        rows = yield Statement(
            "release",
            (lease.epoch, lease.owner, self._wake_prefix(lease.key)),
            self._queue(lease.key),
        )
        return bool(rows)

    def orphans(self) -> Plan[list[ThreadRecord]]:
        rows = yield Statement("scan", (self.pattern,))
        now = yield from self.clock()
        records = (record_from(row) for row in rows if row.get("key"))
        found = [r for r in records if r.mark is not None and not r.leased_at(now)]
        return sorted(found, key=lambda r: r.updated)

    def answer(self, key: str, idempotency_key: str) -> Plan[Answer | None]:
        rows = yield Statement("get", keys=(self._answer(key, idempotency_key),))
        return answer_from(rows[0]) if rows else None

    def expire(self, retention: float) -> Plan[int]:
        # Every write set the key's expiry to the retention: Redis forgets old keys itself.
        return 0
        yield Statement("time")  # pragma: no cover - makes this a generator

    def clock(self) -> Plan[float]:
        rows = yield Statement("time")
        return float(rows[0]["now"])


class RedisStore:
    """A Redis server (redis-py): each statement is one atomic script call."""

    def __init__(self, client: Any, plans: RedisPlans) -> None:
        self._client = client
        self._scripts = {name: client.register_script(text) for name, text in SCRIPTS.items()}

    def _execute(self, statement: Statement) -> Sequence[Row]:
        if statement.text == "scan":
            names = list(self._client.scan_iter(match=statement.params[0], count=1000))
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(name)
            return [dict(r) for r in pipe.execute()]
        if statement.text == "blpop":
            popped = self._client.blpop(list(statement.keys), timeout=statement.params[0])
            return [] if popped is None else [{"woken": "1"}]
        script = self._scripts[statement.text]
        return rows_of(script(keys=list(statement.keys), args=list(statement.params)))

    def run(self, plan: Plan[T]) -> T:
        return drive(plan, self._execute)

    def close(self) -> None:
        self._client.close()


class AsyncRedisStore:
    """The async twin of :class:`RedisStore` (``redis.asyncio``)."""

    def __init__(self, client: Any, plans: RedisPlans) -> None:
        self._client = client
        self._scripts = {name: client.register_script(text) for name, text in SCRIPTS.items()}

    async def _execute(self, statement: Statement) -> Sequence[Row]:
        if statement.text == "scan":
            names = [n async for n in self._client.scan_iter(match=statement.params[0], count=1000)]
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                pipe.hgetall(name)
            return [dict(r) for r in await pipe.execute()]
        if statement.text == "blpop":
            popped = await self._client.blpop(list(statement.keys), timeout=statement.params[0])
            return [] if popped is None else [{"woken": "1"}]
        script = self._scripts[statement.text]
        return rows_of(await script(keys=list(statement.keys), args=list(statement.params)))

    async def run(self, plan: Plan[T]) -> T:
        return await adrive(plan, self._execute)

    async def aclose(self) -> None:
        await self._client.aclose()
