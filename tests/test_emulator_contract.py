"""Contract: the emulator serves clients nobody here wrote, as the service serves them.

openai-python's own helpers drive it (``create_and_poll``, ``create_and_run_poll``,
``runs.stream`` with an ``AssistantEventHandler``, ``submit_tool_outputs_stream``,
``upload_and_poll``, ``responses.parse``, ``responses.stream``), under the newest openai and
under Keep's pinned openai 1.37.1. That version has no ``responses``/``conversations`` resources
and keeps ``vector_stores`` under ``beta``: the gates below are explicit branches on what the
installed client has, and :class:`TestGates` checks that they follow the version.

Every body the emulator answered in this module is kept (``record_bodies=True``) and, last,
compared field by field, with JSON types, against the real recordings in ``cassettes/real/``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from openai import AssistantEventHandler

from assistant_bridge.testing import Emulator, RequestTools, SayText, StayInProgress
from assistant_bridge.testing._emulator.exchanges import sse_events
from tests.test_emulator_fidelity import REFERENCE_TYPES, compare

OPENAI_VERSION = tuple(int(p) for p in openai.__version__.split(".")[:2])
HAS_RESPONSES = hasattr(openai.OpenAI, "responses")
HAS_CONVERSATIONS = hasattr(openai.OpenAI, "conversations")
VECTOR_STORES_AT_TOP = hasattr(openai.OpenAI, "vector_stores")

RUNBOOK = b"# CPU saturation runbook\nAction: escalate\nSeverity: critical\nCPU at 100% on a host"
REAL = Path(__file__).resolve().parent.parent / "cassettes" / "real"
# The Assistants API is deprecated upstream; calling it is the point here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(poll_after_ms=10, record_bodies=True) as server:
        yield server


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    made: openai.OpenAI = emu.client(max_retries=0)
    yield made
    made.close()


def stores(client: openai.OpenAI) -> Any:
    """The vector stores resource: top level since openai 1.66, under ``beta`` before."""
    if VECTOR_STORES_AT_TOP:
        return client.vector_stores
    return client.beta.vector_stores  # type: ignore[attr-defined]


def knowledge_base(client: openai.OpenAI) -> str:
    """A vector store holding the CPU runbook, indexed (polled until completed)."""
    store = stores(client).create(name="runbooks")
    done = stores(client).files.upload_and_poll(
        vector_store_id=store.id, file=("cpu.md", RUNBOOK), poll_interval_ms=10
    )
    assert done.status == "completed"
    return str(store.id)


def triage_assistant(client: openai.OpenAI, **extra: Any) -> str:
    store_id = knowledge_base(client)
    assistant = client.beta.assistants.create(
        model="gpt-4o-mini",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [store_id]}},
        **extra,
    )
    return str(assistant.id)


CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def accepts(method: Any, name: str) -> bool:
    return name in inspect.signature(method).parameters


def include_content(method: Any) -> dict[str, Any]:
    """``include[]`` for file_search content: a keyword where the client has it (openai 1.40+),
    else the same query parameter by hand (1.37.1)."""
    if accepts(method, "include"):
        return {"include": [CONTENT]}
    return {"extra_query": {"include[]": [CONTENT]}}


def parallel_off(method: Any) -> dict[str, Any]:
    """``parallel_tool_calls=False`` as a keyword, or in the body where a helper lacks it."""
    if accepts(method, "parallel_tool_calls"):
        return {"parallel_tool_calls": False}
    return {"extra_body": {"parallel_tool_calls": False}}


def first_result_text(step: Any) -> str | None:
    """The text of a file_search step's first result (None without ``include[]``); openai
    1.37.1 types ``file_search`` as a plain dict, newer ones as a model."""
    search = step.step_details.tool_calls[0].file_search
    result = search["results"][0] if isinstance(search, dict) else search.results[0]
    content = result.get("content") if isinstance(result, dict) else result.content
    if content is None:
        return None
    first = content[0]
    return str(first["text"] if isinstance(first, dict) else first.text)


def raw(
    emu: Emulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    beta: bool = True,
    data: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request with no client at all: status, headers, body."""
    headers = {"authorization": f"Bearer {emu.api_key}", "content-type": "application/json"}
    if beta:
        headers["openai-beta"] = "assistants=v2"
    payload = data if data is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emu.base_url + path, payload, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def error_of(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


class TestGates:
    def test_the_gates_follow_the_version(self) -> None:
        """Responses and Conversations arrived in openai 1.66 / 1.101, vector stores moved out
        of ``beta`` in 1.66: the gates are those facts, not a probe that may hide a failure."""
        assert (OPENAI_VERSION >= (1, 66)) == HAS_RESPONSES
        assert (OPENAI_VERSION >= (1, 66)) == VECTOR_STORES_AT_TOP
        assert (OPENAI_VERSION >= (1, 101)) == HAS_CONVERSATIONS


class TestServerOnly:
    def test_the_emulator_imports_neither_openai_nor_the_transports(self) -> None:
        """The server is its own: no import of openai, the transports, or anything above it."""
        import ast
        import subprocess
        import sys

        package = Path(__file__).resolve().parent.parent / "src/assistant_bridge/testing/_emulator"
        for path in package.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    assert node.level <= 1, f"{path.name} reaches outside the emulator"
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    assert not name.startswith(("openai", "assistant_bridge")), (path.name, name)
        # Run it with empty parent packages, so that only the emulator's own imports load.
        probe = f"""
import sys, types
for name, folder in [("assistant_bridge", {str(package.parent.parent)!r}),
                     ("assistant_bridge.testing", {str(package.parent)!r})]:
    stub = types.ModuleType(name)
    stub.__path__ = [folder]
    sys.modules[name] = stub
import assistant_bridge.testing._emulator as emulator
with emulator.EmulatorServer():
    pass
print(sorted(m for m in sys.modules
             if m.split(".")[0] in ("openai", "httpx", "httpx2")
             or (m.startswith("assistant_bridge.") and "._emulator" not in m
                 and m != "assistant_bridge.testing")))
"""
        loaded = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert loaded == "[]"


class TestAssistantsHelpers:
    def test_create_and_poll_triages_from_the_knowledge_base(self, client: openai.OpenAI) -> None:
        assistant_id = triage_assistant(client)
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "Alert: CPU at 100% on web-1"}]
        )
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id
        )
        assert run.status == "completed"
        assert run.usage is not None
        assert run.usage.total_tokens > 0
        message = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
        verdict = json.loads(message.content[0].text.value)  # type: ignore[union-attr]
        assert verdict["action"] == "escalate"
        citation = message.content[0].text.annotations[0]  # type: ignore[union-attr]
        assert citation.type == "file_citation"

    def test_create_and_run_poll_then_submit_tool_outputs_and_poll(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini",
            tools=[{"type": "function", "function": {"name": "host_load"}}],
        )
        emu.script(
            RequestTools([("host_load", {"host": "web-1"})], then=lambda out: f"load {out[0]}"),
            assistant_id=assistant.id,
            times=1,
        )
        run = client.beta.threads.create_and_run_poll(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "How loaded is web-1?"}]},
        )
        assert run.status == "requires_action"
        assert run.required_action is not None
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        assert (call.function.name, json.loads(call.function.arguments)) == (
            "host_load",
            {"host": "web-1"},
        )
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": call.id, "output": "97%"}],
        )
        assert run.status == "completed"
        reply = client.beta.threads.messages.list(run.thread_id).data[0]
        assert reply.content[0].text.value == "load 97%"  # type: ignore[union-attr]

    def test_stream_fires_the_handlers_file_search_callbacks(self, client: openai.OpenAI) -> None:
        assistant_id = triage_assistant(client)
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": "Alert: CPU at 100% on db-2"}]
        )

        class Handler(AssistantEventHandler):
            def __init__(self) -> None:
                super().__init__()
                self.seen: list[str] = []
                self.text = ""

            def on_tool_call_created(self, tool_call: Any) -> None:
                self.seen.append(f"created:{tool_call.type}")

            def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
                self.seen.append(f"delta:{delta.type}")

            def on_tool_call_done(self, tool_call: Any) -> None:
                self.seen.append(f"done:{tool_call.type}")

            def on_text_delta(self, delta: Any, snapshot: Any) -> None:
                self.text += delta.value or ""

        handler = Handler()
        with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant_id,
            event_handler=handler,
            **include_content(client.beta.threads.runs.stream),
        ) as stream:
            stream.until_done()
        # One delta carries the call, as the service sends it: the handler opens the call on
        # it (on_tool_call_created), and closes it with the step (on_tool_call_done).
        assert handler.seen[0] == "created:file_search"
        assert handler.seen[-1] == "done:file_search"
        final = handler.get_final_messages()[0]
        assert handler.text == final.content[0].text.value  # type: ignore[union-attr]
        assert json.loads(handler.text)["action"] == "escalate"
        step = handler.get_final_run_steps()[0]  # the stream's delta carries no results ...
        step = client.beta.threads.runs.steps.retrieve(  # ... the step does, with include[]
            step.id,
            thread_id=thread.id,
            run_id=step.run_id,
            **include_content(client.beta.threads.runs.steps.retrieve),
        )
        assert first_result_text(step) == RUNBOOK.decode()

    def test_runs_stream_then_submit_tool_outputs_stream(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini", tools=[{"type": "function", "function": {"name": "lookup"}}]
        )
        emu.script(RequestTools([("lookup", {"q": "cpu"})], then="Found it."), times=1)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Look it up"}])

        class Calls(AssistantEventHandler):
            def __init__(self) -> None:
                super().__init__()
                self.arguments = ""
                self.seen: list[str] = []

            def on_tool_call_created(self, tool_call: Any) -> None:
                self.seen.append("created")

            def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
                self.seen.append("delta")
                self.arguments = snapshot.function.arguments

        calls = Calls()
        with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=calls
        ) as s:
            s.until_done()
            run = s.get_final_run()
        assert run is not None
        assert run.status == "requires_action"
        assert calls.seen[0] == "created"
        assert "delta" in calls.seen
        assert json.loads(calls.arguments) == {"q": "cpu"}
        assert run.required_action is not None
        call = run.required_action.submit_tool_outputs.tool_calls[0]

        class Collect(AssistantEventHandler):
            text = ""

            def on_text_delta(self, delta: Any, snapshot: Any) -> None:
                self.text += delta.value or ""

        collect = Collect()
        with client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "cpu.md"}],
            event_handler=collect,
        ) as stream:
            stream.until_done()
        assert collect.text == "Found it."
        finished = collect.get_final_run()
        assert finished is not None
        assert finished.status == "completed"

    def test_upload_and_poll_and_create_and_poll_really_poll(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        store = stores(client).create(name="kb")
        before = emu.counts()["vector_stores.files.retrieve"]
        done = stores(client).files.upload_and_poll(
            vector_store_id=store.id, file=("disk.md", b"# Disk full runbook")
        )
        assert done.status == "completed"
        assert emu.counts()["vector_stores.files.retrieve"] > before  # it went through in_progress
        uploaded = client.files.create(file=("mem.md", b"# Memory leak"), purpose="assistants")
        added = stores(client).files.create_and_poll(file_id=uploaded.id, vector_store_id=store.id)
        assert added.status == "completed"
        more = [
            client.files.create(file=(f"n{n}.md", b"# note"), purpose="assistants").id
            for n in range(2)
        ]
        batch = stores(client).file_batches.create_and_poll(vector_store_id=store.id, file_ids=more)
        assert (batch.status, batch.file_counts.completed) == ("completed", 2)
        assert stores(client).retrieve(store.id).file_counts.total == 4


class TestAsyncHelpers:
    def test_async_upload_and_poll_and_create_and_poll(self, emu: Emulator) -> None:
        """The async client's helpers poll the same way (their own code path in openai)."""

        async def scenario() -> Any:
            async with openai.AsyncOpenAI(
                base_url=emu.base_url, api_key=emu.api_key, max_retries=0
            ) as client:
                resource = (
                    client.vector_stores if VECTOR_STORES_AT_TOP else client.beta.vector_stores
                )  # type: ignore[attr-defined]
                store = await resource.create(name="async-kb")
                done = await resource.files.upload_and_poll(
                    vector_store_id=store.id, file=("cpu.md", RUNBOOK)
                )
                assert done.status == "completed"
                assistant = await client.beta.assistants.create(
                    model="gpt-4o-mini",
                    tools=[{"type": "file_search"}],
                    tool_resources={"file_search": {"vector_store_ids": [store.id]}},
                )
                thread = await client.beta.threads.create(
                    messages=[{"role": "user", "content": "Alert: CPU at 100%"}]
                )
                run = await client.beta.threads.runs.create_and_poll(
                    thread_id=thread.id, assistant_id=assistant.id
                )
                page = await client.beta.threads.messages.list(thread.id, run_id=run.id)
                return run.status, page.data[0].content[0].text.value

        status, text = asyncio.run(scenario())
        assert status == "completed"
        assert json.loads(text)["action"] == "escalate"


class TestEveryEndpoint:
    def test_messages_runs_and_vector_stores_updates(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        emu.script(SayText("ok"), times=1)
        assistant = client.beta.assistants.create(model="gpt-4o-mini")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        updated = client.beta.threads.runs.update(
            run.id, thread_id=thread.id, metadata={"ticket": "T-1"}
        )
        assert updated.metadata == {"ticket": "T-1"}
        message = client.beta.threads.messages.list(thread.id).data[-1]
        changed = client.beta.threads.messages.update(
            message.id, thread_id=thread.id, metadata={"seen": "yes"}
        )
        assert changed.metadata == {"seen": "yes"}
        deleted = client.beta.threads.messages.delete(message.id, thread_id=thread.id)
        assert deleted.deleted
        assert [m.id for m in client.beta.threads.messages.list(thread.id).data] != []
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
        step = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]
        assert (
            client.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id).id
            == step.id
        )
        store = stores(client).update(knowledge_base(client), name="renamed")
        assert store.name == "renamed"
        file_id = stores(client).files.list(store.id).data[0].id
        assert stores(client).files.retrieve(file_id, vector_store_id=store.id).id == file_id
        # As the service: a purpose=assistants file is not downloadable (issue 23).
        with pytest.raises(openai.BadRequestError, match="files of purpose: assistants"):
            client.files.content(file_id)

    def test_search_and_batch_cancel(self, client: openai.OpenAI) -> None:
        store_id = knowledge_base(client)
        if VECTOR_STORES_AT_TOP:  # 1.37.1 has no vector_stores.search; the route is raw there
            page = client.vector_stores.search(store_id, query="cpu saturation")
            hit = page.data[0]
            assert hit.filename == "cpu.md"
            assert hit.content[0].text == RUNBOOK.decode()
        extra = client.files.create(file=("x.md", b"# x"), purpose="assistants")
        batch = stores(client).file_batches.create(store_id, file_ids=[extra.id])
        assert batch.status == "in_progress"
        cancelled = stores(client).file_batches.cancel(batch.id, vector_store_id=store_id)
        assert cancelled.status == "cancelled"

    def test_search_over_http(self, emu: Emulator, client: openai.OpenAI) -> None:
        store_id = knowledge_base(client)
        status, _, body = raw(emu, "POST", f"/vector_stores/{store_id}/search", {"query": "cpu"})
        assert status == 200
        page = json.loads(body)
        assert page["object"] == "vector_store.search_results.page"
        assert page["data"][0]["filename"] == "cpu.md"

    def test_declined_feature_answers_the_services_error(self, emu: Emulator) -> None:
        status, _, body = raw(emu, "POST", "/responses/compact", {"model": "gpt-4o"})
        assert status == 400
        assert error_of(body)["type"] == "invalid_request_error"


