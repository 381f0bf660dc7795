"""The Assistants API as wire operations: which client call, with what, parsed how.

Each method is a generator of :class:`~._calls.ClientCall` values (see :mod:`._calls`), so the
sync and async transports share every decision. Calls go through the ``openai`` client's
typed ``beta`` resources with ``with_raw_response``, to read the JSON and the headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant_bridge._values.models import Assistant, Message, MessagePage, Run, Thread, ToolOutput
from assistant_bridge._values.spec import HASH_KEY, AssistantSpec
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.transports._assistants_json import (
    assistant_from_json,
    message_from_json,
    message_page_from_json,
    parse_poll_after,
    run_from_json,
    thread_from_json,
)
from assistant_bridge.transports._client import ClientCall, StreamCall, WireFlow
from assistant_bridge.transports._protocol import ASK_KEY, RunRequest
from assistant_bridge.transports._stream_events import assistants_event

THREADS = ("beta", "threads", "with_raw_response")
MESSAGES = ("beta", "threads", "messages", "with_raw_response")
RUNS = ("beta", "threads", "runs", "with_raw_response")
ASSISTANTS = ("beta", "assistants", "with_raw_response")
STREAMING_THREADS = ("beta", "threads", "with_streaming_response")
STREAMING_RUNS = ("beta", "threads", "runs", "with_streaming_response")


def _given(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _body(request: RunRequest) -> dict[str, Any]:
    if request.assistant_id is None:
        msg = (
            "The Assistants API runs assistant objects: pass assistant_id='asst_…', or "
            "assistant=AssistantSpec(...) to ThreadSession, which creates the object once."
        )
        raise ConfigurationError(msg)
    return request.body()


def _run_call(call: ClientCall) -> WireFlow[Run]:
    data, headers = yield call
    return run_from_json(data, poll_after_ms=parse_poll_after(headers.get("openai-poll-after-ms")))


def _meta(metadata: Mapping[str, str] | None) -> dict[str, Any]:
    return _given(metadata=None if metadata is None else dict(metadata))


class AssistantsWire:
    """Builds and parses the Assistants API's calls.

    Its only state is the assistant ids it has resolved specs to, so that sessions sharing a
    transport look a spec up once.
    """

    def __init__(self) -> None:
        self._resolved: dict[tuple[str, str], str] = {}

    def create_thread(self, metadata: Mapping[str, str] | None) -> WireFlow[Thread]:
        data, _ = yield ClientCall((*THREADS, "create"), (), _meta(metadata))
        return thread_from_json(data)

    def add_message(
        self, thread_id: str, content: str, metadata: Mapping[str, str] | None
    ) -> WireFlow[Message]:
        kwargs = {"role": "user", "content": content, **_meta(metadata)}
        data, _ = yield ClientCall((*MESSAGES, "create"), (thread_id,), kwargs)
        return message_from_json(data)

    @staticmethod
    def _start_body(
        request: RunRequest, content: str | None, message_metadata: Mapping[str, str] | None
    ) -> dict[str, Any]:
        body = _body(request)
        if content is not None:
            body["additional_messages"] = [
                {"role": "user", "content": content, **_meta(message_metadata)}
            ]
        return body

    @staticmethod
    def _create_and_run_body(
        content: str, request: RunRequest, thread_metadata: Mapping[str, str] | None
    ) -> dict[str, Any]:
        body = _body(request)
        if body.pop("additional_instructions", None) is not None:
            msg = "create_thread_and_run cannot carry additional_instructions; use start_run."
            raise ConfigurationError(msg)
        thread: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
        thread.update(_meta(thread_metadata))
        return {"thread": thread, **body}

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        content: str | None,
        message_metadata: Mapping[str, str] | None,
    ) -> WireFlow[Run]:
        body = self._start_body(request, content, message_metadata)
        return (yield from _run_call(ClientCall((*RUNS, "create"), (thread_id,), body)))

    def create_thread_and_run(
        self, content: str, request: RunRequest, thread_metadata: Mapping[str, str] | None
    ) -> WireFlow[Run]:
        body = self._create_and_run_body(content, request, thread_metadata)
        return (yield from _run_call(ClientCall((*THREADS, "create_and_run"), (), body)))

    # -- event streams ---------------------------------------------------------------------
    def stream_run(
        self,
        thread_id: str,
        request: RunRequest,
        content: str | None,
        message_metadata: Mapping[str, str] | None,
    ) -> StreamCall:
        body = {**self._start_body(request, content, message_metadata), "stream": True}
        return StreamCall((*STREAMING_RUNS, "create"), (thread_id,), body, assistants_event)

    def stream_thread_and_run(
        self, content: str, request: RunRequest, thread_metadata: Mapping[str, str] | None
    ) -> StreamCall:
        body = {**self._create_and_run_body(content, request, thread_metadata), "stream": True}
        return StreamCall((*STREAMING_THREADS, "create_and_run"), (), body, assistants_event)

    def stream_tool_outputs(
        self, thread_id: str, run_id: str, outputs: Sequence[ToolOutput]
    ) -> StreamCall:
        items = [{"tool_call_id": o.tool_call_id, "output": o.output} for o in outputs]
        kwargs = {"thread_id": thread_id, "tool_outputs": items, "stream": True}
        return StreamCall(
            (*STREAMING_RUNS, "submit_tool_outputs"), (run_id,), kwargs, assistants_event
        )

    def find_run(self, thread_id: str, key: str) -> WireFlow[Run | None]:
        """The newest run of the thread whose metadata marks it with ``key``."""
        kwargs = {"thread_id": thread_id, "limit": 20, "order": "desc"}
        data, _ = yield ClientCall((*RUNS, "list"), (), kwargs)
        for item in data.get("data") or ():
            if (item.get("metadata") or {}).get(ASK_KEY) == key:
                return run_from_json(item)
        return None

    def get_run(self, thread_id: str, run_id: str) -> WireFlow[Run]:
        call = ClientCall((*RUNS, "retrieve"), (run_id,), {"thread_id": thread_id})
        return (yield from _run_call(call))

    def cancel_run(self, thread_id: str, run_id: str) -> WireFlow[Run]:
        call = ClientCall((*RUNS, "cancel"), (run_id,), {"thread_id": thread_id})
        return (yield from _run_call(call))

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: Sequence[ToolOutput]
    ) -> WireFlow[Run]:
        items = [{"tool_call_id": o.tool_call_id, "output": o.output} for o in outputs]
        call = ClientCall(
            (*RUNS, "submit_tool_outputs"),
            (run_id,),
            {"thread_id": thread_id, "tool_outputs": items},
        )
        return (yield from _run_call(call))

    def list_run_messages(
        self, thread_id: str, run_id: str, after: str | None, limit: int
    ) -> WireFlow[MessagePage]:
        kwargs = {"run_id": run_id, "order": "asc", "limit": limit, **_given(after=after)}
        data, _ = yield ClientCall((*MESSAGES, "list"), (thread_id,), kwargs)
        return message_page_from_json(data)

    def get_assistant(self, assistant_id: str) -> WireFlow[Assistant]:
        data, _ = yield ClientCall((*ASSISTANTS, "retrieve"), (assistant_id,))
        return assistant_from_json(data)

    def resolve_assistant(self, spec: AssistantSpec) -> WireFlow[str]:
        """The id of the assistant object for ``spec``: reused when its name and content hash
        match, updated when only the name does, created otherwise. Never a duplicate."""
        wanted = spec.content_hash()
        if (spec.name, wanted) not in self._resolved:
            self._resolved[spec.name, wanted] = yield from self._look_up_or_create(spec, wanted)
        return self._resolved[spec.name, wanted]

    def _look_up_or_create(self, spec: AssistantSpec, wanted: str) -> WireFlow[str]:
        same_name: list[Mapping[str, Any]] = []
        after: str | None = None
        while True:
            kwargs = {"limit": 100, "order": "asc", **_given(after=after)}
            page, _ = yield ClientCall((*ASSISTANTS, "list"), (), kwargs)
            for item in page.get("data") or ():
                if item.get("name") == spec.name:
                    if (item.get("metadata") or {}).get(HASH_KEY) == wanted:
                        return str(item["id"])
                    same_name.append(item)
            if not page.get("has_more") or not page.get("data"):
                break
            after = page.get("last_id") or page["data"][-1]["id"]
        body = spec.assistants_body()
        if same_name:
            data, _ = yield ClientCall((*ASSISTANTS, "update"), (same_name[0]["id"],), body)
        else:
            data, _ = yield ClientCall((*ASSISTANTS, "create"), (), body)
        return str(data["id"])
