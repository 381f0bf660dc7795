"""The limiter around a transport: sessions over the emulator (real ``openai`` client on
loopback), every request taking a slot, corrected by what comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    ThreadSession,
    ToolOutput,
)
from assistant_bridge.ratelimit import (
    AsyncLimiter,
    AsyncRateLimitedTransport,
    Limiter,
    MemoryStore,
    RateLimit,
    RateLimitedTransport,
    RateLimitTimeoutError,
    Slot,
    ask_tokens,
    estimate_tokens,
)
from assistant_bridge.testing import Emulator, Fault
from assistant_bridge.transports import (
    CreateThreadAndRun,
    FindRun,
    GetRun,
    RunSettings,
    StreamRun,
    SubmitToolOutputs,
)

PROMPT = "Disk 95% full on db-1: what now?"


class Recording(Limiter):
    """A limiter that notes every call it gets (and does what it is asked)."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(MemoryStore(limit))
        self.calls: list[tuple[str, Any]] = []

    def acquire(self, tokens: int = 0, *, within: float | None = None) -> Slot:
        self.calls.append(("acquire", tokens))
        return super().acquire(tokens, within=within)

    def correct(self, tokens: int = 0, *, requests: int = 0) -> None:
        self.calls.append(("correct", (tokens, requests)))
        super().correct(tokens, requests=requests)

    def cool_down(self, retry_after: float | None) -> None:
        self.calls.append(("cool_down", retry_after))
        super().cool_down(retry_after)

    def observe(self, headers: Mapping[str, str]) -> None:
        self.calls.append(("observe", dict(headers)))
        super().observe(headers)

    def named(self, name: str) -> list[Any]:
        return [args for called, args in self.calls if called == name]


class AsyncRecording(AsyncLimiter):
    """The async twin of :class:`Recording`."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.calls: list[tuple[str, Any]] = []

    async def acquire(self, tokens: int = 0, *, within: float | None = None) -> Slot:
        self.calls.append(("acquire", tokens))
        return await super().acquire(tokens, within=within)

    async def correct(self, tokens: int = 0, *, requests: int = 0) -> None:
        self.calls.append(("correct", (tokens, requests)))
        await super().correct(tokens, requests=requests)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        emu.create_assistant(assistant_id="asst_abc", name="triage")
        yield emu


class TestEstimate:
    def test_only_operations_that_run_the_model_cost_tokens(self) -> None:
        """A start is charged its text and the reply's share; a poll or a lookup nothing."""
        request = RunSettings(assistant_id="asst_abc", additional_instructions="Be brief.")
        start = CreateThreadAndRun(PROMPT, request)
        assert ask_tokens(start) == estimate_tokens(PROMPT, "Be brief.")
        outputs = SubmitToolOutputs("thread_1", "run_1", [ToolOutput("call_1", "x" * 400)])
        assert ask_tokens(outputs) == estimate_tokens("x" * 400)
        assert ask_tokens(GetRun("thread_1", "run_1")) == 0
        assert ask_tokens(FindRun("thread_1", "key")) == 0


