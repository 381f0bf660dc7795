"""The test doubles users get: a streaming fake and an async fake, driven by ScriptedBackend."""

from __future__ import annotations

import asyncio

from assistant_bridge import (
    AsyncStreamingTransport,
    AsyncThreadSession,
    AsyncTransport,
    RunStatusChanged,
    StreamingTransport,
    ThreadSession,
    ToolCall,
    ToolOutput,
    Transport,
)
from assistant_bridge.testing import (
    AsyncFakeTransport,
    FakeClock,
    FakeTransport,
    RunScript,
    ScriptedBackend,
    StreamingFakeTransport,
)

CALL = ToolCall(id="call_1", name="lookup", arguments="{}")


def answer(calls: object) -> list[ToolOutput]:
    return [ToolOutput("call_1", "42")]


class TestCapabilities:
    def test_plain_fake_does_not_claim_to_stream(self) -> None:
        """Capabilities are protocols checked with isinstance: the plain fake only polls."""
        assert isinstance(FakeTransport(ScriptedBackend()), Transport)
        assert not isinstance(FakeTransport(ScriptedBackend()), StreamingTransport)
        assert isinstance(StreamingFakeTransport(ScriptedBackend()), StreamingTransport)

    def test_async_fake_is_an_async_transport(self) -> None:
        """The async fake meets the async protocols, streaming only when asked."""
        assert isinstance(AsyncFakeTransport(ScriptedBackend()), AsyncTransport)
        assert not isinstance(AsyncFakeTransport(ScriptedBackend()), AsyncStreamingTransport)
        streaming = AsyncFakeTransport(ScriptedBackend(), streaming=True)
        assert isinstance(streaming, AsyncStreamingTransport)


class TestStreamingFake:
    def test_a_question_is_one_streamed_request(self) -> None:
        """With a fake that streams, the session streams: one request, statuses as events."""
        fake = StreamingFakeTransport(ScriptedBackend(RunScript(reply="streamed")))
        clock = FakeClock()
        session = ThreadSession(fake, "asst_1", clock=clock.now, sleep=clock.sleep)
        with session.stream("hi") as events:
            seen = [e for e in events if isinstance(e, RunStatusChanged)]
        assert events.reply.text == "streamed"
        assert [str(e.run.status) for e in seen] == ["queued", "in_progress", "completed"]
        assert fake.names() == ["stream_thread_and_run", "list_run_messages"]

    def test_tool_rounds_stream_too(self) -> None:
        """Tool outputs go back as a stream on a streaming fake."""
        script = RunScript(
            steps=("requires_action",), tool_calls=(CALL,), on_tools=lambda o: o[0].output
        )
        fake = StreamingFakeTransport(ScriptedBackend(script))
        clock = FakeClock()
        session = ThreadSession(
            fake, "asst_1", tool_handler=answer, clock=clock.now, sleep=clock.sleep
        )
        assert session.ask("q").text == "42"
        assert "stream_tool_outputs" in fake.names()


class TestAsyncFake:
    def test_async_session_on_the_fake(self) -> None:
        """AsyncThreadSession runs on the async fake without HTTP, with the same backend."""
        backend = ScriptedBackend(RunScript(reply="async ok"))

        async def main() -> str:
            session = AsyncThreadSession(AsyncFakeTransport(backend), "asst_1")
            return (await session.ask("hi")).text

        assert asyncio.run(main()) == "async ok"
        assert len(backend.runs) == 1

    def test_async_streaming_fake(self) -> None:
        """The async fake streams when asked, and the stream carries the statuses."""
        fake = AsyncFakeTransport(ScriptedBackend(RunScript(reply="s")), streaming=True)

        async def main() -> list[str]:
            session = AsyncThreadSession(fake, "asst_1")
            stream = session.stream("hi")
            statuses = [str(e.run.status) async for e in stream if isinstance(e, RunStatusChanged)]
            assert stream.reply.text == "s"
            return statuses

        assert asyncio.run(main())[-1] == "completed"
        assert fake.names()[0] == "stream_thread_and_run"
