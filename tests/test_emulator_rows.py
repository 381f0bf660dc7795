"""Issue 23's table, row by row, with the real openai client over loopback: where real clients
(autogen-ext, the Agents SDK, llama-index, curl, ...) found the emulator looser or different
than the service. autogen-ext's own agent runs in ``tests/test_emulator_autogen.py``; here
its requests are replayed with openai-python, so the main environment covers the row too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistant_bridge.testing import Emulator, RequestTools, SayText

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LOOSE = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
HALF = {
    "type": "object",
    "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
    "required": ["a"],
    "additionalProperties": False,
}
NESTED = {
    "type": "object",
    "properties": {"inner": {"type": "object", "properties": {}, "required": []}},
    "required": ["inner"],
    "additionalProperties": False,
}
GOOD = {**HALF, "required": ["a", "b"]}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(poll_after_ms=5, queue_delay=0.01) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[openai.OpenAI]:
    with emu.client(max_retries=0) as c:
        yield c


def refused(call: Any, *, status: type[openai.APIStatusError] = openai.BadRequestError) -> Any:
    """The error body of a call the emulator must refuse."""
    with pytest.raises(status) as caught:
        call()
    body = caught.value.body
    assert isinstance(body, dict)
    assert set(body) >= {"message", "type", "param", "code"}
    assert body["type"] == "invalid_request_error"
    return body


class TestNullSampling:
    """autogen-ext's ``OpenAIAssistantAgent`` sends ``temperature: null`` and ``top_p: null``."""

    def test_null_means_not_set_and_runs_complete(self, client: openai.OpenAI) -> None:
        assistant = client.beta.assistants.create(
            model="gpt-4o-mini", instructions="Triage.", temperature=None, top_p=None
        )
        assert (assistant.temperature, assistant.top_p) == (1.0, 1.0)
        client.beta.assistants.update(assistant.id, temperature=None, top_p=None)
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "CPU 100%"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=5
        )
        assert run.status == "completed"
        assert (run.temperature, run.top_p) == (1.0, 1.0)


class TestStrictSchemas:
    def test_responses_text_format(self, client: openai.OpenAI) -> None:
        for schema, words in [
            (LOOSE, "'additionalProperties' is required to be supplied and to be false"),
            (HALF, "Missing 'b'"),
            (NESTED, "context=('properties', 'inner')"),
        ]:
            body = refused(
                lambda schema=schema: client.responses.create(
                    model="gpt-4o-mini",
                    input="hi",
                    text={
                        "format": {
                            "type": "json_schema",
                            "name": "verdict",
                            "schema": schema,
                            "strict": True,
                        }
                    },
                )
            )
            assert body["message"].startswith("Invalid schema for response_format 'verdict': ")
            assert words in body["message"]
            assert (body["param"], body["code"]) == ("text.format.schema", "invalid_json_schema")
        ok = client.responses.create(
            model="gpt-4o-mini",
            input="hi",
            text={"format": {"type": "json_schema", "name": "v", "schema": GOOD, "strict": True}},
        )
        assert ok.status == "completed"
        loose_but_not_strict = {"type": "json_schema", "name": "v", "schema": LOOSE}
        client.responses.create(
            model="gpt-4o-mini", input="hi", text={"format": loose_but_not_strict}
        )

    def test_assistants_response_format_and_function_tools(self, client: openai.OpenAI) -> None:
        body = refused(
            lambda: client.beta.assistants.create(
                model="gpt-4o-mini",
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "verdict", "schema": LOOSE, "strict": True},
                },
            )
        )
        assert "Invalid schema for response_format 'verdict'" in body["message"]
        assert body["param"] == "response_format.json_schema.schema"
        body = refused(
            lambda: client.beta.assistants.create(
                model="gpt-4o-mini",
                tools=[
                    {
                        "type": "function",
                        "function": {"name": "lookup", "parameters": HALF, "strict": True},
                    }
                ],
            )
        )
        assert body["message"].startswith("Invalid schema for function 'lookup': ")
        assert (body["param"], body["code"]) == (
            "tools[0].function.parameters",
            "invalid_function_parameters",
        )

    def test_responses_strict_function_tool(self, client: openai.OpenAI) -> None:
        body = refused(
            lambda: client.responses.create(
                model="gpt-4o-mini",
                input="hi",
                tools=[{"type": "function", "name": "f", "parameters": LOOSE, "strict": True}],
            )
        )
        assert body["param"] == "tools[0].parameters"

    def test_the_openai_helpers_strict_schemas_pass(self, client: openai.OpenAI) -> None:
        from pydantic import BaseModel

        class Verdict(BaseModel):
            action: str
            severity: str

        parsed = client.responses.parse(model="gpt-4o-mini", input="CPU", text_format=Verdict)
        assert isinstance(parsed.output_parsed, Verdict)


