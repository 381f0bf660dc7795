"""A limit shared through Redis: the GCRA cells in one hash, changed only by a Lua script
that reads the server's clock, so every worker sees one state and one time.

The script is :mod:`._gcra`'s arithmetic, command for command (``tests/test_ratelimit.py``
holds the two to the same answers). Needs the ``redis`` package (``pip install
assistant-bridge[redis]``), imported only here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assistant_bridge._redact import redact, redact_url
from assistant_bridge.ratelimit._errors import RateLimitStoreError
from assistant_bridge.ratelimit._gcra import SECOND
from assistant_bridge.ratelimit._limits import RateLimit
from assistant_bridge.ratelimit._store import (
    Command,
    CoolDown,
    Cooling,
    Correct,
    Observe,
    Reserve,
    Verdict,
)

__all__ = ["AsyncRedisStore", "RedisStore"]

KEY_PREFIX = "assistant_bridge:ratelimit:"
"""Every limit's hash is under this prefix, then the limit's name (in braces, a Redis
Cluster hash tag)."""

SCRIPT = """
-- KEYS[1]: the limit's hash: r, t = the requests' and tokens' TATs, c = end of the
-- cool-down, all in microseconds on this server's clock. ARGV: the command, the request
-- interval and window, the token interval and window, then the command's arguments.
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ri, rw = tonumber(ARGV[2]), tonumber(ARGV[3])
local ti, tw = tonumber(ARGV[4]), tonumber(ARGV[5])
local cells = redis.call('HMGET', KEYS[1], 'r', 't', 'c')
local r, t, c = tonumber(cells[1]) or 0, tonumber(cells[2]) or 0, tonumber(cells[3]) or 0
local command = ARGV[1]
local answer = {1, 0}
if command == 'cooling' then
  return {1, math.max(0, c - now)}
elseif command == 'reserve' then
  local tokens, max_wait = tonumber(ARGV[6]), tonumber(ARGV[7])
  local start = math.max(now, c)
  if ri > 0 then start = math.max(start, r + ri - rw) end
  local cost = tokens * ti
  if cost > 0 then start = math.max(start, t + cost - math.max(tw, cost)) end
  local wait = start - now
  if wait > max_wait then return {0, wait} end
  if ri > 0 then r = math.max(r, start) + ri end
  if cost > 0 then t = math.max(t, start) + cost end
  answer = {1, wait}
elseif command == 'correct' then
  local tokens, requests = tonumber(ARGV[6]), tonumber(ARGV[7])
  if ti > 0 and tokens ~= 0 then t = math.max(math.max(t, now) + tokens * ti, now) end
  if ri > 0 and requests > 0 then r = math.max(r, now) + requests * ri end
elseif command == 'cool' then
  c = math.max(c, now + tonumber(ARGV[6]))
elseif command == 'observe' then
  if ARGV[6] ~= '' and ri > 0 then
    r = math.max(r, now + rw - math.max(tonumber(ARGV[6]), 0) * ri)
  end
  if ARGV[7] ~= '' and ti > 0 then
    t = math.max(t, now + tw - math.max(tonumber(ARGV[7]), 0) * ti)
  end
  c = math.max(c, now + tonumber(ARGV[8]))
end
redis.call('HSET', KEYS[1], 'r', string.format('%.0f', r), 't', string.format('%.0f', t),
  'c', string.format('%.0f', c))
redis.call('PEXPIRE', KEYS[1], math.floor((math.max(r, t, c) - now) / 1000) + 60000)
return answer
"""


def _micros(seconds: float) -> str:
    return f"{min(seconds, 1e9) * SECOND:.0f}"


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def arguments(limit: RateLimit, command: Command) -> list[str]:
    """The script's ARGV for ``command`` under ``limit``."""
    rates = limit.rates()
    head = [
        f"{rates.request_interval:.6f}",
        f"{rates.request_window:.6f}",
        f"{rates.token_interval:.6f}",
        f"{rates.token_window:.6f}",
    ]
    if isinstance(command, Reserve):
        return ["reserve", *head, str(command.tokens), _micros(command.max_wait)]
    if isinstance(command, Correct):
        return ["correct", *head, str(command.tokens), str(command.requests)]
    if isinstance(command, CoolDown):
        return ["cool", *head, _micros(command.seconds)]
    if isinstance(command, Observe):
        left = [_optional(command.requests_left), _optional(command.tokens_left)]
        return ["observe", *head, *left, _micros(command.cool)]
    return ["cooling", *head]


def answer(command: Command, reply: Any) -> Any:
    """What the script's ``reply`` (granted, microseconds) means for ``command``."""
    granted, micros = int(reply[0]), int(reply[1])
    if isinstance(command, Reserve):
        return Verdict(bool(granted), micros / SECOND)
    if isinstance(command, Cooling):
        return micros / SECOND
    return None


def key(name: str) -> str:
    """The hash that holds the limit called ``name``."""
    return f"{KEY_PREFIX}{{{name}}}"


class _RedisHolder:
    """What both Redis stores hold: the limit, the client, the script and the key."""

    def __init__(self, limit: RateLimit, client: Any, *, name: str, shown: str = "") -> None:
        import redis

        self.limit = limit
        self._client = client
        self._key = key(name)
        self._script = client.register_script(SCRIPT)
        self._shown = shown or type(client).__name__
        self._failures: tuple[type[Exception], ...] = (redis.RedisError, OSError)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}({self._shown!r}, key={self._key!r}, {self.limit!r})>"

    @contextmanager
    def _asking(self) -> Iterator[None]:
        """The Redis client's errors become a RateLimitStoreError (password masked)."""
        try:
            yield
        except self._failures as exc:
            detail = redact(f"{type(exc).__name__}: {exc}")
            msg = (
                f"The rate limit's Redis ({self._shown}) could not be asked ({detail}); nothing "
                "was sent. Check that the server is up and the URL is right."
            )
            raise RateLimitStoreError(msg) from None


class RedisStore(_RedisHolder):
    """A limit whose cells live in Redis, shared by every process that names it.

    ``client`` is a ``redis.Redis``; :meth:`from_url` builds one. ``name`` picks the limit
    (say, one per organization and key).
    """

    @classmethod
    def from_url(cls, url: str, limit: RateLimit, *, name: str) -> RedisStore:
        """A store on the Redis server at ``url`` (``redis://``, ``rediss://``, ``unix://``)."""
        import redis

        return cls(limit, redis.Redis.from_url(url), name=name, shown=redact_url(url))

    def run(self, command: Command) -> Any:
        with self._asking():
            reply = self._script(keys=[self._key], args=arguments(self.limit, command))
        return answer(command, reply)

    def close(self) -> None:
        self._client.close()


class AsyncRedisStore(_RedisHolder):
    """The async twin of :class:`RedisStore`, over ``redis.asyncio.Redis``."""

    @classmethod
    def from_url(cls, url: str, limit: RateLimit, *, name: str) -> AsyncRedisStore:
        """See :meth:`RedisStore.from_url`."""
        import redis.asyncio

        return cls(limit, redis.asyncio.Redis.from_url(url), name=name, shown=redact_url(url))

    async def arun(self, command: Command) -> Any:
        with self._asking():
            reply = await self._script(keys=[self._key], args=arguments(self.limit, command))
        return answer(command, reply)

    async def aclose(self) -> None:
        await self._client.aclose()
