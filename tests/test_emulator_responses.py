"""The emulated Responses and Conversations APIs, through the openai client's plain requests."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistant_bridge import (
    AssistantSpec,
    FixedInterval,
    ResponsesTransport,
    RetryPolicy,
    ThreadSession,
)
from assistant_bridge.exceptions import RateLimitError
from assistant_bridge.testing import Emulator, Fault, RequestTools, SayText, StayInProgress

NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with emu.client(max_retries=0) as c:
        yield c


def post(client: openai.OpenAI, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, body=body or {}, cast_to=object)


def get(client: openai.OpenAI, path: str) -> Any:
    return client.get(path, cast_to=object)


def wait(client: openai.OpenAI, response_id: str, *done: str) -> Any:
    deadline = time.monotonic() + 5
    while True:
        data = get(client, f"/responses/{response_id}")
        if data["status"] in done or time.monotonic() > deadline:
            return data
        time.sleep(0.01)


def sse(emu: Emulator, path: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        emu.base_url + path,
        None if body is None else json.dumps(body).encode(),
        {
            "authorization": "Bearer sk-emulator",
            "content-type": "application/json",
            "openai-beta": "assistants=v2",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
    return [json.loads(b.split("data: ", 1)[1]) for b in text.split("\n\n") if "data: " in b]


class TestConversations:
    def test_crud_and_items(self, client: openai.OpenAI) -> None:
        """create with items, retrieve, update metadata, add and list items, delete."""
        conv = post(client, "/conversations", {"metadata": {"topic": "t"}, "items": [
            {"type": "message", "role": "user", "content": "hello"}]})  # fmt: skip
        assert conv["id"].startswith("conv_")
        assert get(client, f"/conversations/{conv['id']}")["metadata"] == {"topic": "t"}
        post(client, f"/conversations/{conv['id']}", {"metadata": {"topic": "u"}})
        assert get(client, f"/conversations/{conv['id']}")["metadata"] == {"topic": "u"}
        added = post(
            client,
            f"/conversations/{conv['id']}/items",
            {"items": [{"type": "message", "role": "user", "content": "more"}]},
        )
        assert added["data"][0]["content"] == [{"type": "input_text", "text": "more"}]
        items = get(client, f"/conversations/{conv['id']}/items?order=asc")
        assert [i["content"][0]["text"] for i in items["data"]] == ["hello", "more"]
        assert client.delete(f"/conversations/{conv['id']}", cast_to=object)["deleted"]
        with pytest.raises(openai.NotFoundError):
            get(client, f"/conversations/{conv['id']}")


class TestResponses:
    def test_background_response_is_polled_to_completion(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        """background=true answers queued, then the response completes with usage."""
        emu.script(SayText("Why did the scarecrow win?"))
        conv = post(client, "/conversations")
        created = post(
            client,
            "/responses",
            {
                "model": "gpt-4o-mini",
                "background": True,
                "conversation": conv["id"],
                "input": "joke",
            },
        )
        assert created["status"] == "queued"
        assert created["conversation"] == {"id": conv["id"]}
        done = wait(client, created["id"], "completed")
        assert done["output"][0]["content"][0]["text"] == "Why did the scarecrow win?"
        assert done["usage"]["total_tokens"] > 0
        items = get(client, f"/conversations/{conv['id']}/items?order=asc")["data"]
        assert [i["role"] for i in items] == ["user", "assistant"]
        inputs = get(client, f"/responses/{created['id']}/input_items")["data"]
        assert inputs[0]["content"][0]["text"] == "joke"

    def test_foreground_response_answers_at_once(self, client: openai.OpenAI) -> None:
        """Without background, the create call returns the finished response."""
        done = post(client, "/responses", {"model": "gpt-4o-mini", "input": "hi"})
        assert done["status"] == "completed"
        assert done["background"] is False

    def test_stream_numbers_events_and_resumes(self, emu: Emulator) -> None:
        """A background stream numbers its events; starting_after resumes after one."""
        emu.script(SayText("one two three"))
        events = sse(emu, "/responses", {"model": "m", "background": True, "stream": True,
                                          "input": "story"})  # fmt: skip
        assert [e["sequence_number"] for e in events] == list(range(len(events)))
        assert events[0]["type"] == "response.created"
        assert events[-1]["type"] == "response.completed"
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert text == "one two three"
        rid = events[0]["response"]["id"]
        resumed = sse(emu, f"/responses/{rid}?stream=true&starting_after=4")
        assert [e["sequence_number"] for e in resumed] == list(range(5, len(events)))
        assert resumed == events[5:]

    def test_cancel(self, emu: Emulator, client: openai.OpenAI) -> None:
        """A background response can be cancelled; a foreground one cannot."""
        emu.script(StayInProgress(), times=1)
        created = post(client, "/responses", {"model": "m", "background": True, "input": "x"})
        assert post(client, f"/responses/{created['id']}/cancel")["status"] == "cancelled"
        done = post(client, "/responses", {"model": "m", "input": "x"})
        with pytest.raises(openai.BadRequestError, match="background"):
            post(client, f"/responses/{done['id']}/cancel")

    def test_function_calls_and_outputs(self, emu: Emulator, client: openai.OpenAI) -> None:
        """Calls end the response; their outputs on the conversation continue the behaviour;
        a new response before the outputs is refused as the service does."""
        emu.script(RequestTools([("lookup", {"host": "web-1"})], then=lambda o: f"got {o[0]}"))
        conv = post(client, "/conversations")
        first = post(client, "/responses", {"model": "m", "conversation": conv["id"],
                                            "input": "check"})  # fmt: skip
        call = first["output"][0]
        assert (call["type"], call["name"]) == ("function_call", "lookup")
        assert json.loads(call["arguments"]) == {"host": "web-1"}
        with pytest.raises(openai.BadRequestError, match="No tool output found"):
            post(client, "/responses", {"model": "m", "conversation": conv["id"], "input": "x"})
        second = post(
            client,
            "/responses",
            {
                "model": "m",
                "conversation": conv["id"],
                "input": [
                    {"type": "function_call_output", "call_id": call["call_id"], "output": "42"}
                ],
            },
        )
        assert second["output"][0]["content"][0]["text"] == "got 42"

    def test_unknown_response_is_404(self, client: openai.OpenAI) -> None:
        """Unknown ids answer 404 in OpenAI's error shape."""
        with pytest.raises(openai.NotFoundError, match="resp_nope"):
            get(client, "/responses/resp_nope")


