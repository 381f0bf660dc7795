"""aask_many / ask_many: how many asks run at once by default, and a large batch not serialised."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncThreadSession,
    aask_many,
    ask_many,
)
from assistant_bridge._session.parallel import DEFAULT_CONCURRENCY
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.testing import Emulator, SayText

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")


class InFlight:
    """Sessions whose ask waits a little and records how many asks were running at once."""

    def __init__(self, expected: int = 0) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()
        self.all_in = threading.Event()  # set once ``expected`` asks run together
        self._expected = expected

    def _enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            if self.now == self._expected:
                self.all_in.set()

    def _leave(self) -> None:
        with self._lock:
            self.now -= 1

    def session(self) -> Any:
        counter = self

        class Session:
            async def ask(self, prompt: str, **_: Any) -> str:
                counter._enter()
                await asyncio.sleep(0.05)
                counter._leave()
                return prompt

        return Session()

    def sync_session(self) -> Any:
        counter = self

        class Session:
            def ask(self, prompt: str, **_: Any) -> str:
                counter._enter()
                # Threads start one by one on a busy machine: wait (a bounded time) for the
                # others rather than guessing how long they take to come in.
                counter.all_in.wait(timeout=5)
                counter._leave()
                return prompt

        return Session()


@pytest.mark.parametrize(("prompts", "expected"), [(7, 7), (150, DEFAULT_CONCURRENCY)])
def test_async_default_runs_every_prompt_at_once_up_to_the_bound(
    prompts: int, expected: int
) -> None:
    """No concurrency named: all prompts in flight together, at most DEFAULT_CONCURRENCY."""
    counter = InFlight()
    texts = [f"p{n}" for n in range(prompts)]
    results = asyncio.run(aask_many(counter.session, texts))
    assert results == texts
    assert counter.peak == expected


def test_sync_default_runs_every_prompt_at_once() -> None:
    """The sync twin makes the same choice with its threads."""
    counter = InFlight(expected=40)
    texts = [f"p{n}" for n in range(40)]
    assert ask_many(counter.sync_session, iter(texts)) == texts
    assert counter.peak == 40


def test_a_named_concurrency_is_the_limit() -> None:
    """concurrency=3 keeps three asks in flight, never more."""
    counter = InFlight()
    asyncio.run(aask_many(counter.session, [f"p{n}" for n in range(12)], concurrency=3))
    assert counter.peak == 3


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_bad_concurrency_is_refused(bad: Any) -> None:
    """A concurrency that is not a whole number >= 1 fails before any ask."""
    with pytest.raises(ConfigurationError, match="concurrency"):
        ask_many(InFlight().sync_session, ["a"], concurrency=bad)
    with pytest.raises(ConfigurationError, match="concurrency"):
        asyncio.run(aask_many(InFlight().session, ["a"], concurrency=bad))


def test_hundred_one_second_runs_are_not_serialised() -> None:
    """100 prompts of 1 s runs over the emulator take about 1 s, not the 7 s of 16 at a time."""
    prompts = [f"Alert {n}: host-{n} down" for n in range(100)]

    with Emulator() as emu:
        emu.script(SayText("warm", delay=0.01), times=1)
        emu.script(SayText("checked", delay=1.0))

        async def main() -> tuple[list[Any], float]:
            async with AsyncOpenAITransport("sk-emulator", base_url=emu.base_url) as transport:
                await AsyncThreadSession(transport, assistant=SPEC).ask("warm up")
                began = time.monotonic()
                results = await aask_many(
                    lambda: AsyncThreadSession(transport, assistant=SPEC), prompts
                )
                return results, time.monotonic() - began

        results, wall = asyncio.run(main())
    assert [getattr(r, "text", r) for r in results] == ["checked"] * 100
    assert wall < 6.0, f"{wall:.1f} s for 100 one-second runs"