class TestResponsesChecks:
    def test_function_call_output_for_no_call(self, client: openai.OpenAI) -> None:
        body = refused(
            lambda: client.responses.create(
                model="gpt-4o-mini",
                input=[{"type": "function_call_output", "call_id": "call_nope", "output": "1"}],
            )
        )
        assert body["param"] == "input"
        assert body["message"] == (
            "No tool call found for function call output with call_id call_nope."
        )

    def test_function_call_output_for_a_real_call(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        emu.script(RequestTools([("lookup", {"q": "x"})], then="done"))
        tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}]
        first = client.responses.create(model="gpt-4o-mini", input="go", tools=tools)  # type: ignore[list-item]
        call = next(i for i in first.output if i.type == "function_call")
        second = client.responses.create(
            model="gpt-4o-mini",
            previous_response_id=first.id,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "1"}],  # type: ignore[union-attr]
        )
        assert second.output_text == "done"

    def test_metadata_limits_on_every_route(self, client: openai.OpenAI) -> None:
        cases = [
            ({str(n): "v" for n in range(17)}, "metadata", "object_above_max_properties"),
            ({"k" * 65: "v"}, "metadata", "string_above_max_length"),
            ({"k": "v" * 513}, "metadata.k", "string_above_max_length"),
        ]
        routes = [
            lambda m: client.responses.create(model="gpt-4o-mini", input="hi", metadata=m),
            lambda m: client.conversations.create(metadata=m),
            lambda m: client.beta.assistants.create(model="gpt-4o-mini", metadata=m),
            lambda m: client.beta.threads.create(metadata=m),
            lambda m: client.vector_stores.create(name="x", metadata=m),
        ]
        for metadata, param, code in cases:
            for route in routes:
                body = refused(lambda route=route, metadata=metadata: route(metadata))
                assert (body["param"], body["code"]) == (param, code)
        ok = {str(n): "v" * 512 for n in range(16)}
        assert client.responses.create(model="gpt-4o-mini", input="hi", metadata=ok).metadata == ok

    def test_nested_unknown_field_unknown_include_and_missing_tool_choice(
        self, client: openai.OpenAI
    ) -> None:
        tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
        body = refused(
            lambda: client.responses.create(
                model="gpt-4o-mini",
                input="hi",
                tools=[{**tool, "bogus": 1}],  # type: ignore[list-item]
            )
        )
        assert (body["param"], body["code"]) == ("tools[0].bogus", "unknown_parameter")
        body = refused(
            lambda: client.responses.create(model="gpt-4o-mini", input="hi", include=["bogus"])  # type: ignore[list-item]
        )
        assert (body["param"], body["code"]) == ("include[0]", "invalid_value")
        body = refused(
            lambda: client.responses.create(
                model="gpt-4o-mini",
                input="hi",
                tools=[tool],  # type: ignore[list-item]
                tool_choice={"type": "function", "name": "g"},
            )
        )
        assert body["message"] == "Tool choice 'g' not found in 'tools' parameter."
        assert body["param"] == "tool_choice"


