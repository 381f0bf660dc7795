"""A deadline is a deadline, and nothing is left running (issue 10), over loopback.

Each test bounds an ask by ``timeout + cancel_grace + MARGIN`` whatever the server does, and
checks that no run is left active. The margins are generous: CI machines are shared and noisy.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import pytest

from assistant_bridge import (
    AssistantSpec,
    AsyncOpenAITransport,
    AsyncResponsesTransport,
    AsyncThreadSession,
    FixedInterval,
    OpenAITransport,
    RetryPolicy,
    ThreadSession,
    ToolRegistry,
)
from assistant_bridge.exceptions import (
    AssistantBridgeError,
    RunTimeoutError,
    ToolError,
)
from assistant_bridge.testing import Emulator, Fault, RequestTools, SayText, StayInProgress

SPEC = AssistantSpec(name="deadlines", model="gpt-4o-mini")
FAST = RetryPolicy(max_attempts=4, initial=0.02, cap=0.1)
MARGIN = 2.5
GRACE = 1.0


OPENED: list[Any] = []


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(cancel_delay=0.01) as emulator:
        yield emulator
        while OPENED:
            OPENED.pop().close()


def session(emu: Emulator, api: str = "assistants", **kwargs: Any) -> ThreadSession:
    kwargs.setdefault("poll_policy", FixedInterval(0.02))
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("cancel_grace", GRACE)
    transport = emu.transport(api)
    OPENED.append(transport)
    return ThreadSession(transport, assistant=SPEC, **kwargs)


@contextlib.asynccontextmanager
async def asession(
    emu: Emulator, api: str = "assistants", **kwargs: Any
) -> AsyncIterator[AsyncThreadSession]:
    kwargs.setdefault("poll_policy", FixedInterval(0.02))
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("cancel_grace", GRACE)
    kind = AsyncOpenAITransport if api == "assistants" else AsyncResponsesTransport
    async with kind(emu.api_key or "sk-any", base_url=emu.base_url) as transport:
        yield AsyncThreadSession(transport, assistant=SPEC, **kwargs)


def settle(emu: Emulator) -> list[str]:
    """The runs still active once the server had a moment to finish cancelling."""
    end = time.monotonic() + 1.0
    while emu.active_runs() and time.monotonic() < end:
        time.sleep(0.02)
    return emu.active_runs()


def timed(ask: Any) -> tuple[object, float]:
    began = time.monotonic()
    try:
        result: object = ask()
    except AssistantBridgeError as exc:
        result = exc
    return result, time.monotonic() - began


POLL_ROUTE = {"assistants": "runs.retrieve", "responses": "responses.retrieve"}


class TestOneDeadline:
    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_hanging_request_does_not_outlive_the_deadline(self, emu: Emulator, api: str) -> None:
        """One poll hangs far past the deadline: the ask ends in time, the run is cancelled."""
        emu.script(StayInProgress())
        emu.inject(Fault.slow(30), POLL_ROUTE[api])
        result, took = timed(lambda: session(emu, api, wait="poll").ask("x", timeout=1.5))
        assert isinstance(result, AssistantBridgeError), result
        assert took < 1.5 + GRACE + MARGIN
        assert settle(emu) == []

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_async_hanging_request(self, emu: Emulator, api: str) -> None:
        """The same bound for the async session."""
        emu.script(StayInProgress())
        emu.inject(Fault.slow(30), POLL_ROUTE[api])

        async def main() -> float:
            began = time.monotonic()
            async with asession(emu, api, wait="poll") as ask:
                with pytest.raises(AssistantBridgeError):
                    await ask.ask("x", timeout=1.5)
            return time.monotonic() - began

        assert asyncio.run(main()) < 1.5 + GRACE + MARGIN
        assert settle(emu) == []

    def test_queued_asks_count_from_the_call(self, emu: Emulator) -> None:
        """Asks queued on one session time out from when they were made, not from when they
        got the lock: six asks with timeout=1.5 behind 1 s runs all end by the bound."""
        emu.script(SayText("done", delay=1.0))
        shared = session(emu)
        shared.ask("first")
        took: list[float] = []

        def ask() -> None:
            began = time.monotonic()
            with contextlib.suppress(AssistantBridgeError):
                shared.ask("again", timeout=1.5)
            took.append(time.monotonic() - began)

        threads = [threading.Thread(target=ask) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(took) == 6
        assert max(took) < 1.5 + GRACE + MARGIN, took
        assert settle(emu) == []

    def test_a_tool_timeout_cannot_outlive_the_ask(self, emu: Emulator) -> None:
        """The registry allows 30 s, the ask 1 s: the tool is given up at the ask's deadline."""
        tools = ToolRegistry(timeout=30)

        @tools.register
        def slow_lookup() -> str:
            """Takes its time."""
            time.sleep(5)
            return "late"

        emu.script(RequestTools([("slow_lookup", {})]))
        result, took = timed(lambda: session(emu, tool_handler=tools).ask("x", timeout=1.0))
        assert isinstance(result, AssistantBridgeError), result
        assert took < 1.0 + GRACE + MARGIN
        assert settle(emu) == []


