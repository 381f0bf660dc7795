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


def post(client: openai.OpenAI, path: str, body: dict[str, Any] | None = None) -> Any:
    """A raw request through openai's client, so the case runs under openai 1.37.1 too
    (which predates the Responses and Conversations resources and ``vector_stores.search``)."""
    return client.post(path, body=body or {}, cast_to=object)


def get(client: openai.OpenAI, path: str) -> Any:
    return client.get(path, cast_to=object)


def wait_indexed(client: openai.OpenAI, store_id: str) -> None:
    """Poll a vector store until its files are indexed, as ``create_and_poll`` does."""
    deadline = time.monotonic() + 5
    while get(client, f"/vector_stores/{store_id}")["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.005)


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
                lambda schema=schema: post(
                    client,
                    "/responses",
                    {
                        "model": "gpt-4o-mini",
                        "input": "hi",
                        "text": {
                            "format": {
                                "type": "json_schema",
                                "name": "verdict",
                                "schema": schema,
                                "strict": True,
                            }
                        },
                    },
                )
            )
            assert body["message"].startswith("Invalid schema for response_format 'verdict': ")
            assert words in body["message"]
            assert (body["param"], body["code"]) == ("text.format.schema", "invalid_json_schema")
        ok = post(
            client,
            "/responses",
            {
                "model": "gpt-4o-mini",
                "input": "hi",
                "text": {
                    "format": {"type": "json_schema", "name": "v", "schema": GOOD, "strict": True}
                },
            },
        )
        assert ok["status"] == "completed"
        loose_but_not_strict = {"type": "json_schema", "name": "v", "schema": LOOSE}
        post(
            client,
            "/responses",
            {"model": "gpt-4o-mini", "input": "hi", "text": {"format": loose_but_not_strict}},
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
            lambda: post(
                client,
                "/responses",
                {
                    "model": "gpt-4o-mini",
                    "input": "hi",
                    "tools": [
                        {"type": "function", "name": "f", "parameters": LOOSE, "strict": True}
                    ],
                },
            )
        )
        assert body["param"] == "tools[0].parameters"

    def test_the_openai_helpers_strict_schemas_pass(self, client: openai.OpenAI) -> None:
        from pydantic import BaseModel

        class Verdict(BaseModel):
            action: str
            severity: str

        if not hasattr(client, "responses"):
            pytest.skip(f"openai {openai.__version__} has no responses.parse")
        parsed = client.responses.parse(model="gpt-4o-mini", input="CPU", text_format=Verdict)
        assert isinstance(parsed.output_parsed, Verdict)