class TestValidation:
    @pytest.mark.parametrize(
        ("path", "body", "param", "code"),
        [
            ("/threads", {"bogus": 1}, "bogus", "unknown_parameter"),
            (
                "/threads",
                {"messages": [{"content": "hi"}]},
                "messages[0].role",
                "missing_required_parameter",
            ),
            ("/threads", {"messages": "hi"}, "messages", "invalid_type"),
            (
                "/assistants",
                {"model": "gpt-4o", "temperature": "abc"},
                "temperature",
                "invalid_type",
            ),
            (
                "/assistants",
                {"model": "gpt-4o", "tools": [{"type": "bogus"}]},
                "tools[0].type",
                "invalid_value",
            ),
            ("/assistants", {"model": "gpt-4o", "tools": ["x"]}, "tools[0]", "invalid_type"),
            ("/assistants", {"model": "gpt-4o", "top_p": 3}, "top_p", "decimal_above_max_value"),
            ("/assistants", {"name": "no model"}, "model", "missing_required_parameter"),
            ("/responses", {"model": "gpt-4o", "input": 5}, "input", "invalid_type"),
            ("/vector_stores", {"metadata": {"k": True}}, "metadata.k", "invalid_type"),
        ],
    )
    def test_bad_bodies_answer_400_with_the_services_error(
        self, emu: Emulator, path: str, body: Any, param: str, code: str
    ) -> None:
        before = len(emu.requests)
        status, _, answer = raw(emu, "POST", path, body)
        assert status == 400
        error = error_of(answer)
        assert (error["param"], error["code"], error["type"]) == (
            param,
            code,
            "invalid_request_error",
        )
        assert emu.requests[before].status == 400  # answered and logged, never dropped

    def test_a_body_that_is_not_an_object_answers_400(self, emu: Emulator) -> None:
        assert raw(emu, "POST", "/threads", data=b"[1, 2]")[0] == 400
        assert raw(emu, "POST", "/threads", data=b"{not json")[0] == 400

    def test_bytes_that_are_no_http_request_answer_400_and_are_logged(self, emu: Emulator) -> None:
        import socket

        before = len(emu.requests)
        with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as conn:
            conn.sendall(b"NONSENSE\r\n\r\n")
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400")
        assert error_of(body)["type"] == "invalid_request_error"
        assert [r.status for r in emu.requests[before:]] == [400]

    def test_the_assistants_api_needs_the_beta_header(self, emu: Emulator) -> None:
        status, _, body = raw(emu, "GET", "/assistants", beta=False)
        assert status == 400
        assert error_of(body)["code"] == "invalid_beta"
        assert raw(emu, "GET", "/files", beta=False)[0] == 200  # files need no beta header

    def test_error_wording_matches_the_recordings(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        """The same mistakes as in the recordings get the same error, word for word."""
        real = {
            name: [e["message"] for e in _real_errors(name)]
            for name in (
                "openai__openai-dotnet__GetFileCanParseServiceError",
                "openai__openai-dotnet__UploadFileCanParseServiceError",
                "alexrudall__ruby-openai__runs_modify",
                "alexrudall__ruby-openai__run_steps_retrieve",
            )
        }
        with pytest.raises(openai.NotFoundError) as missing:
            client.files.retrieve("fake_id")
        assert (
            missing.value.body["message"]
            in real[  # type: ignore[index]
                "openai__openai-dotnet__GetFileCanParseServiceError"
            ]
        )
        with pytest.raises(openai.BadRequestError) as purpose:
            client.files.create(file=("a.txt", b"a"), purpose="world_domination")  # type: ignore[arg-type]
        assert (
            purpose.value.body["message"]
            in real[  # type: ignore[index]
                "openai__openai-dotnet__UploadFileCanParseServiceError"
            ]
        )
        assistant = client.beta.assistants.create(model="gpt-4o-mini")
        emu.script(StayInProgress(), assistant_id=assistant.id, times=1)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        while client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "queued":
            pass
        with pytest.raises(openai.BadRequestError) as busy:
            client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"a": "b"})
        assert busy.value.body["message"] in real["alexrudall__ruby-openai__runs_modify"]  # type: ignore[index]
        with pytest.raises(openai.NotFoundError) as step:
            client.beta.threads.runs.steps.retrieve("step_123", thread_id=thread.id, run_id=run.id)
        assert step.value.body["message"] in real["alexrudall__ruby-openai__run_steps_retrieve"]  # type: ignore[index]
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)

    def test_the_client_sees_a_typed_error(self, client: openai.OpenAI) -> None:
        with pytest.raises(openai.BadRequestError) as info:
            client.beta.threads.create(messages=[{"content": "hi"}])  # type: ignore[typeddict-item]
        assert info.value.code == "missing_required_parameter"
        assert info.value.param == "messages[0].role"


