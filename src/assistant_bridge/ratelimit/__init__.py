"""One rate limit for every worker: a limiter each request takes a slot from before it is
sent, in this process or shared through Redis.

``Limiter.from_url("redis://redis:6379/0?rpm=500&tpm=200000&name=org")`` spreads requests
and tokens per minute evenly over every process that names the same limit (GCRA, decided by a
Lua script on the Redis server's clock); ``memory://?rpm=500`` does it within one process. A
request that cannot get a slot within the ask's deadline fails with
:class:`RateLimitTimeoutError`, having sent nothing. What the service says counts: a 429's
Retry-After cools every worker down at once, and ``x-ratelimit-remaining-*`` headers
tighten the limiter's view when someone else spends from the same limit.

May import: ``_values``, ``exceptions``, ``transports``, ``_redact``; ``redis`` only in
:mod:`._redis`, when a Redis URL is used (``pip install assistant-bridge[redis]``).
"""

from assistant_bridge.ratelimit._errors import RateLimitStoreError, RateLimitTimeoutError
from assistant_bridge.ratelimit._estimate import estimate_tokens
from assistant_bridge.ratelimit._limiter import AsyncLimiter, Limiter, Slot
from assistant_bridge.ratelimit._limits import RateLimit
from assistant_bridge.ratelimit._redis import AsyncRedisStore, RedisStore
from assistant_bridge.ratelimit._store import AsyncStore, MemoryStore, Store
from assistant_bridge.ratelimit._transport import (
    AsyncRateLimitedTransport,
    RateLimitedTransport,
    ask_tokens,
)

__all__ = [
    "AsyncLimiter",
    "AsyncRateLimitedTransport",
    "AsyncRedisStore",
    "AsyncStore",
    "Limiter",
    "MemoryStore",
    "RateLimit",
    "RateLimitStoreError",
    "RateLimitTimeoutError",
    "RateLimitedTransport",
    "RedisStore",
    "Slot",
    "Store",
    "ask_tokens",
    "estimate_tokens",
]