class TestNothingLeftRunning:
    def test_a_raising_tool_cancels_the_run(self, emu: Emulator) -> None:
        """ToolRegistry(on_error='raise'): the ToolError names the run, which is cancelled."""
        tools = ToolRegistry(on_error="raise")

        @tools.register
        def broken() -> str:
            """Fails."""
            raise RuntimeError("boom")

        emu.script(RequestTools([("broken", {})]), times=1)
        emu.script(SayText("fine"))
        with pytest.raises(ToolError) as caught:
            session(emu, tool_handler=tools).ask("x")
        assert caught.value.run_id is not None  # type: ignore[attr-defined]
        assert caught.value.cancel_confirmed is True  # type: ignore[attr-defined]
        assert settle(emu) == []
        thread_id = caught.value.thread_id  # type: ignore[attr-defined]
        follow_up = session(emu, tool_handler=tools, thread_id=thread_id)
        assert follow_up.ask("next").text == "fine"

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_cancel_that_meets_a_503_is_retried(self, emu: Emulator, api: str) -> None:
        """At the deadline the cancel is refused once by a 503: it is sent again."""
        emu.script(StayInProgress())
        route = "runs.cancel" if api == "assistants" else "responses.cancel"
        emu.inject(Fault.http(503), route)
        with pytest.raises(RunTimeoutError) as caught:
            session(emu, api, wait="poll").ask("x", timeout=0.5)
        assert caught.value.cancel_confirmed is True
        assert emu.counts()[route] == 2
        assert settle(emu) == []

    @pytest.mark.parametrize("api", ["assistants", "responses"])
    def test_a_second_task_cancel_does_not_skip_the_cleanup(self, emu: Emulator, api: str) -> None:
        """Cancelling the task twice (the second during cleanup) still cancels the run."""
        emu.script(StayInProgress())
        route = "runs.cancel" if api == "assistants" else "responses.cancel"
        emu.inject(Fault.slow(0.3), route)
        poll = "runs.retrieve" if api == "assistants" else "responses.retrieve"

        async def main() -> None:
            async with asession(emu, api, wait="poll") as ask:
                task = asyncio.create_task(ask.ask("x", timeout=30))
                # Cancel once the session polls, so it knows the run; a cancel that lands
                # while the start's answer is in flight is the fault matrix's business.
                while not emu.counts().get(poll):
                    await asyncio.sleep(0.02)
                task.cancel()
                await asyncio.sleep(0.1)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(main())
        assert emu.counts()[route] >= 1
        assert settle(emu) == []

    def test_wait_for_is_bounded_by_the_grace(self, emu: Emulator) -> None:
        """asyncio.wait_for(ask, 0.3) with a hanging cancel endpoint: over within the grace."""
        emu.script(StayInProgress())
        emu.inject(Fault.slow(20), "runs.cancel")

        async def main() -> float:
            async with asession(emu, wait="poll") as ask:
                began = time.monotonic()
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ask.ask("x", timeout=30), 0.3)
                return time.monotonic() - began

        assert asyncio.run(main()) < 0.3 + GRACE + MARGIN


