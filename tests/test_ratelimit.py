"""The shared rate limiter without a server: its arithmetic, URLs, headers and both limiters
over the in-process store (the Redis store: tests/test_ratelimit_redis.py)."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant_bridge.exceptions import (
    AssistantBridgeError,
    ConfigurationError,
    InvalidArgumentError,
    RateLimitError,
)
from assistant_bridge.ratelimit import (
    AsyncLimiter,
    Limiter,
    MemoryStore,
    RateLimit,
    RateLimitStoreError,
    RateLimitTimeoutError,
    _gcra,
    estimate_tokens,
)
from assistant_bridge.ratelimit._headers import service_view
from assistant_bridge.ratelimit._store import Observe
from assistant_bridge.ratelimit._url import parse_url
from assistant_bridge.testing import FakeClock

SECOND = _gcra.SECOND


def most_in_a_second(starts: list[float]) -> int:
    """The most start times (seconds) any half-open one-second window holds."""
    ordered = sorted(starts)
    most, first = 0, 0
    for last, t in enumerate(ordered):
        while ordered[first] <= t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def limiter(limit: RateLimit, clock: FakeClock) -> Limiter:
    return Limiter(MemoryStore(limit, clock=clock.now), clock=clock.now, sleep=clock.sleep)


class TestRateLimit:
    def test_a_limit_must_be_a_positive_whole_number(self) -> None:
        """rpm=0, a negative burst or a bool are refused before anything is built."""
        for bad in (
            {"requests_per_minute": 0},
            {"tokens_per_minute": -5},
            {"burst": -1},
            {"requests_per_minute": True},
        ):
            with pytest.raises(ConfigurationError):
                RateLimit(**bad)  # type: ignore[arg-type]

    def test_per_second_is_the_rate_rounded_up_plus_the_burst(self) -> None:
        """The bound the storm test checks: ceil(rpm / 60) + burst."""
        assert RateLimit(requests_per_minute=90, burst=2).per_second() == 4
        assert RateLimit(requests_per_minute=600).per_second() == 10
        assert RateLimit(tokens_per_minute=1000).per_second() is None


class TestArithmetic:
    def test_after_a_quiet_spell_burst_plus_one_go_at_once_then_one_per_interval(self) -> None:
        """rpm=600, burst=2: three start now, the rest 100 ms apart."""
        rates, cells, waits = RateLimit(requests_per_minute=600, burst=2).rates(), _gcra.Cells(), []
        for _ in range(6):
            cells, granted, wait = _gcra.reserve(cells, rates, 0.0, 0, math.inf)
            assert granted
            waits.append(round(wait / SECOND, 6))
        assert waits == [0.0, 0.0, 0.0, 0.1, 0.2, 0.3]

    def test_a_refused_reservation_changes_nothing(self) -> None:
        """Beyond max_wait: refused with the wait it would need, and the cells unchanged."""
        rates = RateLimit(requests_per_minute=60).rates()
        cells, _, _ = _gcra.reserve(_gcra.Cells(), rates, 0.0, 0, 0.0)
        after, granted, wait = _gcra.reserve(cells, rates, 0.0, 0, 0.5 * SECOND)
        assert not granted
        assert wait == pytest.approx(1.0 * SECOND)
        assert after == cells

    @settings(max_examples=60, deadline=None)
    @given(
        rpm=st.integers(1, 6000),
        burst=st.integers(0, 5),
        arrivals=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=80),
    )
    def test_no_second_holds_more_than_the_rate_plus_the_burst(
        self, rpm: int, burst: int, arrivals: list[float]
    ) -> None:
        """Whenever requests ask, the starts granted fit ceil(rpm / 60) + burst a second."""
        limit = RateLimit(requests_per_minute=rpm, burst=burst)
        rates, cells, starts = limit.rates(), _gcra.Cells(), []
        for t in sorted(arrivals):
            cells, granted, wait = _gcra.reserve(cells, rates, t * SECOND, 0, math.inf)
            assert granted
            starts.append(t + wait / SECOND)
        assert most_in_a_second(starts) <= limit.per_second()

    def test_tokens_are_spread_and_a_big_ask_goes_alone(self) -> None:
        """tpm=6000 (100 a second): 100 tokens now, the next 100 a second later; an ask of
        500 waits until the bucket is empty, then goes."""
        rates, cells = RateLimit(tokens_per_minute=6000).rates(), _gcra.Cells()
        cells, _, first = _gcra.reserve(cells, rates, 0.0, 100, math.inf)
        cells, _, second = _gcra.reserve(cells, rates, 0.0, 100, math.inf)
        cells, _, big = _gcra.reserve(cells, rates, 0.0, 500, math.inf)
        assert (first, second / SECOND, big / SECOND) == (0.0, pytest.approx(1.0), 2.0)

    def test_a_correction_gives_tokens_back_but_not_into_the_past(self) -> None:
        """An estimate too high is given back; giving back more than was taken stops at now."""
        rates = RateLimit(tokens_per_minute=6000).rates()
        cells, _, _ = _gcra.reserve(_gcra.Cells(), rates, 0.0, 300, math.inf)
        assert _gcra.correct(cells, rates, 0.0, -200).tokens == pytest.approx(1.0 * SECOND)
        assert _gcra.correct(cells, rates, 0.0, -10_000).tokens == 0.0
        assert _gcra.correct(cells, rates, 0.0, 100).tokens == pytest.approx(4.0 * SECOND)

    def test_requests_made_without_a_slot_are_charged_after(self) -> None:
        """Two requests sent at once without a slot: the next waits two intervals."""
        rates = RateLimit(requests_per_minute=60).rates()
        cells = _gcra.correct(_gcra.Cells(), rates, 0.0, 0, requests=2)
        _, _, wait = _gcra.reserve(cells, rates, 0.0, 0, math.inf)
        assert wait == pytest.approx(2.0 * SECOND)

    def test_nothing_starts_during_a_cool_down_and_the_longer_one_holds(self) -> None:
        """A 3s cool-down, then a 1s one: the next start is 3s away."""
        rates = RateLimit(requests_per_minute=6000).rates()
        cells = _gcra.cool_down(_gcra.Cells(), 0.0, 3.0)
        cells = _gcra.cool_down(cells, 0.0, 1.0)
        _, _, wait = _gcra.reserve(cells, rates, 0.0, 0, math.inf)
        assert wait == 3.0 * SECOND

    def test_the_service_saying_less_is_left_tightens_never_loosens(self) -> None:
        """burst=4 allows five at once; the service says one is left: one goes, the next
        waits an interval. Saying 1000 are left changes nothing."""
        rates = RateLimit(requests_per_minute=60, burst=4).rates()
        tight = _gcra.observe(_gcra.Cells(), rates, 0.0, 1, None)
        tight, _, first = _gcra.reserve(tight, rates, 0.0, 0, math.inf)
        _, _, second = _gcra.reserve(tight, rates, 0.0, 0, math.inf)
        assert (first, second) == (0.0, pytest.approx(1.0 * SECOND))
        assert _gcra.observe(tight, rates, 0.0, 1000, 10**9) == tight


class TestObservingTightens:
    def test_only_less_than_the_cells_allow_at_once_can_tighten(self) -> None:
        """burst=4 allows 5 at once, one second of 6000 a minute is 100 tokens: 5 requests or
        100 tokens left change nothing (no store round trip), 4 or 99 may."""
        rates = RateLimit(requests_per_minute=60, tokens_per_minute=6000, burst=4).rates()
        assert not _gcra.observing_tightens(rates, 5, 100)
        assert not _gcra.observing_tightens(rates, None, None)
        assert _gcra.observing_tightens(rates, 4, None)
        assert _gcra.observing_tightens(rates, None, 99)

    @settings(max_examples=80, deadline=None)
    @given(
        burst=st.integers(0, 5),
        before=st.floats(-5, 5, allow_nan=False),
        left=st.integers(0, 20),
        tokens_left=st.integers(0, 300),
    )
    def test_what_cannot_tighten_changes_no_decision(
        self, burst: int, before: float, left: int, tokens_left: int
    ) -> None:
        """When observing_tightens says no, observe leaves every later wait as it was."""
        limit = RateLimit(requests_per_minute=60, tokens_per_minute=6000, burst=burst)
        rates, now = limit.rates(), 10.0 * SECOND
        cells = _gcra.Cells(now + before * SECOND, now + before * SECOND)
        if _gcra.observing_tightens(rates, left, tokens_left):
            return
        seen = _gcra.observe(cells, rates, now, left, tokens_left)
        for tokens in (0, 50, 500):
            assert _gcra.reserve(seen, rates, now, tokens, math.inf)[2] == pytest.approx(
                _gcra.reserve(cells, rates, now, tokens, math.inf)[2]
            )


class TestHeaders:
    def test_the_real_services_headers(self) -> None:
        """As recorded from the real API (real-traffic/openai__openai-dotnet)."""
        headers = {
            "x-ratelimit-limit-requests": "30000",
            "x-ratelimit-limit-tokens": "150000000",
            "x-ratelimit-remaining-requests": "29999",
            "x-ratelimit-remaining-tokens": "149999957",
            "x-ratelimit-reset-requests": "2ms",
            "x-ratelimit-reset-tokens": "0s",
        }
        assert service_view(headers) == Observe(29999, 149999957, 0.0)

    def test_nothing_left_cools_down_until_the_service_frees_one(self) -> None:
        """Nothing left of 60 a minute, whole again in 60s: the next frees in 1s."""
        headers = {
            "X-RateLimit-Remaining-Requests": "0",
            "X-RateLimit-Limit-Requests": "60",
            "X-RateLimit-Reset-Requests": "1m0s",
        }
        assert service_view(headers) == Observe(0, None, 1.0)

    def test_no_rate_limit_headers_say_nothing(self) -> None:
        """An answer without them (or with garbage) leaves the limiter alone."""
        assert service_view({"content-type": "application/json"}) is None
        assert service_view({"x-ratelimit-remaining-requests": "many"}) is None


class TestUrl:
    def test_a_memory_url(self) -> None:
        """Limits and name from the URL; the host part names a memory limit."""
        parsed = parse_url("memory://alerts?rpm=500&tpm=200000&burst=5")
        assert parsed.limit == RateLimit(requests_per_minute=500, tokens_per_minute=200000, burst=5)
        assert (parsed.scheme, parsed.name) == ("memory", "alerts")
        assert parse_url("memory://?rpm=5").name == "default"

    def test_a_url_without_limits_shares_only_what_the_service_says(self) -> None:
        """memory:// alone: no request waits for the limiter, until a 429 cools it down."""
        clock = FakeClock()
        parsed = parse_url("memory://")
        assert parsed.limit == RateLimit()
        limit = limiter(parsed.limit, clock)
        assert [limit.acquire(1000).waited for _ in range(50)] == [0.0] * 50
        limit.cool_down(2.0)
        assert limit.acquire().waited == pytest.approx(2.0)

    def test_a_redis_url_keeps_the_clients_parameters(self) -> None:
        """Our parameters are taken out; the rest goes to the Redis client."""
        parsed = parse_url("redis://:pw@redis:6379/2?rpm=60&name=org&socket_timeout=2")
        assert parsed.server == "redis://:pw@redis:6379/2?socket_timeout=2"
        assert (parsed.name, parsed.limit) == ("org", RateLimit(requests_per_minute=60))

    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("http://x?rpm=5", "scheme"),
            ("memory://?rpm=five", "not a whole number"),
            ("memory://?rpm=0", "rpm=0 is refused"),
            ("memory://?rpm=5&colour=red", "unknown parameter 'colour'"),
            ("redis://:hunter2@redis:6379/0?burst=-1", "burst=-1 is refused"),
        ],
    )
    def test_a_bad_url_is_refused_naming_why_without_the_password(self, url: str, why: str) -> None:
        """A clear InvalidArgumentError (argument ``url``); a password never shows."""
        with pytest.raises(InvalidArgumentError, match=why) as caught:
            parse_url(url)
        assert caught.value.argument == "url"
        assert "hunter2" not in str(caught.value)

    def test_the_same_memory_url_shares_one_limit(self) -> None:
        """Two limiters built from the same URL take from the same cells; another limit or
        name does not."""
        a = Limiter.from_url("memory://shared-test?rpm=60")
        b = Limiter.from_url("memory://shared-test?rpm=60")
        other = Limiter.from_url("memory://shared-test?rpm=61")
        assert a.acquire(within=0).waited < 0.5
        with pytest.raises(RateLimitTimeoutError):
            b.acquire(within=0.1)
        assert other.acquire(within=0).waited < 0.5

    def test_a_redis_limiters_repr_hides_the_password(self) -> None:
        """Building the client connects to nothing; the repr masks the password."""
        pytest.importorskip("redis", reason="the redis package is not installed")
        limiter = Limiter.from_url("redis://:hunter2@127.0.0.1:1/0?rpm=5&name=org")
        assert "hunter2" not in repr(limiter)
        assert "{org}" in repr(limiter)

    def test_a_redis_that_cannot_be_reached_is_a_typed_error(self) -> None:
        """Nothing listens on port 1: RateLimitStoreError, naming the server, no password,
        no chained redis exception."""
        pytest.importorskip("redis", reason="the redis package is not installed")
        limiter = Limiter.from_url("redis://:hunter2@127.0.0.1:1/0?rpm=5")
        with limiter, pytest.raises(RateLimitStoreError) as caught:
            limiter.acquire(within=1.0)
        assert "127.0.0.1:1" in str(caught.value)
        assert "hunter2" not in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


