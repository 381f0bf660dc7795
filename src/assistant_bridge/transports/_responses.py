"""The Responses and Conversations APIs as wire operations, for both Responses transports.

A thread is a conversation (``conv_…``), a message a conversation item, a run a response
(``resp_…``) created with ``background=True`` and polled. The assistant's definition
(:class:`AssistantSpec`) is sent with every response. A completed response whose output asks
for function calls is presented as ``requires_action``, so tool calls take the same path as on
the Assistants API; their outputs go back on the same conversation as a new response.

Calls go through the ``openai`` client's generic request methods rather than its typed
resources, so they work with every openai version this package supports, 1.37.1 included
(which predates the Conversations API in the SDK). Each operation is a generator of
:class:`~._calls.ClientCall` values, shared by the sync and async transports.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from assistant_bridge._values.models import (
    ContentPart,
    Message,
    MessagePage,
    RequiredAction,
    Run,
    RunStatus,
    TextAnnotation,
    TextContent,
    Thread,
    ToolCall,
    ToolOutput,
    UnknownContent,
)
from assistant_bridge.exceptions import ConfigurationError
from assistant_bridge.transports._assistants_json import (
    incomplete_from,
    last_error_from,
    usage_from_json,
)
from assistant_bridge.transports._client import ClientCall, StreamCall, WireFlow
from assistant_bridge.transports._protocol import RunRequest

__all__ = ["ResponsesWire", "message_from_item", "run_from_response"]

_STATUS = {
    "queued": RunStatus.QUEUED,
    "in_progress": RunStatus.IN_PROGRESS,
    "completed": RunStatus.COMPLETED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
    "incomplete": RunStatus.INCOMPLETE,
}
_CACHE_SIZE = 256


def _user_item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _content(part: Mapping[str, Any]) -> ContentPart:
    kind = str(part.get("type", ""))
    if kind in ("output_text", "input_text", "text"):
        text = str(part.get("text", ""))
        notes = tuple(
            TextAnnotation(
                type=str(a.get("type", "")),
                text=str(a.get("filename") or a.get("title") or ""),
                start_index=a.get("index", a.get("start_index")),
                end_index=a.get("end_index"),
                file_id=a.get("file_id"),
            )
            for a in part.get("annotations") or ()
        )
        return TextContent(text=text, annotations=notes)
    if kind == "refusal":
        return TextContent(text=str(part.get("refusal", "")), type="refusal")
    return UnknownContent(type=kind, raw=dict(part))


def message_from_item(item: Mapping[str, Any], thread_id: str, run_id: str | None) -> Message:
    """A conversation item (or response output item) of type message."""
    return Message(
        id=str(item.get("id", "")),
        thread_id=thread_id,
        role=str(item.get("role", "")),
        content=tuple(_content(p) for p in item.get("content") or ()),
        run_id=run_id,
        status=item.get("status"),
        raw=dict(item),
    )


def run_from_response(data: Mapping[str, Any], thread_id: str | None = None) -> Run:
    """A response as a run: same statuses, and function calls as ``requires_action``."""
    conversation = data.get("conversation") or {}
    thread = str(conversation.get("id") or thread_id or "")
    status: RunStatus | str = _STATUS.get(str(data.get("status")), str(data.get("status")))
    output = data.get("output") or ()
    answered = {i.get("call_id") for i in output if i.get("type") == "function_call_output"}
    calls = tuple(
        ToolCall(
            id=str(i.get("call_id")),
            name=str(i.get("name", "")),
            arguments=str(i.get("arguments", "")),
        )
        for i in output
        if i.get("type") == "function_call" and i.get("call_id") not in answered
    )
    required = None
    if status == RunStatus.COMPLETED and calls:
        status = RunStatus.REQUIRES_ACTION
        required = RequiredAction(tool_calls=calls)
    meta = data.get("metadata") or {}
    return Run(
        id=str(data["id"]),
        thread_id=thread,
        status=status,
        created_at=data.get("created_at"),
        completed_at=data.get("completed_at"),
        required_action=required,
        last_error=last_error_from(data.get("error")),
        incomplete_details=incomplete_from(data.get("incomplete_details")),
        usage=usage_from_json(data.get("usage")),
        model=data.get("model"),
        metadata={str(k): str(v) for k, v in meta.items()},
        raw=dict(data),
    )


def _post(path: str, body: Mapping[str, Any] | None = None) -> ClientCall:
    return ClientCall(("post",), (path,), {"body": dict(body or {}), "cast_to": object}, raw=False)


def _get(path: str) -> ClientCall:
    return ClientCall(("get",), (path,), {"cast_to": object}, raw=False)


def response_body(request: RunRequest) -> dict[str, Any]:
    """The body of a background response for ``request``: the spec, then the overrides."""
    if request.assistant is None and request.model is None:
        hint = (
            f" ({request.assistant_id!r} is an Assistants API object)"
            if request.assistant_id
            else ""
        )
        msg = (
            "The Responses API has no assistant objects: give the session "
            f"assistant=AssistantSpec(...){hint}. See docs/migration.md."
        )
        raise ConfigurationError(msg)
    body = request.assistant.responses_body() if request.assistant is not None else {}
    if request.model is not None:
        body["model"] = request.model
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if request.additional_instructions is not None:
        base = body.get("instructions")
        extra = request.additional_instructions
        body["instructions"] = f"{base}\n\n{extra}" if base else extra
    if request.tools is not None:
        body["tools"] = [dict(t) for t in request.tools]
    if request.metadata is not None:
        body["metadata"] = dict(request.metadata)
    body["background"] = True
    body["store"] = True
    return body


def _no_item_metadata(metadata: Mapping[str, str] | None) -> None:
    if metadata:
        msg = "Conversation items carry no metadata; put it on the run (ask(metadata=...))."
        raise ConfigurationError(msg)


class ResponsesWire:
    """Builds and parses the Responses and Conversations calls.

    It keeps the finished responses it has seen (they never change), so listing a finished
    response's messages costs no second request.
    """

    def __init__(self) -> None:
        self._finished: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def _remember(self, data: Mapping[str, Any]) -> None:
        if data.get("status") in ("completed", "incomplete", "failed", "cancelled"):
            self._finished[str(data["id"])] = data
            while len(self._finished) > _CACHE_SIZE:
                self._finished.popitem(last=False)

    def _respond(
        self, thread_id: str, request: RunRequest, items: list[dict[str, Any]]
    ) -> WireFlow[Run]:
        body = {**response_body(request), "conversation": thread_id, "input": items}
        data, _ = yield _post("/responses", body)
        self._remember(data)
        return run_from_response(data, thread_id)

    def create_thread(self, metadata: Mapping[str, str] | None) -> WireFlow[Thread]:
        data, _ = yield _post("/conversations", {"metadata": dict(metadata or {})})
        return Thread(
            id=str(data["id"]),
            created_at=data.get("created_at"),
            metadata=dict(data.get("metadata") or {}),
            raw=data,
        )

    def add_message(
        self, thread_id: str, content: str, metadata: Mapping[str, str] | None
    ) -> WireFlow[Message]:
        _no_item_metadata(metadata)
        data, _ = yield _post(f"/conversations/{thread_id}/items", {"items": [_user_item(content)]})
        return message_from_item((data.get("data") or [{}])[0], thread_id, None)

    def start_run(
        self,
        thread_id: str,
        request: RunRequest,
        content: str | None,
        message_metadata: Mapping[str, str] | None,
    ) -> WireFlow[Run]:
        _no_item_metadata(message_metadata)
        items = [] if content is None else [_user_item(content)]
        return (yield from self._respond(thread_id, request, items))

    def create_thread_and_run(
        self, content: str, request: RunRequest, thread_metadata: Mapping[str, str] | None
    ) -> WireFlow[Run]:
        response_body(request)  # refuse a bad request before creating anything
        thread = yield from self.create_thread(thread_metadata)
        return (yield from self.start_run(thread.id, request, content, None))

    def get_run(self, thread_id: str, run_id: str) -> WireFlow[Run]:
        data = self._finished.get(run_id)
        if data is None:
            data, _ = yield _get(f"/responses/{run_id}")
            self._remember(data)
        return run_from_response(data, thread_id)

    def cancel_run(self, thread_id: str, run_id: str) -> WireFlow[Run]:
        """Cancel a background response; for one that ended asking for function calls,
        abandon the calls instead, so the conversation can take the next response."""
        current = yield from self.get_run(thread_id, run_id)
        if current.status == RunStatus.REQUIRES_ACTION and current.required_action is not None:
            items = [
                {
                    "type": "function_call_output",
                    "call_id": c.id,
                    "output": "cancelled: the caller did not run this tool",
                }
                for c in current.required_action.tool_calls
            ]
            yield _post(f"/conversations/{thread_id}/items", {"items": items})
            return attrs.evolve(current, status=RunStatus.CANCELLED, required_action=None)
        data, _ = yield _post(f"/responses/{run_id}/cancel")
        self._remember(data)
        return run_from_response(data, thread_id)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        outputs: Sequence[ToolOutput],
        request: RunRequest | None,
    ) -> WireFlow[Run]:
        return (yield from self._respond(thread_id, *_output_items(outputs, request)))

    def list_run_messages(
        self, thread_id: str, run_id: str, after: str | None, limit: int
    ) -> WireFlow[MessagePage]:
        data = self._finished.get(run_id)
        if data is None:
            data, _ = yield _get(f"/responses/{run_id}")
        items = [i for i in data.get("output") or () if i.get("type") == "message"]
        if after is not None:
            ids = [str(i.get("id")) for i in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        page = items[:limit]
        messages = tuple(message_from_item(i, thread_id, run_id) for i in page)
        return MessagePage(
            messages=messages,
            has_more=len(items) > limit,
            last_id=messages[-1].id if messages else None,
        )


def _responses_stream(
    thread_id: str, request: RunRequest, items: list[dict[str, Any]]
) -> StreamCall:
    from assistant_bridge.transports._stream_events import ResponsesEvents

    body = {**response_body(request), "conversation": thread_id, "input": items, "stream": True}
    return StreamCall(
        ("post",), ("/responses",), {"body": body}, ResponsesEvents(thread_id).convert, generic=True
    )


def stream_run(
    thread_id: str,
    request: RunRequest,
    content: str | None,
    message_metadata: Mapping[str, str] | None,
) -> StreamCall:
    """A streamed background response on a conversation, carrying the user's message."""
    _no_item_metadata(message_metadata)
    return _responses_stream(thread_id, request, [] if content is None else [_user_item(content)])


def _output_items(
    outputs: Sequence[ToolOutput], request: RunRequest | None
) -> tuple[RunRequest, list[dict[str, Any]]]:
    """Function call outputs as input items; they go in a new response, so the run's
    request is needed again."""
    if request is None:
        msg = "The Responses API continues with a new response: pass the run's request."
        raise ConfigurationError(msg)
    items = [
        {"type": "function_call_output", "call_id": o.tool_call_id, "output": o.output}
        for o in outputs
    ]
    return request, items


def stream_tool_outputs(
    thread_id: str, outputs: Sequence[ToolOutput], request: RunRequest | None
) -> StreamCall:
    """A streamed response that carries function call outputs."""
    return _responses_stream(thread_id, *_output_items(outputs, request))


def no_assistant_objects(assistant_id: str) -> ConfigurationError:
    """The error for fetching an assistant object over the Responses API."""
    msg = (
        f"The Responses API has no assistant objects, so {assistant_id!r} cannot be "
        "fetched; keep the definition in an AssistantSpec (see docs/migration.md)."
    )
    return ConfigurationError(msg)