class TestFirstAsk:
    def test_safe_first_ask_looks_a_lost_start_up(self, emu: Emulator) -> None:
        """first_ask='safe': the thread first, so a start whose answer is lost is found by its
        mark and followed, not repeated and not failed."""
        emu.script(SayText("found"))
        emu.inject(Fault.reset_after(), "runs.create")
        reply = session(emu, first_ask="safe").ask("x")
        assert reply.text == "found"
        assert emu.counts()["threads.create"] == 1
        assert emu.counts()["runs.create"] == 1
        assert emu.counts()["runs.list"] == 1

    def test_fast_first_ask_says_there_is_no_thread_to_check(self, emu: Emulator) -> None:
        """The default one-request first ask: a lost answer is not repeated, and the error
        says there was no thread to look it up on, and names first_ask='safe'."""
        emu.inject(Fault.reset_after(), "threads.create_and_run")
        with pytest.raises(AssistantBridgeError) as caught:
            session(emu).ask("x")
        assert "first_ask='safe'" in str(caught.value)
        assert "check the thread" not in str(caught.value)
        assert emu.counts()["threads.create_and_run"] == 1


class TestToolRounds:
    def test_lost_outputs_are_not_sent_to_the_next_round(self, emu: Emulator) -> None:
        """Outputs taken, answer lost, and the run already asks for a second round: the first
        round's outputs are not sent to it (rounds are known by their call ids)."""
        second = RequestTools([("lookup", {"n": 2})], then=lambda o: f"got {o}")
        emu.script(RequestTools([("lookup", {"n": 1})], then=second, delay=0.0))
        emu.inject(Fault.reset_after(), "runs.submit_tool_outputs")
        seen: list[str] = []

        def handler(calls: Any) -> list[Any]:
            from assistant_bridge import ToolOutput

            seen.extend(c.arguments for c in calls)
            return [ToolOutput(c.id, c.arguments) for c in calls]

        reply = session(emu, tool_handler=handler, wait="poll").ask("x")
        assert "2" in reply.text
        assert emu.counts()["runs.submit_tool_outputs"] == 2
        assert len(seen) == 2


class _KeepAliveServer(http.server.BaseHTTPRequestHandler):
    """Starts a run in a stream, then sends only keep-alive comments, forever."""

    cancels: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        run = {"id": "run_1", "object": "thread.run", "thread_id": "thread_1"}
        if self.path.endswith("/cancel"):
            self.cancels.append(self.path)
            self._json({**run, "status": "cancelled"})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        created = json.dumps({**run, "status": "in_progress"})
        self.wfile.write(f"event: thread.run.created\ndata: {created}\n\n".encode())
        self.wfile.flush()
        try:
            for _ in range(300):
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            return

    def do_GET(self) -> None:
        self._json({"id": "run_1", "object": "thread.run", "thread_id": "thread_1",
                    "status": "cancelled" if self.cancels else "in_progress"})  # fmt: skip


class TestChattyStream:
    def test_keep_alive_comments_do_not_hold_the_ask(self) -> None:
        """A stream that sends only keep-alive comments: the ask still ends at its deadline,
        and the run is cancelled."""
        _KeepAliveServer.cancels = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveServer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/v1"
            transport = OpenAITransport("sk-test", base_url=url)
            chatty = ThreadSession(
                transport, "asst_1", cancel_grace=GRACE, poll_policy=FixedInterval(0.05)
            )
            result, took = timed(lambda: chatty.ask("x", timeout=1.0))
            transport.close()
        finally:
            server.shutdown()
            server.server_close()
        assert isinstance(result, RunTimeoutError), result
        assert took < 1.0 + GRACE + MARGIN
        assert _KeepAliveServer.cancels == ["/v1/threads/thread_1/runs/run_1/cancel"]
