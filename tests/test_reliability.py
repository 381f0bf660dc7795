"""Retries without duplicates, the active-run lock, and the retry policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import AssistantSpec, FixedInterval, RetryPolicy, ThreadSession
from assistant_bridge.exceptions import (
    APIConnectionError,
    RateLimitError,
    ServerError,
)
from assistant_bridge.testing import Emulator, Fault, RequestTools, SayText

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
FAST = RetryPolicy(max_attempts=4, initial=0.01, cap=0.05)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def session(emu: Emulator, api: str = "assistants", **kwargs: Any) -> ThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.01))
    kwargs.setdefault("retry", FAST)
    return ThreadSession(emu.transport(api), assistant=SPEC, **kwargs)


class TestRetryPolicy:
    def test_backoff_grows_to_the_cap_with_jitter(self) -> None:
        """Exponential waits, spread by the jitter, never above the cap (plus its spread)."""
        policy = RetryPolicy(initial=1.0, factor=2.0, cap=5.0, jitter=0.5, random=lambda: 1.0)
        assert [policy.delay(n) for n in range(4)] == [1.5, 3.0, 6.0, 7.5]
        calm = RetryPolicy(initial=1.0, jitter=0.5, random=lambda: 0.0)
        assert calm.delay(0) == 0.5

    def test_retry_after_wins_when_longer(self) -> None:
        """The server's Retry-After is honoured."""
        policy = RetryPolicy(initial=0.1, jitter=0.0)
        assert policy.delay(0, retry_after=3.0) == 3.0
        assert policy.delay(0, retry_after=0.01) == 0.1

    def test_classification(self) -> None:
        """What is retryable, and what may have reached the server."""
        assert RetryPolicy.retryable(RateLimitError("x"))
        assert RetryPolicy.retryable(ServerError("x", status_code=503))
        assert not RetryPolicy.ambiguous(RateLimitError("x"))
        assert RetryPolicy.ambiguous(ServerError("x", status_code=500))
        assert RetryPolicy.ambiguous(APIConnectionError("reset"))
        assert not RetryPolicy.ambiguous(APIConnectionError("refused", unsent=True))


class TestRetries:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_429_is_retried_after_retry_after(self, emu: Emulator, api: str) -> None:
        """A rate limit on the run's start is waited out and retried: one run, one reply."""
        emu.script(SayText("done"))
        route = "threads.create_and_run" if api == "assistants" else "responses.create"
        emu.inject(Fault.http(429, retry_after=0.2), route, times=2)
        reply = session(emu, api).ask("x")
        assert reply.text == "done"
        assert len(emu.fired_faults) == 2
        assert len(emu.runs_of(reply.thread_id)) == 1
        stamps = [r.at for r in emu.requests if r.route == route]
        assert stamps[1] - stamps[0] >= 0.2

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_polls_are_retried(self, emu: Emulator, api: str) -> None:
        """A 503 on polling is retried; the ask finishes."""
        emu.script(SayText("done", delay=0.1))
        route = "runs.retrieve" if api == "assistants" else "responses.retrieve"
        emu.inject(Fault.http(503), route, times=2)
        assert session(emu, api, wait="poll").ask("x").text == "done"
        assert len(emu.fired_faults) == 2

    def test_gives_up_after_max_attempts_with_the_error(self, emu: Emulator) -> None:
        """A fault that never ends: the typed error after max_attempts tries."""
        emu.script(SayText("done", delay=0.1))
        emu.inject(Fault.http(503), "runs.retrieve", times=None)
        with pytest.raises(ServerError) as caught:
            session(emu, wait="poll").ask("x")
        # max_attempts reads for the ask, then the run is cancelled (not left running) and
        # the cancel is confirmed by reading it again, which the same fault refuses.
        assert emu.counts()["runs.retrieve"] == 2 * FAST.max_attempts
        assert emu.counts()["runs.cancel"] == 1
        assert caught.value.run_id is not None  # type: ignore[attr-defined]
        assert caught.value.cancel_confirmed is False  # type: ignore[attr-defined]
        assert "was cancelled (not confirmed" in str(caught.value)

    def test_a_5xx_on_a_new_threads_start_is_not_repeated(self, emu: Emulator) -> None:
        """A 500 may come after the server acted: with nothing to search, no second try."""
        emu.inject(Fault.http(500), "threads.create_and_run")
        with pytest.raises(ServerError, match="not repeated"):
            session(emu).ask("x")
        assert emu.counts()["threads.create_and_run"] == 1


class TestNoDuplicates:
    def test_lost_answer_to_a_follow_up_is_found_not_repeated(self, emu: Emulator) -> None:
        """The run started but its answer was lost: the ask finds it by its mark, no 2nd run."""
        emu.script(SayText("first"), times=1)
        emu.script(SayText("second"), times=1)
        ask = session(emu)
        ask.ask("one")
        emu.inject(Fault.reset_after(), "runs.create")
        reply = ask.ask("two")
        assert reply.text == "second"
        assert len(emu.runs_of(reply.thread_id)) == 2
        texts = [t for role, t, _ in emu.thread_messages(reply.thread_id) if role == "user"]
        assert texts == ["one", "two"]

    def test_request_that_never_arrived_is_repeated(self, emu: Emulator) -> None:
        """Dropped before the server acted: nothing found, so the start is sent again."""
        emu.script(SayText("first"), times=1)
        emu.script(SayText("second"), times=1)
        ask = session(emu)
        ask.ask("one")
        emu.inject(Fault.reset_before(), "runs.create")
        assert ask.ask("two").text == "second"
        assert emu.counts()["runs.create"] == 2
        assert emu.counts()["runs.list"] == 1

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_lost_answer_to_a_new_thread_is_not_repeated(self, emu: Emulator, api: str) -> None:
        """No thread to search yet: the error says it was not repeated; one run at most."""
        route = "threads.create_and_run" if api == "assistants" else "responses.create"
        emu.inject(Fault.reset_after(), route)
        with pytest.raises(APIConnectionError, match="not repeated"):
            session(emu, api).ask("x")
        assert emu.counts()[route] == 1

    def test_lost_answer_to_tool_outputs(self, emu: Emulator) -> None:
        """Outputs taken but the answer lost: the run goes on, the outputs are not resent."""
        emu.script(RequestTools([("lookup", {})], then=lambda o: f"got {o[0]}"))
        emu.inject(Fault.reset_after(), "runs.submit_tool_outputs")

        def tools(calls: Any) -> Any:
            from assistant_bridge import ToolOutput

            return [ToolOutput(c.id, "42") for c in calls]

        reply = session(emu, wait="poll", tool_handler=tools).ask("x")
        assert reply.text == "got 42"
        assert emu.counts()["runs.submit_tool_outputs"] == 1


class TestThreadLock:
    def test_two_sessions_on_one_thread_queue_up(self, emu: Emulator) -> None:
        """Sessions sharing a thread in one process take turns instead of colliding."""
        emu.script(SayText("ok", delay=0.2))
        first = session(emu, on_active_run="raise")
        thread_id = first.ask("start").thread_id
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                ThreadSession(
                    emu.transport(),
                    assistant=SPEC,
                    thread_id=thread_id,
                    on_active_run="raise",
                    poll_policy=FixedInterval(0.01),
                ).ask("q")
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        workers = [threading.Thread(target=ask) for _ in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []
        assert len(emu.runs_of(thread_id)) == 4
