"""The emulator, driven by the real openai client over loopback: shapes, rules and streams."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistant_bridge.testing import (
    Emulator,
    RequestTools,
    SayJson,
    SayText,
    StayInProgress,
)

# These tests call the (deprecated upstream) Assistants API through openai on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(poll_after_ms=25) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with emu.client(max_retries=0) as c:
        yield c


def wait_status(client: openai.OpenAI, thread_id: str, run_id: str, *done: str) -> Any:
    deadline = time.monotonic() + 5
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in done or time.monotonic() > deadline:
            return run
        time.sleep(0.01)


def post(
    emu: Emulator,
    path: str,
    body: Any = None,
    key: str | None = "sk-emulator",
    method: str = "POST",
) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json", "openai-beta": "assistants=v2"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    request = urllib.request.Request(emu.base_url + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


class TestAssistants:
    def test_crud_and_list(self, client: openai.OpenAI) -> None:
        """create, retrieve, update, list (paginated), delete."""
        made = [client.beta.assistants.create(model="gpt-4o-mini", name=f"a{i}") for i in range(3)]
        assert made[0].id.startswith("asst_")
        assert client.beta.assistants.retrieve(made[0].id).name == "a0"
        updated = client.beta.assistants.update(made[0].id, instructions="Be brief.")
        assert updated.instructions == "Be brief."
        page = client.beta.assistants.list(limit=2, order="asc")
        assert [a.id for a in page.data] == [made[0].id, made[1].id]
        assert page.has_more
        rest = client.beta.assistants.list(limit=2, order="asc", after=made[1].id)
        assert [a.id for a in rest.data] == [made[2].id]
        deleted = client.beta.assistants.delete(made[1].id)
        assert deleted.deleted
        with pytest.raises(openai.NotFoundError, match="No assistant found"):
            client.beta.assistants.retrieve(made[1].id)


class TestThreadsAndMessages:
    def test_messages_list_order_limit_cursor_and_run_filter(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        """order, limit, after, before and run_id all filter like the service."""
        emu.script(SayText("answer"))
        assistant = emu.create_assistant()
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "m0"}])
        for i in (1, 2):
            client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}")
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant)
        wait_status(client, thread.id, run.id, "completed")
        listing = client.beta.threads.messages.list(thread.id)
        texts = [m.content[0].text.value for m in listing.data]  # type: ignore[union-attr]
        assert texts == ["answer", "m2", "m1", "m0"]
        asc = client.beta.threads.messages.list(thread.id, order="asc", limit=2)
        assert [m.content[0].text.value for m in asc.data] == ["m0", "m1"]  # type: ignore[union-attr]
        assert asc.has_more
        after = client.beta.threads.messages.list(thread.id, order="asc", after=asc.data[1].id)
        assert len(after.data) == 2
        before = client.beta.threads.messages.list(thread.id, order="asc", before=asc.data[1].id)
        assert [m.id for m in before.data] == [asc.data[0].id]
        mine = client.beta.threads.messages.list(thread.id, run_id=run.id)
        assert [m.run_id for m in mine.data] == [run.id]
        one = client.beta.threads.messages.retrieve(mine.data[0].id, thread_id=thread.id)
        assert one.role == "assistant"
        assert one.assistant_id == assistant

    def test_thread_retrieve_update_delete(self, client: openai.OpenAI) -> None:
        """Threads keep metadata and can be deleted."""
        thread = client.beta.threads.create(metadata={"alert": "1"})
        assert client.beta.threads.retrieve(thread.id).metadata == {"alert": "1"}
        client.beta.threads.update(thread.id, metadata={"alert": "2"})
        assert client.beta.threads.retrieve(thread.id).metadata == {"alert": "2"}
        assert client.beta.threads.delete(thread.id).deleted
        with pytest.raises(openai.NotFoundError, match="No thread found"):
            client.beta.threads.retrieve(thread.id)


class TestRunRules:
    def test_lifecycle_with_timestamps_and_usage(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        """queued, then in_progress with started_at, then completed with usage."""
        emu.script(SayText("done", delay=0.2))
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        assert run.status == "queued"
        assert run.expires_at is not None
        assert run.expires_at > run.created_at
        mid = wait_status(client, run.thread_id, run.id, "in_progress")
        assert mid.status == "in_progress"
        assert mid.started_at is not None
        done = wait_status(client, run.thread_id, run.id, "completed")
        assert done.completed_at is not None
        assert done.expires_at is None
        assert done.usage is not None
        assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
        runs = client.beta.threads.runs.list(run.thread_id)
        assert [r.id for r in runs.data] == [run.id]

    def test_poll_after_header(self, emu: Emulator, client: openai.OpenAI) -> None:
        """Run retrieval carries openai-poll-after-ms as configured."""
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        raw = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=run.thread_id)
        assert raw.headers["openai-poll-after-ms"] == "25"

    def test_one_active_run_per_thread(self, emu: Emulator, client: openai.OpenAI) -> None:
        """Adding a message or a run while one is active answers the real 400s."""
        emu.script(StayInProgress())
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        with pytest.raises(openai.BadRequestError) as info:
            client.beta.threads.messages.create(run.thread_id, role="user", content="more")
        assert info.value.body["message"] == (  # type: ignore[index]
            f"Can't add messages to {run.thread_id} while a run {run.id} is active."
        )
        with pytest.raises(openai.BadRequestError) as again:
            client.beta.threads.runs.create(thread_id=run.thread_id, assistant_id=assistant)
        assert again.value.body["message"] == (  # type: ignore[index]
            f"Thread {run.thread_id} already has an active run {run.id}."
        )

    def test_cancel_goes_through_cancelling(self, emu: Emulator, client: openai.OpenAI) -> None:
        """cancel answers cancelling, then the run is cancelled; a second cancel is refused."""
        emu.script(StayInProgress())
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        cancelling = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
        assert cancelling.status == "cancelling"
        done = wait_status(client, run.thread_id, run.id, "cancelled")
        assert done.status == "cancelled"
        assert done.cancelled_at is not None
        with pytest.raises(openai.BadRequestError, match="Cannot cancel run with status"):
            client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)

    def test_expiry_and_late_tool_outputs(self, client: openai.OpenAI) -> None:
        """A run left in requires_action expires; outputs sent after that get a 400."""
        with Emulator(run_ttl=0.3) as emu, emu.client(max_retries=0) as c:
            emu.script(RequestTools([("lookup", {"host": "web-1"})]))
            assistant = emu.create_assistant()
            run = c.beta.threads.create_and_run(
                assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
            )
            waiting = wait_status(c, run.thread_id, run.id, "requires_action")
            assert waiting.required_action is not None
            call = waiting.required_action.submit_tool_outputs.tool_calls[0]
            assert call.function.name == "lookup"
            assert json.loads(call.function.arguments) == {"host": "web-1"}
            time.sleep(0.35)
            assert c.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status == "expired"
            with pytest.raises(openai.BadRequestError, match='status "expired" do not accept'):
                c.beta.threads.runs.submit_tool_outputs(
                    run.id,
                    thread_id=run.thread_id,
                    tool_outputs=[{"tool_call_id": call.id, "output": "x"}],
                )

    def test_tool_outputs_then_answer_and_steps(self, emu: Emulator, client: openai.OpenAI) -> None:
        """Outputs resume the run; steps list the tool call (with output) and the message."""
        emu.script(RequestTools([("lookup", {})], then=lambda outs: f"got {outs[0]}"))
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "hi"}]}
        )
        waiting = wait_status(client, run.thread_id, run.id, "requires_action")
        call = waiting.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        with pytest.raises(openai.BadRequestError, match="Expected tool outputs"):
            client.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=run.thread_id, tool_outputs=[{"tool_call_id": "x", "output": ""}]
            )
        client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": call.id, "output": "42"}],
        )
        wait_status(client, run.thread_id, run.id, "completed")
        texts = emu.thread_messages(run.thread_id)
        assert texts[-1][:2] == ("assistant", "got 42")
        steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
        assert [s.type for s in steps.data] == ["tool_calls", "message_creation"]
        detail = client.beta.threads.runs.steps.retrieve(
            steps.data[0].id, thread_id=run.thread_id, run_id=run.id
        )
        assert detail.step_details.tool_calls[0].function.output == "42"  # type: ignore[union-attr]


class TestStreaming:
    def test_create_and_run_stream_event_names(self, emu: Emulator, client: openai.OpenAI) -> None:
        """The real event sequence, deltas that add up to the message, and [DONE]."""
        emu.script(SayText("Hello there, operator."))
        assistant = emu.create_assistant()
        names, deltas = [], []
        stream = client.beta.threads.create_and_run(
            assistant_id=assistant,
            stream=True,
            thread={"messages": [{"role": "user", "content": "hi"}]},
        )
        for event in stream:
            names.append(event.event)
            if event.event == "thread.message.delta":
                deltas.append(event.data.delta.content[0].text.value)  # type: ignore[union-attr]
        assert names[:4] == [
            "thread.created",
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
        ]
        assert names[-3:] == [
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
        ]
        assert "".join(deltas) == "Hello there, operator."
        raw = [r for r in emu.requests if r.route == "threads.create_and_run"]
        assert raw[0].status == 200

    def test_slow_stream(self, emu: Emulator, client: openai.OpenAI) -> None:
        """chunk_delay spaces the deltas out: a slow stream, for stall handling."""
        emu.script(SayText("one two three four five", chunk_delay=0.06))
        assistant = emu.create_assistant()
        stamps = []
        stream = client.beta.threads.create_and_run(
            assistant_id=assistant,
            stream=True,
            thread={"messages": [{"role": "user", "content": "hi"}]},
        )
        for event in stream:
            if event.event == "thread.message.delta":
                stamps.append(time.monotonic())
        assert len(stamps) == 5
        assert stamps[-1] - stamps[0] >= 4 * 0.06 * 0.9

    def test_stream_ends_with_done(self, emu: Emulator) -> None:
        """The raw stream ends with `event: done` and `data: [DONE]`."""
        import urllib.request

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
            text = answer.read().decode()
            assert answer.headers["content-type"].startswith("text/event-stream")
        assert text.rstrip().endswith("event: done\ndata: [DONE]")

    def test_requires_action_then_submit_stream(self, emu: Emulator, client: openai.OpenAI) -> None:
        """A stream stops at requires_action; submitting outputs streams the rest."""
        emu.script(RequestTools([("lookup", {})], then="all good"))
        assistant = emu.create_assistant()
        first = list(
            client.beta.threads.create_and_run(
                assistant_id=assistant,
                stream=True,
                thread={"messages": [{"role": "user", "content": "hi"}]},
            )
        )
        assert first[-1].event == "thread.run.requires_action"
        run = first[-1].data
        call = run.required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        second = list(
            client.beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=run.thread_id,
                stream=True,  # type: ignore[union-attr]
                tool_outputs=[{"tool_call_id": call.id, "output": "ok"}],
            )
        )
        names = [e.event for e in second]
        assert names[0] == "thread.run.step.completed"
        assert "thread.run.queued" in names
        assert names[-1] == "thread.run.completed"


class TestKnowledgeBase:
    def test_file_search_triage_cites_the_runbook(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        """Upload, vector store, batch; the triage verdict cites the runbook it used."""
        cpu = client.files.create(
            file=(
                "cpu.md",
                b"# CPU runbook\nAction: escalate\nSeverity: critical\ncpu saturation 100%",
            ),
            purpose="assistants",
        )
        disk = client.files.create(
            file=("disk.md", b"# Disk runbook\nAction: investigate\nSeverity: warning\ndisk full"),
            purpose="assistants",
        )
        stores = getattr(client, "vector_stores", None) or client.beta.vector_stores  # type: ignore[attr-defined]
        store = stores.create(name="kb")
        batch = stores.file_batches.create(store.id, file_ids=[cpu.id, disk.id])
        assert batch.status == "in_progress"  # the service indexes the files first
        batch = stores.file_batches.poll(batch.id, vector_store_id=store.id, poll_interval_ms=10)
        assert batch.status == "completed"
        assert stores.retrieve(store.id).file_counts.total == 2
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        run = client.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "Alert: CPU at 100%"}]},
        )
        wait_status(client, run.thread_id, run.id, "completed")
        message = client.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
        text = message.content[0].text  # type: ignore[union-attr]
        verdict = json.loads(text.value)
        assert verdict["action"] == "escalate"
        assert verdict["severity"] == "critical"
        note = text.annotations[0]
        assert note.type == "file_citation"
        assert note.file_citation.file_id == cpu.id  # type: ignore[union-attr]
        assert text.value[note.start_index : note.end_index] == note.text
        assert note.text.startswith("【")
        assert "†cpu.md】" in note.text
        steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id, order="asc")
        assert steps.data[0].step_details.tool_calls[0].type == "file_search"  # type: ignore[union-attr]


class TestErrors:
    def test_unknown_path_and_ids_are_404(self, emu: Emulator) -> None:
        """OpenAI's error JSON for an unknown path and unknown ids."""
        status, body = post(emu, "/nope", method="GET")
        assert status == 404
        assert body["error"]["message"] == "Invalid URL (GET /v1/nope)"
        assert body["error"]["type"] == "invalid_request_error"
        status, body = post(emu, "/threads/thread_nope", method="GET")
        assert (status, body["error"]["message"]) == (404, "No thread found with id 'thread_nope'.")

    def test_missing_or_wrong_key_is_401(self, emu: Emulator) -> None:
        """No bearer key, or a wrong one, answers 401 without echoing the key."""
        status, body = post(emu, "/assistants", method="GET", key=None)
        assert status == 401
        assert "You didn't provide an API key" in body["error"]["message"]
        status, body = post(emu, "/assistants", method="GET", key="sk-wrong-key-1234567890")
        assert status == 401
        assert body["error"]["code"] == "invalid_api_key"
        assert "sk-wrong-key-1234567890" not in body["error"]["message"]

    def test_bad_json_body(self, emu: Emulator) -> None:
        """A body that is not JSON is a 400, not a crash."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            emu.base_url + "/threads",
            b"{not json",
            {
                "authorization": "Bearer sk-emulator",
                "content-type": "application/json",
                "openai-beta": "assistants=v2",
            },
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        with info.value:
            assert info.value.code == 400

    def test_json_reply_behaviours(self, emu: Emulator, client: openai.OpenAI) -> None:
        """SayJson answers plain or fenced JSON."""
        emu.script(SayJson({"a": 1}, fenced=True), times=1)
        assistant = emu.create_assistant()
        run = client.beta.threads.create_and_run(
            assistant_id=assistant, thread={"messages": [{"role": "user", "content": "x"}]}
        )
        wait_status(client, run.thread_id, run.id, "completed")
        text = emu.thread_messages(run.thread_id)[-1][1]
        assert '```json\n{"a": 1}\n```' in text