class TestParameters:
    @pytest.fixture
    def tooled(self, client: openai.OpenAI) -> str:
        schema = {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "minutes": {"type": "integer", "minimum": 5},
            },
            "required": ["host", "minutes"],
        }
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini",
            tools=[
                {"type": "function", "function": {"name": "restart", "parameters": schema}},
                {"type": "function", "function": {"name": "page_oncall"}},
            ],
        )
        return str(assistant.id)

    def _run(self, client: openai.OpenAI, assistant_id: str, prompt: str, **extra: Any) -> Any:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": prompt}])
        return client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant_id, **extra
        )

    def test_forced_function_asks_for_it_with_valid_arguments(
        self, client: openai.OpenAI, tooled: str
    ) -> None:
        run = self._run(
            client,
            tooled,
            "Alert: web-1 down",
            tool_choice={"type": "function", "function": {"name": "restart"}},
        )
        assert run.status == "requires_action"
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        assert call.function.name == "restart"
        arguments = json.loads(call.function.arguments)
        assert isinstance(arguments["host"], str)
        assert arguments["minutes"] >= 5
        assert run.tool_choice.function.name == "restart"

    def test_required_asks_for_a_tool_and_none_forbids_one(
        self, emu: Emulator, client: openai.OpenAI, tooled: str
    ) -> None:
        run = self._run(client, tooled, "Alert: web-1 down", tool_choice="required")
        assert run.status == "requires_action"
        emu.script(RequestTools([("page_oncall", {})]), assistant_id=tooled, times=1)
        run = self._run(client, tooled, "Alert: web-1 down", tool_choice="none")
        assert (run.status, run.tool_choice) == ("completed", "none")

    def test_parallel_tool_calls_false_asks_one_at_a_time(
        self, emu: Emulator, client: openai.OpenAI, tooled: str
    ) -> None:
        emu.script(
            RequestTools(
                [("restart", {"host": "a"}), ("page_oncall", {})], then=lambda o: "|".join(o)
            ),
            assistant_id=tooled,
            times=1,
        )
        off = parallel_off(client.beta.threads.runs.create_and_poll)
        run = self._run(client, tooled, "fix it", **off)
        assert run.parallel_tool_calls is False
        names = []
        while run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            assert len(calls) == 1
            names.append(calls[0].function.name)
            run = client.beta.threads.runs.submit_tool_outputs_and_poll(
                run_id=run.id,
                thread_id=run.thread_id,
                tool_outputs=[{"tool_call_id": calls[0].id, "output": calls[0].function.name}],
            )
        assert names == ["restart", "page_oncall"]
        reply = client.beta.threads.messages.list(run.thread_id).data[0]
        assert reply.content[0].text.value == "restart|page_oncall"

    def test_token_limits_end_incomplete_with_the_reason(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        assistant = client.beta.assistants.create(model="gpt-4o-mini")
        emu.script(SayText("word " * 100), assistant_id=assistant.id, times=1)
        run = self._run(client, assistant.id, "Talk", max_completion_tokens=16)
        assert run.status == "incomplete"
        assert run.incomplete_details.reason == "max_completion_tokens"
        assert run.max_completion_tokens == 16
        message = client.beta.threads.messages.list(run.thread_id).data[0]
        assert message.status == "incomplete"
        assert len(message.content[0].text.value) <= 16 * 4
        run = self._run(client, assistant.id, "long " * 400, max_prompt_tokens=256)
        assert (run.status, run.incomplete_details.reason) == ("incomplete", "max_prompt_tokens")

    def test_sampling_and_truncation_echo_as_sent(self, client: openai.OpenAI) -> None:
        assistant = client.beta.assistants.create(model="gpt-4o-mini", temperature=0.5)
        run = self._run(
            client,
            assistant.id,
            "hi",
            temperature=0,
            top_p=0,
            truncation_strategy={"type": "last_messages", "last_messages": 2},
        )
        assert (run.temperature, run.top_p) == (0.0, 0.0)
        assert run.truncation_strategy.last_messages == 2
        assert self._run(client, assistant.id, "hi").temperature == 0.5

    def test_json_schema_output_validates(self, client: openai.OpenAI) -> None:
        schema = {
            "type": "object",
            "properties": {
                "action": {"type": "string", "enum": ["escalate", "investigate", "ignore"]},
                "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
                "hosts": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["action", "severity", "hosts"],
            "additionalProperties": False,
        }
        assistant_id = triage_assistant(
            client,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": schema, "strict": True},
            },
        )
        run = self._run(client, assistant_id, "Alert: CPU at 100% on web-1")
        text = client.beta.threads.messages.list(run.thread_id).data[0].content[0].text.value
        value = json.loads(text)
        assert set(value) == {"action", "severity", "hosts"}
        assert (value["action"], value["severity"]) == ("escalate", "critical")  # from the runbook
        assert all(isinstance(h, str) for h in value["hosts"])

    def test_include_gives_file_search_content(self, client: openai.OpenAI) -> None:
        assistant_id = triage_assistant(client)
        run = self._run(client, assistant_id, "Alert: CPU at 100%")
        steps = client.beta.threads.runs.steps
        plain = steps.list(run.id, thread_id=run.thread_id)
        full = steps.list(run.id, thread_id=run.thread_id, **include_content(steps.list))
        search = next(s for s in plain.data if s.type == "tool_calls")
        assert first_result_text(search) is None
        search = next(s for s in full.data if s.type == "tool_calls")
        assert first_result_text(search) == RUNBOOK.decode()

    def test_image_parts_and_attachments_are_kept(self, client: openai.OpenAI) -> None:
        uploaded = client.files.create(file=("graph.md", b"# graph"), purpose="assistants")
        thread = client.beta.threads.create()
        message = client.beta.threads.messages.create(
            thread.id,
            role="user",
            content=[
                {"type": "text", "text": "See the graph"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cpu.png"}},
            ],
            attachments=[{"file_id": uploaded.id, "tools": [{"type": "file_search"}]}],
        )
        again = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
        assert [p.type for p in again.content] == ["text", "image_url"]
        assert again.content[1].image_url.url == "https://example.com/cpu.png"
        assert again.attachments[0].file_id == uploaded.id


class TestHeaders:
    def test_every_answer_has_a_request_id_and_processing_time(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        emu.script(SayText("streamed"), times=1)
        assistant = client.beta.assistants.create(model="gpt-4o-mini")
        for method, path, body in [
            ("GET", "/assistants", None),
            ("GET", "/nope", None),
            (
                "POST",
                "/threads/runs",
                {
                    "assistant_id": assistant.id,
                    "stream": True,
                    "thread": {"messages": [{"role": "user", "content": "hi"}]},
                },
            ),
        ]:
            _, headers, _ = raw(emu, method, path, body)
            lowered = {k.lower(): v for k, v in headers.items()}
            assert lowered["x-request-id"].startswith("req_")
            assert int(lowered["openai-processing-ms"]) >= 1

    def test_responses_carry_rate_limit_headers(self, emu: Emulator) -> None:
        emu.script(SayText("hi"), times=1)
        status, headers, _ = raw(emu, "POST", "/responses", {"model": "gpt-4o", "input": "hi"})
        assert status == 200
        lowered = {k.lower(): v for k, v in headers.items()}
        assert int(lowered["x-ratelimit-remaining-requests"]) > 0
        assert "x-ratelimit-reset-tokens" in lowered


if HAS_RESPONSES:  # openai >= 1.66; TestGates checks the gate follows the version

    class TestResponsesHelpers:
        def test_parse_gives_a_validated_model(self, client: openai.OpenAI) -> None:
            from pydantic import BaseModel

            class Verdict(BaseModel):
                action: str
                severity: str
                hosts: list[str]

            store_id = knowledge_base(client)
            parsed = client.responses.parse(
                model="gpt-4o-mini",
                input="Alert: CPU at 100% on web-1",
                tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
                text_format=Verdict,
            )
            verdict = parsed.output_parsed
            assert isinstance(verdict, Verdict)
            assert verdict.action == "escalate"

        def test_stream_has_file_search_and_annotation_events(self, client: openai.OpenAI) -> None:
            store_id = knowledge_base(client)
            with client.responses.stream(
                model="gpt-4o-mini",
                input="Alert: CPU at 100% on web-1",
                tools=[{"type": "file_search", "vector_store_ids": [store_id]}],
                include=["file_search_call.results"],
            ) as stream:
                names = [event.type for event in stream]
                final = stream.get_final_response()
            assert names[:2] == ["response.created", "response.in_progress"]  # not queued
            assert "response.file_search_call.completed" in names
            assert "response.output_text.annotation.added" in names
            search, message = final.output[0], final.output[1]
            assert search.type == "file_search_call"
            assert search.results[0].filename == "cpu.md"
            assert message.content[0].annotations[0].type == "file_citation"
            assert json.loads(final.output_text)["action"] == "escalate"

        def test_stream_of_a_function_call(self, emu: Emulator, client: openai.OpenAI) -> None:
            emu.script(RequestTools([("page", {"team": "sre", "urgent": True})]), times=1)
            with client.responses.stream(
                model="gpt-4o-mini",
                input="Alert: CPU",
                tools=[{"type": "function", "name": "page", "parameters": {"type": "object"}}],
            ) as stream:
                deltas = [
                    e.delta for e in stream if e.type == "response.function_call_arguments.delta"
                ]
                final = stream.get_final_response()
            assert len(deltas) > 1
            call = final.output[0]
            assert json.loads("".join(deltas)) == json.loads(call.arguments)

        def test_background_stream_resume_and_cancel(
            self, emu: Emulator, client: openai.OpenAI
        ) -> None:
            emu.script(SayText("Once upon a time, a server slept well."), times=1)
            stream = client.responses.create(
                model="gpt-4o-mini", input="A story.", background=True, stream=True
            )
            events = list(stream)
            assert [e.type for e in events[:3]] == [
                "response.created",
                "response.queued",
                "response.in_progress",
            ]
            response_id = events[0].response.id
            resumed = client.responses.retrieve(response_id, stream=True, starting_after=1)
            again = [e.type for e in resumed]
            assert again == [e.type for e in events[2:]]
            emu.script(StayInProgress(), times=1)
            slow = client.responses.create(model="gpt-4o-mini", input="wait", background=True)
            assert client.responses.cancel(slow.id).status == "cancelled"

        def test_store_false_and_previous_response_id(self, client: openai.OpenAI) -> None:
            kept = client.responses.create(model="gpt-4o-mini", input="Alert: disk full")
            gone = client.responses.create(model="gpt-4o-mini", input="hello", store=False)
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(gone.id)
            with pytest.raises(openai.BadRequestError) as info:
                client.responses.create(
                    model="gpt-4o-mini", input="and then?", previous_response_id="resp_unknown"
                )
            assert info.value.code == "previous_response_not_found"
            follow = client.responses.create(
                model="gpt-4o-mini", input="which runbook?", previous_response_id=kept.id
            )
            assert follow.previous_response_id == kept.id
            assert client.responses.delete(kept.id) is None
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(kept.id)

        def test_parameters_on_the_responses_wire(
            self, emu: Emulator, client: openai.OpenAI
        ) -> None:
            emu.script(SayText("word " * 100), times=1)
            cut = client.responses.create(model="gpt-4o-mini", input="Talk", max_output_tokens=16)
            assert (cut.status, cut.incomplete_details.reason) == (
                "incomplete",
                "max_output_tokens",
            )
            forced = client.responses.create(
                model="gpt-4o-mini",
                input="Alert: CPU",
                tools=[{"type": "function", "name": "page", "parameters": {"type": "object"}}],
                tool_choice="required",
                temperature=0,
                top_p=0,
            )
            assert forced.output[0].type == "function_call"
            assert (forced.temperature, forced.top_p, forced.tool_choice) == (0.0, 0.0, "required")
            if hasattr(client.responses, "input_tokens"):
                counted = client.responses.input_tokens.count(
                    model="gpt-4o-mini", input="abcd" * 10
                )
                assert counted.input_tokens == 10

    if HAS_CONVERSATIONS:

        class TestConversations:
            def test_items_retrieve_and_delete(self, client: openai.OpenAI) -> None:
                conversation = client.conversations.create(
                    items=[{"type": "message", "role": "user", "content": "Alert: CPU at 100%"}]
                )
                items = client.conversations.items.list(conversation.id).data
                item = client.conversations.items.retrieve(
                    items[0].id, conversation_id=conversation.id
                )
                assert item.id == items[0].id
                client.conversations.items.delete(items[0].id, conversation_id=conversation.id)
                assert client.conversations.items.list(conversation.id).data == []


# -- fidelity of everything above ------------------------------------------------------------


def _walk(
    value: Any, found: dict[str, list[dict[str, Any]]], inside: str = "", delta: bool = False
) -> None:
    """Collect objects by ``object`` kind, Responses and Conversations items as
    ``item:<type>`` and content parts as ``part:<type>`` (``delta-part:`` inside a delta)."""
    if isinstance(value, dict):
        kind = value.get("object")
        if isinstance(kind, str) and kind != "list":
            found[kind].append(value)
        elif isinstance(value.get("type"), str) and "id" in value and inside in ITEM_LISTS:
            found[f"item:{value['type']}"].append(value)
        elif isinstance(value.get("type"), str) and inside == "content":
            found[f"{'delta-' if delta else ''}part:{value['type']}"].append(value)
        for key, child in value.items():
            _walk(child, found, key, delta or key == "delta")
    elif isinstance(value, list):
        for child in value:
            _walk(child, found, inside, delta)


ITEM_LISTS = ("output", "data", "items")


def _real() -> dict[str, list[dict[str, Any]]]:
    """Real payloads by kind: objects, output items, error bodies and Responses events."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(REAL.glob("*.yaml")):
        if path.name.startswith("traceloop") or "BasicMessageOperations" in path.name:
            continue  # gzip bodies / an older message shape (v1 `file_ids`)
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            headers = {k.lower(): v for k, v in interaction["request"]["headers"].items()}
            if "assistants=v1" in str(headers.get("openai-beta", "")):
                continue
            body = interaction["response"]["body"]["string"]
            if not isinstance(body, str) or not body:
                continue
            _collect(body, found)
    return found


def _real_errors(stem: str) -> list[dict[str, Any]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for interaction in yaml.safe_load((REAL / f"{stem}.yaml").read_text())["interactions"]:
        body = interaction["response"]["body"]["string"]
        if isinstance(body, str) and body:
            _collect(body, found)
    return found["error"]


def _collect(body: str, found: dict[str, list[dict[str, Any]]]) -> None:
    if body.startswith("event:"):
        for name, data in sse_events(body):
            if data == "[DONE]":
                continue
            if not name.startswith("thread."):
                found[f"event:{name}"].append(data)
            _walk(data, found)
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        found["error"].append(parsed["error"])
    _walk(parsed, found)


# Shapes the API reference allows that no recording shows: a forced tool_choice is an object.
SPEC_ONLY = [("thread.run", {"tool_choice": {"type": "function", "function": {"name": "f"}}})]


class TestFidelity:
    def test_every_payload_above_matches_the_real_service(self, emu: Emulator) -> None:
        """Runs last: the objects, output items, error bodies and events this module received,
        each field present with a JSON type the real service sent, for every kind both have."""
        ours: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for exchange in emu.exchanges:
            _collect(exchange.response_body.decode(), ours)
        real = _real()
        shared = sorted(set(real) & set(ours))
        expected = {t for t in REFERENCE_TYPES if not t.endswith(".deleted")} | {"error"}
        if HAS_CONVERSATIONS:
            expected |= {"conversation", "part:input_text"}
        if HAS_RESPONSES:
            expected |= {
                "response",
                "item:message",
                "part:output_text",
                "event:response.output_text.delta",
                "event:response.queued",
            }
        assert expected <= set(shared), sorted(expected - set(shared))
        for kind, example in SPEC_ONLY:
            real[kind].append(example)
        problems = [p for kind in shared for p in compare(kind, real[kind], ours[kind])]
        assert not problems, problems