class TestFilesAndSearch:
    def test_assistants_files_do_not_download(self, client: openai.OpenAI) -> None:
        kept = client.files.create(file=("a.md", b"# a"), purpose="assistants")
        body = refused(lambda: client.files.content(kept.id))
        assert body["message"] == "Not allowed to download files of purpose: assistants"
        other = client.files.create(file=("b.jsonl", b"{}"), purpose="batch")
        assert client.files.content(other.id).read() == b"{}"

    def test_search_filters_ranking_and_indexing(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        cpu = client.files.create(file=("cpu.md", b"cpu saturation runbook"), purpose="assistants")
        disk = client.files.create(file=("disk.md", b"disk cpu runbook"), purpose="assistants")
        store = client.vector_stores.create(name="kb")
        client.vector_stores.files.create(store.id, file_id=cpu.id, attributes={"team": "core"})
        # Still in_progress: the service searches only indexed files.
        assert client.vector_stores.search(store.id, query="cpu saturation").data == []
        client.vector_stores.files.create_and_poll(
            file_id=disk.id, vector_store_id=store.id, attributes={"team": "ops", "tier": 2}
        )
        client.vector_stores.files.poll(cpu.id, vector_store_id=store.id, poll_interval_ms=5)
        search = client.vector_stores.search
        both = search(store.id, query="cpu saturation")
        assert [h.filename for h in both.data] == ["cpu.md", "disk.md"]
        core = search(store.id, query="cpu", filters={"type": "eq", "key": "team", "value": "core"})
        assert [h.filename for h in core.data] == ["cpu.md"]
        compound = search(
            store.id,
            query="cpu",
            filters={
                "type": "or",
                "filters": [
                    {"type": "gte", "key": "tier", "value": 2},
                    {"type": "in", "key": "team", "value": ["nobody"]},
                ],
            },
        )
        assert [h.filename for h in compound.data] == ["disk.md"]
        strict = search(store.id, query="cpu saturation", ranking_options={"score_threshold": 0.9})
        assert [h.filename for h in strict.data] == ["cpu.md"]
        body = refused(
            lambda: search(store.id, query="cpu", filters={"type": "like", "key": "k", "value": 1})  # type: ignore[arg-type,typeddict-item]
        )
        assert (body["param"], body["code"]) == ("filters.type", "invalid_value")

    def test_responses_file_search_filters(self, emu: Emulator, client: openai.OpenAI) -> None:
        ops = client.files.create(
            file=("ops.md", b"cpu saturation: escalate"), purpose="assistants"
        )
        store = client.vector_stores.create(name="kb")
        client.vector_stores.files.create_and_poll(
            file_id=ops.id, vector_store_id=store.id, attributes={"team": "ops"}
        )

        def searched(filters: Any) -> Any:
            tool = {"type": "file_search", "vector_store_ids": [store.id], "filters": filters}
            answer = client.responses.create(
                model="gpt-4o-mini",
                input="cpu saturation",
                tools=[tool],
                include=["file_search_call.results"],  # type: ignore[list-item]
            )
            return [i for i in answer.output if i.type == "file_search_call"]

        assert searched({"type": "eq", "key": "team", "value": "ops"})
        assert not searched({"type": "eq", "key": "team", "value": "core"})


class TestListBefore:
    @pytest.mark.parametrize("order", ["asc", "desc"])
    def test_before_gives_the_page_next_to_the_cursor(
        self, emu: Emulator, client: openai.OpenAI, order: str
    ) -> None:
        emu.script(SayText("answer"))
        thread = client.beta.threads.create(
            messages=[{"role": "user", "content": f"m{n}"} for n in range(6)]
        )
        ids = [m.id for m in client.beta.threads.messages.list(thread.id, order=order).data]  # type: ignore[arg-type]
        page = client.beta.threads.messages.list(thread.id, order=order, before=ids[4], limit=2)  # type: ignore[arg-type]
        assert [m.id for m in page.data] == ids[2:4]
        assert page.has_more
        first = client.beta.threads.messages.list(thread.id, order=order, before=ids[2], limit=2)  # type: ignore[arg-type]
        assert [m.id for m in first.data] == ids[0:2]
        assert not first.has_more


def test_a_run_waits_for_indexing_to_find_a_file(emu: Emulator, client: openai.OpenAI) -> None:
    """file_search in a run, like the search endpoint, finds only indexed files."""
    runbook = b"# CPU saturation runbook\nAction: escalate\nSeverity: critical"
    uploaded = client.files.create(file=("cpu.md", runbook), purpose="assistants")
    store = client.vector_stores.create(name="kb", file_ids=[uploaded.id])
    assert store.status == "in_progress"
    while client.vector_stores.retrieve(store.id).status != "completed":
        time.sleep(0.005)
    assistant = emu.create_assistant(tools=[{"type": "file_search"}], vector_store_ids=[store.id])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "CPU at 100%"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant, poll_interval_ms=5
    )
    answer = client.beta.threads.messages.list(thread.id).data[0]
    assert run.status == "completed"
    assert "escalate" in answer.content[0].text.value  # type: ignore[union-attr]
