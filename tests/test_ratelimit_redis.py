"""The Redis rate limit against a real redis-server on loopback (tests/servers.py): the Lua
script decides as the in-process store does, and processes share one limit."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant_bridge.ratelimit import (
    AsyncLimiter,
    Limiter,
    MemoryStore,
    RateLimit,
    RateLimitTimeoutError,
    RedisStore,
)
from assistant_bridge.ratelimit._store import (
    Command,
    CoolDown,
    Cooling,
    Correct,
    Observe,
    Reserve,
    Verdict,
)
from tests.test_ratelimit import most_in_a_second

pytest.importorskip("redis", reason="the redis package is not installed")
pytestmark = pytest.mark.servers

# rpm / 60 = 5.5: the most a one-second window may hold (6 + burst) is reached half an
# interval before the window ends, so a few milliseconds of scheduling jitter cannot add one.
LIMIT = "rpm=330&burst=1"


def _same(redis_answer: object, memory_answer: object) -> bool:
    """The same decision: equal, or waits within 50 ms (the two clocks are read apart)."""
    if isinstance(redis_answer, Verdict) and isinstance(memory_answer, Verdict):
        close = abs(redis_answer.wait - memory_answer.wait) < 0.05
        return redis_answer.granted == memory_answer.granted and close
    if isinstance(redis_answer, float) and isinstance(memory_answer, float):
        return abs(redis_answer - memory_answer) < 0.05
    return redis_answer == memory_answer


class TestScript:
    def test_the_lua_script_decides_as_the_python_arithmetic(self, redis_url: str) -> None:
        """The same commands, one by one, to a Redis store and an in-process one: the same
        grants, refusals, waits and cool-downs."""
        limit = RateLimit(requests_per_minute=60, tokens_per_minute=6000, burst=2)
        redis_store = RedisStore.from_url(redis_url, limit, name="parity")
        memory = MemoryStore(limit)
        commands: list[Command] = [
            Reserve(100, 0.0),
            Reserve(100, 10.0),
            Reserve(100, 10.0),
            Reserve(0, 0.5),  # the fourth request waits a whole second: refused
            Reserve(5000, 100.0),  # bigger than a second of tokens: goes alone
            Correct(tokens=-3000),
            Reserve(100, 100.0),
            Correct(requests=2),
            Reserve(0, 100.0),
            Observe(0, None, 2.5),
            Cooling(),
            Reserve(0, 100.0),
            CoolDown(7.0),
            Cooling(),
            Observe(1000, 10**9, 0.0),  # says more is left than we think: no change
            Reserve(10, 0.0),
            Reserve(10, 100.0),
        ]
        try:
            for command in commands:
                got, expected = redis_store.run(command), memory.run(command)
                assert _same(got, expected), (command, got, expected)
        finally:
            redis_store.close()

    def test_the_limit_expires_when_idle(self, redis_url: str) -> None:
        """The hash is given a TTL a minute past its last TAT, so idle limits go away."""
        import redis

        with Limiter.from_url(f"{redis_url}?{LIMIT}&name=ttl") as limiter:
            limiter.acquire()
        client = redis.Redis.from_url(redis_url)
        try:
            ttl = client.pttl("assistant_bridge:ratelimit:{ttl}")
            assert 59_000 <= ttl <= 61_000
        finally:
            client.close()


class TestShared:
    def test_workers_in_separate_processes_share_one_limit(
        self, redis_url: str, tmp_path: Path
    ) -> None:
        """Three processes take 8 slots each from one Redis limit: together they never put
        more than ceil(rpm / 60) + burst in any second, and they keep to the rate."""
        url = f"{redis_url}?{LIMIT}&name=shared"
        worker = (
            "import json, sys, time\n"
            "from assistant_bridge.ratelimit import Limiter\n"
            "limiter = Limiter.from_url(sys.argv[1])\n"
            "starts = []\n"
            "for _ in range(8):\n"
            "    limiter.acquire(within=30)\n"
            "    starts.append(time.time())\n"
            "print(json.dumps(starts))\n"
        )
        processes = [
            subprocess.Popen([sys.executable, "-c", worker, url], stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        starts: list[float] = []
        try:
            for process in processes:
                out, _ = process.communicate(timeout=60)
                assert process.returncode == 0
                starts += json.loads(out)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        limit = RateLimit(requests_per_minute=330, burst=1)
        assert len(starts) == 24
        assert most_in_a_second(starts) <= limit.per_second()
        # 24 slots, 2 of them free (burst + 1): the other 22 come one interval apart.
        assert max(starts) - min(starts) >= 22 * 60 / 330 - 0.05

    def test_a_429_in_one_worker_cools_every_worker(self, redis_url: str) -> None:
        """One limiter hears a 429 with Retry-After 1.5s; another, in the same Redis, waits
        it out before its next request."""
        url = f"{redis_url}?rpm=6000&name=cool"
        with Limiter.from_url(url) as hearing, Limiter.from_url(url) as other:
            hearing.cool_down(1.5)
            slot = other.acquire(within=5)
        assert 1.4 <= slot.waited <= 2.0  # the upper bound leaves room for a busy machine

    def test_no_slot_in_time_fails_and_reserves_nothing(self, redis_url: str) -> None:
        """A slot 2s away with 0.5s left: RateLimitTimeoutError at once, and the slot is
        left for the next request."""
        url = f"{redis_url}?rpm=30&name=late"
        with Limiter.from_url(url) as limiter:
            limiter.acquire()
            began = time.monotonic()
            with pytest.raises(RateLimitTimeoutError) as caught:
                limiter.acquire(within=0.5)
            assert time.monotonic() - began < 0.45  # at once: it did not sleep its 0.5 s
            assert 1.8 <= (caught.value.retry_after or 0) <= 2.0
            with pytest.raises(RateLimitTimeoutError):
                limiter.acquire(within=1.0)  # still about 2s away: nothing was taken

    def test_the_async_limiter_shares_the_limit_with_the_sync_one(self, redis_url: str) -> None:
        """A sync and an async limiter on one Redis limit take turns one interval apart."""
        url = f"{redis_url}?rpm=600&name=twins"

        async def both() -> list[float]:
            async with AsyncLimiter.from_url(url) as asynchronous:
                with Limiter.from_url(url) as sync:
                    first = sync.acquire().waited
                    second = (await asynchronous.acquire()).waited
                    third = sync.acquire().waited
                    await asynchronous.observe({"x-ratelimit-remaining-requests": "0",
                                                "x-ratelimit-limit-requests": "2",
                                                "x-ratelimit-reset-requests": "1s"})  # fmt: skip
                    fourth = (await asynchronous.acquire()).waited
                    return [first, second, third, fourth]

        first, second, third, fourth = asyncio.run(both())
        # Lower bounds are the limit; upper bounds leave room for a busy machine's sleeps.
        assert first < 0.05
        assert 0.05 <= second <= 0.3
        assert 0.05 <= third <= 0.3
        assert 0.4 <= fourth <= 0.8  # the service frees one in 1s / 2
