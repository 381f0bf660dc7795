"""One connection for many questions (issue 14, part 0): counted on loopback.

A relay in front of the emulator counts the TCP connections a session opens for 20 asks on one
thread (a new thread, then 19 follow-ups). A client that reads each response to its end gives
the connection back to its pool and needs one; one that abandons a stream before the end of
its chunked body needs a new connection per ask, which over HTTPS is a TCP and TLS handshake
per question. Streamed asks read their stream to its end once the run settles (they opened
one connection per ask before).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncThreadSession,
    FixedInterval,
    OpenAITransport,
    ResponsesTransport,
    ThreadSession,
    ToolRegistry,
    ask_many,
)
from assistant_bridge.testing import Emulator, RequestTools, SayText
from tests.tcp_counter import CountingRelay

SPEC = AssistantSpec(name="triage", model="gpt-4o-mini")
ASKS = 20
MAX_CONNECTIONS = 2
SYNC = {"assistants": OpenAITransport, "responses": ResponsesTransport}
ASYNC = {"assistants": AsyncOpenAITransport, "responses": AsyncResponsesTransport}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def relay(emu: Emulator) -> Iterator[CountingRelay]:
    """The emulator behind a relay that counts connections."""
    with CountingRelay(emu.port) as counting:
        yield counting


VERDICT = SayText("The verdict is escalate.", delay=0.01)


def _policy() -> FixedInterval:
    return FixedInterval(0.01)


@pytest.mark.parametrize("api", ["assistants", "responses"])
@pytest.mark.parametrize("wait", ["stream", "poll"], ids=["stream", "poll"])
class TestConnectionsPerSession:
    def test_sync_asks_share_a_connection(
        self, emu: Emulator, relay: CountingRelay, api: str, wait: str
    ) -> None:
        """20 sync asks on one session (a thread and 19 follow-ups) over at most 2 connections."""
        emu.script(VERDICT)
        with SYNC[api]("sk-emulator", base_url=relay.base_url) as transport:
            session = ThreadSession(transport, assistant=SPEC, wait=wait, poll_policy=_policy())
            replies = [session.ask(f"alert {n}") for n in range(ASKS)]
        assert {r.thread_id for r in replies} == {replies[0].thread_id}
        assert [r.text for r in replies] == ["The verdict is escalate."] * ASKS
        assert relay.accepted <= MAX_CONNECTIONS, f"{relay.accepted} connections for {ASKS} asks"

    def test_async_asks_share_a_connection(
        self, emu: Emulator, relay: CountingRelay, api: str, wait: str
    ) -> None:
        """The same with AsyncThreadSession."""
        emu.script(VERDICT)

        async def main() -> list[Any]:
            async with ASYNC[api]("sk-emulator", base_url=relay.base_url) as transport:
                session = AsyncThreadSession(
                    transport, assistant=SPEC, wait=wait, poll_policy=_policy()
                )
                return [await session.ask(f"alert {n}") for n in range(ASKS)]

        replies = asyncio.run(main())
        assert [r.text for r in replies] == ["The verdict is escalate."] * ASKS
        assert relay.accepted <= MAX_CONNECTIONS, f"{relay.accepted} connections for {ASKS} asks"


@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_streamed_tool_rounds_share_a_connection(
    emu: Emulator, relay: CountingRelay, api: str
) -> None:
    """A streamed ask with a tool round (two streams per ask) keeps its connection too."""
    emu.script(RequestTools([("lookup", {"host": "db-1"})], then="db-1 is fine", delay=0.01))

    def lookup(host: str) -> str:
        """Look a host up."""
        return f"{host}: ok"

    with SYNC[api]("sk-emulator", base_url=relay.base_url) as transport:
        session = ThreadSession(transport, assistant=SPEC, tool_handler=ToolRegistry(lookup))
        replies = [session.ask(f"check {n}") for n in range(ASKS // 2)]
    assert [r.text for r in replies] == ["db-1 is fine"] * (ASKS // 2)
    assert relay.accepted <= MAX_CONNECTIONS, f"{relay.accepted} connections for {ASKS // 2} asks"


@pytest.mark.parametrize("wait", ["stream", "poll"])
def test_complete_response_is_not_fetched_again(wait: str) -> None:
    """A Responses run seen complete (in the stream's terminal event, or in the poll that found
    it complete) is not fetched again to read its messages. A background response is created
    "queued", as the service does, so polling looks once."""
    with Emulator(queue_delay=0.0) as emu:
        emu.script(SayText("done", delay=0.0))
        with emu.transport("responses") as transport:
            session = ThreadSession(transport, assistant=SPEC, wait=wait)
            replies = [session.ask(f"alert {n}") for n in range(3)]
        counts = emu.counts()
    assert [r.text for r in replies] == ["done"] * 3
    assert counts["responses.create"] == 3
    assert counts["responses.retrieve"] == (0 if wait == "stream" else 3), dict(counts)


@pytest.mark.parametrize("api", ["assistants", "responses"])
@pytest.mark.parametrize("closing", ["async with", "break"])
def test_async_stream_left_early_is_closed_cleanly(api: str, closing: str) -> None:
    """Leaving an async stream early closes its iterator then and there: asyncio reports no
    pending task destroyed and no generator it failed to close at loop shutdown."""
    reported: list[str] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        reported.append(f"{context.get('message')}: {context.get('exception')!r}")

    with Emulator() as emu:
        emu.script(SayText("one two three four five six", delay=0.01, chunk_delay=0.01))

        async def main() -> None:
            asyncio.get_running_loop().set_exception_handler(handler)
            # As in a notebook cell: the transport stays open while the loop shuts down.
            transport = ASYNC[api]("sk-emulator", base_url=emu.base_url)
            session = AsyncThreadSession(transport, assistant=SPEC)
            if closing == "async with":
                async with session.stream("alert") as events:
                    async for _event in events:
                        break
            else:
                async for _event in session.stream("alert"):
                    break

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            asyncio.run(main())
            gc.collect()
    assert reported == []


@pytest.mark.parametrize("api", ["assistants", "responses"])
def test_pool_limits_without_building_an_openai_client(
    emu: Emulator, relay: CountingRelay, api: str
) -> None:
    """max_connections=1: ten asks at once still work, over one connection at a time."""
    emu.script(VERDICT)
    with SYNC[api]("sk-emulator", base_url=relay.base_url, max_connections=1) as transport:
        replies = ask_many(
            lambda: ThreadSession(transport, assistant=SPEC, wait="poll", poll_policy=_policy()),
            [f"alert {n}" for n in range(10)],
            concurrency=10,
        )
    assert [getattr(r, "text", r) for r in replies] == ["The verdict is escalate."] * 10
    # One connection at a time, reused: a busy machine may see it replaced now and then,
    # but ten polled asks (dozens of requests) never get a connection each.
    assert relay.peak == 1
    assert relay.accepted < 10


def test_an_http_client_of_your_own(emu: Emulator) -> None:
    """http_client= hands the transport an HTTP client (here openai's own, with headers)."""
    import openai

    sent: list[str] = []

    def record(request: Any) -> None:
        sent.append(f"{request.method} {request.url.path} {request.headers.get('x-team')}")

    http = openai.DefaultHttpxClient(headers={"x-team": "sre"}, event_hooks={"request": [record]})
    emu.script(VERDICT)
    with OpenAITransport("sk-emulator", base_url=emu.base_url, http_client=http) as transport:
        assert ThreadSession(transport, assistant=SPEC).ask("x").text
    # Every request of the ask went through the client given, with its headers.
    assert sent
    assert all(line.endswith(" sre") for line in sent)
    assert any(line.startswith("POST /v1/threads") for line in sent)
