"""Poll policies compute delays; they never sleep. The default must beat the seed's loop."""

from __future__ import annotations

import itertools
import statistics
import time

import pytest

from assistant_bridge import (
    AdaptivePolling,
    AssistantSpec,
    FixedInterval,
    PollPolicy,
    ThreadSession,
)
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.testing import Emulator, Fault, SayText

# Run durations spread evenly over 0.5-10 s, as in the issue 14 sweep (bench/flows.py).
DURATIONS = [0.5 + 9.5 * n / 2000 for n in range(2001)]


def look_times(policy: PollPolicy, first_look_at_zero: bool = False) -> list[float]:
    """When a policy looks at a run started at 0 (the first 200 looks)."""
    times = [0.0] if first_look_at_zero else []
    now = 0.0
    for attempt in range(200):
        now += policy.delay(attempt, None)
        times.append(now)
    return times


def cost(times: list[float], calls_around: int) -> tuple[float, float]:
    """Mean requests per question and mean wait after the run's end, over DURATIONS."""
    requests, waits = [], []
    for duration in DURATIONS:
        seen = next(n for n, t in enumerate(times) if t >= duration)
        requests.append(calls_around + seen + 1)
        waits.append(times[seen] - duration)
    return statistics.mean(requests), statistics.mean(waits)


class TestFixedInterval:
    def test_same_delay_every_time(self) -> None:
        """The seed's behaviour: one second, always."""
        policy = FixedInterval()
        assert [policy.delay(n, None) for n in range(3)] == [1.0, 1.0, 1.0]

    def test_ignores_server_hint_unless_told(self) -> None:
        """The hint is opt-in for the fixed policy."""
        assert FixedInterval(2.0).delay(0, 300) == 2.0
        assert FixedInterval(2.0, honour_server_hint=True).delay(0, 300) == 0.3


class TestAdaptivePolling:
    def test_grows_to_the_cap(self) -> None:
        """Short first waits, growing geometrically, never above the cap."""
        policy = AdaptivePolling(initial=0.1, factor=2.0, cap=1.0)
        delays = [policy.delay(n, None) for n in range(6)]
        assert delays[:4] == pytest.approx([0.1, 0.2, 0.4, 0.8])
        assert delays[4:] == [1.0, 1.0]

    def test_default_schedule(self) -> None:
        """The default looks at 0.5, 1.25, 2.05 s, then every 0.8 s."""
        looks = look_times(AdaptivePolling())
        assert looks[:5] == pytest.approx([0.5, 1.25, 2.05, 2.85, 3.65])
        assert {round(b - a, 9) for a, b in itertools.pairwise(looks[2:])} == {0.8}

    def test_default_beats_the_seed_on_both_axes(self) -> None:
        """Over runs of 0.5-10 s: fewer requests and less wait than the seed's loop (look, then
        sleep 1 s; 4 calls around the polls on a new thread, 3 on a follow-up), with this
        library's 2 calls around the polls (start the run, list the reply)."""
        ours = cost(look_times(AdaptivePolling()), calls_around=2)
        for seed_calls in (4, 3):
            seed = cost(look_times(FixedInterval(1.0), first_look_at_zero=True), seed_calls)
            assert ours[0] < seed[0]
            assert ours[1] < seed[1]

    def test_fixed_second_is_the_seeds_cadence(self) -> None:
        """The library's own FixedInterval(1.0) skips the seed's look at 0 s: one request fewer,
        the same wait."""
        seed = cost(look_times(FixedInterval(1.0), first_look_at_zero=True), 2)
        fixed = cost(look_times(FixedInterval(1.0)), 2)
        assert fixed[0] == pytest.approx(seed[0] - 1)
        assert fixed[1] == pytest.approx(seed[1])

    def test_server_hint_wins(self) -> None:
        """openai-poll-after-ms replaces the computed delay."""
        assert AdaptivePolling().delay(5, 750) == 0.75

    def test_server_hint_is_bounded(self) -> None:
        """A huge hint cannot stall an ask."""
        assert AdaptivePolling(max_server_hint=3.0).delay(0, 3_600_000) == 3.0

    def test_negative_values_refused(self) -> None:
        """Bad settings fail at construction with the field's name."""
        with pytest.raises(ConfigurationError, match="initial"):
            AdaptivePolling(initial=-1)


class TestOverTheWire:
    SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")

    def test_poll_after_header_sets_the_pace(self) -> None:
        """The emulator's openai-poll-after-ms header replaces the default schedule."""
        with Emulator(poll_after_ms=50) as emu:
            emu.script(SayText("ok", delay=0.5))
            with emu.transport() as transport:
                session = ThreadSession(transport, assistant=self.SPEC, wait="poll")
                session.ask("q")
            polls = [r.at for r in emu.requests if r.route == "runs.retrieve"]
        # 0.5 s of work at a 50 ms pace: about ten looks, where the default makes one, 0.5 s
        # after the start (and 0.75 s between its first two).
        assert len(polls) >= 5
        assert max(b - a for a, b in itertools.pairwise(polls)) < 0.45

    def test_retry_after_is_waited_out(self) -> None:
        """A 429 while polling waits at least its Retry-After before looking again."""
        with Emulator() as emu:
            emu.script(SayText("ok", delay=0.5))
            emu.inject(Fault.http(429, retry_after=0.6), "runs.retrieve", times=1)
            with emu.transport() as transport:
                session = ThreadSession(transport, assistant=self.SPEC, wait="poll")
                began = time.monotonic()
                assert session.ask("q").text == "ok"
            polls = [(r.at, r.status) for r in emu.requests if r.route == "runs.retrieve"]
        assert polls[0][1] == 429
        assert polls[1][0] - polls[0][0] >= 0.6
        assert time.monotonic() - began < 5
