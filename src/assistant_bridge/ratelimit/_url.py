"""A limit's URL: where its state lives and how much it allows.

    memory://[name]?rpm=500&tpm=200000&burst=5      in this process (the default)
    redis://[:password@]host:6379/0?rpm=500&name=org  shared by every worker on that server

``rpm``, ``tpm`` and ``burst`` are a :class:`~._limits.RateLimit` (with neither ``rpm`` nor
``tpm``, only what the service says is shared: a 429's cool-down, and waiting when its headers
say nothing is left); ``name`` picks the limit
(``default`` unless given; for ``memory://`` the host part names it too). Every other query
parameter of a Redis URL goes to the Redis client as it would in ``redis.Redis.from_url``.
"""

from __future__ import annotations

import threading
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from assistant_bridge.exceptions import InvalidArgumentError
from assistant_bridge.ratelimit._limits import RateLimit
from assistant_bridge.ratelimit._store import MemoryStore

__all__ = ["LimitURL", "memory_store", "parse_url"]

REDIS_SCHEMES = ("redis", "rediss", "unix")
OURS = ("rpm", "tpm", "burst", "name")


@attrs.frozen
class LimitURL:
    """A parsed limit URL: the backend, the limit, its name, and (for Redis) the server's
    URL without this library's parameters."""

    scheme: str
    limit: RateLimit
    name: str
    server: str = attrs.field(default="", repr=False)


def _refuse(url: str, why: str) -> InvalidArgumentError:
    shown = urlsplit(url)._replace(query="", fragment="").netloc.rsplit("@", 1)[-1]
    msg = (
        f"The rate limit URL ({urlsplit(url).scheme}://{shown}…) cannot be used: {why}. "
        "Write memory://?rpm=500&tpm=200000 or redis://host:6379/0?rpm=500&name=org."
    )
    return InvalidArgumentError(msg, argument="url")


def _whole(url: str, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise _refuse(url, f"{name}={value!r} is not a whole number") from None


def parse_url(url: str) -> LimitURL:
    """The backend, limit and name ``url`` says; an InvalidArgumentError naming what is
    wrong otherwise (a Redis password never appears in it)."""
    if not isinstance(url, str):
        msg = f"url must be a str like 'memory://?rpm=500', got {type(url).__name__}."
        raise InvalidArgumentError(msg, argument="url")
    parts = urlsplit(url)
    if parts.scheme not in ("memory", *REDIS_SCHEMES):
        raise _refuse(
            url, f"the scheme must be memory, redis, rediss or unix, not {parts.scheme!r}"
        )
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in pairs if k in OURS}
    rest = [(k, v) for k, v in pairs if k not in OURS]
    if parts.scheme == "memory" and rest:
        raise _refuse(url, f"unknown parameter {rest[0][0]!r} (it takes {', '.join(OURS)})")
    fields = {"rpm": "requests_per_minute", "tpm": "tokens_per_minute", "burst": "burst"}
    numbers = {fields[k]: _whole(url, k, ours[k]) for k in fields if k in ours}
    try:
        limit = RateLimit(**numbers)
    except InvalidArgumentError as exc:
        short = next(k for k, v in fields.items() if v == exc.argument)
        raise _refuse(url, f"{short}={ours[short]} is refused ({str(exc).rstrip('.')})") from None
    name = ours.get("name") or (parts.netloc if parts.scheme == "memory" else "") or "default"
    server = "" if parts.scheme == "memory" else parts._replace(query=urlencode(rest)).geturl()
    return LimitURL(parts.scheme, limit, name, server)


_MEMORY: dict[tuple[str, RateLimit], MemoryStore] = {}
_MEMORY_LOCK = threading.Lock()


def memory_store(name: str, limit: RateLimit) -> MemoryStore:
    """The process's store for the limit called ``name`` with ``limit``: one per pair, so
    every ``memory://`` URL that says the same shares the same state."""
    with _MEMORY_LOCK:
        return _MEMORY.setdefault((name, limit), MemoryStore(limit))