class TestSync:
    @pytest.mark.parametrize("wait", ["stream", "poll"])
    def test_every_request_takes_a_slot_and_usage_corrects_the_estimate(
        self, emulator: Emulator, wait: str
    ) -> None:
        """Each request the emulator answered was a slot taken (or charged after, for an
        operation that made more than one); the ask's estimate is corrected to its usage."""
        limiter = Recording(RateLimit(requests_per_minute=60_000, tokens_per_minute=10_000_000))
        transport = RateLimitedTransport(emulator.transport(), limiter)
        session = ThreadSession(transport, "asst_abc", wait=wait)
        reply = session.ask(PROMPT)
        extra = sum(requests for _, requests in limiter.named("correct"))
        assert len(limiter.named("acquire")) + extra == len(emulator.requests)
        estimate = estimate_tokens(PROMPT)
        assert limiter.named("acquire")[0] == estimate
        assert reply.usage is not None
        assert (reply.usage.total_tokens - estimate, 0) in limiter.named("correct")
        transport.close()

    def test_it_supports_what_the_transport_does(self, emulator: Emulator) -> None:
        """supports() is the wrapped transport's, so sessions stream and look runs up."""
        inner = emulator.transport()
        transport = RateLimitedTransport(inner, "memory://?rpm=600")
        assert transport.supports(StreamRun)
        assert transport.supports(FindRun)
        assert "RateLimitedTransport" in repr(transport)
        transport.close()

    def test_a_429_cools_every_worker_down_and_the_retry_waits_it_out(
        self, emulator: Emulator
    ) -> None:
        """The service answers the start 429 with retry-after 1.5s: the limiter cools down
        for 1.5s, the session retries, and the retry's slot comes after the cool-down."""
        emulator.inject(Fault.http(429, retry_after=1.5), "threads.create_and_run")
        limiter = Recording(RateLimit(requests_per_minute=60_000))
        transport = RateLimitedTransport(emulator.transport(), limiter)
        began = time.monotonic()
        ThreadSession(transport, "asst_abc", wait="poll").ask(PROMPT)
        assert limiter.named("cool_down") == [1.5]
        starts = [r for r in emulator.requests if r.route == "threads.create_and_run"]
        assert [r.status for r in starts] == [429, 200]
        assert time.monotonic() - began >= 1.5
        transport.close()

    def test_no_slot_before_the_deadline_sends_nothing(self, emulator: Emulator) -> None:
        """The minute's one request is spent: the ask fails with RateLimitTimeoutError
        within its timeout, and the emulator received nothing."""
        limiter = Limiter(MemoryStore(RateLimit(requests_per_minute=1)))
        limiter.acquire()
        transport = RateLimitedTransport(emulator.transport(), limiter)
        began = time.monotonic()
        with pytest.raises(RateLimitTimeoutError):
            ThreadSession(transport, "asst_abc", timeout=2).ask(PROMPT)
        assert time.monotonic() - began < 3
        assert emulator.requests == []
        transport.close()

    def test_the_services_headers_reach_the_limiter(self, emulator: Emulator) -> None:
        """On the Responses wire every answer carries x-ratelimit-*: the limiter hears them."""
        limiter = Recording(RateLimit(requests_per_minute=60_000))
        transport = RateLimitedTransport(emulator.transport("responses"), limiter)
        spec = AssistantSpec(name="triage", model="gpt-4o-mini", instructions="Triage.")
        ThreadSession(transport, assistant=spec).ask(PROMPT)
        heard = limiter.named("observe")
        assert heard
        assert all("x-ratelimit-remaining-requests" in h for h in heard)
        transport.close()


class TestAsync:
    @pytest.mark.parametrize("wait", ["stream", "poll"])
    def test_the_async_wrapper_takes_a_slot_per_request_and_corrects_to_usage(
        self, emulator: Emulator, wait: str
    ) -> None:
        """Over AsyncOpenAITransport, as over the sync one: a slot per request answered
        (or charged after), and the estimate corrected to the run's usage."""
        limiter = AsyncRecording(
            MemoryStore(RateLimit(requests_per_minute=60_000, tokens_per_minute=10_000_000))
        )
        inner = AsyncOpenAITransport(emulator.api_key, base_url=emulator.base_url)
        transport = AsyncRateLimitedTransport(inner, limiter)

        async def ask() -> Any:
            async with transport:
                return await AsyncThreadSession(transport, "asst_abc", wait=wait).ask(PROMPT)

        reply = asyncio.run(ask())
        acquired = [args for name, args in limiter.calls if name == "acquire"]
        corrected = [args for name, args in limiter.calls if name == "correct"]
        assert len(acquired) + sum(r for _, r in corrected) == len(emulator.requests)
        assert reply.usage is not None
        assert (reply.usage.total_tokens - estimate_tokens(PROMPT), 0) in corrected

    def test_a_url_builds_an_async_limiter_shared_with_the_sync_one(self) -> None:
        """The same memory URL: one store for the sync and the async wrapper."""
        url = "memory://async-wrapper-test?rpm=60"
        sync = RateLimitedTransport(object(), url)  # type: ignore[arg-type]
        asynchronous = AsyncRateLimitedTransport(object(), url)  # type: ignore[arg-type]
        assert isinstance(asynchronous.limiter, AsyncLimiter)
        sync.limiter.acquire()
        with pytest.raises(RateLimitTimeoutError):
            asyncio.run(asynchronous.limiter.acquire(within=0.1))