class TestFaultsOnResponses:
    def test_429_on_response_create(self, emu: Emulator) -> None:
        """Fault injection works on the Responses routes too."""
        emu.inject(Fault.http(429, retry_after=3), "responses.create")
        spec = AssistantSpec(name="t", model="gpt-4o-mini")
        with emu.transport("responses", max_retries=0) as transport:
            assert isinstance(transport, ResponsesTransport)
            session = ThreadSession(
                transport, assistant=spec, poll_policy=FixedInterval(0.01), retry=NO_RETRY
            )
            with pytest.raises(RateLimitError) as info:
                session.ask("x")
        assert info.value.retry_after == 3.0
        assert emu.fired_faults[0].route == "responses.create"


class TestNoOrphanConversation:
    def test_a_failed_first_response_keeps_its_conversation(self, emu: Emulator) -> None:
        """A 429 on the first response: the conversation made for it is kept by the session
        (and named in the error), and the next ask goes on it: no empty conversation left."""
        emu.inject(Fault.http(429), "responses.create")
        spec = AssistantSpec(name="t", model="gpt-4o-mini")
        with emu.transport("responses") as transport:
            session = ThreadSession(
                transport, assistant=spec, poll_policy=FixedInterval(0.01), retry=NO_RETRY
            )
            with pytest.raises(RateLimitError) as info:
                session.ask("x")
            assert session.thread_id is not None
            assert session.thread_id in str(info.value)
            assert session.ask("again").thread_id == session.thread_id
        assert len(emu.app.conversations) == 1

    def test_a_retried_first_response_makes_one_conversation(self, emu: Emulator) -> None:
        """With retries, a 429 on the first response is retried on the same conversation."""
        emu.inject(Fault.http(429, retry_after=0.01), "responses.create")
        spec = AssistantSpec(name="t", model="gpt-4o-mini")
        with emu.transport("responses") as transport:
            session = ThreadSession(transport, assistant=spec, poll_policy=FixedInterval(0.01))
            assert session.ask("x").text
        assert len(emu.app.conversations) == 1


class TestConversationLocked:
    """A second response on a conversation with one in progress is the service's 400
    ``conversation_locked`` (issue 20); ``conversation_locks=False`` keeps the old leniency."""

    def test_a_second_response_is_refused_until_the_first_ends(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        emu.script(StayInProgress(), times=1)
        conv = post(client, "/conversations")["id"]
        first = post(
            client,
            "/responses",
            {"model": "m", "conversation": conv, "input": "slow", "background": True},
        )
        with pytest.raises(openai.BadRequestError) as caught:
            post(client, "/responses", {"model": "m", "conversation": conv, "input": "again"})
        assert caught.value.body == {
            "message": "Another process is currently operating on this conversation.",
            "type": "invalid_request_error",
            "param": None,
            "code": "conversation_locked",
        }
        other = post(client, "/conversations")["id"]  # another conversation is not locked
        done = post(client, "/responses", {"model": "m", "conversation": other, "input": "x"})
        assert done["status"] == "completed"
        post(client, f"/responses/{first['id']}/cancel")
        done = post(client, "/responses", {"model": "m", "conversation": conv, "input": "x"})
        assert done["status"] == "completed"

    def test_the_switch_lets_a_second_response_start(self) -> None:
        with Emulator(conversation_locks=False) as emu, emu.client(max_retries=0) as client:
            emu.script(StayInProgress(), times=1)
            conv = post(client, "/conversations")["id"]
            slow = {"model": "m", "conversation": conv, "input": "slow", "background": True}
            post(client, "/responses", slow)
            again = post(client, "/responses", {"model": "m", "conversation": conv, "input": "a"})
            assert again["status"] == "completed"