class TestResponsesChecks:
    def test_function_call_output_for_no_call(self, client: openai.OpenAI) -> None:
        body = refused(
            lambda: post(
                client,
                "/responses",
                {
                    "model": "gpt-4o-mini",
                    "input": [
                        {"type": "function_call_output", "call_id": "call_nope", "output": "1"}
                    ],
                },
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
        first = post(client, "/responses", {"model": "gpt-4o-mini", "input": "go", "tools": tools})
        call = next(i for i in first["output"] if i["type"] == "function_call")
        second = post(
            client,
            "/responses",
            {
                "model": "gpt-4o-mini",
                "previous_response_id": first["id"],
                "input": [
                    {"type": "function_call_output", "call_id": call["call_id"], "output": "1"}
                ],
            },
        )
        assert second["output"][0]["content"][0]["text"] == "done"

    def test_metadata_limits_on_every_route(self, client: openai.OpenAI) -> None:
        cases = [
            ({str(n): "v" for n in range(17)}, "metadata", "object_above_max_properties"),
            ({"k" * 65: "v"}, "metadata", "string_above_max_length"),
            ({"k": "v" * 513}, "metadata.k", "string_above_max_length"),
        ]
        routes = [
            lambda m: post(
                client, "/responses", {"model": "gpt-4o-mini", "input": "hi", "metadata": m}
            ),
            lambda m: post(client, "/conversations", {"metadata": m}),
            lambda m: client.beta.assistants.create(model="gpt-4o-mini", metadata=m),
            lambda m: client.beta.threads.create(metadata=m),
            lambda m: post(client, "/vector_stores", {"name": "x", "metadata": m}),
        ]
        for metadata, param, code in cases:
            for route in routes:
                body = refused(lambda route=route, metadata=metadata: route(metadata))
                assert (body["param"], body["code"]) == (param, code)
        ok = {str(n): "v" * 512 for n in range(16)}
        answer = post(client, "/responses", {"model": "gpt-4o-mini", "input": "hi", "metadata": ok})
        assert answer["metadata"] == ok

    def test_nested_unknown_field_unknown_include_and_missing_tool_choice(
        self, client: openai.OpenAI
    ) -> None:
        tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
        body = refused(
            lambda: post(
                client,
                "/responses",
                {
                    "model": "gpt-4o-mini",
                    "input": "hi",
                    "tools": [{**tool, "bogus": 1}],  # type: ignore[list-item]
                },
            )
        )
        assert (body["param"], body["code"]) == ("tools[0].bogus", "unknown_parameter")
        body = refused(
            lambda: post(
                client, "/responses", {"model": "gpt-4o-mini", "input": "hi", "include": ["bogus"]}
            )  # type: ignore[list-item]
        )
        assert (body["param"], body["code"]) == ("include[0]", "invalid_value")
        body = refused(
            lambda: post(
                client,
                "/responses",
                {
                    "model": "gpt-4o-mini",
                    "input": "hi",
                    "tools": [tool],  # type: ignore[list-item]
                    "tool_choice": {"type": "function", "name": "g"},
                },
            )
        )
        assert body["message"] == "Tool choice 'g' not found in 'tools' parameter."
        assert body["param"] == "tool_choice"


class TestFilesAndSearch:
    def test_assistants_files_do_not_download(self, emu: Emulator, client: openai.OpenAI) -> None:
        kept = client.files.create(file=("a.md", b"# a"), purpose="assistants")
        body = refused(lambda: client.files.content(kept.id))
        assert body["message"] == "Not allowed to download files of purpose: assistants"
        other = client.files.create(file=("b.jsonl", b"{}"), purpose="batch")
        assert client.files.content(other.id).read() == b"{}"
        chart = emu.create_output_file(b"\x89PNG", "chart.png")  # as code interpreter makes one
        assert client.files.retrieve(chart).purpose == "assistants_output"
        assert client.files.content(chart).read() == b"\x89PNG"

    def test_an_upload_is_checked_by_its_schema(self, emu: Emulator) -> None:
        from tests.openai_errors import http_library

        def upload(*parts: tuple[str, str | None, bytes]) -> dict[str, Any]:
            form = b"".join(
                b'--B\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n%s\r\n'
                % (name.encode(), b'; filename="%s"' % f.encode() if f else b"", data)
                for name, f, data in parts
            )
            answer = http_library().post(
                emu.base_url + "/files",
                headers={
                    "authorization": f"Bearer {emu.api_key}",
                    "content-type": "multipart/form-data; boundary=B",
                },
                content=form + b"--B--\r\n",
            )
            assert answer.status_code == 400
            error: dict[str, Any] = answer.json()["error"]
            return error

        missing = upload(("purpose", None, b"assistants"))
        assert (missing["param"], missing["code"]) == ("file", "missing_required_parameter")
        text = upload(("purpose", None, b"assistants"), ("file", None, b"not a file"))
        assert text["param"] == "file"
        extra = upload(("purpose", None, b"assistants"), ("file", "a.md", b"#"), ("x", None, b"1"))
        assert (extra["param"], extra["code"]) == ("x", "unknown_parameter")

    def test_search_filters_ranking_and_indexing(
        self, emu: Emulator, client: openai.OpenAI
    ) -> None:
        cpu = client.files.create(file=("cpu.md", b"cpu saturation runbook"), purpose="assistants")
        disk = client.files.create(file=("disk.md", b"disk cpu runbook"), purpose="assistants")
        store = post(client, "/vector_stores", {"name": "kb"})["id"]
        attach = f"/vector_stores/{store}/files"
        post(client, attach, {"file_id": cpu.id, "attributes": {"team": "core"}})

        def search(**body: Any) -> list[str]:
            return [
                h["filename"] for h in post(client, f"/vector_stores/{store}/search", body)["data"]
            ]

        # Still in_progress: the service searches only indexed files.
        assert search(query="cpu saturation") == []
        post(client, attach, {"file_id": disk.id, "attributes": {"team": "ops", "tier": 2}})
        wait_indexed(client, store)
        assert search(query="cpu saturation") == ["cpu.md", "disk.md"]
        core = {"type": "eq", "key": "team", "value": "core"}
        assert search(query="cpu", filters=core) == ["cpu.md"]
        compound = {
            "type": "or",
            "filters": [
                {"type": "gte", "key": "tier", "value": 2},
                {"type": "in", "key": "team", "value": ["nobody"]},
            ],
        }
        assert search(query="cpu", filters=compound) == ["disk.md"]
        high = {"score_threshold": 0.9}
        assert search(query="cpu saturation", ranking_options=high) == ["cpu.md"]
        like = {"type": "like", "key": "k", "value": 1}
        body = refused(lambda: search(query="cpu", filters=like))
        assert (body["param"], body["code"]) == ("filters.type", "invalid_value")

    def test_responses_file_search_filters(self, emu: Emulator, client: openai.OpenAI) -> None:
        ops = client.files.create(
            file=("ops.md", b"cpu saturation: escalate"), purpose="assistants"
        )
        store = post(client, "/vector_stores", {"name": "kb"})["id"]
        post(
            client,
            f"/vector_stores/{store}/files",
            {"file_id": ops.id, "attributes": {"team": "ops"}},
        )
        wait_indexed(client, store)

        def searched(filters: Any) -> list[Any]:
            tool = {"type": "file_search", "vector_store_ids": [store], "filters": filters}
            body = {
                "model": "gpt-4o-mini",
                "input": "cpu saturation",
                "tools": [tool],
                "include": ["file_search_call.results"],
            }
            output = post(client, "/responses", body)["output"]
            return [i for i in output if i["type"] == "file_search_call"]

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
    store = post(client, "/vector_stores", {"name": "kb", "file_ids": [uploaded.id]})
    assert store["status"] == "in_progress"
    wait_indexed(client, store["id"])
    assistant = emu.create_assistant(
        tools=[{"type": "file_search"}], vector_store_ids=[store["id"]]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "CPU at 100%"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant, poll_interval_ms=5
    )
    answer = client.beta.threads.messages.list(thread.id).data[0]
    assert run.status == "completed"
    assert "escalate" in answer.content[0].text.value  # type: ignore[union-attr]
