"""Fault injection in the emulator, seen through OpenAITransport and the raw openai client."""

from __future__ import annotations

import http.client
import time
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from assistant_bridge import OpenAITransport, RunRequest
from assistant_bridge.exceptions import APIConnectionError, RateLimitError, ServerError
from assistant_bridge.testing import Emulator, Fault, SayText

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def transport(emu: Emulator) -> Iterator[OpenAITransport]:
    with emu.transport(max_retries=0) as t:
        yield t


def start(transport: OpenAITransport, emu: Emulator) -> str:
    assistant = emu.create_assistant()
    return transport.create_thread_and_run("hi", RunRequest(assistant)).thread_id


class TestHttpFaults:
    def test_429_with_retry_after(self, emu: Emulator, transport: OpenAITransport) -> None:
        """A 429 carries Retry-After to RateLimitError, and the fault is recorded."""
        emu.inject(Fault.http(429, retry_after=2), "threads.create_and_run")
        with pytest.raises(RateLimitError) as info:
            start(transport, emu)
        assert info.value.retry_after == 2.0
        assert info.value.code == "rate_limit_exceeded"
        [event] = emu.fired_faults
        assert (event.route, event.request_number, event.fault.status) == (
            "threads.create_and_run",
            1,
            429,
        )
        assert emu.store.threads == {}

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_5xx(self, emu: Emulator, transport: OpenAITransport, status: int) -> None:
        """Server errors become ServerError with the status."""
        emu.inject(Fault.http(status), "threads.create_and_run")
        with pytest.raises(ServerError) as info:
            start(transport, emu)
        assert info.value.status_code == status

    def test_nth_request_only(self, emu: Emulator, transport: OpenAITransport) -> None:
        """nth=2 fails only the second request of that route."""
        emu.script(SayText("x", delay=5))
        thread_id = start(transport, emu)
        run_id = emu.runs_of(thread_id)[0]
        emu.inject(Fault.http(500), "runs.retrieve", nth=2)
        transport.get_run(thread_id, run_id)
        with pytest.raises(ServerError):
            transport.get_run(thread_id, run_id)
        transport.get_run(thread_id, run_id)
        assert [e.request_number for e in emu.fired_faults] == [2]

    def test_openai_client_retry_is_seen(self, emu: Emulator) -> None:
        """With the client's own retries on, a single 503 is retried and recorded once."""
        emu.inject(Fault.http(503), "assistants.list")
        with emu.client(max_retries=1) as client:
            assert client.beta.assistants.list().data == []
        assert emu.counts()["assistants.list"] == 2
        assert len(emu.fired_faults) == 1


class TestConnectionFaults:
    def test_reset_before_commit_changes_nothing(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """A reset before handling: the client sees a connection error; no thread exists."""
        emu.inject(Fault.reset_before(), "threads.create_and_run")
        with pytest.raises(APIConnectionError):
            start(transport, emu)
        assert emu.store.threads == {}

    def test_reset_after_commit_keeps_the_write(
        self, emu: Emulator, transport: OpenAITransport
    ) -> None:
        """A reset after handling: the client sees an error, yet the thread and run exist."""
        emu.inject(Fault.reset_after(), "threads.create_and_run")
        with pytest.raises(APIConnectionError):
            start(transport, emu)
        assert len(emu.store.threads) == 1
        assert len(emu.store.runs) == 1

    def test_slow_answer(self, emu: Emulator, transport: OpenAITransport) -> None:
        """A slow fault delays the answer, which is otherwise normal."""
        emu.inject(Fault.slow(0.3), "assistants.retrieve")
        assistant = emu.create_assistant()
        began = time.monotonic()
        assert transport.get_assistant(assistant).id == assistant
        assert time.monotonic() - began >= 0.3


class TestStreamFaults:
    def _stream(self, emu: Emulator) -> bytes:
        import json

        assistant = emu.create_assistant()
        body = json.dumps(
            {
                "assistant_id": assistant,
                "stream": True,
                "thread": {"messages": [{"role": "user", "content": "x"}]},
            }
        ).encode()
        request = urllib.request.Request(
            emu.base_url + "/threads/runs",
            body,
            {
                "authorization": "Bearer sk-emulator",
                "content-type": "application/json",
                "openai-beta": "assistants=v2",
            },
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return bytes(answer.read())

    def test_stream_cut_mid_way(self, emu: Emulator) -> None:
        """The connection drops after the given number of events."""
        emu.script(SayText("one two three four five six"))
        emu.inject(Fault.stream_cut(after_events=4), "threads.create_and_run")
        with pytest.raises((http.client.HTTPException, OSError)):
            self._stream(emu)

    def test_stream_error_event(self, emu: Emulator) -> None:
        """An error event ends the stream early, as the service does on a failure."""
        emu.inject(Fault.stream_error(after_events=3), "threads.create_and_run")
        text = self._stream(emu).decode()
        assert text.count("event: ") == 4
        assert "event: error" in text
        assert "[DONE]" not in text

    def test_openai_client_sees_the_cut(self, emu: Emulator) -> None:
        """The real client raises while iterating a cut stream, after the first events."""
        emu.inject(Fault.stream_cut(after_events=2), "threads.create_and_run")
        assistant = emu.create_assistant()
        seen: list[str] = []

        def consume(client: openai.OpenAI) -> None:
            stream = client.beta.threads.create_and_run(
                assistant_id=assistant,
                stream=True,
                thread={"messages": [{"role": "user", "content": "x"}]},
            )
            seen.extend(event.event for event in stream)

        # openai 3.x wraps the read error; openai 1.x lets httpx's own error through.
        errors = tuple(
            cls
            for cls in (openai.APIConnectionError, _httpx_error("httpx"), _httpx_error("httpx2"))
            if cls is not None
        )
        with emu.client(max_retries=0) as client, pytest.raises(errors):
            consume(client)
        assert seen == ["thread.created", "thread.run.created"]


def _httpx_error(module: str) -> type[Exception] | None:
    try:
        error: type[Exception] = __import__(module).HTTPError
    except ImportError:
        return None
    return error


class TestInjectionApi:
    def test_unknown_route_refused(self, emu: Emulator) -> None:
        """A typo in a route name is an error, not a fault that never fires."""
        with pytest.raises(ValueError, match="unknown route"):
            emu.inject(Fault.http(500), "runs.retreive")

    def test_openai_error_types(self, emu: Emulator) -> None:
        """Raw client: the injected 429 is a RateLimitError with the header."""
        emu.inject(Fault.http(429, retry_after=1), "assistants.list")
        with emu.client(max_retries=0) as client, pytest.raises(openai.RateLimitError) as info:
            client.beta.assistants.list()
        assert info.value.response.headers["retry-after"] == "1"
