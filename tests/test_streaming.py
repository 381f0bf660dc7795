"""Streaming: one request per ask, typed events, tools inside a stream, and fallbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncThreadSession,
    FixedInterval,
    JsonParser,
    MessageDone,
    ReplyReady,
    RunStatusChanged,
    TextDelta,
    ThreadSession,
    ToolCallsRequested,
    ToolRegistry,
)
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.testing import (
    Emulator,
    FakeTransport,
    Fault,
    RequestTools,
    SayJson,
    SayText,
    ScriptedBackend,
    StayInProgress,
)

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
CREATE = {"assistants": "threads.create_and_run", "responses": "responses.create"}
FOLLOW = {"assistants": "runs.create", "responses": "responses.create"}
POLL = {"assistants": "runs.retrieve", "responses": "responses.retrieve"}
LIST = {"assistants": "messages.list", "responses": "responses.retrieve"}


@pytest.fixture(params=["assistants", "responses"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def session(emu: Emulator, api: str, **kwargs: Any) -> ThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.01))
    return ThreadSession(emu.transport(api, max_retries=0), assistant=SPEC, **kwargs)


def warm(emu: Emulator, api: str) -> None:
    """Create the assistant object first, so request counts show only the asks."""
    if api == "assistants":
        with emu.transport() as t:
            t.resolve_assistant(SPEC)


class TestOneRequestPerAsk:
    def test_new_thread_and_follow_up_costs(self, emu: Emulator, api: str) -> None:
        """A new thread: one streamed request (two on Responses: the conversation, then the
        response); a follow-up: one. No polls, no message listing."""
        transport = emu.transport(api, max_retries=0)
        if api == "assistants":
            transport.resolve_assistant(SPEC)  # once per transport, not per ask
        emu.script(SayJson({"action": "escalate"}), times=1)
        emu.script(SayText("runbook cpu.md"), times=1)
        ask = ThreadSession(transport, assistant=SPEC, parser=JsonParser())
        before = len(emu.requests)
        first = ask.ask("Alert: CPU at 100%")
        first_cost = len(emu.requests) - before
        assert first.parsed == {"action": "escalate"}
        before = len(emu.requests)
        follow = ask.ask("Which runbook?", parser=JsonParser(strict=False))
        assert len(emu.requests) - before == 1
        assert follow.text == "runbook cpu.md"
        assert first_cost == (1 if api == "assistants" else 2)
        counts = emu.counts()
        assert counts[POLL[api]] == 0
        if api == "assistants":
            assert counts["messages.list"] == 0

    def test_poll_is_still_available(self, emu: Emulator, api: str) -> None:
        """wait='poll' follows the run by polling, as before."""
        warm(emu, api)
        reply = session(emu, api, wait="poll").ask("Alert: disk full")
        assert reply.text
        assert emu.counts()[POLL[api]] >= 1


class TestEvents:
    def test_stream_yields_typed_events_and_the_reply(self, emu: Emulator, api: str) -> None:
        """Deltas that add up to the text, the message, statuses, then ReplyReady."""
        emu.script(SayText("Escalate: CPU saturated on web-1."))
        stream = session(emu, api).stream("Alert: CPU at 100%")
        events = list(stream)
        deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert deltas == "Escalate: CPU saturated on web-1."
        statuses = [str(e.run.status) for e in events if isinstance(e, RunStatusChanged)]
        assert statuses[0] == "queued"
        assert statuses[-1] == "completed"
        assert any(isinstance(e, MessageDone) for e in events)
        assert isinstance(events[-1], ReplyReady)
        assert events[-1].reply == stream.reply
        assert stream.reply.text == deltas
        assert stream.reply.to_dict()["raw_response"] == deltas

    def test_reply_is_not_there_before_the_end(self, emu: Emulator) -> None:
        """Reading .reply early is a clear error."""
        stream = session(emu, "assistants").stream("hi")
        with pytest.raises(ConfigurationError, match="not finished"):
            _ = stream.reply
        stream.close()

    def test_tool_calls_inside_a_stream(self, emu: Emulator, api: str) -> None:
        """The stream stops at the tool calls, they are answered, and the stream goes on."""
        emu.script(RequestTools([("lookup", {"host": "web-1"})], then=lambda o: f"found {o[0]}"))

        def lookup(host: str) -> str:
            """Look a host up."""
            return f"{host}=ok"

        tools = ToolRegistry(lookup)
        events = list(session(emu, api, tool_handler=tools).stream("check web-1"))
        requested = [e for e in events if isinstance(e, ToolCallsRequested)]
        assert [c.name for c in requested[0].calls] == ["lookup"]
        assert events[-1].reply.text == "found web-1=ok"  # type: ignore[union-attr]
        assert emu.counts()[POLL[api]] == 0

    def test_stream_works_on_a_polling_transport(self) -> None:
        """A transport that cannot stream still gives stream() its events, from polls."""
        transport = FakeTransport(ScriptedBackend())
        s = ThreadSession(transport, "asst_x", sleep=lambda _: None)
        events = list(s.stream("q"))
        assert isinstance(events[-1], ReplyReady)
        assert events[-1].reply.text == "ok"
        assert any(isinstance(e, RunStatusChanged) for e in events)
        with pytest.raises(ConfigurationError, match="stream"):
            ThreadSession(transport, "asst_x", wait="stream")

    def test_leaving_a_stream_early_cancels_the_run(self, emu: Emulator, api: str) -> None:
        """Closing the stream before its end cancels the run on the server."""
        emu.script(StayInProgress())
        with session(emu, api).stream("x") as stream:
            for event in stream:
                if isinstance(event, RunStatusChanged) and str(event.run.status) == "in_progress":
                    break
        [run_id] = emu.runs_of(next(iter(emu.store.threads or emu.app.conversations)))
        assert emu.run_status(run_id) in ("cancelling", "cancelled")


class TestFallbacks:
    def test_cut_stream_falls_back_to_polling_the_same_run(self, emu: Emulator, api: str) -> None:
        """The connection drops mid-stream: the same run is polled, the reply is whole."""
        warm(emu, api)
        emu.script(SayText("one two three four five six seven eight"))
        emu.inject(
            Fault.stream_cut(after_events=4),
            CREATE[api] if api == "assistants" else "responses.create",
        )
        reply = session(emu, api).ask("Alert: x")
        assert reply.text == "one two three four five six seven eight"
        assert len(emu.runs_of(reply.thread_id)) == 1
        assert emu.counts()[POLL[api]] >= 1
        assert emu.fired_faults[0].fault.kind == "stream_cut"

    def test_error_event_falls_back_to_polling(self, emu: Emulator, api: str) -> None:
        """An error event in the stream: poll the run instead."""
        warm(emu, api)
        emu.script(SayText("fine after all"))
        emu.inject(Fault.stream_error(after_events=3), CREATE[api])
        reply = session(emu, api).ask("x")
        assert reply.text == "fine after all"
        assert len(emu.runs_of(reply.thread_id)) == 1

    def test_silent_stream_falls_back_after_the_stall_gap(self, emu: Emulator, api: str) -> None:
        """A proxy that holds events back: past stall_timeout, the run is polled instead."""
        warm(emu, api)
        emu.script(SayText("slow words arrive here", chunk_delay=1.0))
        reply = session(emu, api, stall_timeout=0.3).ask("x", timeout=20)
        assert reply.text == "slow words arrive here"
        assert len(emu.runs_of(reply.thread_id)) == 1
        assert emu.counts()[POLL[api]] >= 1

    def test_cut_before_any_run_is_a_typed_error(self, emu: Emulator) -> None:
        """Nothing was started that we know of: say so, do not guess."""
        from assistant_bridge.exceptions import APIConnectionError

        warm(emu, "assistants")
        emu.inject(Fault.reset_before(), "threads.create_and_run")
        with pytest.raises(APIConnectionError):
            session(emu, "assistants").ask("x")


class TestAsyncStreaming:
    def test_async_stream(self, emu: Emulator, api: str) -> None:
        """async for over AsyncThreadSession.stream, with the same events and reply."""
        emu.script(SayText("async words"))
        transports = {"assistants": AsyncOpenAITransport, "responses": AsyncResponsesTransport}

        async def main() -> tuple[list[Any], Any]:
            async with transports[api]("sk-emulator", base_url=emu.base_url) as t:
                s = AsyncThreadSession(t, assistant=SPEC, poll_policy=FixedInterval(0.01))
                stream = s.stream("hi")
                events = [e async for e in stream]
                return events, stream.reply

        events, reply = asyncio.run(main())
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "async words"
        assert isinstance(events[-1], ReplyReady)
        assert reply.text == "async words"
        assert emu.counts()[POLL[api]] == 0


def test_events_are_json_friendly() -> None:
    """Reply.to_dict() from a stream serialises."""
    with Emulator() as emu:
        emu.script(SayJson({"a": 1}))
        stream = session(emu, "assistants", parser=JsonParser()).stream("x")
        list(stream)
        assert json.loads(json.dumps(stream.reply.to_dict()))["response"] == {"a": 1}


class TestAsyncAbandon:
    def test_closing_an_async_stream_early_cancels_the_run(self, emu: Emulator) -> None:
        """aclose() before the end cancels the run, as closing a sync stream does."""
        emu.script(StayInProgress())

        async def main() -> None:
            async with AsyncOpenAITransport("sk-emulator", base_url=emu.base_url) as t:
                s = AsyncThreadSession(t, assistant=SPEC, poll_policy=FixedInterval(0.01))
                async with s.stream("x") as stream:
                    async for event in stream:
                        if isinstance(event, RunStatusChanged) and str(event.run.status) == (
                            "in_progress"
                        ):
                            break

        asyncio.run(main())
        [run_id] = [r.id for r in emu.store.runs.values()]
        assert emu.run_status(run_id) in ("cancelling", "cancelled")