class TestLimiter:
    def test_waits_for_its_slot(self) -> None:
        """rpm=60: the second request of the same instant waits a second."""
        clock = FakeClock()
        limit = limiter(RateLimit(requests_per_minute=60), clock)
        assert limit.acquire(10).waited == 0.0
        assert limit.acquire(10).waited == pytest.approx(1.0)
        assert clock.sleeps == [pytest.approx(1.0)]

    def test_no_slot_in_time_is_a_typed_error_and_reserves_nothing(self) -> None:
        """A slot 1s away with 0.5s left: RateLimitTimeoutError saying how long, no sleep;
        the slot is still there for the next ask that can wait for it."""
        clock = FakeClock()
        limit = limiter(RateLimit(requests_per_minute=60), clock)
        limit.acquire()
        with pytest.raises(RateLimitTimeoutError) as caught:
            limit.acquire(within=0.5)
        error = caught.value
        assert isinstance(error, RateLimitError)
        assert isinstance(error, AssistantBridgeError)
        assert error.status_code is None
        assert error.retry_after == pytest.approx(1.0)
        assert "Nothing was sent" in str(error)
        assert clock.sleeps == []
        assert limit.acquire(within=1.0).waited == pytest.approx(1.0)

    def test_a_cool_down_during_the_wait_requeues_after_it(self) -> None:
        """A 429 elsewhere while this request waits: it does not go during the cool-down,
        and its tokens are given back before it queues again."""
        clock = FakeClock()
        store = MemoryStore(
            RateLimit(requests_per_minute=60, tokens_per_minute=6000), clock=clock.now
        )

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            if len(clock.sleeps) == 1:
                Limiter(store).cool_down(5.0)  # another worker was answered 429

        limit = Limiter(store, clock=clock.now, sleep=sleep)
        limit.acquire(100)
        slot = limit.acquire(100)
        assert slot.waited == pytest.approx(6.0)
        assert clock.sleeps == [pytest.approx(1.0), pytest.approx(5.0)]

    def test_a_429_without_retry_after_cools_down_a_second(self) -> None:
        """cool_down(None) holds everything for DEFAULT_COOL_DOWN."""
        clock = FakeClock()
        limit = limiter(RateLimit(requests_per_minute=6000), clock)
        limit.cool_down(None)
        assert limit.acquire().waited == pytest.approx(1.0)

    def test_corrections_and_headers_reach_the_store(self) -> None:
        """Usage above the estimate delays the next ask; headers saying nothing is left
        delay it until the service frees one."""
        clock = FakeClock()
        limit = limiter(RateLimit(requests_per_minute=6000, tokens_per_minute=6000, burst=5), clock)
        limit.acquire(100)
        limit.correct(200)
        assert limit.acquire(0).waited == 0.0  # a token-free request is not held
        assert limit.acquire(100).waited == pytest.approx(3.0)
        limit.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-limit-requests": "60",
                       "x-ratelimit-reset-requests": "60s"})  # fmt: skip
        assert limit.acquire().waited == pytest.approx(1.0)

    def test_sync_and_async_share_one_store_and_every_decision(self) -> None:
        """A sync and an async limiter on one store alternate on the same schedule."""
        clock = FakeClock()
        store = MemoryStore(RateLimit(requests_per_minute=120), clock=clock.now)
        sync = Limiter(store, clock=clock.now, sleep=clock.sleep)

        async def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        asynchronous = AsyncLimiter(store, clock=clock.now, sleep=sleep)

        async def both() -> list[float]:
            waits = []
            for _ in range(3):
                waits.append(sync.acquire().waited)
                waits.append((await asynchronous.acquire()).waited)
            return waits

        assert asyncio.run(both()) == [0.0] + [pytest.approx(0.5)] * 5

    def test_the_async_limiter_times_out_the_same_way(self) -> None:
        """AsyncLimiter.acquire raises the same typed error, having slept not at all."""
        clock = FakeClock()
        store = MemoryStore(RateLimit(requests_per_minute=1), clock=clock.now)

        async def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        async def twice() -> None:
            limit = AsyncLimiter(store, clock=clock.now, sleep=sleep)
            await limit.acquire()
            await limit.acquire(within=30.0)

        with pytest.raises(RateLimitTimeoutError, match="1 requests a minute"):
            asyncio.run(twice())
        assert clock.sleeps == []


class TestEstimate:
    def test_four_characters_a_token_plus_the_reply(self) -> None:
        """What is sent, a token per four characters (rounded up), plus the reply's share."""
        assert estimate_tokens("a" * 9, None, "bcd", reply_tokens=100) == 103
        assert estimate_tokens() == 256
